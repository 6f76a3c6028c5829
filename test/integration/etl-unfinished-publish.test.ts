import { gzipSync } from 'node:zlib';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, diesAtCommit, event, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const KEY = 'events/2024/03/01/batch.jsonl';

async function rows(): Promise<unknown[][]> {
  return (
    await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1, 2`)
  ).map((r) => [r['event_id'], r['activity']]);
}

async function registered(): Promise<string[]> {
  return (await lake.catalog.listPartitions('events')).partitions.map((p) => p.values['event_date']!).sort();
}

const truncatedGzip = (): Buffer => {
  const whole = gzipSync(jsonl(event(9), event(10)));
  return whole.subarray(0, whole.length - 12);
};

describe('a version that fails before publishing, after a newer one died at its commit', () => {
  it.each([
    ['an empty file', 'empty_file', (): string | Buffer | undefined => '', undefined],
    ['a truncated gzip', 'truncated_gzip', truncatedGzip, undefined],
    ['a file over the size limit', 'too_large', () => jsonl(event(9), event(10), event(11)), 300],
    ['a deletion of the object', 'not_found', () => undefined, undefined],
  ])('removes what the dead version left when %s comes next', async (_, reason, body, maxObjectBytes) => {
    await lake.putRaw(KEY, jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v1' })));
    expect((await ingestObject(lake.deps(), { key: KEY })).status).toBe('SUCCEEDED');
    await lake.putRaw(
      KEY,
      jsonl(event(1, '2024-03-01 10:00:00', { activity: 'v2' }), event(5, '2024-03-02 10:00:00', { activity: 'v2' })),
    );
    expect((await ingestObject(lake.deps({ store: diesAtCommit(lake.store) }), { key: KEY })).status).toBe('FAILED');
    expect(await rows()).toHaveLength(3);

    // A broken upload comes next: it fails, and what is published stays v1's alone (v2's files were counted beside it).
    const next = body();
    if (next === undefined) await lake.store.delete('raw', KEY);
    else await lake.putRaw(KEY, next);
    const broken = await ingestObject(lake.deps(maxObjectBytes !== undefined ? { maxObjectBytes } : {}), { key: KEY });
    expect(broken).toMatchObject({ status: 'FAILED', error: { reason } });
    expect(await rows()).toEqual([[1n, 'v1']]);
    expect(await lake.processedKeys('_pipeline/intents/')).toEqual([]);
    expect(await registered()).toEqual(['2024-03-01']);
  });
});
