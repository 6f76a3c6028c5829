import { compactPartition } from '../../lambda/pipeline/compact.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { partitionLockName } from '../../lambda/pipeline/lake-keys.js';
import { readLineage } from '../../lambda/pipeline/source-lineage.js';
import { createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import { withMethod } from '../support/export-lake.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { startS3Server } from '../support/s3-server.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const A = 'events/2024/03/01/a.jsonl';
const B = 'events/2024/03/01/b.jsonl';
const C = 'events/2024/03/02/c.jsonl';
const D = 'events/2024/03/01/d.jsonl';

async function activities(): Promise<unknown[][]> {
  return (
    await lake.query(
      `SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) ORDER BY 1, 2`,
    )
  ).map((r) => [r['event_id'], r['activity']]);
}

describe('two compactions of different partitions at once', () => {
  it('keep both merged files in the lineage of a source with rows in both, so its next version replaces all its rows', async () => {
    // The two partitions lock different slots: the compactions really run at the same time.
    expect(partitionLockName('2024-03-01')).not.toBe(partitionLockName('2024-03-02'));
    await lake.putRaw(
      A,
      jsonl(
        event(1, '2024-03-01 10:00:00', { activity: 'a-v1' }),
        event(2, '2024-03-02 10:00:00', { activity: 'a-v1' }),
      ),
    );
    await lake.putRaw(B, jsonl(event(3, '2024-03-01 11:00:00')));
    await lake.putRaw(C, jsonl(event(4, '2024-03-02 11:00:00')));
    for (const k of [A, B, C]) expect((await ingestObject(lake.deps(), { key: k })).status).toBe('SUCCEEDED');

    const [day1, day2] = await Promise.all([
      compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
      compactPartition(lake.deps(), 'events', '2024-03-02', { targetBytes: 1024 * 1024 }),
    ]);
    const merged = [...day1![0]!.outputKeys, ...day2![0]!.outputKeys].sort();
    expect(merged).toHaveLength(2);
    const lineage = await readLineage(lake.store, 'events', A);
    expect(lineage?.outputKeys).toEqual([]);
    expect(lineage?.compacted).toEqual(merged);

    // A newer version of a has other rows: none of its old ones may stay, in either partition.
    await lake.putRaw(A, jsonl(event(5, '2024-03-01 12:00:00', { activity: 'a-v2' })));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1 });
    expect(await activities()).toEqual([
      [3n, 'Insert ticket'],
      [4n, 'Insert ticket'],
      [5n, 'a-v2'],
    ]);
  });
});

describe('a compaction after a publish that died before purging its older version from a compacted file', () => {
  it('does not carry the older version’s rows into the new merged file', async () => {
    await lake.putRaw(
      A,
      jsonl(
        event(1, '2024-03-01 10:00:00', { activity: 'a-v1' }),
        event(2, '2024-03-01 10:00:00', { activity: 'a-v1' }),
      ),
    );
    await lake.putRaw(B, jsonl(event(3, '2024-03-01 11:00:00')));
    for (const k of [A, B]) expect((await ingestObject(lake.deps(), { key: k })).status).toBe('SUCCEEDED');
    const [first] = await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect(first!.outputKeys).toHaveLength(1);

    // A newer version of a commits, then the store fails rewriting the merged file without a's rows (its purge).
    await lake.putRaw(
      A,
      jsonl(
        event(1, '2024-03-01 10:00:00', { activity: 'a-v2' }),
        event(5, '2024-03-01 12:00:00', { activity: 'a-v2' }),
      ),
    );
    const failing = withMethod(lake.store, 'putFile', (putFile) => async (bucket, key, path, options) => {
      if (key.includes('part-compacted-')) throw new Error('the store answered 503');
      return putFile(bucket, key, path, options);
    });
    expect((await ingestObject(lake.deps({ store: failing }), { key: A })).status).toBe('FAILED');
    expect((await readLineage(lake.store, 'events', A))?.pendingPurge).toEqual(first!.outputKeys);

    // A compaction of the partition comes before the next run of a, with another small file to merge.
    await lake.putRaw(D, jsonl(event(6, '2024-03-01 13:00:00')));
    expect((await ingestObject(lake.deps(), { key: D })).status).toBe('SUCCEEDED');
    const [second] = await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect(second!.inputKeys.length).toBeGreaterThan(1);
    // The next delivery of a's event finishes its clean-up.
    await ingestObject(lake.deps(), { key: A });
    expect(await activities()).toEqual([
      [1n, 'a-v2'],
      [3n, 'Insert ticket'],
      [5n, 'a-v2'],
      [6n, 'Insert ticket'],
    ]);
  });
});

describe('two compactions of different partitions at once, on S3', () => {
  it('keep both merged files in the lineage of a source with rows in both', async () => {
    const buckets = { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' };
    const s3 = await startS3Server(Object.values(buckets));
    try {
      const store = new S3ObjectStore(s3.client, buckets);
      const deps = lake.deps({ store, catalog: new LocalCatalog(store) });
      await store.put('raw', A, jsonl(event(1, '2024-03-01 10:00:00'), event(2, '2024-03-02 10:00:00')));
      await store.put('raw', B, jsonl(event(3, '2024-03-01 11:00:00')));
      await store.put('raw', C, jsonl(event(4, '2024-03-02 11:00:00')));
      for (const k of [A, B, C]) expect((await ingestObject(deps, { key: k })).status).toBe('SUCCEEDED');
      const [day1, day2] = await Promise.all([
        compactPartition(deps, 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
        compactPartition(deps, 'events', '2024-03-02', { targetBytes: 1024 * 1024 }),
      ]);
      const lineage = await readLineage(store, 'events', A);
      expect(lineage?.outputKeys).toEqual([]);
      expect(lineage?.compacted).toEqual([...day1![0]!.outputKeys, ...day2![0]!.outputKeys].sort());
    } finally {
      await s3.stop();
    }
  });
});
