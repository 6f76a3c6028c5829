import { join } from 'node:path';
import { createSqsClient, SqsJobDispatcher } from '../../src/adapters/aws/sqs-job-dispatcher.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ExportJobRecord } from '../../src/domain/export-job.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { createExportLake, type ExportLake, LINK_SECRET } from '../support/export-lake.js';
import { typesTable } from '../support/export-table.js';
import { type SqsStandIn, startSqsStandIn } from '../support/sqs-standin.js';

/**
 * A cancel that races the end of a run on the AWS deployment's path: the API process (SQS dispatch) cancels while
 * the export worker (`runJob`, the real DuckDB engine) is writing its SUCCEEDED record. The race is forced, not
 * hoped for: a job-store decorator in the worker runs the API's `cancelExport` exactly before, or exactly after, the
 * worker's SUCCEEDED write. Either way the job ends CANCELLED, with no result and nothing left in the exports bucket.
 */

const QUEUE = 'careplus-export-jobs';
const ALICE = { id: 'alice' };

let sqs: SqsStandIn;
let lake: ExportLake;
let engineDb: DuckDbDatabase;
let engine: ExportEngine;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: 'TEST', AWS_SECRET_ACCESS_KEY: 'TEST' })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  sqs = await startSqsStandIn({ queues: [QUEUE] });
  lake = await createExportLake();
  await lake.catalog.putTable(typesTable());
  await lake.writeParquet(
    'events/event_date=2024-01-01/part-a.parquet',
    `SELECT i::BIGINT AS id, 'name ' || i AS name, (i % 4)::INTEGER AS priority, i * 1.5 AS score, i % 2 = 0 AS active,
       TIMESTAMP '2024-01-01 10:00:00' + to_seconds(i) AS created_at, DATE '2024-01-01' AS day,
       (i / 4)::DECIMAL(18,4) AS amount, 'p' || i || '@example.com' AS email
     FROM range(1000) t(i)`,
  );
  engineDb = await DuckDbDatabase.create({
    memoryLimit: '1GB',
    threads: 2,
    tempDirectory: join(lake.root, 'engine-tmp'),
  });
  engine = await DuckDbExportEngine.create(engineDb, lake.store, { stagingDir: join(lake.root, 'staging') });
});

afterAll(async () => {
  engineDb.close();
  await sqs.stop();
  await lake.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A service of one process: the API's (engine never called) or the worker's (the real engine). */
function service(dispatcher: SqsJobDispatcher, jobs: JobStore, runs: ExportEngine | 'none'): ExportService {
  return new ExportService(
    {
      catalog: lake.catalog,
      store: lake.store,
      jobs,
      engine:
        runs === 'none'
          ? { kind: 'duckdb', run: () => Promise.reject(new Error('the API process must not run the job')) }
          : runs,
      links: new HmacDownloadLinks({ secret: LINK_SECRET, baseUrl: 'http://api.test' }),
      footers: new ParquetFooterCache(lake.store),
      logger: new JsonLogger('silent'),
      dispatcher,
    },
    // No cancel poll during the run: the cancel must arrive in the window the test forces.
    { cancelPollMs: 60 * 60 * 1000 },
  );
}

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
  for await (const object of lake.store.listAll('exports', `${jobId}/`)) keys.push(object.key);
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

describe('a cancel racing the end of a worker run', () => {
  let client: ReturnType<typeof createSqsClient>;
  let dispatcher: SqsJobDispatcher;

  beforeEach(() => {
    client = createSqsClient(sqs.queueUrl(QUEUE), 'us-east-1');
    dispatcher = new SqsJobDispatcher({ client, queueUrl: sqs.queueUrl(QUEUE) });
  });

  afterEach(() => client.destroy());

  it('written just before the worker writes SUCCEEDED: the job ends CANCELLED with no result and no files', async () => {
    const api = service(dispatcher, new StoreJobStore(lake.store), 'none');
    const told: string[] = [];
    const worker = service(
      dispatcher,
      racingJobs(async (id, write) => {
        told.push((await api.cancelExport(ALICE, id)).status);
        const written = await write();
        // The worker's end does not overwrite the cancel: no reader ever sees SUCCEEDED with removed files.
        expect({ status: written.status, result: written.result }).toEqual({ status: 'CANCELLED', result: null });
        return written;
      }),
      engine,
    );
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'], limit: 900 });
      expect(job.status).toBe('QUEUED');
      expect(await worker.runJob(job.id)).toBe('ran');
      // The API saw the job running and told its requester CANCELLED; the worker's SUCCEEDED came after.
      expect(told).toEqual(['CANCELLED']);
      await expectCancelledWithoutResult(api, worker, job.id);
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('read while running but written after the worker wrote SUCCEEDED: the job ends CANCELLED with no result and no files', async () => {
    const held = heldCancelJobs();
    const api = service(dispatcher, held.jobs, 'none');
    const told: Promise<string>[] = [];
    const worker = service(
      dispatcher,
      racingJobs(async (id, write) => {
        // The API reads the job RUNNING and writes its cancel marker; its CANCELLED record waits for SUCCEEDED.
        told.push(api.cancelExport(ALICE, id).then((view) => view.status));
        await held.markerWritten;
        const written = await write();
        held.release();
        return written;
      }),
      engine,
    );
    try {
      const job = await api.requestExport(ALICE, { dataset: 'events', columns: ['id', 'name'], limit: 800 });
      expect(await worker.runJob(job.id)).toBe('ran');
      expect(await Promise.all(told)).toEqual(['CANCELLED']);
      await expectCancelledWithoutResult(api, worker, job.id);
    } finally {
      await worker.close();
      await api.close();
    }
  });
});
