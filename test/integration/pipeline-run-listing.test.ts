import { runRecordKey } from '../../lambda/pipeline/lake-keys.js';
import { newRunRecord } from '../../lambda/pipeline/run-records.js';
import type { RunRecord } from '../../src/domain/run-record.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports/object-store.js';
import { DatasetService } from '../../src/services/dataset-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import {
  ALL_DATASETS,
  PipelineService,
  type PipelineScope,
  type PipelineServiceDeps,
} from '../../src/services/pipeline-service.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { withMethod } from '../support/export-lake.js';
import { createTempLake, type TempLake } from '../support/graphql-api-fixture.js';

/**
 * Run records pile up, one per ingested object, and listing them all costs a request per 1,000 keys on S3. The
 * pipeline service lists a dataset's records whole at most every `fullListingMs`; in between it keeps the keys of
 * records that started more than a day ago and lists only newer keys. Before, every status and runs query listed
 * every record ever written.
 */
const HOUR = 3_600_000;
const NOW = new Date('2024-06-10T12:00:00.000Z');
const scope: PipelineScope = { visible: () => true, view: (table) => ({ table, grant: null, statistics: true }) };

let lake: TempLake;
let now: Date;
let listed: string[];
/** Each listing asked of the store: its prefix, whole or from a start key. */
let listings: string[];
let pipeline: PipelineService;
let service: (options?: Partial<PipelineServiceDeps>) => PipelineService;

/** The lake's store, recording every listing asked of it and every key its listings yield. */
function recording(inner: ObjectStore): ObjectStore {
  return withMethod(
    inner,
    'listAll',
    (listAll) =>
      async function* (...args: Parameters<ObjectStore['listAll']>): AsyncIterable<ObjectInfo> {
        listings.push(`${args[1]} (${args[2]?.startAfter === undefined ? 'whole' : 'recent'})`);
        for await (const o of listAll(...args)) {
          listed.push(o.key);
          yield o;
        }
      },
  );
}

async function writeRun(dataset: string, runId: string, startedAt: Date, status: RunRecord['status']): Promise<void> {
  const run = { ...newRunRecord({ runId, dataset, sourceKey: `${dataset}/${runId}.jsonl`, startedAt }), status };
  await lake.store.put('processed', runRecordKey(dataset, startedAt, runId), JSON.stringify(run));
}

async function all(): Promise<string[]> {
  const page = await pipeline.listRuns({ dataset: ALL_DATASETS, first: 100 }, pipeline.createLoaders(), scope);
  return page.edges.map((e) => e.node.runId);
}

async function runs(dataset: string): Promise<string[]> {
  const page = await pipeline.listRuns({ dataset, first: 100 }, pipeline.createLoaders(), scope);
  return page.edges.map((e) => `${e.node.runId}:${e.node.status}`);
}

beforeEach(async () => {
  lake = await createTempLake();
  now = NOW;
  listed = [];
  listings = [];
  const logger = new JsonLogger('silent');
  const store = recording(lake.store);
  const datasets = new DatasetService({ catalog: lake.catalog, store, footers: new ParquetFooterCache(store), logger });
  service = (options = {}) =>
    new PipelineService({ store, catalog: lake.catalog, datasets, logger, clock: () => now, ...options });
  pipeline = service();
  await writeRun('events', 'old-1', new Date(NOW.getTime() - 72 * HOUR), 'SUCCEEDED');
  await writeRun('events', 'old-2', new Date(NOW.getTime() - 48 * HOUR), 'FAILED');
  await writeRun('events', 'new-1', new Date(NOW.getTime() - 10 * 60_000), 'RUNNING');
  await writeRun('tickets', 't-1', new Date(NOW.getTime() - 30 * HOUR), 'SUCCEEDED');
});

afterEach(async () => lake.remove());

