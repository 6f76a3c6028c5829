import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { ATHENA_RESULTS_PREFIX } from '../../src/adapters/aws/athena-export-engine.js';
import type { ResultEncryption, WorkGroupSettings } from '../support/athena-standin.js';
import { type AthenaLake, BUCKETS, createAthenaLake, WORKGROUP } from '../support/athena-lake.js';
import { finished } from '../support/export-lake.js';
import { column, typesTable } from '../support/export-table.js';
import { type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

/**
 * The Athena workgroup as the stack deploys it, the export worker's grants and the Athena engine agree on where
 * query results go: the stand-in workgroup is configured from the synthesised template (enforcement, location,
 * encryption, cut-off), the engine runs an export through it, and Athena's result lands at the workgroup's enforced
 * location, whatever the engine asked for, in keys the export worker's role may write, read and delete (Athena writes
 * with the caller's permissions), and the engine removes it afterwards.
 */

interface WorkGroupConfiguration {
  EnforceWorkGroupConfiguration: boolean;
  BytesScannedCutoffPerQuery: number;
  ResultConfiguration: { OutputLocation: unknown; EncryptionConfiguration: { EncryptionOption: ResultEncryption } };
}

interface WorkerStatement {
  sid: string | undefined;
  actions: string[];
  /** Flattened, e.g. `<LakeExports1234.Arn>/_athena/*`. */
  resources: string[];
}

let s: SynthesisedStack;
let lake: AthenaLake;
let deployed: WorkGroupConfiguration;

const list = (v: unknown): unknown[] => ([] as unknown[]).concat(v);

function exportsRef(): string {
  return (s.stack.resolve(s.stack.buckets.exports.bucketName) as { Ref: string }).Ref;
}

/** The workgroup's result location with the exports bucket's name in place of its CloudFormation reference. */
function outputLocation(): string {
  return flattenCfnReference(deployed.ResultConfiguration.OutputLocation).replace(`<${exportsRef()}>`, BUCKETS.exports);
}

/** The export worker role's Allow statements. */
function workerStatements(): WorkerStatement[] {
  const roleRef = (s.stack.resolve(s.stack.exportWorker.handler.role.roleArn) as { 'Fn::GetAtt': string[] })[
    'Fn::GetAtt'
  ][0];
  const policies = Object.values(
    s.template.findResources('AWS::IAM::Policy') as Record<
      string,
      {
        Properties: {
          Roles: { Ref: string }[];
          PolicyDocument: { Statement: { Sid?: string; Effect: string; Action: unknown; Resource: unknown }[] };
        };
      }
    >,
  ).filter((p) => p.Properties.Roles.some((r) => r.Ref === roleRef));
  return (
    policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      // What the worker may do: its explicit denies (feed definitions) take nothing away from the results' prefixes.
      .filter((st) => st.Effect === 'Allow')
      .map((st) => ({
        sid: st.Sid,
        actions: list(st.Action) as string[],
        resources: list(st.Resource).map((r) => flattenCfnReference(r)),
      }))
  );
}

/** The keys in the exports bucket that the worker role may act on with `action`, as patterns. */
function workerKeys(action: string): RegExp[] {
  const exportsArn = `<${exportsRef()}.Arn>/`;
  return workerStatements()
    .filter((st) => st.actions.includes(action))
    .flatMap((st) => st.resources)
    .filter((r) => r.startsWith(exportsArn))
    .map((r) => {
      const key = r
        .slice(exportsArn.length)
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*');
      return new RegExp(`^${key}$`);
    });
}

beforeAll(async () => {
  s = await synthesiseStack();
  const workgroups = s.template.findResources('AWS::Athena::WorkGroup') as Record<
    string,
    { Properties: { WorkGroupConfiguration: WorkGroupConfiguration } }
  >;
  deployed = Object.values(workgroups)[0]!.Properties.WorkGroupConfiguration;
  const settings: WorkGroupSettings = {
    bytesScannedCutoffPerQuery: deployed.BytesScannedCutoffPerQuery,
    enforceWorkGroupConfiguration: deployed.EnforceWorkGroupConfiguration,
    outputLocation: outputLocation(),
    encryptionOption: deployed.ResultConfiguration.EncryptionConfiguration.EncryptionOption,
  };
  lake = await createAthenaLake({ workgroups: { [WORKGROUP]: settings } });
  await lake.writeParquet(
    'events/event_date=2024-01-01/part-a.parquet',
    `SELECT 1::BIGINT AS id, 'a' AS name, 1 AS priority, 1.5::DOUBLE AS score, true AS active,
       TIMESTAMP '2024-01-01 10:00:00' AS created_at, DATE '2024-01-01' AS day, 1.25::DECIMAL(18,4) AS amount,
       'a@example.com' AS email`,
  );
  await lake.registerTable(typesTable({ columns: [...typesTable().columns.slice(0, 2), column('email', 'string')] }));
});

afterAll(async () => {
  await lake?.close();
  s?.cleanup();
});

describe('the deployed Athena workgroup and the Athena engine', () => {
  it('enforce one result location, the engine’s results prefix in the exports bucket, encrypted with SSE-S3', () => {
    expect(deployed.EnforceWorkGroupConfiguration).toBe(true);
    expect(outputLocation()).toBe(`s3://${BUCKETS.exports}/${ATHENA_RESULTS_PREFIX}`);
    expect(deployed.ResultConfiguration.EncryptionConfiguration.EncryptionOption).toBe('SSE_S3');
  });

  it('put a query’s result at the enforced location, not the job’s prefix, in keys the worker may read and delete, and leave none behind', async () => {
    const service = lake.service(lake.athenaEngine());
    const caller = { id: 'alice' };
    const job = await finished(service, caller, (await service.requestExport(caller, { dataset: 'events' })).id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'SUCCEEDED', error: null });
    const [query] = lake.athena.executions();
    expect(query).toMatchObject({
      requestedOutputLocation: `s3://${BUCKETS.exports}/${ATHENA_RESULTS_PREFIX}${job.id}/`,
      outputLocation: `${outputLocation()}${query!.id}.csv`,
      resultEncryption: 'SSE_S3',
    });
    const key = query!.outputLocation.slice(`s3://${BUCKETS.exports}/`.length);
    expect(key).toBe(`${ATHENA_RESULTS_PREFIX}${query!.id}.csv`);
    for (const action of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject']) {
      for (const written of [key, `${key}.metadata`, `${ATHENA_RESULTS_PREFIX}${job.id}/${query!.id}.query`]) {
        expect({ action, written, allowed: workerKeys(action).some((r) => r.test(written)) }).toEqual({
          action,
          written,
          allowed: true,
        });
      }
    }
    expect(await lake.exportKeys(ATHENA_RESULTS_PREFIX)).toEqual([]);
  });

  it('grant the worker exactly the workgroup’s result prefix for query results, nothing wider', () => {
    const location = /^s3:\/\/<([A-Za-z0-9]+)>\/(.+\/)$/.exec(
      flattenCfnReference(deployed.ResultConfiguration.OutputLocation),
    );
    expect(location).not.toBeNull();
    const [, bucketRef, prefix] = location!;
    const results = workerStatements().filter((st) => st.sid === 'QueryResults');
    expect(results).toEqual([
      {
        sid: 'QueryResults',
        actions: [
          's3:GetObject',
          's3:PutObject',
          's3:DeleteObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
        ],
        resources: [`<${bucketRef}.Arn>/${prefix}*`],
      },
    ]);
    // Besides the results' and the job records' prefixes, no statement of the worker names objects of that bucket:
    // none holds the workgroup's prefix.
    const others = workerStatements().flatMap((st) => st.resources.filter((r) => r.startsWith(`<${bucketRef}.Arn>/`)));
    expect([...new Set(others)].sort()).toEqual(
      [`<${bucketRef}.Arn>/${prefix}*`, `<${bucketRef}.Arn>/_jobs/*`, `<${bucketRef}.Arn>/results/*`].sort(),
    );
  });
});
