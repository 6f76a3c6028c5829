import { ExportFailedError, type ExportEngine } from '../../src/ports/export-engine.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { column } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportLake,
  finished,
  withMethod,
} from '../support/export-lake.js';

/**
 * A job that ran out of memory beside others is queued again to run alone. What may happen while it is put back
 * (found by review): a cancel (it was lost, and the job ran and SUCCEEDED), a store that fails (the job stayed RUNNING
 * for good), a cancel of the waiting job (the jobs behind it waited for an unrelated one to end), and a shutdown (an
 * entry left in the closed service's queue, on which `whenIdle` spun for ever).
 */
const alice = { id: 'alice' };
let lake: ExportLake;
let n = 10;

beforeAll(async () => {
  lake = await createExportLake();
  await lake.writeParquet(
    'tickets/event_date=2024-01-01/part-a.parquet',
    `SELECT i::BIGINT AS id, 'ticket ' || i AS title FROM range(100) t(i)`,
  );
  await lake.catalog.putTable({
    name: 'tickets',
    location: 'tickets/',
    description: '',
    origin: 'etl',
    columns: [column('id', 'bigint'), column('title', 'string')],
    partitionKeys: [column('event_date', 'date')],
  });
}, 60_000);
afterAll(async () => lake?.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Holds the engine (sorted), so that the hungry job runs beside it. */
const slowRequest = () => ({
  dataset: 'tickets',
  columns: ['id'],
  orderBy: [{ column: 'id', direction: 'DESC' as const }],
  limit: ++n,
});
const hungryRequest = () => ({ dataset: 'tickets', columns: ['id', 'title'], limit: ++n });

/** The real engine; the hungry job's first run fails out of memory, the slow one holds the engine `slowMs`. */
function oomEngine(slowMs: number, onOom: () => void = () => undefined): (engine: ExportEngine) => ExportEngine {
  let failed = false;
  return (engine) =>
    withMethod(engine, 'run', (run) => async (job, plan, options) => {
      if (plan.request.orderBy.length > 0) await sleep(slowMs);
      if (plan.request.columns.some((c) => c.name === 'title') && !failed) {
        failed = true;
        onOom();
        throw new ExportFailedError('ENGINE_ERROR', 'the query engine ran out of memory or disk space', {
          outOfResources: true,
        });
      }
      return run(job, plan, options);
    });
}

/** The lake's store, whose listings of the exports bucket take 200 ms (removing a job's output: an S3 listing). */
function slowExportListings(): ObjectStore {
  return withMethod(
    lake.store,
    'listAll',
    (listAll) =>
      async function* (bucket, prefix, options) {
        if (bucket === 'exports') await sleep(200);
        yield* listAll(bucket, prefix, options);
      },
  );
}

/**
 * A harness whose hungry job runs out of memory beside the slow one (held `slowMs`), with the moment it does, and the
 * slow one and the hungry one requested in that order.
 */
async function racing(slowMs: number, store?: ObjectStore) {
  let oom: () => void = () => undefined;
  const oomSeen = new Promise<void>((r) => (oom = r));
  const h = await createExportHarness(lake, {
    service: { concurrency: 2 },
    wrapEngine: oomEngine(slowMs, () => oom()),
    ...(store !== undefined ? { store } : {}),
  });
  const slow = await h.service.requestExport(alice, slowRequest());
  const hungry = await h.service.requestExport(alice, hungryRequest());
  return { h, slow, hungry, oomSeen };
}

it('honours a cancel that comes while the job is put back: CANCELLED, never run again', async () => {
  const { h, hungry, oomSeen } = await racing(800, slowExportListings());
  try {
    await oomSeen;
    const afterCancel = await h.service.cancelExport(alice, hungry.id);
    expect(afterCancel.status).toBe('CANCELLED');
    expect((await finished(h.service, alice, hungry.id)).status).toBe('CANCELLED');
  } finally {
    await h.close();
  }
}, 30_000);

it('never leaves the job RUNNING when the store fails while it is put back', async () => {
  let thrown = false;
  const h = await createExportHarness(lake, {
    service: { concurrency: 2 },
    wrapEngine: oomEngine(500),
    store: withMethod(
      lake.store,
      'listAll',
      (listAll) =>
        async function* (bucket, prefix, options) {
          if (bucket === 'exports' && !thrown && prefix.includes('/')) {
            thrown = true;
            throw new Error('SlowDown');
          }
          yield* listAll(bucket, prefix, options);
        },
    ),
  });
  try {
    await h.service.requestExport(alice, slowRequest());
    const hungry = await h.service.requestExport(alice, hungryRequest());
    await h.service.whenIdle();
    expect(thrown).toBe(true);
    expect((await h.jobs.get(hungry.id))!.status).toBe('SUCCEEDED');
  } finally {
    await h.close();
  }
}, 30_000);

it('starts the jobs behind a waiting alone job as soon as that job is cancelled', async () => {
  const { h, slow, hungry, oomSeen } = await racing(3000);
  try {
    await oomSeen;
    const third = await h.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 3 + ++n * 100 });
    await sleep(300);
    await h.service.cancelExport(alice, hungry.id);
    const t3 = await finished(h.service, alice, third.id);
    const s = await finished(h.service, alice, slow.id);
    expect(t3.startedAt!.getTime()).toBeLessThan(s.finishedAt!.getTime());
  } finally {
    await h.close();
  }
}, 30_000);

it('leaves nothing in the queue of a service closed while the job is put back; the record says QUEUED', async () => {
  const { h, hungry, oomSeen } = await racing(800, slowExportListings());
  await oomSeen;
  await sleep(50);
  await h.close();
  await sleep(400);
  expect((h.service as unknown as { queue: unknown[] }).queue).toEqual([]);
  // The next process's recover() runs it.
  expect((await h.jobs.get(hungry.id))!.status).toBe('QUEUED');
}, 30_000);
