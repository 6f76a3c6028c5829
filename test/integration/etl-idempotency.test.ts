import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ingestLocalFile, rawKeyForLocalFile, REPLACED_NOTHING } from '../../lambda/pipeline/ingest-local-file.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { lockKey, partitionLockName } from '../../lambda/pipeline/lake-keys.js';
import { effectiveStatus } from '../../lambda/pipeline/run-records.js';
import { readLineage } from '../../lambda/pipeline/source-lineage.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import {
  createEtlLake,
  diesAtCommit,
  event,
  failingStore,
  jsonl,
  OTHER_RUN_LOCK,
  takeOverLock,
  type EtlLake,
} from '../support/etl-lake.js';
import { withMethod } from '../support/export-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const KEY = 'events/2024/03/01/batch.jsonl';

/** The lake's store, but another run takes `lock` over (see takeOverLock) as this run puts its first Parquet file. */
function takenOverAtFirstParquet(lock: string, releaseAfterMs?: number): ObjectStore {
  let takenOver = false;
  return withMethod(lake.store, 'putFile', (putFile) => async (bucket, key, path, options) => {
    if (!takenOver && key.endsWith('.parquet')) {
      takenOver = true;
      await takeOverLock(lake.store, lock, releaseAfterMs);
    }
    return putFile(bucket, key, path, options);
  });
}

/**
 * The lake's store, as a run that dies at its second Parquet put sees it (a Lambda timeout): no rollback runs, so no
 * data file is deleted (its lock files are let go, as their lease would).
 */
