import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import { dayKeysOf, impliedDayPredicates, partitionValuesOf, pruneFiles } from '../../src/domain/export-partitions.js';
import { column } from '../support/export-table.js';
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
        // Over union_by_name (the default), a decimal is compared as an expression (`+ 0`): see the test below.
        `WHERE (CAST(src."amount" AS DECIMAL(18,4)) + 0) BETWEEN CAST($1 AS DECIMAL(18,4)) AND CAST($2 AS DECIMAL(18,4)) AND ${name} = CAST($3 AS VARCHAR) ` +
        'ORDER BY CAST(src."id" AS BIGINT) DESC NULLS LAST LIMIT CAST($4 AS BIGINT)',
    );
    expect(q.params).toEqual(['1.0000', '2.5000', "x'; DROP TABLE t; --", '11']);
  });

  it('reads a float column as FLOAT and compares it with FLOAT values, so that = 0.1 matches the stored 0.1', () => {
    const floats = typesTable({ columns: [...typesTable().columns, column('ratio', 'float')] });
    const request = normalizeExportRequest(
      {
        dataset: 'events',
        columns: ['ratio'],
        where: [{ column: 'ratio', op: 'EQ', values: [0.1] }],
        orderBy: [{ column: 'ratio', direction: 'ASC' }],
      },
      floats,
      DEFAULT_EXPORT_LIMITS,
    );
    const q = compileExportQuery(request, floats, files, { limit: null, unionByName: false });
    const ratio = 'CAST(src."ratio" AS FLOAT)';
    expect(q.sql).toBe(
      `SELECT ${ratio} AS "ratio" ` +
        "FROM read_parquet(['/lake/events/event_date=2024-01-01/part-a.parquet'], hive_partitioning = true, union_by_name = false, hive_types = {'event_date': DATE}) AS src " +
        `WHERE ${ratio} = CAST($1 AS FLOAT) ORDER BY (${ratio} + 0.0) ASC NULLS LAST`,
    );
    expect(q.params).toEqual(['0.1']);
  });

  it('over files of different schemas (union_by_name), compares double, float and decimal columns as expressions, which DuckDB does not push into each file rounded', () => {
    const mixed = typesTable({ columns: [...typesTable().columns, column('ratio', 'float')] });
    const request = normalizeExportRequest(
      {
        dataset: 'events',
        columns: ['id'],
        where: [
          { column: 'ratio', op: 'EQ', values: [0.1] },
          { column: 'score', op: 'GT', values: [0.5] },
          { column: 'amount', op: 'IN', values: ['1.5'] },
          { column: 'id', op: 'LT', values: [9] },
          { column: 'name', op: 'NE', values: ['x'] },
        ],
      },
      mixed,
      DEFAULT_EXPORT_LIMITS,
    );
    const where = (unionByName: boolean): string =>
      compileExportQuery(request, mixed, files, { limit: null, unionByName }).sql.split(' WHERE ')[1]!;
    // The request's predicates in normal form are in column order.
    expect(where(true)).toBe(
      '(CAST(src."amount" AS DECIMAL(18,4)) + 0) IN (CAST($1 AS DECIMAL(18,4))) AND CAST(src."id" AS BIGINT) < CAST($2 AS BIGINT) ' +
        'AND CAST(src."name" AS VARCHAR) <> CAST($3 AS VARCHAR) AND (CAST(src."ratio" AS FLOAT) + 0) = CAST($4 AS FLOAT) ' +
        'AND (CAST(src."score" AS DOUBLE) + 0) > CAST($5 AS DOUBLE)',
    );
    expect(where(false)).toBe(
      'CAST(src."amount" AS DECIMAL(18,4)) IN (CAST($1 AS DECIMAL(18,4))) AND CAST(src."id" AS BIGINT) < CAST($2 AS BIGINT) ' +
        'AND CAST(src."name" AS VARCHAR) <> CAST($3 AS VARCHAR) AND CAST(src."ratio" AS FLOAT) = CAST($4 AS FLOAT) ' +
        'AND CAST(src."score" AS DOUBLE) > CAST($5 AS DOUBLE)',
    );
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

describe('a text partition folder that DuckDB would read as NULL (k=NULL/, k=null/)', () => {
  const regions = typesTable({
    columns: [column('id', 'bigint', { nullable: false })],
    partitionKeys: [column('region', 'string')],
  });
  const request = normalizeExportRequest(
    { dataset: 'events', columns: ['id', 'region'] },
    regions,
    DEFAULT_EXPORT_LIMITS,
  );

  it('takes the value from the file list, looked up only for rows read as NULL, the text as a parameter', () => {
    const q = compileExportQuery(
      request,
      regions,
      [
        { path: '/lake/r/region=eu/a.parquet', partitionValues: { region: 'eu' } },
        { path: '/lake/r/region=NULL/b.parquet', partitionValues: { region: 'NULL' } },
      ],
      { limit: null },
    );
    // Every row of the other files would otherwise be compared with each such file's name.
    expect(q.sql).toContain(
      `(SELECT * EXCLUDE ("__careplus_file") REPLACE (CASE WHEN "region" IS NULL THEN CASE "__careplus_file" ` +
        `WHEN '/lake/r/region=NULL/b.parquet' THEN CAST($1 AS VARCHAR) END ELSE "region" END AS "region") FROM read_parquet(`,
    );
    expect(q.params).toEqual(['NULL']);
  });

  it('reads other datasets as before', () => {
    const q = compileExportQuery(
      request,
      regions,
      [{ path: '/r/region=eu/a.parquet', partitionValues: { region: 'eu' } }],
      {
        limit: null,
      },
    );
    expect(q.sql).not.toContain('__careplus_file');
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

  describe('a day key pruned by a range on the column whose day it holds (an ETL table)', () => {
    const etl = typesTable({ dayPartitionSource: 'created_at' });
    const prune = (where: { column: string; op: string; values: (string | number)[] }[], t = etl): string[] =>
      keys(
        pruneFiles(listed, t, normalizeExportRequest({ dataset: 'events', where } as never, t, DEFAULT_EXPORT_LIMITS)),
      );

    it('reads the source from the catalog record of an ETL table only', () => {
      expect([...dayKeysOf(etl)]).toEqual([['event_date', 'created_at']]);
      expect([...dayKeysOf({ ...etl, origin: 'registered' })]).toEqual([]);
      expect([...dayKeysOf({ ...etl, origin: 'glue' })]).toEqual([]);
      // A source that is not a timestamp or date column of the table names nothing to prune by, nor does one of a
      // table with other keys than its one date key.
      expect([...dayKeysOf(typesTable({ dayPartitionSource: 'name' }))]).toEqual([]);
      expect([...dayKeysOf(typesTable({ dayPartitionSource: 'missing' }))]).toEqual([]);
      const twoKeys = [...etl.partitionKeys, column('region', 'string')];
      expect([...dayKeysOf({ ...etl, partitionKeys: twoKeys })]).toEqual([]);
      expect(prune([{ column: 'created_at', op: 'GTE', values: ['2024-01-02'] }], typesTable())).toHaveLength(4);
    });

    it('keeps the days a comparison can reach, the day of its value included', () => {
      expect(prune([{ column: 'created_at', op: 'GTE', values: ['2024-01-02T23:59:59Z'] }])).toEqual([
        'event_date=2024-01-02',
        'event_date=2024-01-03',
        'event_date=2024-02-01',
      ]);
      expect(prune([{ column: 'created_at', op: 'GT', values: ['2024-01-03 10:00'] }])).toEqual([
        'event_date=2024-01-03',
        'event_date=2024-02-01',
      ]);
      expect(prune([{ column: 'created_at', op: 'LTE', values: ['2024-01-02T00:00:00Z'] }])).toEqual([
        'event_date=2024-01-01',
        'event_date=2024-01-02',
      ]);
      // Before a midnight: not that day; before any later instant: that day too.
      expect(prune([{ column: 'created_at', op: 'LT', values: ['2024-01-03'] }])).toEqual([
        'event_date=2024-01-01',
        'event_date=2024-01-02',
      ]);
      expect(prune([{ column: 'created_at', op: 'LT', values: ['2024-01-03T00:00:00.000001Z'] }])).toEqual([
        'event_date=2024-01-01',
        'event_date=2024-01-02',
        'event_date=2024-01-03',
      ]);
      expect(prune([{ column: 'created_at', op: 'EQ', values: ['2024-01-02T08:00:00Z'] }])).toEqual([
        'event_date=2024-01-02',
      ]);
      expect(
        prune([
          { column: 'created_at', op: 'IN', values: ['2024-01-01T01:00:00Z', '2024-01-01T02:00:00Z', '2024-02-01'] },
        ]),
      ).toEqual(['event_date=2024-01-01', 'event_date=2024-02-01']);
      expect(
        prune([{ column: 'created_at', op: 'BETWEEN', values: ['2024-01-01T12:00:00Z', '2024-01-02T12:00:00Z'] }]),
      ).toEqual(['event_date=2024-01-01', 'event_date=2024-01-02']);
    });

    it('takes the UTC day of a value given with an offset', () => {
      // 2024-01-02 23:30 at -05:00 is 2024-01-03 04:30 UTC: the row is in the 2024-01-03 partition.
      expect(prune([{ column: 'created_at', op: 'EQ', values: ['2024-01-02T23:30:00-05:00'] }])).toEqual([
        'event_date=2024-01-03',
      ]);
    });

    it('implies nothing from the other operators', () => {
      for (const op of ['NE', 'IS_NULL', 'IS_NOT_NULL']) {
        const where = [{ column: 'created_at', op, values: op === 'NE' ? ['2024-01-02'] : [] }];
        expect(prune(where)).toHaveLength(4);
        const request = normalizeExportRequest({ dataset: 'events', where } as never, etl, DEFAULT_EXPORT_LIMITS);
        expect(impliedDayPredicates(etl, request)).toEqual([]);
      }
    });

    it('prunes by a row filter on the source as by a where', () => {
      const request = normalizeExportRequest({ dataset: 'events' }, etl, DEFAULT_EXPORT_LIMITS, {
        allowedColumns: null,
        maskedColumns: [],
        rowFilter: [{ column: 'created_at', op: 'GTE', values: ['2024-02-01T00:00:00Z'] }],
      });
      expect(keys(pruneFiles(listed, etl, request))).toEqual(['event_date=2024-02-01']);
    });
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
