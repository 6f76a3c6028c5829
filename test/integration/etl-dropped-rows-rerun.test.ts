import { compactPartition } from '../../lambda/pipeline/compact.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { lineageKey } from '../../lambda/pipeline/lake-keys.js';
import { readLineage } from '../../lambda/pipeline/source-lineage.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { createEtlLake, diesAtCommit, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import { withMethod } from '../support/export-lake.js';
import { startS3Server } from '../support/s3-server.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const A = 'events/2024/03/01/a.jsonl';
const B = 'events/2024/03/01/b.jsonl';
const C = 'events/2024/03/01/c.jsonl';
const DAY = '2024-03-01';

/** `ids` on 2024-03-01, each with its activity (which says which source and version it came from). */
function rows(activity: string, ...ids: number[]): string {
  return jsonl(...ids.map((id) => event(id, '2024-03-01 10:00:00', { activity })));
}

/** Every row of the lake as [event_id, activity], sorted: a key twice shows twice. */
async function lakeRows(): Promise<unknown[][]> {
  const found = await lake.query(
    `SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) ORDER BY 1, 2`,
  );
  return found.map((r) => [r['event_id'], r['activity']]);
}

const HEALED = [
  [1n, 'a-v2'],
  [2n, 'b'],
  [3n, 'b'],
  [4n, 'b'],
  [5n, 'b'],
  [7n, 'a-v2'],
];

