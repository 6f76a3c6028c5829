import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { GetDatasetDocument } from '../../src/generated/graphql.js';
import {
  column,
  createTempLake,
  type RunningApi,
  startApi,
  type TempLake,
  writeParquet,
} from '../support/graphql-api-fixture.js';

/**
 * Column statistics where the footers' bounds are not what a plain reading gives: decimals with more digits than a
 * double holds, text bounds the writer cut, and timestamps outside years 0000 to 9999. Each is a registered table
 * of files written here; one API serves them all.
 */
describe('GraphQL column statistics of bounds a plain footer reading gets wrong', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;
  const LONG = `m${'x'.repeat(300)}`;
  const LOW = `a${'x'.repeat(300)}`;

  const registered = (name: string, columns: ReturnType<typeof column>[]) =>
    lake.catalog.putTable({
      name,
      description: name,
      columns,
      partitionKeys: [],
      location: `${name}/`,
      origin: 'registered',
    });

  beforeAll(async () => {
    lake = await createTempLake();
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });

    // decimal(38,18) is stored as a fixed-length byte array, decimal(18,2) as INT64, decimal(9,2) as INT32.
    const amounts = (rows: string): string =>
      `SELECT CAST(a AS DECIMAL(38,18)) AS spark, CAST(b AS DECIMAL(18,2)) AS big, CAST(c AS DECIMAL(9,2)) AS small
       FROM (VALUES ${rows}) t(a, b, c)`;
    await writeParquet(
      db,
      lake.processedPath('amounts/part-a.parquet'),
      amounts(`('0.1', '1234567890123456.78', '-0.05'), ('-2.5', '9999999999999999.99', '1234567.89')`),
    );
    await writeParquet(
      db,
      lake.processedPath('amounts/part-b.parquet'),
      amounts(`('12345678901234567890.123456789012345678', '-9999999999999999.99', NULL)`),
    );
    await registered('amounts', [
      column('spark', 'decimal(38,18)'),
      column('big', 'decimal(18,2)'),
      column('small', 'decimal(9,2)'),
    ]);

    const notes = (rows: string): string =>
      `SELECT CAST(title AS VARCHAR) AS title, CAST(body AS VARCHAR) AS body, CAST(tag AS VARCHAR) AS tag
       FROM (VALUES ${rows}) t(title, body, tag)`;
    // title: file a's min is the long text (cut, not exact), its max 'zebra' exact; file b holds the smallest.
    // body: file a's only value is the long text, the largest of the column; tag: file a's is the smallest.
    await writeParquet(
      db,
      lake.processedPath('notes/part-a.parquet'),
      notes(`('${LONG}', '${LONG}', '${LOW}'), ('zebra', NULL, NULL)`),
    );
    await writeParquet(
      db,
      lake.processedPath('notes/part-b.parquet'),
      notes(`('apple', 'kiwi', 'b'), ('kiwi', 'apple', 'c')`),
    );
    await registered('notes', [column('title', 'string'), column('body', 'string'), column('tag', 'string')]);

    const events = (rows: string): string =>
      `SELECT CAST(id AS BIGINT) AS id, CAST(happened AS TIMESTAMP) AS happened FROM (VALUES ${rows}) t(id, happened)`;
    await writeParquet(db, lake.processedPath('events/part-a.parquet'), events(`(1, '2024-03-01 10:00:00')`));
    await writeParquet(db, lake.processedPath('events/part-b.parquet'), events(`(2, '10000-01-01 00:00:00')`));
    await writeParquet(db, lake.processedPath('events/part-c.parquet'), events(`(3, '9999-12-31 23:59:59.5')`));
    await writeParquet(db, lake.processedPath('events/part-d.parquet'), events(`(4, '-0001-06-01 00:00:00')`));
    await registered('events', [column('id', 'bigint'), column('happened', 'timestamp')]);

    api = await startApi({ catalog: lake.catalog, store: lake.store });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  /**
   * Decimal statistics are documented with exactly `scale` digits after the point. hyparquet decodes a decimal bound
   * to a double, which holds about 15 digits: a decimal(38,18) 0.1 (Spark's default decimal type) came out as
   * 0.100000000000000006, and a decimal(18,2) 1234567890123456.78 as 1234567890123456.75.
   */
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

  /**
   * DuckDB writes a text bound of at most 256 bytes: a longer min is cut to a prefix and a longer max cut and its last
   * byte raised, both marked not exact (`is_min_value_exact` / `is_max_value_exact` false). Neither is a value of the
   * column, so the API must not give one as the column's smallest or largest value.
   */
  it('gives no min or max where the bound that decides it is a cut one, and exact bounds as they are', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'notes' });
    expect(errors).toBeUndefined();
    expect(data!.dataset.columns.map((c) => [c.name, c.stats])).toEqual([
      ['title', { nullCount: 0, min: 'apple', max: 'zebra' }],
      ['body', { nullCount: 1, min: 'apple', max: null }],
      ['tag', { nullCount: 1, min: null, max: 'c' }],
    ]);
  });

  /**
   * Timestamp bounds are read as ISO 8601 text, which orders like the instants only for years 0000 to 9999: a year past
   * 9999 is written `+010000-…` and one before year 0 `-000001-…`, and both sort before `2024-…` as text. DuckDB (and
   * the ETL, for a definition without formats) takes such years, e.g. a mistyped `20240-03-01T10:00:00Z`.
   */
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
