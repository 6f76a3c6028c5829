import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { encodeExportJobMessage, parseExportJobMessage } from '../../src/adapters/aws/export-job-message.js';
import type { Catalog } from '../../src/ports/catalog.js';
import { createSqsClient, SqsJobDispatcher } from '../../src/adapters/aws/sqs-job-dispatcher.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import { type ExportJobRecord, exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportPlan } from '../../src/domain/export-plan.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { ExportCancelledError, type ExportEngine } from '../../src/ports/export-engine.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService, type ExportServiceOptions } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { addOneRowTypesTable, createExportLake, type ExportLake, LINK_SECRET } from '../support/export-lake.js';
import { typesTable } from '../support/export-table.js';
import { type SqsStandIn, startSqsStandIn } from '../support/sqs-standin.js';

/**
 * The SQS job dispatcher through the real SQSClient (AWS JSON 1.0) against the SQS stand-in, and the export service
 * over it: a requested job is recorded QUEUED and its id is sent to the queue, nothing runs in the requesting
 * process, and a job that cannot be sent fails at once. Then a cancel that races the end of a worker's run (the API
 * process cancelling while the worker, `runJob` on the real DuckDB engine, writes SUCCEEDED), forced rather than
 * hoped for: a job-store decorator in the worker runs the API's `cancelExport` exactly before, or exactly around,
 * that write. Either way the job ends CANCELLED with no result and nothing in the exports bucket.
 */

const QUEUE = 'careplus-export-jobs';
const ALICE = { id: 'alice' };
const PLAN = {} as ExportPlan;

let sqs: SqsStandIn;
let lake: ExportLake;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  // The SDK's default credential chain, as the composition root uses it; the stand-in checks no signature.
  for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: 'TEST', AWS_SECRET_ACCESS_KEY: 'TEST' })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  sqs = await startSqsStandIn({ queues: [QUEUE] });
  lake = await createExportLake();
  await addOneRowTypesTable(lake);
});

afterAll(async () => {
  await sqs.stop();
  await lake.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/**
 * A service of one process over the lake: by default the API process's (its engine must never be called: `runs`
 * records any call); `worker` gives it a job store and an engine of its own (a worker process).
 */
function serviceOver(
  dispatcher: SqsJobDispatcher,
  engineRuns: string[],
  catalog: Catalog = lake.catalog,
  worker: { jobs?: JobStore; engine?: ExportEngine; options?: ExportServiceOptions } = {},
): ExportService {
  return new ExportService(
    {
      catalog,
      store: lake.store,
      jobs: worker.jobs ?? new StoreJobStore(lake.store),
      engine: worker.engine ?? {
        kind: 'duckdb',
        run: (job) => {
          engineRuns.push(job.id);
          return Promise.reject(new Error('the requesting process must not run the job'));
        },
      },
      links: new HmacDownloadLinks({ secret: LINK_SECRET, baseUrl: 'http://api.test' }),
      footers: new ParquetFooterCache(lake.store),
      logger: new JsonLogger('silent'),
      dispatcher,
    },
    worker.options,
  );
}

describe('SqsJobDispatcher', () => {
  it('sends one message per job, whose body names the job, to the queue of its URL', async () => {
    const client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    try {
      const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
      const before = sqs.messages(QUEUE).length;
      await dispatcher.dispatch({ id: 'job-1', plan: PLAN });
      await dispatcher.dispatch({ id: 'job-2', plan: PLAN });
      const sent = sqs.messages(QUEUE).slice(before);
      expect(sent.map((m) => m.body)).toEqual(['{"version":1,"jobId":"job-1"}', '{"version":1,"jobId":"job-2"}']);
      expect(sent.map((m) => parseExportJobMessage(m.body))).toEqual(['job-1', 'job-2']);
      expect(sqs.requests.slice(-2).map((r) => [r.operation, r.input['QueueUrl']])).toEqual([
        ['SendMessage', sqs.queueUrl(QUEUE)],
        ['SendMessage', sqs.queueUrl(QUEUE)],
      ]);
    } finally {
      client.destroy();
    }
  });

  it('rejects with SQS’s error when the queue does not exist', async () => {
    const missing = sqs.queueUrl('no-such-queue');
    const client = createSqsClient(missing, 'us-east-1');
    try {
      await expect(
        new SqsJobDispatcher({ client, queueUrl: missing }).dispatch({ id: 'job-3', plan: PLAN }),
      ).rejects.toMatchObject({
        name: 'QueueDoesNotExist',
        $metadata: { httpStatusCode: 400 },
      });
    } finally {
      client.destroy();
    }
  });

  it('refuses to send what is not a job id', async () => {
    const client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    try {
      await expect(
        new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) }).dispatch({ id: '../x', plan: PLAN }),
      ).rejects.toThrow('not an export job id: "../x"');
    } finally {
      client.destroy();
    }
  });
});

