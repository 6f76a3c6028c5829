import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { EVENTS, LOGS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';
import { withMethod } from '../support/export-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const KEY = 'events/2024/03/01/batch.jsonl';

describe('a reprocess under a changed definition that fails before its commit', () => {
  it('leaves every row of the published version in place', async () => {
    await lake.putRaw(KEY, jsonl(event(1, '2024-03-01 00:30:00'), event(2, '2024-03-01 10:00:00')));
    expect((await ingestObject(lake.deps(), { key: KEY })).partitions).toEqual(['2024-03-01']);

    // The same file under a definition that reads its times in Rome: event 1 moves to the day before (UTC).
    lake.registry(
      {
        ...EVENTS,
        columns: EVENTS.columns.map((c) => (c.name === 'event_time' ? { ...c, timeZone: 'Europe/Rome' } : c)),
      },
      LOGS,
    );
    const refusing = withMethod(lake.store, 'put', (put) => async (bucket, key, body, options) => {
      if (key.startsWith('_pipeline/sources/')) throw new Error('the store answered 503');
      return put(bucket, key, body, options);
    });
    expect((await ingestObject(lake.deps({ store: refusing }), { key: KEY })).status).toBe('FAILED');
    // Nothing was committed: the published version's rows are all there still.
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
    expect(ids.map((r) => r['event_id'])).toEqual([1n, 2n]);

    // The retry publishes under the new definition, and only its files stay.
    const retry = await ingestObject(lake.deps(), { key: KEY });
    expect(retry).toMatchObject({ status: 'SUCCEEDED', partitions: ['2024-02-29', '2024-03-01'], rowsWritten: 2 });
    expect(await lake.processedKeys('events/')).toEqual(retry.outputKeys);
    const days = await lake.query(
      `SELECT event_id, event_date::VARCHAR AS d FROM read_parquet('{processed}/events/*/*.parquet', hive_partitioning = true) ORDER BY 1`,
    );
    expect(days).toEqual([
      { event_id: 1n, d: '2024-02-29' },
      { event_id: 2n, d: '2024-03-01' },
    ]);
    // Made again under the same definition: the same files.
    const hashes = await lake.fileHashes('events/');
    expect((await ingestObject(lake.deps(), { key: KEY }, { force: true })).status).toBe('SUCCEEDED');
    expect(await lake.fileHashes('events/')).toEqual(hashes);
  });
});
