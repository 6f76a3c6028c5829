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
 * Decimal statistics are documented with exactly `scale` digits after the point. hyparquet decodes a decimal bound
 * to a double, which holds about 15 digits: a decimal(38,18) 0.1 (Spark's default decimal type) came out as
 * 0.100000000000000006, and a decimal(18,2) 1234567890123456.78 as 1234567890123456.75.
 */
describe('GraphQL statistics of decimals with more digits than a double holds', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;

  beforeAll(async () => {
    lake = await createTempLake();
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });
    // decimal(38,18) is stored as a fixed-length byte array, decimal(18,2) as INT64, decimal(9,2) as INT32.
    await writeParquet(
      db,
      lake.processedPath('amounts/part-a.parquet'),
      `SELECT CAST(a AS DECIMAL(38,18)) AS spark, CAST(b AS DECIMAL(18,2)) AS big, CAST(c AS DECIMAL(9,2)) AS small
       FROM (VALUES ('0.1', '1234567890123456.78', '-0.05'), ('-2.5', '9999999999999999.99', '1234567.89'))
       t(a, b, c)`,
    );
    await writeParquet(
      db,
      lake.processedPath('amounts/part-b.parquet'),
      `SELECT CAST(a AS DECIMAL(38,18)) AS spark, CAST(b AS DECIMAL(18,2)) AS big, CAST(c AS DECIMAL(9,2)) AS small
       FROM (VALUES ('12345678901234567890.123456789012345678', '-9999999999999999.99', NULL)) t(a, b, c)`,
    );
    await lake.catalog.putTable({
      name: 'amounts',
      description: 'Wide decimals.',
      columns: [column('spark', 'decimal(38,18)'), column('big', 'decimal(18,2)'), column('small', 'decimal(9,2)')],
      partitionKeys: [],
      location: 'amounts/',
      origin: 'registered',
    });
    api = await startApi({ catalog: lake.catalog, store: lake.store });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  it('gives every bound with exactly its scale digits, as the files hold it', async () => {
    const { data, errors } = await api.client.raw<{
      dataset: { columns: { name: string; stats: { nullCount: number; min: string | null; max: string | null } }[] };
    }>('{ dataset(name: "amounts") { columns { name stats { nullCount min max } } } }');
    expect(errors).toBeUndefined();
    expect(data!.dataset.columns.map((c) => [c.name, c.stats])).toEqual([
      ['spark', { nullCount: 0, min: '-2.500000000000000000', max: '12345678901234567890.123456789012345678' }],
      ['big', { nullCount: 0, min: '-9999999999999999.99', max: '9999999999999999.99' }],
      ['small', { nullCount: 1, min: '-0.05', max: '1234567.89' }],
    ]);
  });
});