describe('the SQS stand-in', () => {
  it('refuses an empty body as SQS does, through the real client', async () => {
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: sqs.endpoint,
      credentials: { accessKeyId: 'TEST', secretAccessKey: 'TEST' },
    });
    try {
      await expect(
        client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl(QUEUE), MessageBody: '' })),
      ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    } finally {
      client.destroy();
    }
  });
});

describe('export-job messages', () => {
  it('read back the job id they were written with', () => {
    expect(parseExportJobMessage(encodeExportJobMessage('0f8fad5b-d9cb-469f-a165-70867728950e'))).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    );
  });

  it('name what is wrong with a body that is not one', () => {
    const errors = [
      'not json',
      '[1]',
      '{"version":2,"jobId":"a"}',
      '{"version":1,"jobId":"../a"}',
      '{"version":1}',
    ].map((body) => (parseExportJobMessage(body) as Error).message);
    expect(errors).toEqual([
      'export-job message: the body is not JSON',
      'export-job message: the body is not a JSON object',
      'export-job message: unsupported version 2',
      'export-job message: jobId "../a" is not an export job id',
      'export-job message: jobId undefined is not an export job id',
    ]);
  });
});

describe('ExportService with SQS dispatch', () => {
  it('records the job QUEUED, sends its id and runs nothing in the requesting process', async () => {
    const client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    const runs: string[] = [];
    const service = serviceOver(new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) }), runs);
    try {
      const before = sqs.messages(QUEUE).length;
      const job = await service.requestExport(ALICE, { dataset: 'events' });
      expect(job.status).toBe('QUEUED');
      // An identical request is the same job: no second message.
      expect((await service.requestExport(ALICE, { dataset: 'events' })).id).toBe(job.id);
      expect(
        sqs
          .messages(QUEUE)
          .slice(before)
          .map((m) => parseExportJobMessage(m.body)),
      ).toEqual([job.id]);
      await service.whenIdle();
      expect(runs).toEqual([]);
      expect((await service.getExport(ALICE, job.id)).status).toBe('QUEUED');
      // Cancelled here, the worker is told through a marker no record update can overwrite.
      expect((await service.cancelExport(ALICE, job.id)).status).toBe('CANCELLED');
      expect(await new StoreJobStore(lake.store).cancelRequested(job.id)).toBe(true);
    } finally {
      await service.close();
      client.destroy();
    }
  });

  it('leaves a job QUEUED for the queue to retry when the worker cannot read the catalog, and fails it when the table is gone', async () => {
    const client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
    const api = serviceOver(dispatcher, []);
    let getTable: Catalog['getTable'] = () => Promise.reject(new Error('ThrottlingException: Rate exceeded'));
    const flaky = new Proxy(lake.catalog, {
      get: (target, prop, receiver) =>
        prop === 'getTable' ? (name: string) => getTable(name) : (Reflect.get(target, prop, receiver) as unknown),
    });
    const runs: string[] = [];
    const worker = serviceOver(dispatcher, runs, flaky);
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'] });
      await expect(worker.runJob(job.id)).rejects.toThrow('ThrottlingException');
      expect(await new StoreJobStore(lake.store).get(job.id)).toMatchObject({ status: 'QUEUED', attempts: 0 });

      getTable = () => Promise.resolve(undefined);
      expect(await worker.runJob(job.id)).toBe('done');
      expect(runs).toEqual([]);
      expect((await api.getExport(ALICE, job.id)).error).toEqual({
        code: 'DATA_CHANGED',
        message: 'the dataset is no longer available as requested: request it again',
      });
    } finally {
      await worker.close();
      await api.close();
      client.destroy();
    }
  });

  it('counts the time the worker spends before the run (planning it) against the run’s time limit', async () => {
    // Found by running the export worker with a Lambda context: the limit (the function's time left less the stop
    // margin) was timed from the start of the engine's run, so the time spent reading the catalog and listing and
    // planning the files was added to it, and the stop came after Lambda had already ended the function.
    const client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
    const api = serviceOver(dispatcher, []);
    // Planning in the worker takes longer than the whole limit it is given.
    const slow = new Proxy(lake.catalog, {
      get: (target, prop, receiver) =>
        prop === 'getTable'
          ? async (name: string) => {
              await new Promise((resolve) => setTimeout(resolve, 300));
              return target.getTable(name);
            }
          : (Reflect.get(target, prop, receiver) as unknown),
    });
    const stoppedAtStart: boolean[] = [];
    // An engine that runs until it is stopped.
    const engine: ExportEngine = {
      kind: 'duckdb',
      run: (_job, _plan, { signal }) => {
        stoppedAtStart.push(signal.aborted);
        return new Promise((_resolve, reject) => {
          if (signal.aborted) reject(new ExportCancelledError());
          signal.addEventListener('abort', () => reject(new ExportCancelledError()));
        });
      },
    };
    const worker = serviceOver(dispatcher, [], slow, { engine });
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id', 'priority'] });
      expect(await worker.runJob(job.id, { timeLimitMs: 100 })).toBe('ran');
      // The limit had passed before the engine was called: its run is stopped from the start.
      expect(stoppedAtStart).toEqual([true]);
      expect((await api.getExport(ALICE, job.id)).error?.code).toBe('LIMIT_EXCEEDED');
    } finally {
      await worker.close();
      await api.close();
      client.destroy();
    }
  });

  it('fails a job at once when it cannot be sent, with a reason and no internals', async () => {
    const missing = sqs.queueUrl('no-such-queue');
    const client = createSqsClient(missing, 'us-east-1');
    const service = serviceOver(new SqsJobDispatcher({ client, queueUrl: missing }), []);
    try {
      const job = await service.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'] });
      expect({ status: job.status, error: job.error }).toEqual({
        status: 'FAILED',
        error: {
          code: 'ENGINE_ERROR',
          message: 'the export could not be handed to an export worker; request it again',
        },
      });
      expect((await service.getExport(ALICE, job.id)).status).toBe('FAILED');
      // A failed job is not reused: asking again makes a new job.
      const again = await service.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'] });
      expect(again.id).not.toBe(job.id);
    } finally {
      await service.close();
      client.destroy();
    }
  });
});

