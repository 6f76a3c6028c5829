import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import { tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { MASK_KEY_KEY } from '../../src/composition-api.js';
import { loadConfig } from '../../src/config.js';
import { type ExportJobRecord, exportResultPrefix } from '../../src/domain/export-job.js';
import { createApiLambda } from '../../src/lambda-api.js';
import { createExportWorker } from '../../src/lambda-export-worker.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';
import { STOP_MARGIN_MS } from '../../src/workers/export-queue-handler.js';
import { type AthenaLake, BUCKETS, createAthenaLake, DATABASE, WORKGROUP } from '../support/athena-lake.js';
import type { StandInExecution } from '../support/athena-standin.js';
import { finished, parseCsv } from '../support/export-lake.js';
import { maskedHash } from '../support/mask-key.js';
import { sha256Hex } from '../support/policy-api.js';
import { type SqsStandIn, startSqsStandIn } from '../support/sqs-standin.js';
import { startTcpRelay } from '../support/tcp-relay.js';

/**
 * Exports on the AWS deployment, end to end through both Lambda handlers as they are deployed: the API Lambda
 * (src/lambda-api.ts) records a job and sends its id to SQS; the export worker Lambda (src/lambda-export-worker.ts)
 * receives the SQS event and runs the job on the Athena engine. Everything is composed from the configuration by the
 * composition root, against the S3-protocol server, the Glue and Athena stand-ins and the SQS stand-in, through the
 * real SDK clients. The support_events table is created in Glue as the ETL creates it (the deployment leaves table
 * creation to the ETL), with its per-column parameters.
 */

const ROOT = join(__dirname, '..', '..');
const QUEUE = 'careplus-export-jobs';

let lake: AthenaLake;
let sqs: SqsStandIn;
let scratch: string;
let api: ReturnType<typeof createApiLambda>;
let worker: ReturnType<typeof createExportWorker>;
let jobs: StoreJobStore;
/** The API Lambda's environment, for a second API configured differently. */
let apiEnv: Record<string, string>;
const keys: Record<'admin' | 'analyst', string> = { admin: '', analyst: '' };
const savedEnv: Record<string, string | undefined> = {};

const ROWS = [
  [
    1,
    'T-1',
    'Insert ticket',
    'agent "A", senior',
    '2024-03-01 08:00:00.125',
    'high',
    1,
    'Acme',
    'ann@acme.test',
    '=SUM(A1)',
    1.5,
    '10.00',
  ],
  [
    2,
    'T-1',
    'Resolve ticket',
    null,
    '2024-03-01 09:30:00',
    null,
    null,
    'Acme',
    'ann@acme.test',
    'Widget',
    -2.25,
    '-3.50',
  ],
  [
    3,
    'T-2',
    'Insert ticket',
    'queue\nnight',
    '2024-03-02 23:59:59.999',
    'low',
    4,
    'Zeta Ltd',
    'zed@zeta.test',
    'Gadget, Pro',
    0,
    null,
  ],
] as const;

function lit(v: string | number | null): string {
  if (v === null) return 'NULL';
  return typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
}

function rowsSql(day: string): string {
  const values = ROWS.filter((r) => r[4].startsWith(day)).map(
    (r) =>
      `(${lit(r[0])}::BIGINT, ${lit(r[1])}, ${lit(r[2])}, ${lit(r[3])}, ${lit(r[4])}::TIMESTAMP, ${lit(r[5])}, ` +
      `CAST(${lit(r[6])} AS INTEGER), ${lit(r[7])}, ${lit(r[8])}, ${lit(r[9])}, 'Gold', 'First', 'WG-1', ` +
      `${lit(r[10])}::DOUBLE, CAST(${lit(r[11])} AS DECIMAL(10,2)))`,
  );
  return (
    'SELECT * FROM (VALUES ' +
    values.join(', ') +
    ') t(event_id, ticket_id, activity, resource, event_time, seriousness, priority, customer, reporter_email, ' +
    'product, service_level, support_section, workgroup, duration_days, billable_amount)'
  );
}

function httpEvent(method: 'GET' | 'POST', body: unknown, key?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} /graphql`,
    rawPath: '/graphql',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) },
    requestContext: {
      accountId: '000000000000',
      apiId: 'e2e',
      domainName: 'e2e.execute-api.test',
      domainPrefix: 'e2e',
      http: { method, path: '/graphql', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'e2e' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: `${method} /graphql`,
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const LAMBDA_CONTEXT = {} as Context;

interface JobView {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  progress: { fraction: number; rowsWritten: number };
  result: { rowCount: number; files: { name: string; url: string | null }[] } | null;
}

const JOB_FIELDS =
  'id status error { code message } progress { fraction rowsWritten } result { rowCount files { name url } }';

/** One GraphQL request to the API Lambda; any error fails the test with the answer. */
async function graphql<T>(
  key: string,
  query: string,
  variables: Record<string, unknown> = {},
  through: ReturnType<typeof createApiLambda> = api,
): Promise<T> {
  const res = await through.handler(httpEvent('POST', { query, variables }, key), LAMBDA_CONTEXT);
  const body = JSON.parse(res.body ?? '{}') as { data?: T; errors?: unknown[] };
  if (res.statusCode !== 200 || body.errors !== undefined) {
    throw new Error(`GraphQL ${res.statusCode}: ${JSON.stringify(body.errors ?? body)}`);
  }
  return body.data!;
}

async function requestExport(key: string, input: Record<string, unknown>): Promise<JobView> {
  const data = await graphql<{ requestExport: JobView }>(
    key,
    `mutation($input: ExportRequestInput!) { requestExport(input: $input) { ${JOB_FIELDS} } }`,
    { input: { dataset: 'support_events', ...input } },
  );
  return data.requestExport;
}

async function getExport(key: string, id: string): Promise<JobView> {
  return (await graphql<{ export: JobView }>(key, `query($id: ID!) { export(id: $id) { ${JOB_FIELDS} } }`, { id }))
    .export;
}

async function cancelExport(key: string, id: string): Promise<JobView> {
  return (
    await graphql<{ cancelExport: JobView }>(key, `mutation($id: ID!) { cancelExport(id: $id) { ${JOB_FIELDS} } }`, {
      id,
    })
  ).cancelExport;
}

/** The SQS message that carries a job, as the worker's event source mapping would deliver it. */
function messageOf(jobId: string): string {
  const found = sqs.messages(QUEUE).find((m) => JSON.parse(m.body).jobId === jobId);
  if (found === undefined) throw new Error(`no message for job ${jobId}`);
  return found.messageId;
}

function deliver(jobId: string): SQSEvent {
  return sqs.deliver(QUEUE, [messageOf(jobId)]);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stored(id: string): Promise<ExportJobRecord> {
  const job = await jobs.get(id);
  if (job === undefined) throw new Error(`no job ${id}`);
  return job;
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  // The composition root's SDK clients use the default credential chain; s3rver accepts its own default key, the stand-ins check none.
  for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  scratch = await mkdtemp(join(tmpdir(), 'careplus-worker-e2e-'));
  lake = await createAthenaLake();
  sqs = await startSqsStandIn({ queues: [QUEUE] });
  jobs = new StoreJobStore(lake.store);

  const def = (await DatasetRegistry.load(join(ROOT, 'datasets'))).get('support_events');
  await lake.writeParquet('support_events/event_date=2024-03-01/part-a.parquet', rowsSql('2024-03-01'));
  await lake.writeParquet('support_events/event_date=2024-03-02/part-b.parquet', rowsSql('2024-03-02'));
  // As the ETL's publish step creates the table (GlueCatalog.putTable), then registers its partitions.
  await lake.registerTable(tableFromDefinition(def));

  const keyStore = new ApiKeyStore(lake.store);
  keys.admin = (await keyStore.create({ name: 'e2e admin', role: 'admin' })).plaintext;
  keys.analyst = (await keyStore.create({ name: 'e2e analyst', role: 'analyst' })).plaintext;

  apiEnv = {
    CAREPLUS_ENV: 'production',
    CAREPLUS_STORAGE: 's3',
    CAREPLUS_S3_ENDPOINT: lake.s3.endpoint,
    CAREPLUS_S3_RAW_BUCKET: BUCKETS.raw,
    CAREPLUS_S3_PROCESSED_BUCKET: BUCKETS.processed,
    CAREPLUS_S3_EXPORTS_BUCKET: BUCKETS.exports,
    CAREPLUS_CATALOG: 'glue',
    CAREPLUS_GLUE_DATABASE: DATABASE,
    CAREPLUS_GLUE_ENDPOINT: lake.glue.endpoint,
    CAREPLUS_ENGINE: 'athena',
    CAREPLUS_ATHENA_WORKGROUP: WORKGROUP,
    CAREPLUS_ATHENA_ENDPOINT: lake.athena.endpoint,
    CAREPLUS_EXPORT_DISPATCH: 'sqs',
    CAREPLUS_EXPORT_QUEUE_URL: sqs.queueUrl(QUEUE),
    CAREPLUS_AWS_REGION: 'us-east-1',
    CAREPLUS_CACHE_DIR: join(scratch, 'cache'),
    CAREPLUS_LAKE_DIR: join(scratch, 'lake'),
    CAREPLUS_DATASETS_DIR: join(ROOT, 'datasets'),
    CAREPLUS_POLICY_FILE: join(ROOT, 'policy.yaml'),
    CAREPLUS_DUCKDB_THREADS: '1',
    CAREPLUS_DUCKDB_MEMORY_LIMIT: '256MB',
    CAREPLUS_LOG_LEVEL: 'silent',
  };
  const config = loadConfig(apiEnv, scratch);
  api = createApiLambda(config);
  worker = createExportWorker(config);
});

afterAll(async () => {
  await api?.close();
  await worker?.close();
  await sqs?.stop();
  await lake?.close();
  await rm(scratch, { recursive: true, force: true });
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

afterEach(() => {
  lake.athena.settings.runningMs = 20;
});

describe('the Glue table as the ETL creates it', () => {
  it('carries the per-column nullability and PII parameters CloudFormation cannot declare', async () => {
    const glue = new GlueClient({
      region: 'us-east-1',
      endpoint: lake.glue.endpoint,
      credentials: { accessKeyId: 'TEST', secretAccessKey: 'TEST' },
    });
    try {
      const table = (await glue.send(new GetTableCommand({ DatabaseName: DATABASE, Name: 'support_events' }))).Table!;
      const params = Object.fromEntries(
        (table.StorageDescriptor?.Columns ?? []).map((c) => [
          c.Name,
          `${c.Parameters?.['careplus.pii']}/${c.Parameters?.['careplus.nullable']}`,
        ]),
      );
      expect(params).toEqual({
        event_id: 'false/false',
        ticket_id: 'false/false',
        activity: 'false/false',
        resource: 'false/true',
        event_time: 'false/false',
        seriousness: 'false/true',
        priority: 'false/true',
        customer: 'true/true',
        reporter_email: 'true/true',
        product: 'false/true',
        service_level: 'false/true',
        support_section: 'false/true',
        workgroup: 'false/true',
        duration_days: 'false/true',
        billable_amount: 'false/true',
      });
    } finally {
      glue.destroy();
    }
  });
});

describe('export jobs on AWS: API Lambda → SQS → export worker Lambda (Athena)', () => {
  const FULL = {
    columns: ['event_id', 'ticket_id', 'activity', 'resource', 'event_time', 'priority', 'customer', 'product'],
    orderBy: [{ column: 'event_id', direction: 'ASC' }],
  };
  let firstJob: string;

  it('runs a requested job to SUCCEEDED in the worker, with the same CSV bytes as the embedded engine', async () => {
    const queries = lake.athena.executions().length;
    const job = await requestExport(keys.admin, FULL);
    expect(job.status).toBe('QUEUED');
    firstJob = job.id;
    // Recorded and sent; nothing ran in the API.
    expect(sqs.messages(QUEUE).map((m) => JSON.parse(m.body) as unknown)).toContainEqual({ version: 1, jobId: job.id });
    expect(lake.athena.executions()).toHaveLength(queries);

    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });

    const done = await getExport(keys.admin, job.id);
    expect({ status: done.status, error: done.error, fraction: done.progress.fraction }).toEqual({
      status: 'SUCCEEDED',
      error: null,
      fraction: 1,
    });
    expect(done.result!.rowCount).toBe(3);
    const ran = lake.athena.executions().slice(queries);
    expect(ran.map((e) => e.state)).toEqual(['SUCCEEDED']);
    // Athena wrote under the job's own prefix, and the engine removed its files afterwards.
    expect(ran[0]!.outputLocation.startsWith(`s3://${BUCKETS.exports}/_athena/${job.id}/`)).toBe(true);
    expect(await lake.exportKeys(`_athena/${job.id}/`)).toEqual([]);

    const embedded = lake.service(await lake.duckdbEngine());
    const caller = { id: 'embedded-comparison' };
    const reference = await embedded.requestExport(caller, { dataset: 'support_events', ...FULL } as never);
    const refJob = await finished(embedded, caller, reference.id);
    expect(refJob.status).toBe('SUCCEEDED');
    const expected = (await lake.resultFile(`${exportResultPrefix(refJob.id)}${refJob.result!.files[0]!.name}`)).text;
    // Through the presigned link the API hands out.
    const got = await download(done.result!.files[0]!.url!);
    expect(got.equals(expected)).toBe(true);
    expect(parseCsv(got)[1]).toEqual([
      '1',
      'T-1',
      'Insert ticket',
      'agent "A", senior',
      '2024-03-01T08:00:00.125000Z',
      '1',
      'Acme',
      "'=SUM(A1)",
    ]);
  });

  it('points the presigned links at CAREPLUS_S3_PUBLIC_ENDPOINT, where clients download the same bytes', async () => {
    // The address analysts reach: a TCP relay to the S3 server, as a public hostname in front of a private one.
    const relay = await startTcpRelay(lake.s3.endpoint);
    const publicApi = createApiLambda(loadConfig({ ...apiEnv, CAREPLUS_S3_PUBLIC_ENDPOINT: relay.url }, scratch));
    try {
      const direct = await getExport(keys.admin, firstJob);
      const viaPublic = (
        await graphql<{ export: JobView }>(
          keys.admin,
          `query($id: ID!) { export(id: $id) { ${JOB_FIELDS} } }`,
          { id: firstJob },
          publicApi,
        )
      ).export;
      const url = viaPublic.result!.files[0]!.url!;
      expect(url.startsWith(`${relay.url}/${BUCKETS.exports}/`)).toBe(true);
      expect(direct.result!.files[0]!.url!.startsWith(`${lake.s3.endpoint}/`)).toBe(true);
      const got = await download(url);
      expect(relay.connections).toBeGreaterThan(0);
      expect(got.equals(await download(direct.result!.files[0]!.url!))).toBe(true);
    } finally {
      await publicApi.close();
      await relay.close();
    }
  });

  it('does no second query when SQS delivers the message again', async () => {
    const queries = lake.athena.executions().length;
    const before = await stored(firstJob);
    expect(await worker.handler(deliver(firstJob))).toEqual({ batchItemFailures: [] });
    expect(lake.athena.executions()).toHaveLength(queries);
    const after = await stored(firstJob);
    expect({ status: after.status, attempts: after.attempts, finishedAt: after.finishedAt }).toEqual({
      status: 'SUCCEEDED',
      attempts: 1,
      finishedAt: before.finishedAt,
    });
  });

  it('leaves a job to the worker running it when a duplicate delivery arrives meanwhile', async () => {
    lake.athena.settings.runningMs = 4000;
    const queries = lake.athena.executions().length;
    const job = await requestExport(keys.admin, { ...FULL, columns: ['event_id', 'activity'] });
    const first = worker.handler(deliver(job.id));
    await until('its query to run', () =>
      Promise.resolve(lake.athena.executions().some((e) => e.outputLocation.includes(job.id) && e.state === 'RUNNING')),
    );
    const duplicate = deliver(job.id);
    // Reported as failed: SQS delivers it again later, when the first delivery has finished the job.
    expect(await worker.handler(duplicate)).toEqual({
      batchItemFailures: [{ itemIdentifier: duplicate.Records[0]!.messageId }],
    });
    expect(await first).toEqual({ batchItemFailures: [] });
    expect((await getExport(keys.admin, job.id)).status).toBe('SUCCEEDED');
    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });
    expect(lake.athena.executions()).toHaveLength(queries + 1);
  });

  it('sends a job again when a repeat request finds it still queued long after its message should have run', async () => {
    const request = { ...FULL, columns: ['event_id', 'resource'] };
    const job = await requestExport(keys.admin, request);
    const sent = (): number =>
      sqs.messages(QUEUE).filter((m) => (JSON.parse(m.body) as { jobId: string }).jobId === job.id).length;
    expect(sent()).toBe(1);
    // A recent QUEUED job is in the queue: the same request returns it and sends nothing.
    expect((await requestExport(keys.admin, request)).id).toBe(job.id);
    expect(sent()).toBe(1);
    // As if the API Lambda had ended between recording the job and sending its message, two minutes ago.
    await jobs.update(job.id, (j) => ({ ...j, createdAt: new Date(Date.now() - 120_000).toISOString() }));
    expect((await requestExport(keys.admin, request)).id).toBe(job.id);
    expect(sent()).toBe(2);
    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });
    expect((await getExport(keys.admin, job.id)).status).toBe('SUCCEEDED');
  });

  it('sends a job again when a read of it finds it still queued a minute after it was recorded, never sent', async () => {
    // Found by following a job on the API Lambda as the CLI and the console do (polling export(id)): when the
    // function ended between recording the job and sending its message, only a repeat of the request sent it again;
    // a client that requested once and then polled waited for a QUEUED job nothing would ever run.
    const request = { ...FULL, columns: ['event_id', 'workgroup'] };
    const job = await requestExport(keys.admin, request);
    const sent = (): number =>
      sqs.messages(QUEUE).filter((m) => (JSON.parse(m.body) as { jobId: string }).jobId === job.id).length;
    expect(sent()).toBe(1);
    // Read while it is young, or once its message was sent: nothing is sent again.
    expect((await getExport(keys.admin, job.id)).status).toBe('QUEUED');
    await jobs.update(job.id, (j) => ({ ...j, createdAt: new Date(Date.now() - 120_000).toISOString() }));
    expect((await getExport(keys.admin, job.id)).status).toBe('QUEUED');
    expect(sent()).toBe(1);
    // As if the API Lambda had ended between recording the job and sending its message, two minutes ago.
    await jobs.update(job.id, (j) => {
      const { sentAt: _sentAt, ...unsent } = j;
      return unsent;
    });
    expect((await getExport(keys.admin, job.id)).status).toBe('QUEUED');
    expect(sent()).toBe(2);
    // Sent once: later reads send nothing more.
    await getExport(keys.admin, job.id);
    expect(sent()).toBe(2);
    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });
    expect((await getExport(keys.admin, job.id)).status).toBe('SUCCEEDED');
  });

  it('does not run a job cancelled before its message arrives', async () => {
    const queries = lake.athena.executions().length;
    const job = await requestExport(keys.admin, { ...FULL, limit: 1 });
    expect((await cancelExport(keys.admin, job.id)).status).toBe('CANCELLED');
    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });
    expect(lake.athena.executions()).toHaveLength(queries);
    const after = await getExport(keys.admin, job.id);
    expect({ status: after.status, result: after.result }).toEqual({ status: 'CANCELLED', result: null });
    expect(await lake.exportKeys(exportResultPrefix(job.id))).toEqual([]);
  });

  it('stops a running job cancelled through the API, with its query and its partial output', async () => {
    // Long enough that only the cancel ends it.
    lake.athena.settings.runningMs = 30_000;
    const job = await requestExport(keys.admin, { ...FULL, columns: ['event_id', 'customer'] });
    const queryOf = (): StandInExecution | undefined =>
      lake.athena.executions().find((e) => e.outputLocation.includes(`/_athena/${job.id}/`));
    const run = worker.handler(deliver(job.id));
    await until('its query to run', () => Promise.resolve(queryOf()?.state === 'RUNNING'));
    expect((await cancelExport(keys.admin, job.id)).status).toBe('CANCELLED');
    expect(await run).toEqual({ batchItemFailures: [] });
    const query = queryOf()!;
    expect(query.state).toBe('CANCELLED');
    expect(lake.athena.requests.filter((r) => r.operation === 'StopQueryExecution').at(-1)?.input).toEqual({
      QueryExecutionId: query.id,
    });
    expect((await getExport(keys.admin, job.id)).status).toBe('CANCELLED');
    expect(await lake.exportKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(await lake.exportKeys(`_athena/${job.id}/`)).toEqual([]);
  });

  it('stops a job before the worker’s time limit: FAILED LIMIT_EXCEEDED, query stopped, no output left', async () => {
    lake.athena.settings.runningMs = 30_000;
    const job = await requestExport(keys.admin, { ...FULL, columns: ['event_id', 'priority'] });
    // Lambda's context: 1.5 s left before the margin the worker keeps to stop and clean up.
    const context = { getRemainingTimeInMillis: () => STOP_MARGIN_MS + 1500 };
    expect(await worker.handler(deliver(job.id), context)).toEqual({ batchItemFailures: [] });
    const query = lake.athena.executions().find((e) => e.outputLocation.includes(`/_athena/${job.id}/`));
    expect(query?.state).toBe('CANCELLED');
    const after = await getExport(keys.admin, job.id);
    expect({ status: after.status, code: after.error?.code, result: after.result }).toEqual({
      status: 'FAILED',
      code: 'LIMIT_EXCEEDED',
      result: null,
    });
    expect(await lake.exportKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(await lake.exportKeys(`_athena/${job.id}/`)).toEqual([]);
    // A later delivery of the same message finds the job finished and runs nothing.
    const queries = lake.athena.executions().length;
    expect(await worker.handler(deliver(job.id), context)).toEqual({ batchItemFailures: [] });
    expect(lake.athena.executions()).toHaveLength(queries);
  });

  it('takes over a job whose worker stopped, and fails it when it has no start left', async () => {
    const longAgo = new Date(Date.now() - 2 * 3600 * 1000).toISOString();
    const stopped = async (columns: string[], attempts: number): Promise<string> => {
      const job = await requestExport(keys.admin, { ...FULL, columns });
      // What a worker leaves when Lambda ends it at its time limit: RUNNING, its start long past the lease.
      await jobs.update(job.id, (j) => ({ ...j, status: 'RUNNING', attempts, startedAt: longAgo }));
      return job.id;
    };
    const again = await stopped(['event_id', 'product'], 1);
    expect(await worker.handler(deliver(again))).toEqual({ batchItemFailures: [] });
    expect(await stored(again)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });

    const spent = await stopped(['event_id', 'ticket_id'], 2);
    const queries = lake.athena.executions().length;
    expect(await worker.handler(deliver(spent))).toEqual({ batchItemFailures: [] });
    expect(lake.athena.executions()).toHaveLength(queries);
    expect((await getExport(keys.admin, spent)).error).toEqual({
      code: 'INTERRUPTED',
      message: 'interrupted by restart too often: request it again',
    });
  });

  it('applies the requester’s grant in the worker, which loads no policy: PII hashed for an analyst', async () => {
    const job = await requestExport(keys.analyst, {
      columns: ['event_id', 'customer', 'reporter_email'],
      orderBy: [{ column: 'event_id', direction: 'ASC' }],
    });
    // No CAREPLUS_MASK_KEY here: the API created the deployment's key in the processed bucket when it took the
    // request, before any worker ran it (the worker's role may only read it).
    const key = Buffer.from(Buffer.from(await lake.store.getBytes('processed', MASK_KEY_KEY)).toString('utf8'), 'hex');
    expect(key).toHaveLength(32);
    expect(await worker.handler(deliver(job.id))).toEqual({ batchItemFailures: [] });
    const done = await getExport(keys.analyst, job.id);
    expect(done.status).toBe('SUCCEEDED');
    const rows = parseCsv(await download(done.result!.files[0]!.url!));
    expect(rows).toEqual([
      ['event_id', 'customer', 'reporter_email'],
      ...ROWS.map((r) => [String(r[0]), maskedHash(r[7], key), maskedHash(r[8], key)]),
    ]);
    // Keyed: a guessed value hashed without the key matches nothing.
    expect(rows.flat()).not.toContain(sha256Hex(ROWS[0]![8]));
    // Another caller's job answers as a job that does not exist.
    await expect(getExport(keys.admin, job.id)).rejects.toThrow('NOT_FOUND');
  });

  it('reports a message that is not an export job as failed, so it ends in the dead-letter queue', async () => {
    const event = deliver(firstJob);
    event.Records[0]!.body = 'hello';
    expect(await worker.handler(event)).toEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }],
    });
  });
});

