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
 * DuckDB writes a text bound of at most 256 bytes: a longer min is cut to a prefix and a longer max cut and its last
 * byte raised, both marked not exact (`is_min_value_exact` / `is_max_value_exact` false). Neither is a value of the
 * column, so the API must not give one as the column's smallest or largest value.
 */
describe('GraphQL column statistics over text longer than a footer bound', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;
  const LONG = `m${'x'.repeat(300)}`;
  const LOW = `a${'x'.repeat(300)}`;
  const A = 'notes/part-a.parquet';
  const B = 'notes/part-b.parquet';

  beforeAll(async () => {
    lake = await createTempLake();
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });
    const select = (rows: string): string =>
      `SELECT CAST(title AS VARCHAR) AS title, CAST(body AS VARCHAR) AS body, CAST(tag AS VARCHAR) AS tag
       FROM (VALUES ${rows}) t(title, body, tag)`;
    // title: file a's min is the long text (cut, not exact), its max 'zebra' exact; file b holds the smallest.
    // body: file a's only value is the long text, the largest of the column; tag: file a's is the smallest.
    await writeParquet(db, lake.processedPath(A), select(`('${LONG}', '${LONG}', '${LOW}'), ('zebra', NULL, NULL)`));
    await writeParquet(db, lake.processedPath(B), select(`('apple', 'kiwi', 'b'), ('kiwi', 'apple', 'c')`));
    await lake.catalog.putTable({
      name: 'notes',
      description: 'Long text.',
      columns: [column('title', 'string'), column('body', 'string'), column('tag', 'string')],
      partitionKeys: [],
      location: 'notes/',
      origin: 'registered',
    });
    api = await startApi({ catalog: lake.catalog, store: lake.store });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  it('gives no min or max where the bound that decides it is a cut one, and exact bounds as they are', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'notes' });
    expect(errors).toBeUndefined();
    expect(data!.dataset.columns.map((c) => [c.name, c.stats])).toEqual([
      ['title', { nullCount: 0, min: 'apple', max: 'zebra' }],
      ['body', { nullCount: 1, min: 'apple', max: null }],
      ['tag', { nullCount: 1, min: null, max: 'c' }],
    ]);
  });
});