describe('StoreJobStore start claims and cancel requests', () => {
  it('let one caller claim a start, and tell the others when it was claimed', async () => {
    const a = new StoreJobStore(lake.store);
    const b = new StoreJobStore(lake.store);
    expect(await a.claimStart('job-c', 1, '2024-01-01T00:00:00.000Z')).toEqual({
      claimed: true,
      claimedAt: '2024-01-01T00:00:00.000Z',
    });
    expect(await b.claimStart('job-c', 1, '2024-01-01T00:00:05.000Z')).toEqual({
      claimed: false,
      claimedAt: '2024-01-01T00:00:00.000Z',
    });
    expect((await b.claimStart('job-c', 2, '2024-01-01T00:00:06.000Z')).claimed).toBe(true);
    await expect(a.claimStart('../job', 1, 'x')).rejects.toThrow('not a valid export job id: "../job"');
  });

  it('record a cancel request once, and answer false for jobs without one', async () => {
    const jobs = new StoreJobStore(lake.store);
    expect(await jobs.cancelRequested('job-d')).toBe(false);
    await jobs.requestCancel('job-d', '2024-01-01T00:00:00.000Z');
    await jobs.requestCancel('job-d', '2024-01-01T00:00:09.000Z');
    expect(await jobs.cancelRequested('job-d')).toBe(true);
    expect(await jobs.cancelRequested('../job-d')).toBe(false);
    const marker = await lake.store.getBytes('exports', '_jobs/cancels/job-d.json');
    expect(JSON.parse(Buffer.from(marker).toString('utf8'))).toEqual({ requestedAt: '2024-01-01T00:00:00.000Z' });
  });
});

