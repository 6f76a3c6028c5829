import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi, createApiAccess } from '../../src/composition-api.js';
import { createRuntime } from '../../src/composition.js';
import type { AppConfig } from '../../src/config.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { GetExportDocument, type GetExportQuery } from '../../src/generated/graphql.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { createApiServer } from '../../src/server.js';
import { DatasetService } from '../../src/services/dataset-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { PipelineService } from '../../src/services/pipeline-service.js';
import { newRunRecord } from '../../lambda/pipeline/run-records.js';
import { runRecordKey } from '../../lambda/pipeline/lake-keys.js';
import { createAthenaLake } from './athena-lake.js';
import { createExportLake } from './export-lake.js';
import { column } from './export-table.js';
import { GraphQLTestClient } from './graphql-client.js';
import { TEST_MASK_KEY, testMaskKey } from './mask-key.js';
import { testConfig } from './test-config.js';

/**
 * The API over a small lake under a test access policy, with real API keys (one per role) and the real
 * authenticator: on DuckDB as `careplus serve` composes it (createApi), or on the Athena stand-in (S3 protocol
 * server, Glue stand-in, AthenaExportEngine) with the same policy code, resolvers and services.
 */

export const ROLES = ['admin', 'analyst', 'viewer', 'lead'] as const;
export type Role = (typeof ROLES)[number];

/** Roles with what tells them apart: masks (analyst), denied and PII-denied columns (viewer), a row filter (lead). */
export const TEST_POLICY = `
version: 1
roles:
  admin:
    capabilities:
      { admin: true, canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true, canUseGraphiql: true }
    datasets:
      - { match: '*', pii: allow }
  analyst:
    capabilities: { canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: cases, pii: hash, maskedColumns: [{ column: note, method: redact }] }
  viewer:
    capabilities: { canSeeStats: true }
    datasets:
      - { match: cases, pii: deny, deniedColumns: [amount] }
  lead:
    capabilities: { canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - match: cases
        pii: redact
        deniedColumns: [amount]
        rowFilter: [{ column: section, op: EQ, values: [$caller.attributes.section] }]
`;

/** The lead's key carries this attribute: it sees the First section only. */
export const LEAD_ATTRIBUTES = { section: 'First' };

export const CASES: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'> = {
  name: 'cases',
  description: 'support cases under the test policy',
  columns: [
    column('id', 'bigint', { nullable: false }),
    column('section', 'string'),
    column('customer', 'string', { pii: true }),
    column('amount', 'decimal(10,2)'),
    column('note', 'string'),
    column('event_time', 'timestamp'),
  ],
  partitionKeys: [column('event_date', 'date', { nullable: false })],
  location: 'cases/',
  origin: 'etl',
};

export const SECRET: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'> = {
  name: 'secret_audit',
  description: 'only admins see this dataset',
  columns: [column('id', 'bigint', { nullable: false }), column('detail', 'string')],
  partitionKeys: [],
  location: 'secret_audit/',
  origin: 'etl',
};

/** Every row of `cases`, each value as its text in the API (preview JSON and CSV alike). */
export const CASE_ROWS: Record<string, string>[] = [
  ['1', 'First', 'Alice Corp', '10.00', 'n-1', '2024-01-01T08:00:00.000000Z', '2024-01-01'],
  ['2', 'Second', 'Bob Ltd', '20.00', 'n-2', '2024-01-01T09:00:00.000000Z', '2024-01-01'],
  ['3', 'First', 'Carol Inc', '30.00', 'n-3', '2024-01-02T08:00:00.000000Z', '2024-01-02'],
  ['4', 'Second', 'Dan Co', '40.00', 'n-4', '2024-01-02T09:00:00.000000Z', '2024-01-02'],
  ['5', 'Third', 'Eve GmbH', '50.00', 'n-5', '2024-01-03T08:00:00.000000Z', '2024-01-03'],
  ['6', 'First', 'Frank SA', '60.00', 'n-6', '2024-01-03T09:00:00.000000Z', '2024-01-03'],
].map(([id, section, customer, amount, note, eventTime, eventDate]) => ({
  id: id!,
  section: section!,
  customer: customer!,
  amount: amount!,
  note: note!,
  event_time: eventTime!,
  event_date: eventDate!,
}));

