import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import {
  column,
  createTempLake,
  type RunningApi,
  startApi,
  type TempLake,
  writeParquet,
} from '../support/graphql-api-fixture.js';

/**
 * Timestamp bounds are read as ISO 8601 text, which orders like the instants only for years 0000 to 9999: a year past
 * 9999 is written `+010000-…` and one before year 0 `-000001-…`, and both sort before `2024-…` as text. DuckDB (and
 * the ETL, for a definition without formats) takes such years, e.g. a mistyped `20240-03-01T10:00:00Z`.
 */
describe('GraphQL timestamp statistics over years outside 0000 to 9999', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;

  beforeAll(async () => {
    lake = await createTempLake();
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });
    const select = (rows: string): string =>
      `SELECT CAST(id AS BIGINT) AS id, CAST(happened AS TIMESTAMP) AS happened FROM (VALUES ${rows}) t(id, happened)`;
    await writeParquet(db, lake.processedPath('events/part-a.parquet'), select(`(1, '2024-03-01 10:00:00')`));
    await writeParquet(db, lake.processedPath('events/part-b.parquet'), select(`(2, '10000-01-01 00:00:00')`));
    await writeParquet(db, lake.processedPath('events/part-c.parquet'), select(`(3, '9999-12-31 23:59:59.5')`));
    await writeParquet(db, lake.processedPath('events/part-d.parquet'), select(`(4, '-0001-06-01 00:00:00')`));
    await lake.catalog.putTable({
      name: 'events',
      description: 'Events with odd years.',
      columns: [column('id', 'bigint'), column('happened', 'timestamp')],
      partitionKeys: [],
      location: 'events/',
      origin: 'registered',
    });
    api = await startApi({ catalog: lake.catalog, store: lake.store });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  it('gives the earliest and the latest instant as min and max, and the latest as the newest event', async () => {
    const { data, errors } = await api.client.raw<{
      dataset: {
        columns: { name: string; stats: { min: string | null; max: string | null } }[];
        freshness: { newestEventTime: string | null };
      };
    }>('{ dataset(name: "events") { columns { name stats { min max } } freshness { newestEventTime } } }');
    expect(errors).toBeUndefined();
    expect(data!.dataset.columns.find((c) => c.name === 'happened')!.stats).toEqual({
      min: '-000001-06-01T00:00:00.000000Z',
      max: '+010000-01-01T00:00:00.000000Z',
    });
    expect(data!.dataset.freshness.newestEventTime).toBe('+010000-01-01T00:00:00.000Z');
  });
});
