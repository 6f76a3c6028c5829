import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import type { FeedOwner } from '../../src/domain/feed-record.js';
import {
  FeedNotReadyError,
  FeedService,
  type FeedServiceDeps,
  type FeedServiceOptions,
} from '../../src/services/feed-service.js';
import { column } from '../support/export-table.js';
import {
  addOneRowTypesTable,
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  withMethod,
} from '../support/export-lake.js';

/**
 * A feed whose data changed rebuilds before it is served; the build waits in the export queue behind the analysts'
 * jobs, and the hands-on test saw every fetch refused 503 for as long as those ran. The previous build of the same
 * request is served meanwhile, marked stale; a feed with no earlier build is still refused NOT_READY. Through the
 * real export service with one worker, held by a long job.
 */
const OWNER: FeedOwner = { id: 'key:lead', subject: 'lead', name: 'lead', role: 'analyst', attributes: {} };
const INPUT = { dataset: 'events', columns: ['id'] };
let lake: ExportLake;
let harness: ExportHarness;
let feeds: FeedService;

/** A feed service over the harness's export service (a process of its own: its own memory of sweeps). */
function feedService(deps: Partial<FeedServiceDeps> = {}, options: FeedServiceOptions = {}): FeedService {
  return new FeedService(
    {
      store: lake.store,
      exports: harness.service,
      logger: new JsonLogger('silent'),
      publicUrl: () => 'http://api.test',
      ...deps,
    },
    options,
  );
}

/** New data for the `events` feeds: one row on 2024-01-0<day>, id <day>. */
async function addDay(day: number): Promise<void> {
  await lake.writeParquet(
    `events/event_date=2024-01-0${day}/part-${day}.parquet`,
    `SELECT ${day}::BIGINT AS id, 'n' AS name, 1 AS priority, 1.5::DOUBLE AS score, true AS active,
       TIMESTAMP '2024-01-0${day} 10:00:00' AS created_at, DATE '2024-01-0${day}' AS day,
       1.2500::DECIMAL(18,4) AS amount, 'n@example.com' AS email`,
  );
}

/** Waits (5 s at most) for a job to read EXPIRED: builds are removed in the background. */
async function untilExpired(id: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await harness.jobs.get(id))!.status !== 'EXPIRED' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}
let open: () => void;
let gate: Promise<void>;

beforeEach(async () => {
  lake = await createExportLake();
  await addOneRowTypesTable(lake);
  await lake.writeParquet('slow/event_date=2024-01-01/part-a.parquet', 'SELECT 1::BIGINT AS id');
  await lake.catalog.putTable({
    name: 'slow',
    location: 'slow/',
    description: '',
    columns: [column('id', 'bigint')],
    partitionKeys: [column('event_date', 'date')],
    origin: 'etl',
  });
  gate = new Promise<void>((r) => (open = r));
  harness = await createExportHarness(lake, {
    service: { concurrency: 1 },
    wrapEngine: (engine) =>
      withMethod(engine, 'run', (run) => async (job, plan, options) => {
        if (plan.table.name === 'slow') await gate;
        return run(job, plan, options);
      }),
  });
  feeds = feedService();
});

afterEach(async () => {
  open();
  await harness.close();
  await lake.close();
});

