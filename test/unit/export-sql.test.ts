import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import { pruneFiles, partitionValuesOf } from '../../src/domain/export-partitions.js';
import { compileCsvCopy, compileExportQuery } from '../../src/domain/export-sql.js';
import { typesTable } from '../support/export-table.js';
import { TEST_MASK_KEY } from '../support/mask-key.js';

const table = typesTable();
const files = [
  { path: '/lake/events/event_date=2024-01-01/part-a.parquet', partitionValues: { event_date: '2024-01-01' } },
];

describe('compileExportQuery', () => {
  it('quotes identifiers, binds every client value as a parameter and neutralises only text columns', () => {
    const request = normalizeExportRequest(
      {
        dataset: 'events',
        columns: ['id', 'name', 'score'],
        where: [
          { column: 'name', op: 'EQ', values: ["x'; DROP TABLE t; --"] },
          { column: 'amount', op: 'BETWEEN', values: ['1', '2.5'] },
        ],
        orderBy: [{ column: 'id', direction: 'DESC' }],
      },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    const q = compileExportQuery(request, table, files, { limit: 11 });
    // Every column read as its catalog type (a no-op DuckDB drops where the file has that type).
    const name = 'CAST(src."name" AS VARCHAR)';
    expect(q.sql).toBe(
      'SELECT CAST(src."id" AS BIGINT) AS "id", ' +
        `CASE WHEN ascii(${name}) <= 64 AND (ascii(${name}) = 61 OR ascii(${name}) = 43 OR ascii(${name}) = 45 ` +
        `OR ascii(${name}) = 64 OR ascii(${name}) = 9 OR ascii(${name}) = 13) THEN '''' || ${name} ELSE ${name} END AS "name", ` +
        'CAST(src."score" AS DOUBLE) AS "score" ' +
        "FROM read_parquet(['/lake/events/event_date=2024-01-01/part-a.parquet'], hive_partitioning = true, union_by_name = true, hive_types = {'event_date': DATE}) AS src " +
        `WHERE CAST(src."amount" AS DECIMAL(18,4)) BETWEEN CAST($1 AS DECIMAL(18,4)) AND CAST($2 AS DECIMAL(18,4)) AND ${name} = CAST($3 AS VARCHAR) ` +
        'ORDER BY CAST(src."id" AS BIGINT) DESC NULLS LAST LIMIT CAST($4 AS BIGINT)',
    );
    expect(q.params).toEqual(['1.0000', '2.5000', "x'; DROP TABLE t; --", '11']);
  });

  it('writes no neutralisation when it is off, and masks columns from the grant', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['name', 'email', 'priority'], csv: { neutralizeFormulas: false } },
      table,
      DEFAULT_EXPORT_LIMITS,
      {
        allowedColumns: null,
        maskedColumns: [
          { column: 'email', method: 'hash' },
          { column: 'priority', method: 'hash' },
        ],
        rowFilter: [{ column: 'active', op: 'EQ', values: [true] }],
      },
    );
    const q = compileExportQuery(request, table, files, { limit: null, maskKey: TEST_MASK_KEY });
    // SHA-256 of the key's bytes and the text; the key bound once as a parameter for every hashed column.
    const hash = (ref: string): string => `sha256(unhex($1) || encode(CAST(${ref} AS VARCHAR)))`;
    expect(q.sql).toBe(
      `SELECT CAST(src."name" AS VARCHAR) AS "name", ${hash('CAST(src."email" AS VARCHAR)')} AS "email", ${hash('CAST(src."priority" AS INTEGER)')} AS "priority" ` +
        "FROM read_parquet(['/lake/events/event_date=2024-01-01/part-a.parquet'], hive_partitioning = true, union_by_name = true, hive_types = {'event_date': DATE}) AS src " +
        'WHERE CAST(src."active" AS BOOLEAN) = CAST($2 AS BOOLEAN)',
    );
    expect(q.params).toEqual([TEST_MASK_KEY.toString('hex'), 'true']);
    expect(q.sql).not.toContain(TEST_MASK_KEY.toString('hex'));
    // Without a key a hashed column cannot be compiled (never a plain, guessable SHA-256).
    expect(() => compileExportQuery(request, table, files, { limit: null })).toThrow(
      'a hash mask needs the mask key, and none was given to this engine',
    );
  });

  it('reads the files without matching columns by name when they are known to share one schema', () => {
    const request = normalizeExportRequest({ dataset: 'events', columns: ['id'] }, table, DEFAULT_EXPORT_LIMITS);
    expect(compileExportQuery(request, table, files, { limit: null, unionByName: false }).sql).toBe(
      'SELECT CAST(src."id" AS BIGINT) AS "id" ' +
        "FROM read_parquet(['/lake/events/event_date=2024-01-01/part-a.parquet'], hive_partitioning = true, union_by_name = false, hive_types = {'event_date': DATE}) AS src",
    );
  });

  it('selects typed empty columns when pruning left no file', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['id', 'amount'] },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    expect(compileExportQuery(request, table, [], { limit: null })).toEqual({
      sql: 'SELECT CAST(NULL AS BIGINT) AS "id", CAST(NULL AS DECIMAL(18,4)) AS "amount" LIMIT 0',
      params: [],
    });
  });

  it('compiles the CSV options into the COPY statement, escaping literals', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['id'], csv: { delimiter: ';', quoteAll: true, nullText: "n'a", header: false } },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    const copy = compileCsvCopy({ sql: 'SELECT 1', params: [] }, "/tmp/o'ut.csv", request.csv);
    expect(copy.sql).toBe(
      "COPY (SELECT 1) TO '/tmp/o''ut.csv' (FORMAT csv, HEADER false, DELIMITER ';', QUOTE '\"', ESCAPE '\"', " +
        "NULLSTR 'n''a', FORCE_QUOTE *, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%fZ', DATEFORMAT '%Y-%m-%d')",
    );
  });
});