it('lists only the last day of run records between whole listings, and still sees every change there', async () => {
  expect(await runs('events')).toEqual(['new-1:RUNNING', 'old-2:FAILED', 'old-1:SUCCEEDED']);
  expect(listed).toHaveLength(3);

  listed = [];
  now = new Date(NOW.getTime() + 60_000);
  // The recent run finished, another started: both seen, and only recent keys were listed.
  await writeRun('events', 'new-1', new Date(NOW.getTime() - 10 * 60_000), 'SUCCEEDED');
  await writeRun('events', 'new-2', new Date(NOW.getTime() + 30_000), 'RUNNING');
  expect(await runs('events')).toEqual(['new-2:RUNNING', 'new-1:SUCCEEDED', 'old-2:FAILED', 'old-1:SUCCEEDED']);
  expect(listed.map((k) => k.split('/').pop()!.slice(20))).toEqual(['new-1.json', 'new-2.json']);

  // A record older than a day written meanwhile shows at the next whole listing, 10 minutes after the last one.
  await writeRun('events', 'late', new Date(NOW.getTime() - 40 * HOUR), 'SUCCEEDED');
  expect(await runs('events')).not.toContain('late:SUCCEEDED');
  listed = [];
  now = new Date(NOW.getTime() + 10 * 60_000);
  expect(await runs('events')).toEqual([
    'new-2:RUNNING',
    'new-1:SUCCEEDED',
    'late:SUCCEEDED',
    'old-2:FAILED',
    'old-1:SUCCEEDED',
  ]);
  expect(listed).toHaveLength(5);
});

it('answers every dataset from one whole listing, then per dataset once that costs fewer requests', async () => {
  // One key per listing request, so that four keys cost more requests than two datasets.
  pipeline = service({ listingPageKeys: 1 });
  expect(await all()).toEqual(['new-1', 't-1', 'old-2', 'old-1']);
  expect(listings).toEqual(['_pipeline/runs/ (whole)']);
  listed = [];
  listings = [];
  await writeRun('tickets', 't-2', new Date(NOW.getTime() - 2 * HOUR), 'SUCCEEDED');
  expect(await all()).toEqual(['new-1', 't-2', 't-1', 'old-2', 'old-1']);
  expect(listings.sort()).toEqual(['_pipeline/runs/events/ (recent)', '_pipeline/runs/tickets/ (recent)']);
  expect(listed.map((k) => k.split('/').pop()!.slice(20)).sort()).toEqual(['new-1.json', 't-2.json']);
});

it('lists every dataset whole while that takes no more requests than one per dataset', async () => {
  expect(await all()).toHaveLength(4);
  await writeRun('tickets', 't-2', new Date(NOW.getTime() - 2 * HOUR), 'SUCCEEDED');
  expect(await all()).toHaveLength(5);
  expect(listings).toEqual(['_pipeline/runs/ (whole)', '_pipeline/runs/ (whole)']);
});

it('skips a record removed since the listing it is remembered from', async () => {
  pipeline = service({ maxCachedRuns: 1 });
  expect(await runs('events')).toHaveLength(3);
  await lake.store.delete('processed', runRecordKey('events', new Date(NOW.getTime() - 72 * HOUR), 'old-1'));
  expect(await runs('events')).toEqual(['new-1:RUNNING', 'old-2:FAILED']);
});

it('shares one listing between requests at the same time', async () => {
  const [a, b] = await Promise.all([runs('events'), runs('events')]);
  expect(a).toEqual(b);
  expect(listings).toEqual(['_pipeline/runs/events/ (whole)']);
});

it('reads records it has not cached a bounded number at a time', async () => {
  for (let i = 0; i < 100; i++)
    await writeRun('bulk', `b-${i}`, new Date(NOW.getTime() - (i + 30) * HOUR), 'SUCCEEDED');
  let reading = 0;
  let most = 0;
  const counting = withMethod(lake.store as ObjectStore, 'getBytes', (getBytes) => async (...args) => {
    reading += 1;
    most = Math.max(most, reading);
    try {
      return await getBytes(...args);
    } finally {
      reading -= 1;
    }
  });
  pipeline = service({ store: counting });
  expect(await runs('bulk')).toHaveLength(100);
  expect(most).toBeGreaterThan(1);
  expect(most).toBeLessThanOrEqual(32);
});
