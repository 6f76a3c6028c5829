import { compactPartition } from '../../lambda/pipeline/compact.js';
import { finishJournal } from '../../lambda/pipeline/compaction-journal.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { readLineage } from '../../lambda/pipeline/source-lineage.js';
import { lockKey, partitionLockName } from '../../lambda/pipeline/lake-keys.js';
import { withMethod } from '../support/export-lake.js';
import {
  EVENTS,
  createEtlLake,
  event,
  jsonl,
  OTHER_RUN_LOCK,
  takeOverLock,
  type EtlLake,
} from '../support/etl-lake.js';
import { IngestError } from '../../src/domain/errors.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const DAY = 'events/event_date=2024-03-01/';

async function rows(): Promise<Record<string, unknown>[]> {
  return lake.query(
    `SELECT event_id, ticket_id, activity, event_time::VARCHAR AS t, priority, amount::VARCHAR AS amount
     FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) ORDER BY event_id`,
  );
}

async function ingestSources(): Promise<void> {
  await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1), event(2), event(3, '2024-03-02 00:00:00')));
  await lake.putRaw(
    'events/2024/03/01/b.jsonl',
    jsonl(event(2, '2024-03-01 12:00:00', { activity: 'late copy' }), event(4)),
  );
  await lake.putRaw('events/2024/03/01/c.jsonl', jsonl(event(5), event(6)));
  for (const k of ['a', 'b', 'c']) await ingestObject(lake.deps(), { key: `events/2024/03/01/${k}.jsonl` });
}

