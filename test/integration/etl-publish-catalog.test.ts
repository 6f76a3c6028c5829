import { utimes } from 'node:fs/promises';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import { withMethod } from '../support/export-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const KEY = 'events/2024/03/01/batch.jsonl';

async function registered(): Promise<string[]> {
  return (await lake.catalog.listPartitions('events')).partitions.map((p) => p.values['event_date']!).sort();
}

describe('a publish that fails after registering its partitions', () => {
  it('leaves no catalog partition without files when its commit (the lineage) is refused', async () => {
    const raw = lake.store.localPath('raw', KEY)!;
    await lake.putRaw(KEY, jsonl(event(1), event(2)));
    await utimes(raw, new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    expect((await ingestObject(lake.deps(), { key: KEY })).status).toBe('SUCCEEDED');
    expect(await registered()).toEqual(['2024-03-01']);

    // A newer version with rows on another day; the store refuses its lineage (the commit), so it is rolled back.
    await lake.putRaw(KEY, jsonl(event(7), event(8, '2024-03-03 00:00:00')));
    const refusing = withMethod(lake.store, 'put', (put) => async (bucket, key, body, options) => {
      if (key.startsWith('_pipeline/sources/')) throw new Error('the store answered 503');
      return put(bucket, key, body, options);
    });
    expect((await ingestObject(lake.deps({ store: refusing }), { key: KEY })).status).toBe('FAILED');
    expect((await lake.processedKeys('events/')).map((k) => k.split('/')[1])).toEqual(['event_date=2024-03-01']);
    // The catalog describes only partitions that have files.
    expect(await registered()).toEqual(['2024-03-01']);
  });
});