/**
 * The worker's job store: `around` wraps the one update that writes SUCCEEDED (it gets the write to call);
 * everything else goes to the store the API process uses too.
 */
function racingJobs(around: (id: string, write: () => Promise<ExportJobRecord>) => Promise<ExportJobRecord>): JobStore {
  const inner = new StoreJobStore(lake.store);
  let fired = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'update') return Reflect.get(target, prop, receiver) as unknown;
      return async (id: string, change: (job: ExportJobRecord) => ExportJobRecord): Promise<ExportJobRecord> => {
        const current = await target.get(id);
        const write = (): Promise<ExportJobRecord> => target.update(id, change);
        if (fired || current === undefined || change(current).status !== 'SUCCEEDED') return write();
        fired = true;
        return around(id, write);
      };
    },
  });
}

/** The API's job store, holding its cancel's record update until `release` (its cancel marker goes at once). */
function heldCancelJobs(): { jobs: JobStore; markerWritten: Promise<void>; release: () => void } {
  const inner = new StoreJobStore(lake.store);
  let marked!: () => void;
  const markerWritten = new Promise<void>((resolve) => (marked = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let cancelling = false;
  const jobs = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'requestCancel') {
        return async (id: string, at: string): Promise<void> => {
          await target.requestCancel(id, at);
          cancelling = true;
          marked();
        };
      }
      if (prop === 'update') {
        return async (id: string, change: (job: ExportJobRecord) => ExportJobRecord): Promise<ExportJobRecord> => {
          if (cancelling) await released;
          return target.update(id, change);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { jobs, markerWritten, release };
}

async function exportKeys(jobId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of lake.store.listAll('exports', exportResultPrefix(jobId))) keys.push(object.key);
  return keys;
}

async function expectCancelledWithoutResult(api: ExportService, worker: ExportService, id: string): Promise<void> {
  const ended = await api.getExport(ALICE, id);
  expect({ status: ended.status, result: ended.result }).toEqual({ status: 'CANCELLED', result: null });
  expect(await exportKeys(id)).toEqual([]);
  // A worker delivered the message again finds nothing to do.
  expect(await worker.runJob(id)).toBe('done');
  expect((await api.getExport(ALICE, id)).status).toBe('CANCELLED');
}

describe('watching a job a worker runs (SQS dispatch: no events reach the API process)', () => {
  let client: ReturnType<typeof createSqsClient>;
  let engineDb: DuckDbDatabase;
  let engine: ExportEngine;

  beforeAll(async () => {
    client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    engineDb = await DuckDbDatabase.create({
      memoryLimit: '1GB',
      threads: 2,
      tempDirectory: join(lake.root, 'watch-engine-tmp'),
    });
    engine = await DuckDbExportEngine.create(engineDb, lake.store, { stagingDir: join(lake.root, 'watch-staging') });
  });

  afterAll(() => {
    engineDb.close();
    client.destroy();
  });

  it('reads the job from the store while no event comes, and ends with the worker’s SUCCEEDED and its files', async () => {
    const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
    const api = serviceOver(dispatcher, [], lake.catalog, { options: { watchPollMs: 20 } });
    const worker = serviceOver(dispatcher, [], lake.catalog, { engine });
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'], limit: 700 });
      const updates = await api.watchExport(ALICE, job.id);
      const seen: string[] = [];
      const watching = (async () => {
        let last;
        for await (const update of updates) {
          seen.push(update.status);
          last = update;
        }
        return last;
      })();
      expect(await worker.runJob(job.id)).toBe('ran');
      const last = await watching;
      expect(seen[0]).toBe('QUEUED');
      expect(seen.at(-1)).toBe('SUCCEEDED');
      expect(last?.result?.rowCount).toBe(1);
      expect(last?.result?.files.map((f) => [f.name, f.url !== null])).toEqual([['part-00000.csv', true]]);
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('runs a job whose files were compacted before the worker got it on the files as they are now', async () => {
    await lake.catalog.putTable(typesTable({ name: 'compacted', location: 'compacted/' }));
    const row = (id: number): string =>
      `SELECT ${id}::BIGINT AS id, 'n${id}' AS name, 1 AS priority, 1.5::DOUBLE AS score, true AS active,
         TIMESTAMP '2024-01-01 10:00:00' AS created_at, DATE '2024-01-01' AS day, 1.2500::DECIMAL(18,4) AS amount,
         'a@example.com' AS email`;
    await lake.writeParquet('compacted/event_date=2024-01-01/part-a.parquet', row(1));
    await lake.writeParquet('compacted/event_date=2024-01-01/part-b.parquet', row(2));
    const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
    const api = serviceOver(dispatcher, []);
    const worker = serviceOver(dispatcher, [], lake.catalog, { engine });
    try {
      const job = await api.requestExport(ALICE, { dataset: 'compacted', columns: ['id', 'name'] });
      const requested = (await new StoreJobStore(lake.store).get(job.id))!;
      // The two files become one while the job waits in the queue.
      await lake.writeParquet('compacted/event_date=2024-01-01/part-c.parquet', `${row(1)} UNION ALL ${row(2)}`);
      for (const part of ['part-a', 'part-b']) {
        await lake.store.delete('processed', `compacted/event_date=2024-01-01/${part}.parquet`);
      }
      expect(await worker.runJob(job.id)).toBe('ran');
      const ended = (await new StoreJobStore(lake.store).get(job.id))!;
      expect(ended).toMatchObject({ status: 'SUCCEEDED', error: null, attempts: 1, estimate: { files: 1 } });
      expect(ended.dataVersion).not.toBe(requested.dataVersion);
      const csv = await lake.store.getBytes('exports', ended.result!.files[0]!.key);
      expect(Buffer.from(csv).toString('utf8').split('\n').sort()).toEqual(['', '1,n1', '2,n2', 'id,name']);
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('polls while a watcher waits, and stops when it stops', async () => {
    const dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
    const reads: string[] = [];
    const inner = new StoreJobStore(lake.store);
    const counting = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop !== 'get') return Reflect.get(target, prop, receiver) as unknown;
        return (id: string) => {
          reads.push(id);
          return target.get(id);
        };
      },
    });
    const api = serviceOver(dispatcher, [], lake.catalog, { jobs: counting, options: { watchPollMs: 10 } });
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id'], limit: 600 });
      const controller = new AbortController();
      const updates = await api.watchExport(ALICE, job.id, { signal: controller.signal });
      expect((await updates.next()).value?.status).toBe('QUEUED');
      const pending = updates.next();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Polled while waiting: several reads of this job, and still QUEUED (nothing ran it).
      expect(reads.filter((id) => id === job.id).length).toBeGreaterThan(2);
      controller.abort();
      expect(await pending).toEqual({ done: true, value: undefined });
      const after = reads.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(reads.length).toBe(after);
    } finally {
      await api.close();
    }
  });
});

describe('a cancel racing the end of a worker run (forced: the API cancels inside the worker’s SUCCEEDED write)', () => {
  let client: ReturnType<typeof createSqsClient>;
  let dispatcher: SqsJobDispatcher;
  let engineDb: DuckDbDatabase;
  let engine: ExportEngine;
  // No cancel poll during the run: the cancel must arrive in the window the test forces.
  const workerOptions: ExportServiceOptions = { cancelPollMs: 60 * 60 * 1000 };
  const api = (jobs: JobStore = new StoreJobStore(lake.store)): ExportService =>
    serviceOver(dispatcher, [], lake.catalog, { jobs });
  const worker = (jobs: JobStore): ExportService =>
    serviceOver(dispatcher, [], lake.catalog, { jobs, engine, options: workerOptions });

  beforeAll(async () => {
    engineDb = await DuckDbDatabase.create({
      memoryLimit: '1GB',
      threads: 2,
      tempDirectory: join(lake.root, 'race-engine-tmp'),
    });
    engine = await DuckDbExportEngine.create(engineDb, lake.store, { stagingDir: join(lake.root, 'race-staging') });
  });

  afterAll(() => engineDb.close());

  beforeEach(() => {
    client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
  });

  afterEach(() => client.destroy());

  it('written just before the worker writes SUCCEEDED: the job ends CANCELLED with no result and no files', async () => {
    const apiService = api();
    const told: string[] = [];
    const workerService = worker(
      racingJobs(async (id, write) => {
        told.push((await apiService.cancelExport(ALICE, id)).status);
        const written = await write();
        // The worker's end does not overwrite the cancel: no reader ever sees SUCCEEDED with removed files.
        expect({ status: written.status, result: written.result }).toEqual({ status: 'CANCELLED', result: null });
        return written;
      }),
    );
    try {
      const job = await apiService.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'], limit: 900 });
      expect(job.status).toBe('QUEUED');
      expect(await workerService.runJob(job.id)).toBe('ran');
      // The API saw the job running and told its requester CANCELLED; the worker's SUCCEEDED came after.
      expect(told).toEqual(['CANCELLED']);
      await expectCancelledWithoutResult(apiService, workerService, job.id);
    } finally {
      await workerService.close();
      await apiService.close();
    }
  });

  it('written between the worker’s cancel check and its start claim: the job never runs and stays CANCELLED', async () => {
    const apiService = api();
    const inner = new StoreJobStore(lake.store);
    const told: string[] = [];
    const written: string[] = [];
    const jobs = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'claimStart') {
          return async (id: string, attempt: number, at: string) => {
            told.push((await apiService.cancelExport(ALICE, id)).status);
            return target.claimStart(id, attempt, at);
          };
        }
        if (prop === 'update') {
          return async (id: string, change: (job: ExportJobRecord) => ExportJobRecord) => {
            const w = await target.update(id, change);
            written.push(w.status);
            return w;
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const workerService = worker(jobs);
    try {
      const job = await apiService.requestExport(ALICE, { dataset: 'events', columns: ['id'], limit: 700 });
      expect(await workerService.runJob(job.id)).toBe('done');
      expect(told).toEqual(['CANCELLED']);
      // The worker never wrote RUNNING (or SUCCEEDED) over the cancel.
      expect(written.filter((s) => s === 'RUNNING' || s === 'SUCCEEDED')).toEqual([]);
      await expectCancelledWithoutResult(apiService, workerService, job.id);
    } finally {
      await workerService.close();
      await apiService.close();
    }
  });

  it('read while running but written after the worker wrote SUCCEEDED: the job ends CANCELLED with no result and no files', async () => {
    const held = heldCancelJobs();
    const apiService = api(held.jobs);
    const told: Promise<string>[] = [];
    const workerService = worker(
      racingJobs(async (id, write) => {
        // The API reads the job RUNNING and writes its cancel marker; its CANCELLED record waits for SUCCEEDED.
        told.push(apiService.cancelExport(ALICE, id).then((view) => view.status));
        await held.markerWritten;
        const written = await write();
        held.release();
        return written;
      }),
    );
    try {
      const job = await apiService.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'], limit: 800 });
      expect(await workerService.runJob(job.id)).toBe('ran');
      expect(await Promise.all(told)).toEqual(['CANCELLED']);
      await expectCancelledWithoutResult(apiService, workerService, job.id);
    } finally {
      await workerService.close();
      await apiService.close();
    }
  });
});
