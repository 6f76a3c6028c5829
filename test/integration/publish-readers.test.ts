import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import type { ExportHarness } from '../support/export-lake.js';
import { exportHarnessOf, readerCounts } from '../support/reader-counts.js';

/**
 * An ingest puts its Parquet files into the partition folders first and commits (the source's lineage) after: a
 * `careplus ingest` killed in between (kill -9, a Lambda timeout) leaves files no commit names, and until the source
 * is ingested again a reader that only lists the folders counted them. The hands-on test killed the ingest of a
 * corrected version of a 300,000-row file mid-publish: `rowCount` said 524,797 and an export held 224,797 event ids
 * twice. Readers now leave out the files an unfinished publish's intent names and the source's lineage does not.
 * Through the real ETL (the publish killed by a store that fails where a kill would stop it, with nothing rolled
 * back), the metadata snapshot and an export.
 */
const DAY = 'events/event_date=2024-03-01/';
let lake: EtlLake;
let harness: ExportHarness;

beforeEach(async () => {
  lake = await createEtlLake();
  await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1), event(2), event(3)));
  await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
  harness = await exportHarnessOf(lake);
});

afterEach(async () => {
  await harness.close();
  await lake.close();
});

/** The store as a process killed right after it put its first data file leaves it: nothing happens after that. */
function killedAfterFirstDataFile(): typeof lake.store {
  let died = false;
  return new Proxy(lake.store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'putFile') {
        return async (...args: Parameters<typeof target.putFile>) => {
          if (died) throw new Error('the process died');
          const out = await target.putFile(...args);
          if (args[1].startsWith(DAY)) died = true;
          return out;
        };
      }
      return (...args: unknown[]) => {
        if (died) return Promise.reject(new Error('the process died'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

function counts(): ReturnType<typeof readerCounts> {
  return readerCounts(lake, harness, '2024-03-01');
}

describe('readers during an ingest that died mid-publish', () => {
  it.each([
    ['a corrected version of a published source', 'events/2024/03/01/a.jsonl', jsonl(event(1), event(2))],
    ['a new source', 'events/2024/03/01/b.jsonl', jsonl(event(4), event(5))],
  ])('count only committed rows when the publish of %s was killed', async (_what, key, body) => {
    const before = await lake.processedKeys(DAY);
    expect(before).toHaveLength(1);
    await lake.putRaw(key, body);
    await ingestObject(lake.deps({ store: killedAfterFirstDataFile() }), { key }).catch(() => undefined);
    // The dead run's file is in the partition's folder beside the committed one, and its intent names it.
    const left = await lake.processedKeys(DAY);
    expect(left).toHaveLength(2);
    expect(await lake.processedKeys('_pipeline/intents/')).toHaveLength(1);

    expect(await counts()).toEqual({ snapshot: 3, estimate: 3, exported: 3 });

    // Ingested again once the dead run's locks are gone (their lease ends; the dead run here is this process), the
    // source commits: its rows count, once.
    for (const lock of await lake.processedKeys('_pipeline/locks/')) await lake.store.delete('processed', lock);
    await ingestObject(lake.deps(), { key });
    expect(await lake.processedKeys('_pipeline/intents/')).toEqual([]);
    const rows = key.endsWith('a.jsonl') ? 2 : 5;
    expect(await counts()).toEqual({ snapshot: rows, estimate: rows, exported: rows });
  });
});
