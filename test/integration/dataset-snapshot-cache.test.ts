import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { DatasetSnapshotCache, type DatasetSnapshotOptions } from '../../src/services/dataset-snapshots.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { CountingStore } from '../support/graphql-api-fixture.js';

/** DatasetSnapshotCache on a real local store: what it lists, shares, keeps and drops. */

let root: string;
let store: LocalObjectStore;
let counting: CountingStore;

function table(name: string): TableDefinition {
  return {
    name,
    description: '',
    columns: [],
    partitionKeys: [],
    location: `${name}/`,
    origin: 'registered',
    schemaVersion: 1,
    updatedAt: '2024-01-01T00:00:00.000Z',
  };
}

async function files(name: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const path = store.localPath('processed', `${name}/part-${i}.parquet`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `file ${i}`);
  }
}

function cache(options: DatasetSnapshotOptions = {}): DatasetSnapshotCache {
  return new DatasetSnapshotCache(
    {
      store: counting,
      catalog: new LocalCatalog(counting),
      footers: new ParquetFooterCache(counting),
      logger: new JsonLogger('silent'),
    },
    options,
  );
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-snapshots-'));
  store = new LocalObjectStore(root);
  counting = new CountingStore(store);
  await files('a', 2);
  await files('b', 2);
  await files('c', 1);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/**
 * Store listings per snapshot listing: the dataset's files, then its compaction journals and its unfinished publishes'
 * intents (compaction-view.ts).
 */
const PER_LISTING = 3;

describe('DatasetSnapshotCache', () => {
  it('makes one listing for requests that ask under the same version at once, and a new one for a new version', async () => {
    const snapshots = cache();
    const [x, y] = await Promise.all([snapshots.get(table('a'), 'v1'), snapshots.get(table('a'), 'v1')]);
    expect(x).toBe(y);
    expect(x.files.files.map((f) => f.object.key)).toEqual(['a/part-0.parquet', 'a/part-1.parquet']);
    expect(await snapshots.get(table('a'), 'v1')).toBe(x);
    expect(counting.count('listAll')).toBe(PER_LISTING);

    await files('a', 3);
    const z = await snapshots.get(table('a'), 'v2');
    expect(z.files.files).toHaveLength(3);
    expect(counting.count('listAll')).toBe(2 * PER_LISTING);
    expect(snapshots.counters).toEqual({ hits: 2, listings: 2, size: 1, files: 3 });
  });

  it('does not keep a failed listing: the next request lists again', async () => {
    const snapshots = cache();
    const real = counting.listAll.bind(counting);
    let failures = 1;
    counting.listAll = (...args) => {
      if (failures-- > 0) throw new Error('store down');
      return real(...args);
    };
    await expect(snapshots.get(table('a'), 'v1')).rejects.toThrow('store down');
    expect((await snapshots.get(table('a'), 'v1')).files.files).toHaveLength(2);
  });

  it('keeps at most maxDatasets snapshots, dropping the least recently used', async () => {
    const snapshots = cache({ maxDatasets: 2 });
    await snapshots.get(table('a'), 'v');
    await snapshots.get(table('b'), 'v');
    await snapshots.get(table('a'), 'v');
    await snapshots.get(table('c'), 'v');
    expect(snapshots.counters).toEqual({ hits: 1, listings: 3, size: 2, files: 3 });
    counting.reset();
    await snapshots.get(table('a'), 'v');
    expect(counting.count('listAll')).toBe(0);
    await snapshots.get(table('b'), 'v');
    expect(counting.count('listAll')).toBe(PER_LISTING);
  });

  it('keeps at most maxFiles listed files, but always the snapshot just made', async () => {
    const snapshots = cache({ maxFiles: 3 });
    await snapshots.get(table('a'), 'v');
    await snapshots.get(table('b'), 'v');
    expect(snapshots.counters).toEqual({ hits: 0, listings: 2, size: 1, files: 2 });
    await snapshots.get(table('c'), 'v');
    expect(snapshots.counters).toEqual({ hits: 0, listings: 3, size: 2, files: 3 });
  });

  it('lists again once a snapshot is older than revalidateMs, with the version unchanged', async () => {
    let now = 1_000;
    const snapshots = cache({ revalidateMs: 500, now: () => now });
    const first = await snapshots.get(table('a'), null);
    now = 1_499;
    expect(await snapshots.get(table('a'), null)).toBe(first);
    now = 1_500;
    expect(await snapshots.get(table('a'), null)).not.toBe(first);
    expect(counting.count('listAll')).toBe(2 * PER_LISTING);
  });
});