describe('BI feeds on the API Lambda (GET /feeds/<name>.csv)', () => {
  const FEED_INPUT = {
    dataset: 'support_events',
    columns: ['event_id', 'activity', 'priority'],
    orderBy: [{ column: 'event_id', direction: 'ASC' }],
  };
  const EXPECTED = [
    ['event_id', 'activity', 'priority'],
    ...ROWS.map((r) => [String(r[0]), r[2], r[6] === null ? null : String(r[6])]),
  ];

  function feedEvent(
    method: 'GET' | 'HEAD' | 'POST',
    path: string,
    query: string,
    headers: Record<string, string> = {},
  ): APIGatewayProxyEventV2 {
    const event = httpEvent(method === 'HEAD' ? 'GET' : method, undefined, undefined);
    return {
      ...event,
      routeKey: `${method} /feeds/{file}`,
      rawPath: path,
      rawQueryString: query,
      headers,
      requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method, path } },
      body: undefined,
    } as APIGatewayProxyEventV2;
  }

  /** A context whose function has `ms` left, as Lambda reports it. */
  function withTimeLeft(ms: number): Context {
    return { getRemainingTimeInMillis: () => ms } as Context;
  }

  async function createFeed(
    name: string,
    request: Record<string, unknown>,
  ): Promise<{ token: string; url: string; jobId: string }> {
    const before = sqs.messages(QUEUE).length;
    const data = await graphql<{ createFeed: { token: string; feed: { url: string } } }>(
      keys.analyst,
      'mutation($input: CreateFeedInput!) { createFeed(input: $input) { token feed { url } } }',
      { input: { name, request } },
    );
    const sent = sqs.messages(QUEUE).slice(before);
    expect(sent).toHaveLength(1);
    const jobId = (JSON.parse(sent[0]!.body) as { jobId: string }).jobId;
    return { token: data.createFeed.token, url: data.createFeed.feed.url, jobId };
  }

  function errorOf(res: { body?: string }): { code: string; message: string } {
    return (JSON.parse(res.body ?? '{}') as { error: { code: string; message: string } }).error;
  }

  let plain: { token: string; url: string; jobId: string };

  it('answers 503 with Retry-After while the first build runs, waiting no longer than the function may', async () => {
    plain = await createFeed('lambda-plain', FEED_INPUT);
    expect(new URL(plain.url).pathname).toBe('/feeds/lambda-plain.csv');
    const started = Date.now();
    // 4.5 s left: the wait is what the answer's 4 s margin leaves (0.5 s), not the 20 s default.
    const res = await api.handler(
      feedEvent('GET', '/feeds/lambda-plain.csv', `token=${encodeURIComponent(plain.token)}`),
      withTimeLeft(4_500),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('5');
    expect(errorOf(res).code).toBe('NOT_READY');
  });

  it('redirects to a presigned URL of the one plain part once the worker built it, with validators and a 304', async () => {
    expect(await worker.handler(deliver(plain.jobId))).toEqual({ batchItemFailures: [] });
    const res = await api.handler(
      feedEvent('GET', '/feeds/lambda-plain.csv', `token=${encodeURIComponent(plain.token)}`),
      withTimeLeft(29_000),
    );
    expect(res.statusCode).toBe(302);
    expect(res.headers?.['Cache-Control']).toBe('no-store');
    const location = new URL(String(res.headers?.['Location']));
    expect(location.origin).toBe(new URL(lake.s3.endpoint).origin);
    expect(location.searchParams.get('response-content-disposition')).toBe('attachment; filename="lambda-plain.csv"');
    expect(Number(location.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(300);
    const csv = await download(location.toString());
    expect(parseCsv(csv)).toEqual(EXPECTED);
    const etag = String(res.headers?.['ETag']);
    // The validator is the job result's checksum; the bytes behind the link are the part the worker hashed.
    const built = (await stored(plain.jobId)).result!;
    expect(etag).toBe(`"${built.sha256}"`);
    expect(createHash('sha256').update(csv).digest('hex')).toBe(built.files[0]!.sha256);

    const again = await api.handler(
      feedEvent('GET', '/feeds/lambda-plain.csv', `token=${encodeURIComponent(plain.token)}`, {
        'if-none-match': etag,
      }),
      withTimeLeft(29_000),
    );
    expect({ status: again.statusCode, body: again.body, etag: again.headers?.['ETag'] }).toEqual({
      status: 304,
      body: undefined,
      etag,
    });

    const head = await api.handler(
      feedEvent('HEAD', '/feeds/lambda-plain.csv', `token=${encodeURIComponent(plain.token)}`),
      withTimeLeft(29_000),
    );
    expect(head.statusCode).toBe(200);
    expect(head.body).toBeUndefined();
    expect(head.headers).toMatchObject({
      ETag: etag,
      'Content-Length': String(csv.length),
      'Content-Type': 'text/csv; charset=utf-8',
    });
  });

  it('refuses a wrong, a repeated or a missing credential, a method other than GET and HEAD, and an unknown path', async () => {
    const ask = (method: 'GET' | 'POST', path: string, query: string, headers: Record<string, string> = {}) =>
      api.handler(feedEvent(method, path, query, headers), withTimeLeft(29_000));
    const wrong = await ask('GET', '/feeds/lambda-plain.csv', 'token=cpf_wrong');
    expect([wrong.statusCode, errorOf(wrong).code]).toEqual([403, 'FORBIDDEN']);
    const twice = await ask('GET', '/feeds/lambda-plain.csv', `token=${plain.token}&token=${plain.token}`);
    expect([twice.statusCode, errorOf(twice).message]).toEqual([403, 'give one feed token']);
    const none = await ask('GET', '/feeds/lambda-plain.csv', '');
    expect([none.statusCode, errorOf(none).code]).toEqual([401, 'UNAUTHENTICATED']);
    // The creator's own API key opens it; another caller's answers as a feed that does not exist.
    const own = await ask('GET', '/feeds/lambda-plain.csv', '', { authorization: `Bearer ${keys.analyst}` });
    expect(own.statusCode).toBe(302);
    const other = await ask('GET', '/feeds/lambda-plain.csv', '', { authorization: `Bearer ${keys.admin}` });
    expect([other.statusCode, errorOf(other).code]).toEqual([404, 'NOT_FOUND']);
    const post = await ask('POST', '/feeds/lambda-plain.csv', `token=${plain.token}`);
    expect([post.statusCode, post.headers?.['Allow']]).toEqual([405, 'GET, HEAD']);
    const nested = await ask('GET', '/feeds/a/b.csv', `token=${plain.token}`);
    expect(nested.statusCode).toBe(404);
  });

  it('waits for a build the worker finishes meanwhile (read from the store), and answers a small gzip feed as one plain CSV', async () => {
    const gz = await createFeed('lambda-gzip', { ...FEED_INPUT, compression: 'GZIP' });
    let answered = false;
    const asked = api
      .handler(
        feedEvent('GET', '/feeds/lambda-gzip.csv', `token=${encodeURIComponent(gz.token)}`),
        withTimeLeft(29_000),
      )
      .finally(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Still waiting for the build when the worker runs it: the answer below comes from the wait.
    expect(answered).toBe(false);
    expect(await worker.handler(deliver(gz.jobId))).toEqual({ batchItemFailures: [] });
    const res = await asked;
    expect(res.statusCode).toBe(200);
    expect(res.isBase64Encoded).toBe(true);
    expect(res.headers).toMatchObject({
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="lambda-gzip.csv"',
    });
    const body = Buffer.from(res.body ?? '', 'base64');
    expect(res.headers?.['Content-Length']).toBe(String(body.length));
    expect(parseCsv(body)).toEqual(EXPECTED);
  });
});

describe('the web console on the API Lambda (GET /console/...)', () => {
  function get(path: string, headers: Record<string, string> = {}): Promise<APIGatewayProxyResultV2Like> {
    const event = httpEvent('GET', undefined, undefined);
    return api.handler(
      {
        ...event,
        routeKey: 'GET /console/{proxy+}',
        rawPath: path,
        headers,
        requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET', path } },
        body: undefined,
      } as APIGatewayProxyEventV2,
      LAMBDA_CONTEXT,
    ) as Promise<APIGatewayProxyResultV2Like>;
  }
  const bodyOf = (res: APIGatewayProxyResultV2Like): string =>
    res.isBase64Encoded === true ? Buffer.from(res.body ?? '', 'base64').toString('utf8') : (res.body ?? '');

  it('serves the pages and assets the server serves, with the same security headers and revalidation', async () => {
    const built = join(ROOT, 'dist', 'console');
    expect((await get('/console')).headers?.['Location']).toBe('/console/');
    const page = await get('/console/');
    expect(page.statusCode).toBe(200);
    expect(bodyOf(page)).toBe(readFileSync(join(built, 'index.html'), 'utf8'));
    expect(page.headers).toMatchObject({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': expect.stringContaining("default-src 'self'") as unknown,
      'X-Frame-Options': 'DENY',
    });
    const script = await get('/console/assets/console.js');
    expect(script.headers?.['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(bodyOf(script)).toBe(readFileSync(join(built, 'assets', 'console.js'), 'utf8'));
    const again = await get('/console/assets/console.js', { 'if-none-match': String(script.headers?.['ETag']) });
    expect({ status: again.statusCode, body: again.body }).toEqual({ status: 304, body: undefined });
    // A list, a weak tag: compared as RFC 9110 says.
    const listed = await get('/console/assets/console.js', {
      'if-none-match': `"other", W/${String(script.headers?.['ETag'])}`,
    });
    expect(listed.statusCode).toBe(304);
    const graphiql = await get('/console/graphiql');
    expect(bodyOf(graphiql)).toBe(readFileSync(join(built, 'graphiql.html'), 'utf8'));
    for (const path of ['/console/assets/..%2Findex.html', '/console/assets/../index.html', '/console/nope']) {
      expect((await get(path)).statusCode).toBe(404);
    }
  });

  it('ships no source maps: the maps answer 404 and the script names none', async () => {
    for (const map of ['console.js.map', 'console.css.map', 'graphiql.js.map']) {
      expect((await get(`/console/assets/${map}`)).statusCode).toBe(404);
    }
    const script = await get('/console/assets/console.js');
    expect(script.statusCode).toBe(200);
    expect(bodyOf(script)).not.toContain('sourceMappingURL');
  });

  it('serves the console’s files even when the API cannot start (the check that needs it answers 500)', async () => {
    // No queue configured: the GraphQL runtime refuses to start on Lambda.
    const broken = createApiLambda(
      loadConfig({ CAREPLUS_LAKE_DIR: join(scratch, 'broken-lake'), CAREPLUS_LOG_LEVEL: 'silent' }, scratch),
    );
    try {
      const event = httpEvent('GET', undefined, undefined);
      const at = (path: string): APIGatewayProxyEventV2 =>
        ({
          ...event,
          rawPath: path,
          headers: {},
          requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET', path } },
          body: undefined,
        }) as APIGatewayProxyEventV2;
      expect((await broken.handler(at('/console/'), LAMBDA_CONTEXT)).statusCode).toBe(200);
      expect((await broken.handler(at('/console/api/graphiql-access'), LAMBDA_CONTEXT)).statusCode).toBe(500);
      await expect(broken.handler(at('/graphql'), LAMBDA_CONTEXT)).rejects.toThrow('CAREPLUS_EXPORT_DISPATCH=sqs');
    } finally {
      await broken.close();
    }
  });

  it('answers the GraphQL page’s access check from the caller’s key and the policy', async () => {
    const anonymous = await get('/console/api/graphiql-access');
    expect(anonymous.statusCode).toBe(401);
    const analyst = await get('/console/api/graphiql-access', { authorization: `Bearer ${keys.analyst}` });
    expect([analyst.statusCode, JSON.parse(analyst.body ?? '{}')]).toEqual([200, { allowed: true }]);
  });
});

describe('request bodies on the API Lambda (POST /graphql)', () => {
  // Found by a hands-on run of the handler with API Gateway events: a body that was not JSON was answered 400 with the
  // JSON parser's own words ("Unexpected end of JSON input") as plain text without a Content-Type, not the GraphQL
  // error the server gives (test/e2e/graphql-http.test.ts); `Application/JSON` was "POST body missing"; a gzipped body,
  // which the server accepts, was "not JSON".
  async function post(
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<[number | undefined, string | undefined, unknown]> {
    const event = httpEvent('POST', undefined, keys.admin);
    const res = await api.handler(
      {
        ...event,
        headers: { ...event.headers, ...headers },
        body: typeof body === 'string' ? body : body.toString('base64'),
        isBase64Encoded: typeof body !== 'string',
      },
      LAMBDA_CONTEXT,
    );
    return [res.statusCode, String(res.headers?.['content-type'] ?? ''), JSON.parse(res.body ?? 'null')];
  }
  const error = (message: string) => ({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
  const JSON_TYPE = 'application/json; charset=utf-8';
  const ME = '{"query":"{ __typename }"}';

  it('refuses a body that is not a JSON object as the server does: a JSON error naming what to fix', async () => {
    expect(await post('{"query": ')).toEqual([400, JSON_TYPE, error('Request body is not valid JSON')]);
    expect(await post('"{ me { id } }"')).toEqual([
      400,
      JSON_TYPE,
      error('Request body must be a JSON object: {"query": "...", "variables": {...}}'),
    ]);
    expect(await post('')).toEqual([
      400,
      JSON_TYPE,
      error('POST body missing, invalid Content-Type, or JSON object has no keys.'),
    ]);
    expect(await post(ME, { 'content-type': 'application/json; charset=latin1' })).toEqual([
      415,
      JSON_TYPE,
      error('Unsupported charset "LATIN1": send the body as UTF-8'),
    ]);
    expect(await post(ME, { 'content-encoding': 'compress' })).toEqual([
      415,
      JSON_TYPE,
      error('Unsupported content encoding "compress": send the body as is, or with gzip, deflate or br'),
    ]);
    expect(await post(ME, { 'content-encoding': 'gzip' })).toEqual([
      400,
      JSON_TYPE,
      error('Request body could not be decoded as its Content-Encoding says (gzip)'),
    ]);
  });

  it('reads what the server reads: a media type in any case, a gzipped body', async () => {
    const ok = [200, JSON_TYPE, { data: { __typename: 'Query' } }];
    expect(await post(ME, { 'content-type': 'Application/JSON; charset=UTF-8' })).toEqual(ok);
    expect(await post(gzipSync(ME), { 'content-encoding': 'gzip' })).toEqual(ok);
    expect(await post(Buffer.from(ME))).toEqual(ok);
  });
});

/** The structured result of the API Lambda (the handler always returns one). */
interface APIGatewayProxyResultV2Like {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
  isBase64Encoded?: boolean;
}