describe('a feed whose new build waits behind other exports', () => {
  it('is served from its previous build, marked stale, until the new one ran', async () => {
    await feeds.createFeed(OWNER, 'events-feed', INPUT);
    const feed = await feeds.authorizeCaller(OWNER, 'events-feed');
    const first = await feeds.latestResult(feed);
    expect({ rows: first.rowCount, rebuilding: first.rebuilding }).toEqual({ rows: 1, rebuilding: null });

    // New data, and an analyst's long export holding the only worker.
    await addDay(2);
    const blocker = await harness.service.requestExport({ id: 'analyst' }, { dataset: 'slow' });
    const stale = await feeds.latestResult(feed, { buildWaitMs: 200 });
    expect(stale).toMatchObject({ jobId: first.jobId, sha256: first.sha256, rowCount: 1 });
    expect(stale.rebuilding).toEqual(expect.any(String));
    expect(stale.rebuilding).not.toBe(first.jobId);
    expect(stale.lastModified).toEqual(first.lastModified);

    open();
    await finished(harness.service, { id: 'analyst' }, blocker.id);
    const fresh = await feeds.latestResult(feed);
    expect({ jobId: fresh.jobId, rows: fresh.rowCount, rebuilding: fresh.rebuilding }).toEqual({
      jobId: stale.rebuilding,
      rows: 2,
      rebuilding: null,
    });
  });

  it('removes the builds a newer one replaced, once they are older than the time kept for downloads in progress', async () => {
    const keeping = feedService({}, { supersededKeepMs: 0 });
    await keeping.createFeed(OWNER, 'hourly', INPUT);
    const feed = await keeping.authorizeCaller(OWNER, 'hourly');
    const first = await keeping.latestResult(feed);
    await addDay(3);
    const second = await keeping.latestResult(feed);
    expect(second.jobId).not.toBe(first.jobId);
    await untilExpired(first.jobId);
    expect((await harness.jobs.get(first.jobId))!.status).toBe('EXPIRED');
    const left: string[] = [];
    for await (const o of lake.store.listAll('exports', `results/${first.jobId}/`)) left.push(o.key);
    expect(left).toEqual([]);
    // The build served now stays.
    expect((await harness.jobs.get(second.jobId))!.status).toBe('SUCCEEDED');
    expect((await keeping.latestResult(feed)).jobId).toBe(second.jobId);
  });

  it('is not served from an earlier build when it hashes a column (the mask key may have changed since)', async () => {
    const hashing = feedService({
      grantFor: () =>
        Promise.resolve({ allowedColumns: null, maskedColumns: [{ column: 'email', method: 'hash' }], rowFilter: [] }),
    });
    await hashing.createFeed(OWNER, 'hashed', { dataset: 'events', columns: ['id', 'email'] });
    const feed = await hashing.authorizeCaller(OWNER, 'hashed');
    expect((await hashing.latestResult(feed)).rebuilding).toBeNull();
    await addDay(4);
    const blocker = await harness.service.requestExport({ id: 'analyst' }, { dataset: 'slow' });
    await expect(hashing.latestResult(feed, { buildWaitMs: 200 })).rejects.toThrow(
      'the feed is being rebuilt: try again shortly',
    );
    open();
    await finished(harness.service, { id: 'analyst' }, blocker.id);
  });

  it('keeps a replaced build for the time given after it was replaced, then removes it', async () => {
    // A feed service (a process) whose clock reads `at`; each new one looks for replaced builds at its first fetch.
    const at = (time: number): FeedService => feedService({}, { now: () => new Date(time) });
    await feeds.createFeed(OWNER, 'daily', INPUT);
    const feed = await feeds.authorizeCaller(OWNER, 'daily');
    const first = await feeds.latestResult(feed);
    await addDay(5);
    const second = await feeds.latestResult(feed);
    expect(second.jobId).not.toBe(first.jobId);
    // Replaced half an hour ago: kept, for a client still downloading it.
    await at(second.finishedAt.getTime() + 30 * 60_000).latestResult(feed);
    await new Promise((r) => setTimeout(r, 300));
    expect((await harness.jobs.get(first.jobId))!.status).toBe('SUCCEEDED');
    // Replaced over an hour ago: removed.
    await at(second.finishedAt.getTime() + 61 * 60_000).latestResult(feed);
    await untilExpired(first.jobId);
    expect((await harness.jobs.get(first.jobId))!.status).toBe('EXPIRED');
    expect((await harness.jobs.get(second.jobId))!.status).toBe('SUCCEEDED');
  });

  it('is refused NOT_READY when it has no earlier build of the same request', async () => {
    const blocker = await harness.service.requestExport({ id: 'analyst' }, { dataset: 'slow' });
    await feeds.createFeed(OWNER, 'new-feed', INPUT);
    const feed = await feeds.authorizeCaller(OWNER, 'new-feed');
    const refusal = feeds.latestResult(feed, { buildWaitMs: 200 });
    await expect(refusal).rejects.toBeInstanceOf(FeedNotReadyError);
    // Not "being rebuilt": there was never a build, and the message says so.
    await expect(refusal).rejects.toThrow("the feed's first build has not finished yet: try again shortly");
    open();
    await finished(harness.service, { id: 'analyst' }, blocker.id);
  });
});
