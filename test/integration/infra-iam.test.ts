import { COMPACTIONS_PREFIX, INTENTS_PREFIX, LINEAGES_PREFIX } from '../../src/services/compaction-view.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { ALLOWED_WILDCARDS, grantReadRawPrefix } from '../../infra/grants.js';
import { coveringPrefixes } from '../../infra/lake-layout.js';
import { acknowledgeRule } from '../../infra/nag.js';
import { parseSettings } from '../../infra/settings.js';
import { DATA_VERSION_PREFIX } from '../../src/services/data-version.js';
import { RUNS_PREFIX } from '../../src/services/pipeline-service.js';
import { REPO_ROOT, type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

/**
 * Least privilege, checked on the synthesised template (issue 7, item 2). For each role the exact actions and
 * resources it is allowed are kept in a committed snapshot for review (__snapshots__/infra-iam.test.ts.snap);
 * the assertions below hold whatever the snapshot says: no wildcard action, and `*` in a resource only in the
 * shapes `ALLOWED_WILDCARDS` documents, each with its reason.
 */

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

interface AllowedStatement {
  sid: string | undefined;
  actions: string[];
  /** As cdk-nag flattens them, with logical ids (`<LakeRaw8A880B75.Arn>/support_events/*`). */
  resources: string[];
  condition: unknown;
}

interface RoleGrants {
  assumedBy: unknown;
  managedPolicies: unknown;
  statements: AllowedStatement[];
  /** Explicit denies: a guard on top of the allows, reviewed in the snapshot too. */
  denied: AllowedStatement[];
}

let s: SynthesisedStack;
let roles: Map<string, RoleGrants>;

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Logical ids in a flattened resource replaced by construct paths, for the reviewer's snapshot. */
function readable(resource: string): string {
  return resource.replace(/<([A-Za-z0-9]+)(\.[A-Za-z]+)?>/g, (whole, id: string, attr: string | undefined) => {
    const path = s.paths.get(id);
    return path === undefined ? whole : `<${path.replace(/\/Resource$/, '')}${attr ?? ''}>`;
  });
}

function collectRoles(): Map<string, RoleGrants> {
  const json = s.template.toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const byRole = new Map<string, RoleGrants>();
  for (const [id, r] of Object.entries(json.Resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const inline = (r.Properties['Policies'] as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
    const inlineStatements = inline.flatMap((p) => p.PolicyDocument.Statement);
    byRole.set(id, {
      assumedBy: r.Properties['AssumeRolePolicyDocument'],
      managedPolicies: r.Properties['ManagedPolicyArns'] ?? [],
      statements: inlineStatements.filter((st) => st.Effect !== 'Deny').map(allowed),
      denied: inlineStatements.filter((st) => st.Effect === 'Deny').map(denied),
    });
  }
  for (const r of Object.values(json.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const all = (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement;
    const statements = all.filter((st) => st.Effect !== 'Deny').map(allowed);
    const denies = all.filter((st) => st.Effect === 'Deny').map(denied);
    for (const role of r.Properties['Roles'] as { Ref: string }[]) {
      byRole.get(role.Ref)!.statements.push(...statements);
      byRole.get(role.Ref)!.denied.push(...denies);
    }
  }
  return byRole;
}

function allowed(st: Statement): AllowedStatement {
  if (st.Effect !== 'Allow') throw new Error(`unexpected ${st.Effect} statement in a role policy`);
  return shape(st);
}

function denied(st: Statement): AllowedStatement {
  return shape(st);
}

function shape(st: Statement): AllowedStatement {
  return {
    sid: st.Sid,
    actions: list(st.Action),
    resources: list(st.Resource).map((r) => flattenCfnReference(r)),
    condition: st.Condition,
  };
}

function rolePath(id: string): string {
  return s.paths.get(id)!.replace(/\/Resource$/, '');
}

function statementsOf(path: string): AllowedStatement[] {
  for (const [id, grants] of roles) if (rolePath(id) === path) return grants.statements;
  throw new Error(`no role at ${path}`);
}

/** The (action, readable resource) pairs a role is allowed. */
function pairs(path: string): string[] {
  return statementsOf(path).flatMap((st) => st.actions.flatMap((a) => st.resources.map((r) => `${a} ${readable(r)}`)));
}

beforeAll(async () => {
  s = await synthesiseStack();
  roles = collectRoles();
});
afterAll(() => s.cleanup());

describe('IAM roles of the deployment', () => {
  it('are exactly the ETL, the API, the export worker and the bucket-notifications handler, each assumable by Lambda only', () => {
    expect([...roles.keys()].map(rolePath).sort()).toEqual([
      'Api/Handler/Role',
      'Etl/Handler/Role',
      'ExportWorker/Handler/Role',
      'Lake/NotificationsHandlerRole',
    ]);
    for (const grants of roles.values()) {
      expect(grants.assumedBy).toEqual({
        Version: '2012-10-17',
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
      });
      expect(grants.managedPolicies).toEqual([]);
    }
  });

  it('allow exactly the actions and resources in the reviewed snapshot', () => {
    const review: Record<string, unknown> = {};
    for (const [id, grants] of [...roles].sort((a, b) => (rolePath(a[0]) < rolePath(b[0]) ? -1 : 1))) {
      review[rolePath(id)] = grants.statements.map((st) => ({
        ...(st.sid !== undefined ? { sid: st.sid } : {}),
        actions: st.actions,
        resources: st.resources.map(readable),
        ...(st.condition !== undefined ? { condition: st.condition } : {}),
      }));
      if (grants.denied.length > 0) {
        review[`${rolePath(id)} (explicit deny)`] = grants.denied.map((st) => ({
          ...(st.sid !== undefined ? { sid: st.sid } : {}),
          actions: st.actions,
          resources: st.resources.map(readable),
        }));
      }
    }
    expect(review).toMatchSnapshot();
  });

  it('give no role a whole-bucket grant on the exports bucket, nor the API any access to Athena’s raw results', () => {
    for (const path of ['Api/Handler/Role', 'ExportWorker/Handler/Role', 'Etl/Handler/Role']) {
      expect(pairs(path).filter((p) => p.endsWith('<Lake/Exports.Arn>/*'))).toEqual([]);
    }
    expect(pairs('Api/Handler/Role').filter((p) => p.includes('<Lake/Exports.Arn>/_athena/'))).toEqual([]);
    // Nothing is granted that would need an explicit deny to take it back.
    for (const grants of roles.values()) expect(grants.denied).toEqual([]);
  });

  it('never allow a wildcard action', () => {
    for (const grants of roles.values()) {
      for (const st of grants.statements) expect(st.actions.filter((a) => a.includes('*'))).toEqual([]);
    }
  });

  it('never allow the resource "*", and use "*" in a resource only in a documented shape with its actions', () => {
    const used = new Set<string>();
    for (const [id, grants] of roles) {
      for (const st of grants.statements) {
        for (const resource of st.resources) {
          expect(resource).not.toBe('*');
          if (!resource.includes('*')) continue;
          const shape = ALLOWED_WILDCARDS.find((w) => w.resource.test(resource));
          if (shape === undefined) throw new Error(`${rolePath(id)}: ${resource} matches no ALLOWED_WILDCARDS shape`);
          if (shape.actions !== undefined) {
            expect({
              role: rolePath(id),
              resource,
              extra: st.actions.filter((a) => !shape.actions!.includes(a)),
            }).toEqual({ role: rolePath(id), resource, extra: [] });
          }
          used.add(shape.name);
        }
      }
    }
    // Every documented shape is in use: the list names no permission the deployment does not have.
    expect([...used].sort()).toEqual(ALLOWED_WILDCARDS.map((w) => w.name).sort());
    for (const w of ALLOWED_WILDCARDS) expect(w.reason.length).toBeGreaterThan(80);
  });

  it('let no role write or delete raw objects; the ETL reads them only under the datasets’ raw prefixes', () => {
    const all = [...roles.keys()].flatMap((id) => pairs(rolePath(id)));
    expect(all.filter((p) => /^s3:(PutObject|DeleteObject)\w* <Lake\/Raw\.Arn>/.test(p))).toEqual([]);
    expect(pairs('Etl/Handler/Role').filter((p) => p.includes('<Lake/Raw.Arn>'))).toEqual([
      's3:GetObject <Lake/Raw.Arn>/helpdesk_events/*',
      's3:GetObject <Lake/Raw.Arn>/support_events/*',
      's3:GetObjectVersion <Lake/Raw.Arn>/helpdesk_events/*',
      's3:GetObjectVersion <Lake/Raw.Arn>/support_events/*',
      's3:ListBucket <Lake/Raw.Arn>',
    ]);
  });

  it('let only the ETL write processed data, under the dataset, _pipeline/ and _quarantine/ prefixes (the API its feed definitions and the mask key, created once)', () => {
    const writes = (path: string): string[] =>
      pairs(path).filter((p) => /^s3:(Put|Delete)\w* <Lake\/Processed\.Arn>/.test(p));
    expect(writes('Api/Handler/Role')).toEqual([
      's3:PutObject <Lake/Processed.Arn>/_system/mask-key',
      's3:PutObject <Lake/Processed.Arn>/_system/feeds/*',
      's3:DeleteObject <Lake/Processed.Arn>/_system/feeds/*',
    ]);
    expect(writes('ExportWorker/Handler/Role')).toEqual([]);
    expect(writes('Lake/NotificationsHandlerRole')).toEqual([]);
    expect(writes('Etl/Handler/Role')).toEqual([
      's3:PutObject <Lake/Processed.Arn>/_pipeline/*',
      's3:PutObject <Lake/Processed.Arn>/_quarantine/*',
      's3:PutObject <Lake/Processed.Arn>/helpdesk_events/*',
      's3:PutObject <Lake/Processed.Arn>/support_events/*',
      's3:DeleteObject <Lake/Processed.Arn>/_pipeline/*',
      's3:DeleteObject <Lake/Processed.Arn>/_quarantine/*',
      's3:DeleteObject <Lake/Processed.Arn>/helpdesk_events/*',
      's3:DeleteObject <Lake/Processed.Arn>/support_events/*',
    ]);
  });

  it('let the API only create the mask key, never replace it, and the export worker only read it', () => {
    const onKey = (path: string): AllowedStatement[] =>
      statementsOf(path).filter((st) => st.resources.some((r) => r.endsWith('/_system/mask-key')));
    const createOnly = expect.objectContaining({
      sid: 'CreateMaskKey',
      actions: ['s3:PutObject'],
      condition: { Null: { 's3:if-none-match': 'false' } },
    });
    const read = expect.objectContaining({ sid: 'ReadMaskKey', actions: ['s3:GetObject'] });
    expect(onKey('Api/Handler/Role')).toEqual([read, createOnly]);
    expect(onKey('ExportWorker/Handler/Role')).toEqual([read]);
    for (const st of [...onKey('Api/Handler/Role'), ...onKey('ExportWorker/Handler/Role')]) {
      expect(st.resources).toHaveLength(1);
    }
  });

  it('let only the export worker run queries, in the one workgroup, and write export results', () => {
    const workgroup = 'arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/careplus';
    for (const role of ['Etl/Handler/Role', 'Api/Handler/Role', 'Lake/NotificationsHandlerRole']) {
      expect(pairs(role).filter((p) => p.startsWith('athena:'))).toEqual([]);
    }
    expect(pairs('ExportWorker/Handler/Role').filter((p) => p.startsWith('athena:'))).toEqual(
      ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'].map(
        (a) => `${a} ${workgroup}`,
      ),
    );
    expect(pairs('Etl/Handler/Role').filter((p) => p.includes('Lake/Exports'))).toEqual([]);
    const exportWrites = (path: string): string[] =>
      pairs(path).filter((p) => /^s3:(Put|Delete)\w* <Lake\/Exports\.Arn>/.test(p));
    expect(exportWrites('ExportWorker/Handler/Role')).toEqual([
      's3:PutObject <Lake/Exports.Arn>/_athena/*',
      's3:DeleteObject <Lake/Exports.Arn>/_athena/*',
      's3:PutObject <Lake/Exports.Arn>/results/*',
      's3:DeleteObject <Lake/Exports.Arn>/results/*',
      's3:PutObject <Lake/Exports.Arn>/_jobs/*',
    ]);
    // The API records jobs; it never writes a result, and deletes one only when its requester cancels the job.
    expect(exportWrites('Api/Handler/Role')).toEqual([
      's3:PutObject <Lake/Exports.Arn>/_jobs/*',
      's3:DeleteObject <Lake/Exports.Arn>/_jobs/*',
      's3:DeleteObject <Lake/Exports.Arn>/results/*',
    ]);
  });

  it('let the API read exactly the store prefixes it serves: tables, run records, data versions, compaction journals, publish intents, lineages, API keys, the mask key, jobs, feeds and results', () => {
    // Of the ETL's records under `_pipeline/`, the API reads run records (pipeline status), data versions, compaction
    // journals, publish intents and the sources' lineages only.
    expect([RUNS_PREFIX, DATA_VERSION_PREFIX, COMPACTIONS_PREFIX, INTENTS_PREFIX, LINEAGES_PREFIX]).toEqual([
      '_pipeline/runs/',
      '_pipeline/data-versions/',
      '_pipeline/compactions/',
      '_pipeline/intents/',
      '_pipeline/sources/',
    ]);
    const s3 = pairs('Api/Handler/Role').filter((p) => p.startsWith('s3:'));
    expect(s3).toEqual([
      's3:GetObject <Lake/Processed.Arn>/_pipeline/compactions/*',
      's3:GetObject <Lake/Processed.Arn>/_pipeline/data-versions/*',
      's3:GetObject <Lake/Processed.Arn>/_pipeline/intents/*',
      's3:GetObject <Lake/Processed.Arn>/_pipeline/runs/*',
      's3:GetObject <Lake/Processed.Arn>/_pipeline/sources/*',
      's3:GetObject <Lake/Processed.Arn>/helpdesk_events/*',
      's3:GetObject <Lake/Processed.Arn>/support_events/*',
      's3:ListBucket <Lake/Processed.Arn>',
      's3:GetObject <Lake/Processed.Arn>/_system/keys/*',
      's3:GetObject <Lake/Processed.Arn>/_system/mask-key',
      's3:PutObject <Lake/Processed.Arn>/_system/mask-key',
      's3:GetObject <Lake/Exports.Arn>/_jobs/*',
      's3:PutObject <Lake/Exports.Arn>/_jobs/*',
      's3:DeleteObject <Lake/Exports.Arn>/_jobs/*',
      's3:ListBucket <Lake/Exports.Arn>',
      's3:GetObject <Lake/Processed.Arn>/_system/feeds/*',
      's3:PutObject <Lake/Processed.Arn>/_system/feeds/*',
      's3:DeleteObject <Lake/Processed.Arn>/_system/feeds/*',
      's3:GetObject <Lake/Exports.Arn>/results/*',
      's3:DeleteObject <Lake/Exports.Arn>/results/*',
    ]);
  });

  it('let the API send to the export jobs queue and the export worker consume it, and nothing else of SQS', () => {
    const sqs = (path: string): string[] => pairs(path).filter((p) => p.startsWith('sqs:'));
    expect(sqs('Api/Handler/Role')).toEqual(['sqs:SendMessage <ExportWorker/Jobs.Arn>']);
    expect(sqs('ExportWorker/Handler/Role')).toEqual([
      'sqs:ReceiveMessage <ExportWorker/Jobs.Arn>',
      'sqs:DeleteMessage <ExportWorker/Jobs.Arn>',
      'sqs:GetQueueAttributes <ExportWorker/Jobs.Arn>',
    ]);
    // The ETL's only SQS permission is its failure destination's, added by Lambda's destination.
    expect(sqs('Etl/Handler/Role')).toEqual([
      'sqs:SendMessage <Etl/FailedEvents.Arn>',
      'sqs:GetQueueAttributes <Etl/FailedEvents.Arn>',
      'sqs:GetQueueUrl <Etl/FailedEvents.Arn>',
    ]);
  });

  it('let only the ETL change the catalog, and only the declared tables of the careplus database', () => {
    const changes = /^glue:(Update|Create|BatchCreate|BatchUpdate|Delete|BatchDelete)/;
    expect(pairs('Api/Handler/Role').filter((p) => changes.test(p))).toEqual([]);
    expect(pairs('ExportWorker/Handler/Role').filter((p) => changes.test(p))).toEqual([]);
    const etl = pairs('Etl/Handler/Role').filter((p) => changes.test(p));
    const glue = 'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>';
    const scope = [
      `${glue}:catalog`,
      `${glue}:database/careplus`,
      ...s.datasets.map((d) => `${glue}:table/careplus/${d.name}`).sort(),
    ];
    // The ETL creates the declared tables (the stack declares none, see infra/constructs/catalog.ts), then owns them.
    expect(etl).toEqual(
      [
        'glue:CreateTable',
        'glue:UpdateTable',
        'glue:BatchCreatePartition',
        'glue:BatchUpdatePartition',
        'glue:BatchDeletePartition',
      ].flatMap((a) => scope.map((r) => `${a} ${r}`)),
    );
  });

  it('give each role exactly the Glue actions its code sends, and the export worker what Athena reads for a query', () => {
    // Every Glue call of the application is in the catalog adapter; its commands name the actions.
    const adapter = readFileSync(join(REPO_ROOT, 'src', 'adapters', 'aws', 'glue-catalog.ts'), 'utf8');
    const sent = new Set([...adapter.matchAll(/new (\w+)Command\(/g)].map((m) => `glue:${m[1]!}`));
    expect([...sent].sort()).toEqual([
      'glue:BatchCreatePartition',
      'glue:BatchDeletePartition',
      'glue:BatchUpdatePartition',
      'glue:CreateTable',
      // `careplus register` (the CLI, with an administrator's credentials) only.
      'glue:DeleteTable',
      'glue:GetPartitions',
      'glue:GetTable',
      'glue:GetTableVersions',
      'glue:GetTables',
      'glue:UpdateTable',
    ]);
    const glueActions = (path: string): string[] =>
      [...new Set(pairs(path).flatMap((p) => (p.startsWith('glue:') ? [p.split(' ')[0]!] : [])))].sort();
    // The ETL (lambda/pipeline): getTable, listPartitions (the schema check), putTable, addPartitions, removePartitions.
    expect(glueActions('Etl/Handler/Role')).toEqual([
      'glue:BatchCreatePartition',
      'glue:BatchDeletePartition',
      'glue:BatchUpdatePartition',
      'glue:CreateTable',
      'glue:GetPartitions',
      'glue:GetTable',
      'glue:UpdateTable',
    ]);
    // The API: listTables, getTable, schemaVersions, listPartitions.
    expect(glueActions('Api/Handler/Role')).toEqual([
      'glue:GetPartitions',
      'glue:GetTable',
      'glue:GetTableVersions',
      'glue:GetTables',
    ]);
    for (const path of ['Etl/Handler/Role', 'Api/Handler/Role']) {
      expect(glueActions(path).filter((a) => !sent.has(a))).toEqual([]);
    }
    // The export worker sends GetTable itself; Athena, running its query with the worker's permissions, reads the
    // query's database, the table and its partitions. No listing and no schema versions.
    expect(glueActions('ExportWorker/Handler/Role')).toEqual([
      'glue:BatchGetPartition',
      'glue:GetDatabase',
      'glue:GetPartition',
      'glue:GetPartitions',
      'glue:GetTable',
    ]);
  });

  it('grant no role IAM, bucket-policy, bucket deletion, Glue table deletion or database changes', () => {
    const forbidden =
      /^(iam:|sts:|kms:|s3:(PutBucketPolicy|DeleteBucket|PutBucketAcl|PutObjectAcl|PutLifecycleConfiguration)|glue:(DeleteTable|CreateDatabase|DeleteDatabase|UpdateDatabase))/;
    for (const id of roles.keys()) expect(pairs(rolePath(id)).filter((p) => forbidden.test(p))).toEqual([]);
  });

  it('let the notifications handler set the raw bucket’s notifications and write its own logs, nothing else', () => {
    expect(pairs('Lake/NotificationsHandlerRole').sort()).toEqual([
      'logs:CreateLogStream <BucketNotificationsHandlerLogs.Arn>',
      'logs:PutLogEvents <BucketNotificationsHandlerLogs.Arn>',
      's3:PutBucketNotification <Lake/Raw.Arn>',
    ]);
  });

  it('let each function write only its own log group', () => {
    for (const [role, logs] of [
      ['Etl/Handler/Role', 'Etl/Handler/Logs'],
      ['Api/Handler/Role', 'Api/Handler/Logs'],
      ['ExportWorker/Handler/Role', 'ExportWorker/Handler/Logs'],
    ] as const) {
      expect(pairs(role).filter((p) => p.startsWith('logs:'))).toEqual([
        `logs:CreateLogStream <${logs}.Arn>`,
        `logs:PutLogEvents <${logs}.Arn>`,
      ]);
    }
  });
});

describe('resource policies', () => {
  it('let only S3 (for the raw bucket, this account) and the HTTP API invoke the functions', () => {
    // The export worker is invoked by its SQS event source mapping, under its own role's permissions: no resource
    // policy names it.
    const json = s.template.toJSON() as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const permissions = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Permission')
      .map((r) => ({
        principal: r.Properties['Principal'],
        action: r.Properties['Action'],
        function: readable(flattenCfnReference(r.Properties['FunctionName'])),
        source: readable(flattenCfnReference(r.Properties['SourceArn'])),
        ...(r.Properties['SourceAccount'] !== undefined
          ? { account: flattenCfnReference(r.Properties['SourceAccount']) }
          : {}),
      }));
    expect(permissions).toMatchSnapshot();
    expect(new Set(permissions.map((p) => p.principal))).toEqual(
      new Set(['s3.amazonaws.com', 'apigateway.amazonaws.com']),
    );
  });
});

describe('grant helpers', () => {
  const fresh = (): { stack: Stack; role: Role; bucket: Bucket } => {
    const stack = new Stack(new App(), 'Grants');
    return {
      stack,
      role: new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }),
      bucket: new Bucket(stack, 'Exports'),
    };
  };

  it('refuse a prefix that is empty, does not end in "/" or could climb out of its area', () => {
    for (const prefix of ['', 'support_events', '../support_events/', '/support_events/', 'Support/']) {
      const { role, bucket } = fresh();
      expect(() => grantReadRawPrefix(role, bucket, [prefix])).toThrow(
        `grant prefix "${prefix}" must be non-empty, end in "/" and use a-z, 0-9, _ . / = -`,
      );
    }
    const { role, bucket } = fresh();
    expect(() => grantReadRawPrefix(role, bucket, [])).toThrow('a prefix-scoped grant needs at least one prefix');
  });

  it('cover overlapping prefixes by the shorter one', () => {
    expect(coveringPrefixes(['support_events/', 'support/', 'helpdesk/', 'support/', 'support/2024/'])).toEqual([
      'helpdesk/',
      'support/',
      'support_events/',
    ]);
  });

  it('refuse an acknowledgement without a reason', () => {
    const { bucket } = fresh();
    expect(() => acknowledgeRule(bucket, 'AwsSolutions-S1', 'not needed')).toThrow(
      'acknowledgement of AwsSolutions-S1 needs a reason, got "not needed"',
    );
  });

  it('validate deployment settings and name the field at fault', () => {
    expect(() => parseSettings({ logRetentionDays: 31 }, 'CDK context "careplus"')).toThrow(
      'CDK context "careplus": logRetentionDays: log retention must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days',
    );
    expect(() => parseSettings({ etl: { retryAttempts: 3 } }, 'ctx')).toThrow('ctx: etl.retryAttempts:');
    expect(() => parseSettings({ exportWorker: { timeoutMinutes: 16 } }, 'ctx')).toThrow(
      'ctx: exportWorker.timeoutMinutes:',
    );
    expect(() => parseSettings({ exportWorker: { maxConcurrency: 1 } }, 'ctx')).toThrow(
      'ctx: exportWorker.maxConcurrency:',
    );
    expect(() => parseSettings({ exportRetentionDay: 3 }, 'ctx')).toThrow(
      'ctx: (root): Unrecognized key: "exportRetentionDay"',
    );
  });
});