export const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03'];

/** The rows of one day as a DuckDB SELECT with the catalog's types. */
function daySql(day: string): string {
  const values = CASE_ROWS.filter((r) => r['event_date'] === day)
    .map(
      (r) =>
        `(${r['id']}, '${r['section']}', '${r['customer']}', ${r['amount']}, '${r['note']}', '${day} ${r['event_time']!.slice(11, 19)}')`,
    )
    .join(', ');
  return `SELECT CAST(id AS BIGINT) AS id, CAST(section AS VARCHAR) AS section, CAST(customer AS VARCHAR) AS customer,
                 CAST(amount AS DECIMAL(10,2)) AS amount, CAST(note AS VARCHAR) AS note,
                 CAST(event_time AS TIMESTAMP) AS event_time
          FROM (VALUES ${values}) t(id, section, customer, amount, note, event_time)`;
}

const SECRET_SQL = `SELECT 1::BIGINT AS id, 'classified' AS detail`;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface PolicyApi {
  engine: 'duckdb' | 'athena';
  url: string;
  graphqlUrl: string;
  /** The plaintext API key of each role. */
  keys: Record<Role, string>;
  client(role: Role): GraphQLTestClient;
  /** The exports store, to read result files. */
  store: ObjectStore;
  /** Every log line the server wrote (JSON). */
  logLines: string[];
  /** The server's logger (writes to `logLines`), for tools run beside it (the key commands). */
  logger: Logger;
  config: AppConfig;
  stop(): Promise<void>;
}

async function createKeys(store: ObjectStore): Promise<Record<Role, string>> {
  const keys = new ApiKeyStore(store);
  const out: Partial<Record<Role, string>> = {};
  for (const role of ROLES) {
    out[role] = (
      await keys.create({ name: `${role} key`, role, ...(role === 'lead' ? { attributes: LEAD_ATTRIBUTES } : {}) })
    ).plaintext;
  }
  return out as Record<Role, string>;
}

function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger('info', (line) => lines.push(line)), lines };
}

async function policyFiles(root: string): Promise<{ policyFile: string; datasetsDir: string }> {
  const policyFile = join(root, 'policy.yaml');
  await writeFile(policyFile, TEST_POLICY);
  // No dataset definitions: the pipeline lists the catalog's tables and the run records only.
  const datasetsDir = join(root, 'no-definitions');
  await mkdir(datasetsDir, { recursive: true });
  return { policyFile, datasetsDir };
}

/** The configuration of a test server (test-config.ts, logs at `info` for `logLines`); `env` adds or overrides. */
function policyTestConfig(
  root: string,
  files: { policyFile: string; datasetsDir: string },
  env: Record<string, string>,
): AppConfig {
  return testConfig(root, {
    CAREPLUS_LOG_LEVEL: 'info',
    CAREPLUS_DATASETS_DIR: files.datasetsDir,
    CAREPLUS_POLICY_FILE: files.policyFile,
    CAREPLUS_RATE_LIMIT_PER_MINUTE: '100000',
    // Both APIs hash with one known key, so a test computes the masked values it expects (maskedHash).
    CAREPLUS_MASK_KEY: TEST_MASK_KEY.toString('utf8'),
    ...env,
  });
}

/**
 * The DuckDB API as `careplus serve` composes it (config → runtime → createApi), over a local lake with `cases`,
 * `secret_audit` and a run record of each, the test policy and a key per role. `env` adds configuration.
 */