describe('compaction', () => {
  it('merges a partition’s small files into one, keeping every row once', async () => {
    await ingestSources();
    const before = await rows();
    expect(before.map((r) => r['event_id'])).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(await lake.processedKeys(DAY)).toHaveLength(3);

    const [result] = await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect(result).toMatchObject({ partition: '2024-03-01', rowsBefore: 5, rowsAfter: 5, rowsDuplicate: 0 });
    expect(result!.inputKeys).toHaveLength(3);
    expect(await lake.processedKeys(DAY)).toEqual(result!.outputKeys);
    expect(result!.outputKeys).toEqual([
      expect.stringMatching(/^events\/event_date=2024-03-01\/part-compacted-[0-9a-f]{16}-0\.parquet$/),
    ]);
    expect(await rows()).toEqual(before);
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    // The other partition had one file: left alone.
    expect((await compactPartition(lake.deps(), 'events', '2024-03-02'))[0]!.inputKeys).toEqual([]);
  });

  it('refuses, rewriting nothing, under a definition the data cannot take: a column removed, an event key narrowed', async () => {
    // It merged under the changed definition, which the ETL refuses for ingest: the merged file left the removed
    // column out (its values gone for good), and the narrowed key dropped rows it kept apart as duplicates.
    lake.registry({ ...EVENTS, eventKey: ['event_id', 'activity'] });
    await ingestSources();
    const all = () =>
      lake.query(
        `SELECT event_id, activity, amount::VARCHAR AS amount FROM read_parquet('{processed}/events/*/*.parquet')
         ORDER BY event_id, activity`,
      );
    const before = await all();
    const files = await lake.processedKeys(DAY);
    lake.registry({
      ...EVENTS,
      eventKey: ['event_id', 'activity'],
      columns: EVENTS.columns.filter((c) => c.name !== 'amount'),
    });
    const refused = compactPartition(lake.deps(), 'events', '2024-03-01');
    await expect(refused).rejects.toThrow(IngestError);
    await expect(refused).rejects.toThrow(
      'the definition of dataset "events" is incompatible with its existing data: column "amount" removed',
    );
    lake.registry(EVENTS);
    await expect(compactPartition(lake.deps(), 'events', '2024-03-01')).rejects.toThrow(
      /event key changed from event_id, activity to event_id/,
    );
    expect(await lake.processedKeys(DAY)).toEqual(files);
    expect(await all()).toEqual(before);
    expect(before.map((r) => r['event_id'])).toEqual([1n, 2n, 2n, 3n, 4n, 5n, 6n]);
  });

  it('splits into files of the target size with the same rows', async () => {
    await ingestSources();
    const before = await rows();
    const [result] = await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 2000 });
    expect(result!.outputKeys.length).toBeGreaterThan(1);
    expect(result!.rowsAfter).toBe(5);
    expect(await rows()).toEqual(before);
  });

  it('lets a compacted source be skipped, replaced by a newer version, or reprocessed', async () => {
    await ingestSources();
    await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });

    const same = await ingestObject(lake.deps(), { key: 'events/2024/03/01/c.jsonl' });
    expect(same.error?.reason).toBe('already_processed');

    // A new version of c: its old rows leave the compacted file, its new rows land in its own file.
    await lake.putRaw(
      'events/2024/03/01/c.jsonl',
      jsonl(event(6, '2024-03-01 10:00:00', { activity: 'v2' }), event(7)),
    );
    const v2 = await ingestObject(lake.deps(), { key: 'events/2024/03/01/c.jsonl' });
    expect(v2).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsDuplicate: 0 });
    const after = await rows();
    expect(after.map((r) => [r['event_id'], r['activity']])).toEqual([
      [1n, 'Insert ticket'],
      [2n, 'Insert ticket'],
      [3n, 'Insert ticket'],
      [4n, 'Insert ticket'],
      [6n, 'v2'],
      [7n, 'Insert ticket'],
    ]);
    expect((await readLineage(lake.store, 'events', 'events/2024/03/01/c.jsonl'))?.pendingPurge).toEqual([]);

    // Reprocessing a compacted source moves its rows back to its own file: same rows, no duplicates.
    const forced = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' }, { force: true });
    expect(forced).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3, rowsDuplicate: 0 });
    expect(await rows()).toEqual(after);

    // Compacting again merges the compacted file with the new small files.
    const [again] = await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect(again).toMatchObject({ rowsBefore: 5, rowsAfter: 5 });
    expect(await rows()).toEqual(after);
  });

  it('finishes a compaction that died half-way before the next ingest into the partition, and never rolls a lineage back', async () => {
    const A = 'events/2024/03/01/a.jsonl';
    const B = 'events/2024/03/01/b.jsonl';
    const activities = async () =>
      (
        await lake.query(
          `SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) ORDER BY 1, 2`,
        )
      ).map((r) => [r['event_id'], r['activity']]);
    await lake.putRaw(A, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'a-v1' })));
    await lake.putRaw(B, jsonl(event(2)));
    for (const k of [A, B]) await ingestObject(lake.deps(), { key: k });
    // The compaction writes its journal, then fails deleting an input (a transient store error) and gives up.
    let failed = false;
    const flaky = new Proxy(lake.store, {
      get(target, prop, receiver) {
        if (prop !== 'delete') return Reflect.get(target, prop, receiver) as unknown;
        return async (bucket: 'processed', key: string) => {
          if (!failed && key.startsWith(DAY) && !key.includes('compacted')) {
            failed = true;
            throw new Error('the store is unavailable');
          }
          return target.delete(bucket, key);
        };
      },
    });
    await expect(
      compactPartition(lake.deps({ store: flaky }), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
    ).rejects.toThrow('the store is unavailable');
    expect(await lake.processedKeys('_pipeline/compactions/')).toHaveLength(1);

    // A newer version of a: its row replaces the old one (it was dropped as another source's before).
    await lake.putRaw(A, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'a-v2' })));
    const v2 = await ingestObject(lake.deps(), { key: A });
    expect(v2).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1, rowsDuplicate: 0 });
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    expect(await activities()).toEqual([
      [1n, 'a-v2'],
      [2n, 'Insert ticket'],
    ]);
    // The next compaction keeps a's newer lineage and rows.
    await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect((await readLineage(lake.store, 'events', A))?.version).toBe(v2.sourceVersion);
    expect(await activities()).toEqual([
      [1n, 'a-v2'],
      [2n, 'Insert ticket'],
    ]);
  });

  it('publishes nothing, and removes its merged files, when its lock was taken over while it uploaded them', async () => {
    await ingestSources();
    const before = await rows();
    const inputs = await lake.processedKeys(DAY);
    const lock = lockKey('events', partitionLockName('2024-03-01'));
    // While the merged file uploads, the compaction's lease runs out and another run takes the partition's lock
    // over for a moment (and writes nothing).
    let takenOver = false;
    const stalling = withMethod(lake.store, 'putFile', (putFile) => async (bucket, key, path, options) => {
      const put = await putFile(bucket, key, path, options);
      if (!takenOver && key.includes('part-compacted-')) {
        takenOver = true;
        await takeOverLock(lake.store, lock, 200);
      }
      return put;
    });
    await expect(
      compactPartition(lake.deps({ store: stalling }), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
    ).rejects.toMatchObject({ reason: 'lock_lost' });
    expect(takenOver).toBe(true);
    // No journal, lineages untouched, the inputs in place and the merged file removed again.
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    expect(await lake.processedKeys(DAY)).toEqual(inputs);
    expect(await rows()).toEqual(before);
    expect(await lake.processedKeys('_pipeline/locks/')).toEqual([]);
  });

  /**
   * The store as a compaction killed right after putting its first merged file sees it (a Lambda timeout): no rollback
   * runs, so no data file or journal is deleted (its lock is let go, as its lease would).
   */
  function killedAfterFirstMergedFile(): typeof lake.store {
    let put = false;
    return new Proxy(lake.store, {
      get(target, prop, receiver) {
        if (prop === 'putFile') {
          return async (...args: Parameters<typeof target.putFile>) => {
            const out = await target.putFile(...args);
            if (!put && args[1].includes('part-compacted-')) {
              put = true;
              throw new Error('the process died');
            }
            return out;
          };
        }
        if (prop === 'delete') {
          return async (bucket: 'processed', key: string) =>
            key.endsWith('.parquet') || key.startsWith('_pipeline/compactions/')
              ? undefined
              : target.delete(bucket, key);
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  }

  it('rolls back a compaction killed while uploading: the next compaction of the dataset removes its merged file', async () => {
    await ingestSources();
    const before = await rows();
    const inputs = await lake.processedKeys(DAY);
    await expect(
      compactPartition(lake.deps({ store: killedAfterFirstMergedFile() }), 'events', '2024-03-01', {
        targetBytes: 1024 * 1024,
      }),
    ).rejects.toThrow('the process died');
    // What the kill leaves: the merged file beside its inputs (every row twice), and the journal naming it.
    expect((await rows()).length).toBe(2 * before.filter((r) => String(r['t']).startsWith('2024-03-01')).length + 1);
    expect(await lake.processedKeys('_pipeline/compactions/')).toHaveLength(1);

    // While another run holds that partition, a compaction of another one leaves it to that run, without waiting.
    const held = lockKey('events', partitionLockName('2024-03-01'));
    await lake.store.put('processed', held, OTHER_RUN_LOCK);
    const started = Date.now();
    await compactPartition(lake.deps(), 'events', '2024-03-02', { targetBytes: 1024 * 1024 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await lake.processedKeys('_pipeline/compactions/')).toHaveLength(1);
    expect(lake.logs.some((l) => l.includes('a partition a stopped compaction left half-way is locked'))).toBe(true);
    await lake.store.delete('processed', held);
    // Once it is free, a compaction of another partition finishes it first (nothing else would before the next
    // ingest into it).
    await compactPartition(lake.deps(), 'events', '2024-03-02', { targetBytes: 1024 * 1024 });
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    expect(await lake.processedKeys(DAY)).toEqual(inputs);
    expect(await rows()).toEqual(before);
  });

  it('removes a merged file no source names, so the rows a newer version dropped do not stay or come back', async () => {
    const A = 'events/2024/03/01/a.jsonl';
    await ingestSources();
    await expect(
      compactPartition(lake.deps({ store: killedAfterFirstMergedFile() }), 'events', '2024-03-01', {
        targetBytes: 1024 * 1024,
      }),
    ).rejects.toThrow('the process died');
    // As earlier versions left it: the merged file without a journal naming it.
    await lake.store.delete('processed', (await lake.processedKeys('_pipeline/compactions/'))[0]!);
    const [orphan] = (await lake.processedKeys(DAY)).filter((k) => k.includes('part-compacted-'));
    // A newer version of a drops event 1.
    await lake.putRaw(A, jsonl(event(2), event(3, '2024-03-02 00:00:00')));
    expect((await ingestObject(lake.deps(), { key: A })).status).toBe('SUCCEEDED');
    await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
    expect(await lake.processedKeys(DAY)).not.toContain(orphan);
    // What readers see: a's event 2 (published first, so b's copy is dropped), b's 4, c's 5 and 6, each once; not
    // the 1 only the orphan held.
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/${DAY}*.parquet') ORDER BY 1`);
    expect(ids.map((r) => r['event_id'])).toEqual([2n, 4n, 5n, 6n]);
    expect(lake.logs.some((l) => l.includes('removing a compacted file that no source names'))).toBe(true);
  });

  it('does not commit after a run that took the partition over rolled its upload back', async () => {
    await ingestSources();
    const before = await rows();
    const inputs = await lake.processedKeys(DAY);
    // The compaction stalls just before its commit (past its lease, after its last lock check); the run that takes
    // the partition over meanwhile finds its `uploading` journal and rolls it back, as it must for a dead one.
    let rolledBack = false;
    const stalling = withMethod(lake.store, 'put', (put) => async (bucket, key, body, options) => {
      if (!rolledBack && key.startsWith('_pipeline/compactions/') && String(body).includes('"committed"')) {
        rolledBack = (await finishJournal(lake.store, key)) !== undefined;
      }
      return put(bucket, key, body, options);
    });
    await expect(
      compactPartition(lake.deps({ store: stalling }), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
    ).rejects.toMatchObject({ reason: 'lock_lost' });
    expect(rolledBack).toBe(true);
    // Its merged files went with the rollback; the inputs and every lineage stand, every row once.
    expect(await lake.processedKeys(DAY)).toEqual(inputs);
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    expect(await rows()).toEqual(before);
  });

  it('keeps a commit that landed though the store answered it with an error', async () => {
    await ingestSources();
    const before = await rows();
    const ambiguous = withMethod(lake.store, 'put', (put) => async (bucket, key, body, options) => {
      const out = await put(bucket, key, body, options);
      if (key.startsWith('_pipeline/compactions/') && String(body).includes('"committed"')) {
        throw new Error('the store answered 500 (the write had landed)');
      }
      return out;
    });
    await expect(
      compactPartition(lake.deps({ store: ambiguous }), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
    ).rejects.toThrow('the store answered 500');
    // The committed journal was finished, not undone: the merged file stands, named by the lineages; every row once.
    const merged = (await lake.processedKeys(DAY)).filter((k) => k.includes('part-compacted-'));
    expect(merged).toHaveLength(1);
    expect(await lake.processedKeys(DAY)).toEqual(merged);
    expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
    expect((await readLineage(lake.store, 'events', 'events/2024/03/01/c.jsonl'))?.compacted).toEqual(merged);
    expect(await rows()).toEqual(before);
  });
});