describe('partition pruning', () => {
  const listed = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-02-01'].map((d) => ({
    key: `events/event_date=${d}/part-x.parquet`,
    values: { event_date: d },
  }));
  const keys = (r: { key: string }[]): string[] => r.map((f) => f.key.split('/')[1]!);

  it('reads partition values from keys and skips marker folders', () => {
    expect(partitionValuesOf('events/', 'events/event_date=2024-01-01/part-x.parquet')).toEqual({
      event_date: '2024-01-01',
    });
    expect(partitionValuesOf('events/', 'events/region=eu%2Fwest/part-x.parquet')).toEqual({ region: 'eu/west' });
    expect(partitionValuesOf('events/', 'events/_tmp/part-x.parquet')).toBeUndefined();
    expect(partitionValuesOf('events/', 'events/event_date=2024-01-01/.part-x.parquet.crc')).toBeUndefined();
  });

  it('keeps only files of the partition filter', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', partitions: { from: '2024-01-02', to: '2024-01-31' } },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    expect(keys(pruneFiles(listed, table, request))).toEqual(['event_date=2024-01-02', 'event_date=2024-01-03']);
  });

  it('prunes by where predicates and row filters on partition keys', () => {
    const request = normalizeExportRequest(
      {
        dataset: 'events',
        where: [
          { column: 'event_date', op: 'IN', values: ['2024-01-01', '2024-02-01'] },
          { column: 'name', op: 'EQ', values: ['x'] },
        ],
      },
      table,
      DEFAULT_EXPORT_LIMITS,
      {
        allowedColumns: null,
        maskedColumns: [],
        rowFilter: [{ column: 'event_date', op: 'GTE', values: ['2024-01-15'] }],
      },
    );
    expect(keys(pruneFiles(listed, table, request))).toEqual(['event_date=2024-02-01']);
  });

  it('keeps a file whose partition value cannot be read rather than drop data', () => {
    const odd = [...listed, { key: 'events/event_date=garbage/part-x.parquet', values: { event_date: 'garbage' } }];
    const request = normalizeExportRequest(
      { dataset: 'events', partitions: { values: ['2024-01-01'] } },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    expect(keys(pruneFiles(odd, table, request))).toEqual(['event_date=2024-01-01', 'event_date=garbage']);
  });
});