export async function startLocalPolicyApi(env: Record<string, string> = {}): Promise<PolicyApi> {
  const lake = await createExportLake();
  try {
    for (const [i, day] of DAYS.entries()) {
      await lake.writeParquet(`cases/event_date=${day}/part-${i}.parquet`, daySql(day));
    }
    await lake.catalog.putTable(CASES);
    await lake.writeParquet('secret_audit/part-0.parquet', SECRET_SQL);
    await lake.catalog.putTable(SECRET);
    for (const [i, dataset] of ['cases', 'secret_audit'].entries()) {
      const startedAt = new Date(Date.UTC(2024, 0, 4, 8, i));
      const run = {
        ...newRunRecord({ runId: `run-${dataset}`, dataset, sourceKey: `${dataset}/2024/01/04/a.csv`, startedAt }),
        status: 'SUCCEEDED' as const,
        rowsRead: 6,
        rowsWritten: 6,
        finishedAt: new Date(startedAt.getTime() + 1000).toISOString(),
        durationMs: 1000,
      };
      await lake.store.put('processed', runRecordKey(dataset, startedAt, run.runId), JSON.stringify(run));
    }
    const files = await policyFiles(lake.root);
    const config = policyTestConfig(lake.root, files, env);
    const log = memoryLogger();
    const rt = await createRuntime(config, { logger: log.logger });
    const api = createApi(rt);
    await api.start();
    const keys = await createKeys(rt.store);
    return {
      engine: 'duckdb',
      url: api.url,
      graphqlUrl: api.graphqlUrl,
      keys,
      client: (role) => new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${keys[role]}` }),
      store: rt.store,
      logLines: log.lines,
      logger: log.logger,
      config,
      async stop() {
        try {
          await api.stop();
          await rt.close();
        } finally {
          await lake.close();
        }
      },
    };
  } catch (err) {
    await lake.close();
    throw err;
  }
}

/**
 * The API over the AWS side: S3 protocol server, Glue stand-in and the Athena stand-in through the real
 * AthenaExportEngine; authentication, access control, resolvers and services as in production.
 */
export async function startAthenaPolicyApi(): Promise<PolicyApi> {
  const aws = await createAthenaLake();
  const root = await mkdtemp(join(tmpdir(), 'careplus-policy-athena-'));
  try {
    for (const [i, day] of DAYS.entries()) {
      await aws.writeParquet(`cases/event_date=${day}/part-${i}.parquet`, daySql(day));
    }
    await aws.registerTable(CASES);
    await aws.writeParquet('secret_audit/part-0.parquet', SECRET_SQL);
    await aws.registerTable(SECRET);
    const files = await policyFiles(root);
    const config = policyTestConfig(root, files, {});
    const log = memoryLogger();
    const logger = log.logger;
    const auth = await createApiAccess({ config, store: aws.store, logger });
    const footers = new ParquetFooterCache(aws.store);
    const datasets = new DatasetService({
      catalog: aws.catalog,
      store: aws.store,
      footers,
      logger,
      maskKey: testMaskKey,
    });
    const pipeline = new PipelineService({ store: aws.store, catalog: aws.catalog, datasets, logger });
    const exports = aws.service(aws.athenaEngine());
    const server = createApiServer(
      {
        datasets,
        pipeline,
        exports,
        access: auth.access,
        audit: auth.audit,
        logger,
        authenticate: auth.authenticate,
      },
      { host: '127.0.0.1', port: 0, env: 'test', limits: config.limits },
    );
    await server.start();
    const keys = await createKeys(aws.store);
    return {
      engine: 'athena',
      url: server.url,
      graphqlUrl: server.graphqlUrl,
      keys,
      client: (role) => new GraphQLTestClient(server.graphqlUrl, { authorization: `Bearer ${keys[role]}` }),
      store: aws.store,
      logLines: log.lines,
      logger,
      config,
      async stop() {
        try {
          await server.stop();
        } finally {
          await aws.close();
          await rm(root, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await aws.close();
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

/** Reads an export job through `client` every 25 ms until it is no longer QUEUED or RUNNING (at most 60 s). */
export async function finishedExport(client: GraphQLTestClient, id: string): Promise<GetExportQuery['export']> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await client.request(GetExportDocument, { id })).data!.export;
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return job;
    if (Date.now() > deadline) throw new Error(`export ${id} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