function diesAtSecondParquet(): ObjectStore {
  let puts = 0;
  return new Proxy(lake.store, {
    get(target, prop, receiver) {
      if (prop === 'putFile') {
        return async (...args: Parameters<ObjectStore['putFile']>) => {
          puts += 1;
          if (puts === 2) throw new Error('the process died');
          return target.putFile(...args);
        };
      }
      if (prop === 'delete') {
        return async (bucket: 'processed', key: string) =>
          key.endsWith('.parquet') ? undefined : target.delete(bucket, key);
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

async function ids(): Promise<bigint[]> {
  const rows = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
  return rows.map((r) => r['event_id'] as bigint);
}

describe('ETL: idempotency, ordering and concurrency', () => {
  it('skips the same version; a forced reprocess rewrites byte-identical files without duplicates', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00'), '{bad'));
    const first = await ingestObject(lake.deps(), { key: KEY });
    const hashes = await lake.fileHashes('events/');
    expect(Object.keys(hashes)).toHaveLength(2);

    const again = await ingestObject(lake.deps(), { key: KEY });
    expect(again).toMatchObject({
      status: 'SKIPPED',
      sourceVersion: first.sourceVersion,
      rowsWritten: 0,
      error: {
        reason: 'already_processed',
        message: `this version of the object was already processed (run ${first.runId})`,
      },
    });

    const forced = await ingestObject(lake.deps(), { key: KEY }, { force: true });
    expect(forced).toMatchObject({
      status: 'SUCCEEDED',
      rowsWritten: 2,
      rowsRejected: 1,
      outputKeys: first.outputKeys,
    });
    expect(await lake.fileHashes('events/')).toEqual(hashes);
    expect(await ids()).toEqual([1n, 2n]);
    expect(await lake.processedKeys('_quarantine/')).toEqual([first.quarantineKey]);
  });

  it('leaves no run record for a file a scan finds unchanged (recordUnchanged: false, as careplus start scans)', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const first = await ingestObject(lake.deps(), { key: KEY });
    const records = await lake.processedKeys('_pipeline/runs/');
    expect(records).toHaveLength(1);
    const scanned = await ingestObject(lake.deps(), { key: KEY }, { recordUnchanged: false });
    expect(scanned).toMatchObject({
      status: 'SKIPPED',
      error: {
        reason: 'already_processed',
        message: `this version of the object was already processed (run ${first.runId})`,
      },
    });
    expect(await lake.processedKeys('_pipeline/runs/')).toEqual(records);
    // A changed file is a run like any other, recorded.
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    expect((await ingestObject(lake.deps(), { key: KEY }, { recordUnchanged: false })).status).toBe('SUCCEEDED');
    expect(await lake.processedKeys('_pipeline/runs/')).toHaveLength(2);
    // Without the option (an explicit ingest, an S3 event), a skip is recorded.
    await ingestObject(lake.deps(), { key: KEY });
    expect(await lake.processedKeys('_pipeline/runs/')).toHaveLength(3);
    // A store that refuses to remove the record: the run is ended SKIPPED, never left RUNNING (it would read
    // `abandoned` later and fail the dataset's status).
    const keeping = withMethod(lake.store, 'delete', (del) => async (bucket, key, options) => {
      if (key.startsWith('_pipeline/runs/')) throw new Error('the store is unavailable');
      return del(bucket, key, options);
    });
    const kept = await ingestObject(lake.deps({ store: keeping }), { key: KEY }, { recordUnchanged: false });
    const written = await Promise.all(
      (await lake.processedKeys('_pipeline/runs/')).map(
        async (k) =>
          JSON.parse(Buffer.from(await lake.store.getBytes('processed', k)).toString('utf8')) as { runId: string },
      ),
    );
    expect(written).toHaveLength(4);
    expect(written.find((r) => r.runId === kept.runId)).toMatchObject({
      status: 'SKIPPED',
      error: { reason: 'already_processed' },
    });
  });

  it('replaces what an older version published, removing outputs no longer produced', async () => {
    const raw = lake.store.localPath('raw', KEY);
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00'), '{bad'));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    const v1 = await ingestObject(lake.deps(), { key: KEY });

    await lake.putRaw(KEY, jsonl(event(1), event(3)));
    await utimes(raw, new Date('2024-03-01T11:00:00Z'), new Date('2024-03-01T11:00:00Z'));
    const v2 = await ingestObject(lake.deps(), { key: KEY });
    expect(v2).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsDuplicate: 0, partitions: ['2024-03-01'] });
    expect(v2.sourceVersion).not.toBe(v1.sourceVersion);
    expect(await ids()).toEqual([1n, 3n]);
    expect((await lake.processedKeys('events/')).sort()).toEqual(v2.outputKeys);
    expect(await lake.processedKeys('_quarantine/')).toEqual([]);
    const lineage = await readLineage(lake.store, 'events', KEY);
    expect(lineage).toMatchObject({
      version: v2.sourceVersion,
      outputKeys: v2.outputKeys,
      pendingDelete: [],
      runId: v2.runId,
    });
  });

  it('unregisters a partition a newer version left without files, and keeps one another source still fills', async () => {
    const registered = async (): Promise<string[]> =>
      (await lake.catalog.listPartitions('events')).partitions.map((p) => p.values['event_date']!);
    const raw = lake.store.localPath('raw', KEY);
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00'), event(3, '2024-03-03 08:00:00')));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    await ingestObject(lake.deps(), { key: KEY });
    await lake.putRaw('events/2024/03/03/other.jsonl', jsonl(event(4, '2024-03-03 09:00:00')));
    await ingestObject(lake.deps(), { key: 'events/2024/03/03/other.jsonl' });
    expect(await registered()).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);

    await lake.putRaw(KEY, jsonl(event(1)));
    await utimes(raw, new Date('2024-03-01T11:00:00Z'), new Date('2024-03-01T11:00:00Z'));
    expect(await ingestObject(lake.deps(), { key: KEY })).toMatchObject({
      status: 'SUCCEEDED',
      partitions: ['2024-03-01'],
    });
    // 2024-03-02 held only this source's rows; 2024-03-03 still holds the other source's.
    expect(await registered()).toEqual(['2024-03-01', '2024-03-03']);
    expect(await ids()).toEqual([1n, 4n]);
  });

  it('skips an older version arriving after a newer one: by S3 sequencer, else by last-modified time', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const newer = await ingestObject(lake.deps(), { key: KEY, sequencer: '005F1C7E2E0B' });
    expect(newer.status).toBe('SUCCEEDED');
    // Longer, but earlier: S3 compares sequencers right-padded with zeros (005F1C7E2E0A00 < 005F1C7E2E0B00).
    const late = await ingestObject(lake.deps(), { key: KEY, sequencer: '005F1C7E2E0AFF' });
    expect(late).toMatchObject({
      status: 'SKIPPED',
      error: {
        reason: 'stale_version',
        message: `a newer version of the object is already published (run ${newer.runId}); this older one is ignored`,
      },
    });

    // Without sequencers: an object whose last-modified time is older than the published one.
    const key = 'events/2024/03/01/other.jsonl';
    const raw = lake.store.localPath('raw', key);
    await lake.putRaw(key, jsonl(event(5)));
    await utimes(raw, new Date('2024-03-01T12:00:00Z'), new Date('2024-03-01T12:00:00Z'));
    await ingestObject(lake.deps(), { key });
    await lake.putRaw(key, jsonl(event(6)));
    await utimes(raw, new Date('2024-03-01T11:00:00Z'), new Date('2024-03-01T11:00:00Z'));
    const older = await ingestObject(lake.deps(), { key });
    expect(older.error?.reason).toBe('stale_version');
    expect(await ids()).toEqual([1n, 5n]);
  });

  it('publishes a newer version whose S3 sequencer is shorter than the published one’s', async () => {
    // The sequencers of two events for one key can differ in length; S3 has them compared right-padded with zeros.
    // Compared left-padded, the newer upload (a corrected file) was SKIPPED as stale: its rows never published.
    await lake.putRaw(KEY, jsonl(event(1)));
    expect((await ingestObject(lake.deps(), { key: KEY, sequencer: '0062E99A88DC407460A1' })).status).toBe('SUCCEEDED');
    await lake.putRaw(KEY, jsonl(event(2)));
    const corrected = await ingestObject(lake.deps(), { key: KEY, sequencer: '0062E99A88DC4074B0' });
    expect({ status: corrected.status, error: corrected.error }).toEqual({ status: 'SUCCEEDED', error: null });
    expect(await ids()).toEqual([2n]);
  });

  it('skips an event for a version that is no longer the current one', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const versioned = withVersionId(lake.store, 'v2');
    const run = await ingestObject(lake.deps({ store: versioned }), { key: KEY, versionId: 'v1' });
    expect(run).toMatchObject({
      status: 'SKIPPED',
      sourceVersion: 'v1',
      error: {
        reason: 'superseded',
        message: 'the event is for version v1, but the object is now at version v2; its own event ingests it',
      },
    });
    const current = await ingestObject(lake.deps({ store: versioned }), { key: KEY, versionId: 'v2' });
    expect(current).toMatchObject({ status: 'SUCCEEDED', sourceVersion: 'v2' });
  });

  it('yields one set of rows when the same object is ingested twice at once', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2), event(3, '2024-03-02 00:00:00')));
    const runs = await Promise.all([1, 2, 3].map(() => ingestObject(lake.deps(), { key: KEY })));
    expect(runs.map((r) => r.status).sort()).toEqual(['SKIPPED', 'SKIPPED', 'SUCCEEDED']);
    expect(runs.filter((r) => r.status === 'SKIPPED').map((r) => r.error?.reason)).toEqual([
      'already_processed',
      'already_processed',
    ]);
    expect(await ids()).toEqual([1n, 2n, 3n]);
    expect(await lake.processedKeys('_pipeline/locks/')).toEqual([]);
  });

  it('keeps one row per event key across sources, the first published wins, also when they race', async () => {
    await lake.putRaw(
      'events/2024/03/01/a.jsonl',
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'from a' }), event(2)),
    );
    await lake.putRaw(
      'events/2024/03/01/b.jsonl',
      jsonl(event(2, '2024-03-01 10:00:00', { activity: 'from b' }), event(3)),
    );
    const a = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
    const hashesA = await lake.fileHashes('events/');
    const b = await ingestObject(lake.deps(), { key: 'events/2024/03/01/b.jsonl' });
    expect([a.rowsWritten, a.rowsDuplicate, b.rowsWritten, b.rowsDuplicate]).toEqual([2, 0, 1, 1]);
    // Reprocessing the first source rewrites the same bytes: its rows were never dropped in favour of the second.
    await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' }, { force: true });
    expect(await lake.fileHashes(a.outputKeys[0]!)).toEqual({ [a.outputKeys[0]!]: hashesA[a.outputKeys[0]!] });
    expect(await ids()).toEqual([1n, 2n, 3n]);

    // Two sources sharing keys, ingested at the same moment.
    await lake.putRaw(
      'events/2024/03/05/c.jsonl',
      jsonl(event(10, '2024-03-05 10:00:00'), event(11, '2024-03-05 10:00:00')),
    );
    await lake.putRaw(
      'events/2024/03/05/d.jsonl',
      jsonl(event(11, '2024-03-05 10:00:00'), event(12, '2024-03-05 10:00:00')),
    );
    const [c, d] = await Promise.all([
      ingestObject(lake.deps(), { key: 'events/2024/03/05/c.jsonl' }),
      ingestObject(lake.deps(), { key: 'events/2024/03/05/d.jsonl' }),
    ]);
    expect(c!.rowsDuplicate + d!.rowsDuplicate).toBe(1);
    expect(await ids()).toEqual([1n, 2n, 3n, 10n, 11n, 12n]);
  });

  it('leaves nothing partial when publishing crashes; the retry completes', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00'), '{bad'));
    const crashed = await ingestObject(lake.deps({ store: failingStore(lake.store, 2) }), { key: KEY });
    expect(crashed).toMatchObject({
      status: 'FAILED',
      outputKeys: [],
      error: { reason: 'internal', message: `unexpected error; see the ETL log for run ${crashed.runId}` },
    });
    expect(lake.logs.some((l) => l.includes('injected crash: putFile failed'))).toBe(true);
    expect(await lake.processedKeys('events/')).toEqual([]);
    expect(await lake.processedKeys('_quarantine/')).toEqual([]);
    expect(await lake.processedKeys('_pipeline/sources/')).toEqual([]);
    expect((await lake.catalog.listPartitions('events')).partitions).toEqual([]);

    const retry = await ingestObject(lake.deps(), { key: KEY });
    expect(retry).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsRejected: 1 });
    expect(await ids()).toEqual([1n, 2n]);
  });

  it('takes back what a version that died mid-publish left, when a later version of the source is published', async () => {
    const rows = async () =>
      (
        await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1, 2`)
      ).map((r) => [r['event_id'], r['activity']]);
    await lake.putRaw(KEY, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v1' })));
    expect((await ingestObject(lake.deps(), { key: KEY, sequencer: '01' })).status).toBe('SUCCEEDED');
    // v2 dies in the middle of its puts (a Lambda timeout: no rollback runs, nothing is deleted).
    await lake.putRaw(
      KEY,
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v2' }), event(5, '2024-03-02 10:00:00', { activity: 'v2' })),
    );
    expect(
      (await ingestObject(lake.deps({ store: diesAtSecondParquet() }), { key: KEY, sequencer: '02' })).status,
    ).toBe('FAILED');
    // One of v2's two files is left behind (whichever was put first), named by no lineage.
    const left = await rows();
    expect(left).toContainEqual([1n, 'v1']);
    expect(left.filter(([, activity]) => activity === 'v2')).toHaveLength(1);
    expect(left).toHaveLength(2);

    // v3 of the same object: its rows are published (not dropped as another source's), v2's leftovers are gone.
    await lake.putRaw(
      KEY,
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v3' }), event(5, '2024-03-02 10:00:00', { activity: 'v3' })),
    );
    const v3 = await ingestObject(lake.deps(), { key: KEY, sequencer: '03' });
    expect(v3).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsDuplicate: 0 });
    expect(await rows()).toEqual([
      [1n, 'v3'],
      [5n, 'v3'],
    ]);
    expect((await lake.processedKeys('events/')).sort()).toEqual([...v3.outputKeys].sort());
    expect(await lake.processedKeys('_pipeline/intents/')).toEqual([]);
  });

  it.each([
    ['the published version is ingested again', 'SKIPPED', 'already_processed'],
    ['a version without one valid record comes', 'FAILED', 'no_valid_records'],
  ])('removes what a newer version killed at its commit left when %s', async (_, status, reason) => {
    const rows = async () =>
      (
        await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1, 2`)
      ).map((r) => [r['event_id'], r['activity']]);
    const registered = async (): Promise<string[]> =>
      (await lake.catalog.listPartitions('events')).partitions.map((p) => p.values['event_date']!);
    const v1 = jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v1' }));
    await lake.putRaw(KEY, v1);
    expect((await ingestObject(lake.deps(), { key: KEY })).status).toBe('SUCCEEDED');
    await lake.putRaw(
      KEY,
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v2' }), event(5, '2024-03-02 10:00:00', { activity: 'v2' })),
    );
    expect((await ingestObject(lake.deps({ store: diesAtCommit(lake.store) }), { key: KEY })).status).toBe('FAILED');
    // Killed at its commit: both its files are in place and both its partitions registered.
    expect(await rows()).toHaveLength(3);
    expect(await registered()).toEqual(['2024-03-01', '2024-03-02']);

    // The operator puts the good file back (its version is the published one), or a broken one arrives: nothing is
    // published either way, but v2's leftovers go (they stayed for good, counted beside v1's rows).
    await lake.putRaw(KEY, status === 'SKIPPED' ? v1 : '{not json\n');
    const again = await ingestObject(lake.deps(), { key: KEY });
    expect(again).toMatchObject({ status, error: { reason } });
    expect(await rows()).toEqual([[1n, 'v1']]);
    expect(await lake.processedKeys('_pipeline/intents/')).toEqual([]);
    expect(await registered()).toEqual(['2024-03-01']);
  });

  it('keeps a commit that landed though the store answered it with an error', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00')));
    const ambiguous = withMethod(lake.store, 'put', (put) => async (bucket, key, body, options) => {
      const out = await put(bucket, key, body, options);
      if (key.startsWith('_pipeline/sources/')) throw new Error('the store answered 500 (the write had landed)');
      return out;
    });
    expect((await ingestObject(lake.deps({ store: ambiguous }), { key: KEY })).status).toBe('FAILED');
    // The lineage names the files, so they stay: the rows are there, and the next run of the object skips it.
    expect(await ids()).toEqual([1n, 2n]);
    const lineage = await readLineage(lake.store, 'events', KEY);
    expect((await lake.processedKeys('events/')).sort()).toEqual([...lineage!.outputKeys].sort());
    expect((await ingestObject(lake.deps(), { key: KEY })).status).toBe('SKIPPED');
    expect(await ids()).toEqual([1n, 2n]);
  });

  it('keeps the older version whole when publishing a newer one crashes', async () => {
    const raw = lake.store.localPath('raw', KEY);
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    const v1 = await ingestObject(lake.deps(), { key: KEY });
    await lake.putRaw(KEY, jsonl(event(7), event(8, '2024-03-03 00:00:00')));
    const crashed = await ingestObject(lake.deps({ store: failingStore(lake.store, 2) }), { key: KEY });
    expect(crashed.status).toBe('FAILED');
    expect(await ids()).toEqual([1n, 2n]);
    expect((await lake.processedKeys('events/')).sort()).toEqual(v1.outputKeys);
    const retry = await ingestObject(lake.deps(), { key: KEY });
    expect(retry.status).toBe('SUCCEEDED');
    expect(await ids()).toEqual([7n, 8n]);
  });

  it('leaves a RUNNING record that readers report as abandoned when the process dies mid-run', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const dying = recordWritesFailAfter(lake.store, 1);
    await expect(ingestObject(lake.deps({ store: dying }), { key: KEY })).rejects.toThrow('process died');
    const [key] = await lake.processedKeys('_pipeline/runs/');
    const stored = JSON.parse(Buffer.from(await lake.store.getBytes('processed', key!)).toString('utf8'));
    expect(stored.status).toBe('RUNNING');
    const startedAt = Date.parse(stored.startedAt);
    expect(effectiveStatus(stored, new Date(startedAt + 60_000))).toBe('RUNNING');
    expect(effectiveStatus(stored, new Date(startedAt + 21 * 60_000))).toBe('FAILED');
  });

  it('takes over a lock whose holder died, and gives up on a live one after the wait limit', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const lock = lockKey('events', partitionLockName('2024-03-01'));
    await lake.store.put('processed', lock, JSON.stringify({ owner: 'dead', expiresAt: '2000-01-01T00:00:00.000Z' }));
    expect((await ingestObject(lake.deps(), { key: KEY })).status).toBe('SUCCEEDED');

    await lake.putRaw('events/2024/03/01/second.jsonl', jsonl(event(2)));
    await lake.store.put('processed', lock, JSON.stringify({ owner: 'alive', expiresAt: '2999-01-01T00:00:00.000Z' }));
    const blocked = await ingestObject(
      lake.deps(),
      { key: 'events/2024/03/01/second.jsonl' },
      { lock: { waitMs: 200 } },
    );
    expect(blocked).toMatchObject({
      status: 'FAILED',
      error: { reason: 'lock_timeout', message: 'another run is still publishing to the same partitions; retry later' },
    });
  });

  it('publishes nothing over a run that took its locks over while it stalled, and the next run finishes cleanly', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    const lock = lockKey('events', partitionLockName('2024-03-01'));
    // While this run puts its Parquet file, its lease runs out and another run takes the partition's lock over.
    const stalling = takenOverAtFirstParquet(lock);
    // The other run holds the lock on: this run's wait to take it again (to remove its files) gives up soon.
    const lost = await ingestObject(lake.deps({ store: stalling }), { key: KEY }, { lock: { waitMs: 300 } });
    expect(lost).toMatchObject({ status: 'FAILED', error: { reason: 'lock_lost' } });
    // No commit, and the other run's lock is still its own (not renewed over, not released).
    expect(await readLineage(lake.store, 'events', KEY)).toBeUndefined();
    expect(Buffer.from(await lake.store.getBytes('processed', lock)).toString('utf8')).toBe(OTHER_RUN_LOCK);

    await lake.store.delete('processed', lock);
    const retried = await ingestObject(lake.deps(), { key: KEY });
    expect(retried.status).toBe('SUCCEEDED');
    expect(await ids()).toEqual([1n, 2n]);
    expect(await lake.processedKeys('events/')).toEqual(retried.outputKeys);
    expect(await lake.processedKeys('_pipeline/locks/')).toEqual([]);
  });

  it('removes a stalled run’s late file, and only that, when a newer version took its locks over and committed', async () => {
    const raw = lake.store.localPath('raw', KEY);
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    let newer: Awaited<ReturnType<typeof ingestObject>> | undefined;
    // Run A (version 1) stalls before its put lands: its leases run out, and run B (version 2 of the same object)
    // takes the locks over, publishes and commits, removing A's publish intent with it. Then A's put lands.
    const stalling = withMethod(lake.store, 'putFile', (putFile) => async (bucket, key, path, options) => {
      if (newer === undefined && key.endsWith('.parquet')) {
        for (const lock of await lake.processedKeys('_pipeline/locks/')) await lake.store.delete('processed', lock);
        await lake.putRaw(KEY, jsonl(event(1), event(3)));
        await utimes(raw, new Date('2024-03-01T11:00:00Z'), new Date('2024-03-01T11:00:00Z'));
        newer = await ingestObject(lake.deps(), { key: KEY });
      }
      return putFile(bucket, key, path, options);
    });
    const stalled = await ingestObject(lake.deps({ store: stalling }), { key: KEY });
    expect(newer?.status).toBe('SUCCEEDED');
    expect(stalled).toMatchObject({ status: 'FAILED', error: { reason: 'lock_lost' } });
    // A's late file is gone (no lineage or intent named it any more, so nothing would ever have removed it); B's stay.
    expect(await lake.processedKeys('events/')).toEqual(newer!.outputKeys);
    expect(await ids()).toEqual([1n, 3n]);
    expect((await readLineage(lake.store, 'events', KEY))?.outputKeys).toEqual(newer!.outputKeys);
    expect(await lake.processedKeys('_pipeline/locks/')).toEqual([]);
  });

  it('removes its late file when only some of its locks were taken over, once the other run is done', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    const lock = lockKey('events', partitionLockName('2024-03-01'));
    // Only the partition's lock goes to another run (which writes nothing and is done 200 ms later); the source's
    // lock stays this run's.
    const stalling = takenOverAtFirstParquet(lock, 200);
    const run = await ingestObject(lake.deps({ store: stalling }), { key: KEY }, { lock: { waitMs: 5_000 } });
    expect(run).toMatchObject({ status: 'FAILED', error: { reason: 'lock_lost' } });
    // Its file is removed (taking its locks again did not wait on the source lock it still held).
    expect(await lake.processedKeys('events/')).toEqual([]);
    expect(await lake.processedKeys('_pipeline/locks/')).toEqual([]);
    expect(await readLineage(lake.store, 'events', KEY)).toBeUndefined();
  });

  it('keeps the files of a redelivery that took the locks over and committed, when the stalled run then fails', async () => {
    await lake.putRaw(KEY, jsonl(event(1), event(2, '2024-03-02 08:00:00')));
    let puts = 0;
    let redelivery: Awaited<ReturnType<typeof ingestObject>> | undefined;
    // Run A stalls at its second file; B, another delivery of the same version, takes the locks over and commits
    // the same keys; then A's put fails on its own and A rolls back.
    const stalling = withMethod(lake.store, 'putFile', (putFile) => async (bucket, key, path, options) => {
      if (key.endsWith('.parquet') && ++puts === 2) {
        for (const lock of await lake.processedKeys('_pipeline/locks/')) await lake.store.delete('processed', lock);
        redelivery = await ingestObject(lake.deps(), { key: KEY });
        throw new Error('connection reset');
      }
      return putFile(bucket, key, path, options);
    });
    const stalled = await ingestObject(lake.deps({ store: stalling }), { key: KEY });
    expect(redelivery?.status).toBe('SUCCEEDED');
    expect(stalled.status).toBe('FAILED');
    // A's rollback spared the keys B's lineage names (it used to delete them under B).
    expect(await lake.processedKeys('events/')).toEqual([...redelivery!.outputKeys].sort());
    expect(redelivery!.outputKeys).toHaveLength(2);
    expect(await ids()).toEqual([1n, 2n]);
  });

  it('writes nothing when its locks were taken over before its first write', async () => {
    await lake.putRaw(KEY, jsonl(event(1)));
    const lock = lockKey('events', partitionLockName('2024-03-01'));
    // Taken over while the run reads what the partition holds (its de-duplication), before it writes anything.
    let takenOver = false;
    const stalling = withMethod(lake.store, 'listAll', (listAll) => (bucket, prefix, options) => {
      if (!takenOver && prefix.startsWith('events/event_date=')) {
        takenOver = true;
        return (async function* () {
          await takeOverLock(lake.store, lock);
          yield* listAll(bucket, prefix, options);
        })();
      }
      return listAll(bucket, prefix, options);
    });
    const run = await ingestObject(lake.deps({ store: stalling }), { key: KEY }, { lock: { waitMs: 300 } });
    expect(run).toMatchObject({ status: 'FAILED', error: { reason: 'lock_lost' } });
    expect(takenOver).toBe(true);
    // Not even its publish intent (written before the first file).
    expect(await lake.processedKeys('_pipeline/intents/')).toEqual([]);
    expect(await lake.processedKeys('_pipeline/sources/')).toEqual([]);
    expect(await lake.processedKeys('events/')).toEqual([]);
  });

  it("locks the partitions of an older version's leftover files before it removes them", async () => {
    const raw = lake.store.localPath('raw', KEY);
    // Version 1 holds 2024-03-02 only; version 2 holds 2024-03-01 only (another lock slot).
    await lake.putRaw(KEY, jsonl(event(1, '2024-03-02 08:00:00')));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    const v1 = await ingestObject(lake.deps(), { key: KEY });
    expect(v1.partitions).toEqual(['2024-03-02']);
    await lake.putRaw(KEY, jsonl(event(2)));
    await utimes(raw, new Date('2024-03-01T11:00:00Z'), new Date('2024-03-01T11:00:00Z'));
    // The run dies after publishing version 2, before it deletes version 1's file.
    const dying = withMethod(lake.store, 'delete', (remove) => async (bucket, key) => {
      if (v1.outputKeys.includes(key)) throw new Error('process died');
      return remove(bucket, key);
    });
    await ingestObject(lake.deps({ store: dying }), { key: KEY }).catch(() => undefined);
    expect((await readLineage(lake.store, 'events', KEY))?.pendingDelete).toEqual(v1.outputKeys);

    // Another run holds 2024-03-02 (a compaction reading that file, say): the leftover waits for its lock.
    const lock = lockKey('events', partitionLockName('2024-03-02'));
    expect(lock).not.toBe(lockKey('events', partitionLockName('2024-03-01')));
    await lake.store.put('processed', lock, JSON.stringify({ owner: 'alive', expiresAt: '2999-01-01T00:00:00.000Z' }));
    const blocked = await ingestObject(lake.deps(), { key: KEY }, { lock: { waitMs: 200 } });
    expect(blocked.error?.reason).toBe('lock_timeout');
    expect(await lake.processedKeys('events/event_date=2024-03-02/')).toEqual(v1.outputKeys);

    await lake.store.delete('processed', lock);
    const after = await ingestObject(lake.deps(), { key: KEY });
    expect(after.error?.reason).toBe('already_processed');
    expect(await lake.processedKeys('events/event_date=2024-03-02/')).toEqual([]);
    expect(await ids()).toEqual([2n]);
  });

  it('ingests a local file into the raw layout, dated today, and skips it when it is ingested again unchanged', async () => {
    const file = join(lake.root, 'day one.jsonl');
    await writeFile(file, jsonl(event(1), event(2)));
    const now = () => new Date('2024-03-09T23:30:00Z');
    const run = await ingestLocalFile(lake.deps({ now }), file, 'events');
    const sourceKey = rawKeyForLocalFile('events/', file, now());
    expect(sourceKey).toMatch(/^events\/2024\/03\/09\/[^/]+-[0-9a-f]{8}\/day one\.jsonl$/);
    expect(run).toMatchObject({ status: 'SUCCEEDED', sourceKey, rowsWritten: 2 });
    expect(await lake.store.head('raw', sourceKey)).toBeDefined();
    const again = await ingestLocalFile(lake.deps({ now }), file, 'events');
    expect(again.error?.reason).toBe('already_processed');
    // A file of the same name from another folder is another source: both keep their rows (it used to replace it).
    await mkdir(join(lake.root, 'desk-b'));
    const other = join(lake.root, 'desk-b', 'day one.jsonl');
    await writeFile(other, jsonl(event(3)));
    expect(await ingestLocalFile(lake.deps({ now }), other, 'events')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await ids()).toEqual([1n, 2n, 3n]);
    // Changed in place, the first file replaces what it published.
    await writeFile(file, jsonl(event(1)));
    expect(await ingestLocalFile(lake.deps({ now }), file, 'events')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await ids()).toEqual([1n, 3n]);
  });

  it('ingests a file that is already in the raw bucket as that object, in place: --force tries a failed one again', async () => {
    // A raw object that failed for its definition: its reason is remembered and later runs skip it.
    await lake.putRaw(KEY, '{"event_id": 1}\n');
    const failed = await ingestObject(lake.deps(), { key: KEY });
    expect(failed).toMatchObject({ status: 'FAILED' });
    const rawFile = lake.store.localPath('raw', KEY);
    // Corrected in place: `careplus ingest <that path> --force` ingests the same object (it was copied to a new key
    // of today's, a second source beside the failed one).
    await writeFile(rawFile, jsonl(event(1), event(2)));
    const run = await ingestLocalFile(lake.deps(), rawFile, 'events', { force: true });
    expect(run).toMatchObject({ status: 'SUCCEEDED', sourceKey: KEY, rowsWritten: 2 });
    const rawKeys: string[] = [];
    for await (const o of lake.store.listAll('raw', 'events/')) rawKeys.push(o.key);
    expect(rawKeys).toEqual([KEY]);
    // Reached through a symbolic link to the raw folder, it is the same object (unchanged: skipped).
    const link = join(lake.root, 'raw-link');
    await symlink(dirname(lake.store.localPath('raw', 'k')), link);
    const again = await ingestLocalFile(lake.deps(), join(link, ...KEY.split('/')), 'events');
    expect(again).toMatchObject({ status: 'SKIPPED', sourceKey: KEY });
    // A file in the raw folder but outside the dataset's raw prefix is copied under it, as any other file: in place it
    // was a source no raw pass ever ingests again.
    await lake.putRaw('loose.jsonl', jsonl(event(7)));
    const loose = await ingestLocalFile(lake.deps(), lake.store.localPath('raw', 'loose.jsonl'), 'events');
    expect(loose.status).toBe('SUCCEEDED');
    expect(loose.sourceKey).toMatch(/^events\/\d{4}\/\d{2}\/\d{2}\/[^/]+\/loose\.jsonl$/);
  });

  it('replaces with --replace what the same path published on an earlier day; by default a later day is a new source', async () => {
    const file = join(lake.root, 'export.jsonl');
    const day1 = () => new Date('2024-03-09T10:00:00Z');
    const day2 = () => new Date('2024-03-10T10:00:00Z');
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'wrong' }), event(2)));
    const first = await ingestLocalFile(lake.deps({ now: day1 }), file, 'events');
    expect(first).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2 });
    const activities = async () =>
      (
        await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`)
      ).map((r) => `${String(r['event_id'])}:${String(r['activity'])}`);

    // Corrected the next day: as a new source its rows lose to the first version's (first published wins).
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'right' }), event(2)));
    const plain = await ingestLocalFile(lake.deps({ now: day2 }), file, 'events');
    expect(plain).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 0, rowsDuplicate: 2 });
    expect(plain.sourceKey).not.toBe(first.sourceKey);
    expect(await activities()).toEqual(['1:wrong', '2:Insert ticket']);

    // With --replace it lands where the path was ingested last (day 2 now) and replaces that version.
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'right' }), event(2), event(3)));
    const replaced = await ingestLocalFile(lake.deps({ now: day2 }), file, 'events', { replaceEarlier: true });
    expect(replaced).toMatchObject({ status: 'SUCCEEDED', sourceKey: plain.sourceKey, rowsWritten: 1 });
    // Without day 2's raw file, the path was ingested last on day 1: the correction replaces the first version, whose
    // rows won (event 3 stays, published by day 2's source).
    await lake.store.delete('raw', plain.sourceKey);
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'right' }), event(2)));
    const onlyDay1 = await ingestLocalFile(lake.deps({ now: day2 }), file, 'events', { replaceEarlier: true });
    expect(onlyDay1).toMatchObject({ status: 'SUCCEEDED', sourceKey: first.sourceKey });
    expect(await activities()).toEqual(['1:right', '2:Insert ticket', '3:Insert ticket']);
  });

  it('says that --replace replaced nothing when the path was never ingested (a correction from another folder)', async () => {
    await mkdir(join(lake.root, 'original'), { recursive: true });
    await mkdir(join(lake.root, 'fixed'), { recursive: true });
    await writeFile(
      join(lake.root, 'original', 'day.jsonl'),
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'x' })),
    );
    await writeFile(join(lake.root, 'fixed', 'day.jsonl'), jsonl(event(1, '2024-03-01 10:00:00', { activity: 'y' })));
    const first = await ingestLocalFile(lake.deps(), join(lake.root, 'original', 'day.jsonl'), 'events');
    expect(first.warnings ?? []).toEqual([]);
    const fixed = await ingestLocalFile(lake.deps(), join(lake.root, 'fixed', 'day.jsonl'), 'events', {
      replaceEarlier: true,
    });
    expect(fixed).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 0, rowsDuplicate: 1 });
    expect(fixed.warnings).toEqual([REPLACED_NOTHING]);
  });

  it('replaces with --replace what a file delivered again unchanged on later days published, its copies too', async () => {
    const file = join(lake.root, 'daily.jsonl');
    const on = (day: string) => lake.deps({ now: () => new Date(`${day}T10:00:00Z`) });
    const activities = async () =>
      (
        await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`)
      ).map((r) => `${String(r['event_id'])}:${String(r['activity'])}`);
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'wrong' }), event(2)));
    const first = await ingestLocalFile(on('2024-03-09'), file, 'events');
    expect(first).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2 });
    // The same bytes delivered again the next day: a new source, all of whose rows are duplicates.
    const again = await ingestLocalFile(on('2024-03-10'), file, 'events');
    expect(again).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 0, rowsDuplicate: 2 });

    // The correction (event 1 right, event 2 withdrawn) with --replace on the third day.
    await writeFile(file, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'right' })));
    const replaced = await ingestLocalFile(on('2024-03-11'), file, 'events', { replaceEarlier: true });
    expect(replaced).toMatchObject({ status: 'SUCCEEDED', sourceKey: first.sourceKey, rowsWritten: 1 });
    expect(await activities()).toEqual(['1:right']);
  });
});

/** A store whose objects all report S3 version id `versionId`. */
function withVersionId(inner: ObjectStore, versionId: string): ObjectStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'head') {
        return async (...args: Parameters<ObjectStore['head']>) => {
          const info = await target.head(...args);
          return info && { ...info, versionId };
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A store on which run records can be written `n` times, then every write fails (the process is gone). */
function recordWritesFailAfter(inner: ObjectStore, n: number): ObjectStore {
  let writes = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<ObjectStore['put']>) => {
          if (args[1].startsWith('_pipeline/runs/') && ++writes > n) throw new Error('process died');
          return target.put(...args);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
