import { compactPartition } from '../../lambda/pipeline/compact.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { lockKey, partitionLockName } from '../../lambda/pipeline/lake-keys.js';
import { createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import type { ExportHarness } from '../support/export-lake.js';
import { exportHarnessOf, readerCounts } from '../support/reader-counts.js';

/**
 * A compaction writes its merged files beside the files they replace, then deletes those: between the two, and for
 * good when it is killed there (until the next compaction or ingest of the partition finishes it), a reader that
 * only lists the folder counts every row twice. The hands-on test saw a killed compaction double a partition's rows
 * in `rowCount` and in every export of it. Readers now leave out what the compaction's journal says is not (yet, or
 * any more) the partition's: the merged files while it uploads, the inputs once it committed. Through the real ETL
 * (ingest, compact killed by a store that fails where a kill would stop it), the metadata snapshot and an export.
 */
const DAY = 'events/event_date=2024-03-01/';
let lake: EtlLake;
let harness: ExportHarness;
let rowsOfDay: number;

beforeEach(async () => {
  lake = await createEtlLake();
  await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1), event(2), event(3)));
  await lake.putRaw('events/2024/03/01/b.jsonl', jsonl(event(4), event(5)));
  await lake.putRaw('events/2024/03/01/c.jsonl', jsonl(event(6), event(7)));
  for (const k of ['a', 'b', 'c']) await ingestObject(lake.deps(), { key: `events/2024/03/01/${k}.jsonl` });
  rowsOfDay = 7;
  harness = await exportHarnessOf(lake);
});

afterEach(async () => {
  await harness.close();
  await lake.close();
});

/** The store as a compaction killed at `where` leaves it: nothing after that point happens. */
function killedAt(where: 'after the first merged file' | 'before deleting its inputs'): typeof lake.store {
  let died = false;
  return new Proxy(lake.store, {
    get(target, prop, receiver) {
      if (prop === 'putFile' && where === 'after the first merged file') {
        return async (...args: Parameters<typeof target.putFile>) => {
          if (died) throw new Error('the process died');
          const out = await target.putFile(...args);
          if (args[1].includes('part-compacted-')) {
            died = true;
            throw new Error('the process died');
          }
          return out;
        };
      }
      if (prop === 'delete') {
        return async (bucket: 'processed', key: string) => {
          if (where === 'before deleting its inputs' && key.startsWith(DAY)) died = true;
          if (died) throw new Error('the process died');
          return target.delete(bucket, key);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

function counts(): ReturnType<typeof readerCounts> {
  return readerCounts(lake, harness, '2024-03-01');
}

describe('readers during a compaction', () => {
  it.each(['after the first merged file', 'before deleting its inputs'] as const)(
    'count each row once when a compaction was killed %s',
    async (where) => {
      const inputs = await lake.processedKeys(DAY);
      expect(inputs).toHaveLength(3);
      await expect(
        compactPartition(lake.deps({ store: killedAt(where) }), 'events', '2024-03-01', { targetBytes: 1024 * 1024 }),
      ).rejects.toThrow('the process died');
      // Both the inputs and the merged file are in the partition's folder, and the journal names them.
      const left = await lake.processedKeys(DAY);
      expect(left.filter((k) => k.includes('part-compacted-'))).toHaveLength(1);
      expect(left.filter((k) => inputs.includes(k))).toHaveLength(3);
      expect(await lake.processedKeys('_pipeline/compactions/')).toHaveLength(1);

      expect(await counts()).toEqual({ snapshot: rowsOfDay, estimate: rowsOfDay, exported: rowsOfDay });

      // The next compaction, once the dead one's lock is gone (its lease ends), finishes or rolls it back: the same
      // counts, from one set of files.
      await lake.store.delete('processed', lockKey('events', partitionLockName('2024-03-01')));
      await compactPartition(lake.deps(), 'events', '2024-03-01', { targetBytes: 1024 * 1024 });
      expect(await lake.processedKeys('_pipeline/compactions/')).toEqual([]);
      expect(await counts()).toEqual({ snapshot: rowsOfDay, estimate: rowsOfDay, exported: rowsOfDay });
    },
  );
});