describe('first published wins, over the current versions of all sources', () => {
  // b one day (the fast stage file), over two days (the stage table), or with a bad line (the careful path).
  it.each([
    ['one day', rows('b', 2, 3, 4, 5)],
    ['two days', rows('b', 2, 3, 4, 5) + jsonl(event(6, '2024-03-02 10:00:00', { activity: 'b' }))],
    ['a bad line', rows('b', 2, 3, 4, 5) + '{bad\n'],
  ])(
    'gives the rows a newer version of the winner no longer holds back to the source that dropped them (%s)',
    async (_shape, bBody) => {
      await lake.putRaw(A, rows('a', 1, 2, 3));
      await lake.putRaw(B, bBody);
      expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3 });
      expect(await ingestObject(lake.deps(), { key: B })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 2 });
      expect((await readLineage(lake.store, 'events', A))?.losers).toEqual({ [B]: [DAY] });

      await lake.putRaw(A, rows('a-v2', 1, 7));
      expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2 });
      const extra = bBody.includes('2024-03-02') ? [[6n, 'b']] : [];
      expect(await lakeRows()).toEqual([...HEALED.slice(0, 5), ...extra, HEALED[5]]);
      const a = await readLineage(lake.store, 'events', A);
      expect([a?.losers, a?.pendingReruns]).toEqual([undefined, undefined]);
    },
  );

  it('goes on to the sources a reprocessed one owes a reprocess in turn', async () => {
    const day2 = (activity: string, ...ids: number[]) =>
      jsonl(...ids.map((id) => event(id, '2024-03-02 10:00:00', { activity })));
    await lake.putRaw(A, rows('a', 1, 2));
    await lake.putRaw(B, rows('b', 2) + day2('b', 20));
    await lake.putRaw(C, day2('c', 20, 21));
    for (const key of [A, B, C]) expect((await ingestObject(lake.deps(), { key })).status).toBe('SUCCEEDED');
    // b changed, but its event never came: its published version still holds 20, which c dropped as b's.
    await lake.putRaw(B, rows('b-v2', 2) + day2('b-v2', 22));

    await lake.putRaw(A, rows('a-v2', 1));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lakeRows()).toEqual([
      [1n, 'a-v2'],
      [2n, 'b-v2'],
      [20n, 'c'],
      [21n, 'c'],
      [22n, 'b-v2'],
    ]);
    for (const key of [A, B]) expect((await readLineage(lake.store, 'events', key))?.pendingReruns).toBeUndefined();
  });

  it('keeps a key the winner’s newer version still holds as the winner’s, once', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await ingestObject(lake.deps(), { key: A });
    await ingestObject(lake.deps(), { key: B });

    await lake.putRaw(A, rows('a-v2', 1, 2, 7));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3 });
    expect(await lakeRows()).toEqual([
      [1n, 'a-v2'],
      [2n, 'a-v2'],
      [3n, 'b'],
      [4n, 'b'],
      [5n, 'b'],
      [7n, 'a-v2'],
    ]);
    // b still loses key 2 to a: the next version of a reconsiders it again.
    expect((await readLineage(lake.store, 'events', A))?.losers).toEqual({ [B]: [DAY] });
  });

  it('changes nothing when run again: both sources are SKIPPED, their files the same bytes', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await ingestObject(lake.deps(), { key: A });
    await ingestObject(lake.deps(), { key: B });
    await lake.putRaw(A, rows('a-v2', 1, 7));
    await ingestObject(lake.deps(), { key: A });
    const files = await lake.fileHashes('events/');
    const lineages = await lake.fileHashes('_pipeline/sources/');

    for (const key of [A, B]) {
      expect(await ingestObject(lake.deps(), { key })).toMatchObject({
        status: 'SKIPPED',
        error: { reason: 'already_processed' },
      });
    }
    expect(await lake.fileHashes('events/')).toEqual(files);
    expect(await lake.fileHashes('_pipeline/sources/')).toEqual(lineages);
    expect(await lakeRows()).toEqual(HEALED);
  });

  it('reprocesses the source that dropped rows in the next run, when the winner’s run died after its commit', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await ingestObject(lake.deps(), { key: A });
    await ingestObject(lake.deps(), { key: B });

    await lake.putRaw(A, rows('a-v2', 1, 7));
    const died = await ingestObject(lake.deps({ store: diesAfterCommitOf(lake.store, A) }), { key: A });
    expect(died.status).toBe('FAILED');
    // a's newer version is the published one; b was not reprocessed, and is still owed it.
    const committed = await readLineage(lake.store, 'events', A);
    expect(committed?.pendingReruns).toEqual([B]);
    expect((await lakeRows()).filter(([id]) => id === 2n || id === 3n)).toEqual([
      [2n, 'a'],
      [3n, 'a'],
    ]);

    // The next run of a (an event delivered again, or a scan) skips its version and finishes what the dead one owed.
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({
      status: 'SKIPPED',
      error: { reason: 'already_processed' },
    });
    expect(await lakeRows()).toEqual(HEALED);
    expect((await readLineage(lake.store, 'events', A))?.pendingReruns).toBeUndefined();
  });

  it('reprocesses a source that dropped rows as those of files a dead run of the winner still had to delete', async () => {
    const D = 'events/2024/03/01/d.jsonl';
    await lake.putRaw(A, rows('a', 1, 2, 3, 6));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await ingestObject(lake.deps(), { key: A });
    await ingestObject(lake.deps(), { key: B });
    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect((await ingestObject(lake.deps({ store: diesAfterCommitOf(lake.store, A) }), { key: A })).status).toBe(
      'FAILED',
    );
    // d comes while a's older file is still there, and drops 6 as a's.
    await lake.putRaw(D, rows('d', 6));
    expect(await ingestObject(lake.deps(), { key: D })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 1 });
    expect((await readLineage(lake.store, 'events', A))?.losers).toEqual({ [D]: [DAY] });

    // a's next run deletes that file: 6 comes back from d, 2 and 3 from b.
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SKIPPED' });
    expect(await lakeRows()).toEqual([...HEALED.slice(0, 5), [6n, 'd'], HEALED[5]]);
    const a = await readLineage(lake.store, 'events', A);
    expect([a?.losers, a?.pendingReruns]).toEqual([undefined, undefined]);
  });

  it('reprocesses the source that dropped rows in the next compaction, when the winner’s run died after its commit', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await ingestObject(lake.deps(), { key: A });
    await ingestObject(lake.deps(), { key: B });
    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect((await ingestObject(lake.deps({ store: diesAfterCommitOf(lake.store, A) }), { key: A })).status).toBe(
      'FAILED',
    );
    // The next run of a deletes the older files the dead one left, then dies reprocessing b: 2 and 3 are in no file.
    await ingestObject(lake.deps({ store: diesAtRerunOf(lake.store, B) }), { key: A });
    expect((await readLineage(lake.store, 'events', A))?.pendingReruns).toEqual([B]);
    expect((await lakeRows()).filter(([id]) => id === 2n || id === 3n)).toEqual([]);

    await compactPartition(lake.deps(), 'events', '2024-03-09', { targetBytes: 1024 * 1024 });
    expect(await lakeRows()).toEqual(HEALED);
    expect((await readLineage(lake.store, 'events', A))?.pendingReruns).toBeUndefined();
  });

  it('keeps rows whose keys only an unfinished publish of another source holds: first published wins', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    // a's first publish dies at its commit: its file stays, named by its intent only.
    expect((await ingestObject(lake.deps({ store: diesAtCommit(lake.store) }), { key: A })).status).toBe('FAILED');
    expect(await ingestObject(lake.deps(), { key: B })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 0 });
    expect(lake.logs.some((l) => l.includes('rows kept whose keys only files of an unfinished publish'))).toBe(true);

    // A newer version of a without 2 and 3 removes that file: b's rows stay.
    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 0 });
    expect(await lakeRows()).toEqual(HEALED);
  });

  it('drops the rows of a retried publish that another source published first meanwhile', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    expect((await ingestObject(lake.deps({ store: diesAtCommit(lake.store) }), { key: A })).status).toBe('FAILED');
    expect(await ingestObject(lake.deps(), { key: B })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 0 });

    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 2 });
    expect(await lakeRows()).toEqual([
      [1n, 'a'],
      [2n, 'b'],
      [3n, 'b'],
      [4n, 'b'],
      [5n, 'b'],
    ]);
    expect((await readLineage(lake.store, 'events', B))?.losers).toEqual({ [A]: [DAY] });
  });

  it('reads no other source’s lineage when nothing was dropped, nor when a winner without losers is replaced', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(C, rows('c', 10, 11));
    const reads: string[] = [];
    const watched = new Proxy(lake.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const key = String(args[1]);
          if (key.startsWith('_pipeline/sources/')) reads.push(`${String(prop)} ${key}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const deps = lake.deps({ store: watched });
    expect(await ingestObject(deps, { key: A })).toMatchObject({ status: 'SUCCEEDED' });
    /** The lineage keys (and prefixes listed) a run touched besides its own source's. */
    const others = (own: string): string[] =>
      [...new Set(reads.splice(0).map((r) => r.slice(r.indexOf(' ') + 1)))].filter(
        (k) => k !== lineageKey('events', own),
      );
    others(A);
    // c shares a's partition but none of its keys: it reads a's file, and no lineage but its own.
    expect(await ingestObject(deps, { key: C })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 0 });
    expect(others(C)).toEqual([]);
    // A newer version of a, which no source lost rows to: no other lineage is read, no source reprocessed.
    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect(await ingestObject(deps, { key: A })).toMatchObject({ status: 'SUCCEEDED' });
    expect(others(A)).toEqual([]);
    expect(await lakeRows()).toEqual([
      [1n, 'a-v2'],
      [7n, 'a-v2'],
      [10n, 'c'],
      [11n, 'c'],
    ]);
  });

  it('gives rows back when the winner’s rows had been compacted with the loser’s', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    await lake.putRaw(C, rows('c', 10));
    for (const key of [A, B, C]) await ingestObject(lake.deps(), { key });
    const [merged] = await compactPartition(lake.deps(), 'events', DAY, { targetBytes: 1024 * 1024 });
    expect(merged!.inputKeys).toHaveLength(3);
    expect((await readLineage(lake.store, 'events', A))?.losers).toEqual({ [B]: [DAY] });

    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lakeRows()).toEqual([...HEALED, [10n, 'c']]);
  });

  it('records a loss to a compacted file under the source its rows came from', async () => {
    await lake.putRaw(A, rows('a', 1, 2, 3));
    await lake.putRaw(C, rows('c', 10));
    for (const key of [A, C]) await ingestObject(lake.deps(), { key });
    await compactPartition(lake.deps(), 'events', DAY, { targetBytes: 1024 * 1024 });
    await lake.putRaw(B, rows('b', 2, 3, 4, 5));
    expect(await ingestObject(lake.deps(), { key: B })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 2 });
    expect((await readLineage(lake.store, 'events', A))?.losers).toEqual({ [B]: [DAY] });
    expect((await readLineage(lake.store, 'events', C))?.losers).toBeUndefined();

    await lake.putRaw(A, rows('a-v2', 1, 7));
    expect(await ingestObject(lake.deps(), { key: A })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lakeRows()).toEqual([...HEALED, [10n, 'c']]);
  });
});

describe('first published wins, over the current versions of all sources, on S3', () => {
  it('gives the rows a newer version of the winner no longer holds back to the source that dropped them', async () => {
    const buckets = { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' };
    const s3 = await startS3Server(Object.values(buckets));
    try {
      const store = new S3ObjectStore(s3.client, buckets);
      const deps = lake.deps({ store, catalog: new LocalCatalog(store) });
      await store.put('raw', A, rows('a', 1, 2, 3));
      await store.put('raw', B, rows('b', 2, 3, 4, 5));
      expect(await ingestObject(deps, { key: A })).toMatchObject({ status: 'SUCCEEDED' });
      expect(await ingestObject(deps, { key: B })).toMatchObject({ status: 'SUCCEEDED', rowsDuplicate: 2 });
      await store.put('raw', A, rows('a-v2', 1, 7));
      expect(await ingestObject(deps, { key: A })).toMatchObject({ status: 'SUCCEEDED' });

      const keys: string[] = [];
      for await (const o of store.listAll('processed', 'events/')) keys.push(o.key);
      const found = await lake.duckdb.withConnection(async (conn) => {
        const paths: string[] = [];
        for (const [i, key] of keys.entries()) {
          const path = `${lake.root}/s3-copy-${i}.parquet`;
          await store.getFile('processed', key, path);
          paths.push(path);
        }
        const list = paths.map((p) => `'${p}'`).join(', ');
        return (
          await conn.runAndReadAll(`SELECT event_id, activity FROM read_parquet([${list}]) ORDER BY 1, 2`)
        ).getRowObjectsJS();
      });
      expect(found.map((r) => [r['event_id'], r['activity']])).toEqual(HEALED);
      expect((await readLineage(store, 'events', A))?.pendingReruns).toBeUndefined();
    } finally {
      await s3.stop();
    }
  });
});

/**
 * `store` as a run of `sourceKey` sees it when its process dies just after its commit: once that source's lineage is
 * written, every later write fails, except the release of its locks (their lease would end) and its run record.
 */
function diesAfterCommitOf(store: ObjectStore, sourceKey: string): ObjectStore {
  const committedAt = lineageKey('events', sourceKey);
  let dead = false;
  const spared = (key: string): boolean => key.startsWith('_pipeline/locks/') || key.startsWith('_pipeline/runs/');
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'put' || prop === 'putFile' || prop === 'delete') {
        const original = Reflect.get(target, prop, receiver) as (...args: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          const key = args[1] as string;
          if (dead && !spared(key)) throw new Error('the process died');
          const result = await original.apply(target, args);
          if (prop === 'put' && key === committedAt) dead = true;
          return result;
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/** `store` as a run sees it whose process dies when it reprocesses `loser`: its first look at the raw object fails. */
function diesAtRerunOf(store: ObjectStore, loser: string): ObjectStore {
  return withMethod(store, 'head', (head) => async (bucket, key) => {
    if (bucket === 'raw' && key === loser) throw new Error('the process died');
    return head(bucket, key);
  });
}
