import { athenaParameter, compileAthenaQuery, quoteAthenaIdentifier } from '../../src/domain/athena-sql.js';
import {
  DEFAULT_EXPORT_LIMITS,
  type ExportRequestInput,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import { column, typesTable } from '../support/export-table.js';
import { TEST_MASK_KEY } from '../support/mask-key.js';

const table = typesTable();
const NEUTRALISED_NAME =
  `CASE WHEN substr("src"."name", 1, 1) IN (chr(61), chr(43), chr(45), chr(64), chr(9), chr(13)) ` +
  `THEN '''' || "src"."name" ELSE "src"."name" END AS "name"`;

function compile(input: Omit<ExportRequestInput, 'dataset'>, limit: number | null = null) {
  const request = normalizeExportRequest({ dataset: 'events', ...input }, table, DEFAULT_EXPORT_LIMITS);
  return compileAthenaQuery(request, table, { database: 'careplus', limit });
}

describe('compileAthenaQuery', () => {
  it('selects from the quoted Glue table, passes every client value as a parameter and neutralises text only', () => {
    const q = compile(
      {
        columns: ['id', 'name', 'score'],
        where: [
          { column: 'name', op: 'EQ', values: ["x'; DROP TABLE t; --"] },
          { column: 'amount', op: 'BETWEEN', values: ['1', '2.5'] },
        ],
        orderBy: [{ column: 'id', direction: 'DESC' }],
      },
      11,
    );
    expect(q.sql).toBe(
      `SELECT "src"."id" AS "id", ${NEUTRALISED_NAME}, "src"."score" AS "score" ` +
        'FROM "careplus"."events" AS "src" ' +
        'WHERE "src"."amount" BETWEEN ? AND ? AND "src"."name" = ? ' +
        'ORDER BY "src"."id" DESC NULLS LAST LIMIT 11',
    );
    expect(q.parameters).toEqual(["DECIMAL '1.0000'", "DECIMAL '2.5000'", "'x''; DROP TABLE t; --'"]);
  });

  it("adds the day key's range a range on its source column implies, so that Athena prunes the partitions", () => {
    const etl = typesTable({
      dayPartitionSource: 'created_at',
    });
    const request = normalizeExportRequest(
      {
        dataset: 'events',
        columns: ['id'],
        where: [{ column: 'created_at', op: 'BETWEEN', values: ['2024-03-01T22:00:00-05:00', '2024-03-05 12:00'] }],
      },
      etl,
      DEFAULT_EXPORT_LIMITS,
    );
    const q = compileAthenaQuery(request, etl, { database: 'careplus', limit: null });
    expect(q.sql).toBe(
      'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" ' +
        'WHERE "src"."created_at" BETWEEN ? AND ? AND "src"."event_date" BETWEEN ? AND ?',
    );
    expect(q.parameters).toEqual([
      "TIMESTAMP '2024-03-02 03:00:00.000000'",
      "TIMESTAMP '2024-03-05 12:00:00.000000'",
      "DATE '2024-03-02'",
      "DATE '2024-03-05'",
    ]);
    // Not for a table for which the catalog records no such column.
    expect(compileAthenaQuery(request, table, { database: 'careplus', limit: null }).parameters).toHaveLength(2);
  });

  it('types each parameter by its literal syntax, exactly', () => {
    const q = compile({
      columns: ['id'],
      where: [
        { column: 'id', op: 'EQ', values: ['9223372036854775807'] },
        { column: 'priority', op: 'IN', values: [-5, 42] },
        { column: 'score', op: 'LT', values: [0.1] },
        { column: 'active', op: 'EQ', values: [false] },
        { column: 'created_at', op: 'GTE', values: ['2024-03-01T14:00:00.123456+02:00'] },
        { column: 'day', op: 'LTE', values: ['2024-02-29'] },
        { column: 'amount', op: 'NE', values: ['-0.5'] },
        { column: 'email', op: 'STARTS_WITH', values: ["o'brien"] },
        { column: 'name', op: 'CONTAINS', values: ['%_'] },
      ],
    });
    expect(q.sql).toBe(
      'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" WHERE ' +
        [
          '"src"."active" = ?',
          '"src"."amount" <> ?',
          '"src"."created_at" >= ?',
          '"src"."day" <= ?',
          'starts_with("src"."email", ?)',
          '"src"."id" = ?',
          'strpos("src"."name", ?) > 0',
          '"src"."priority" IN (?, ?)',
          '"src"."score" < ?',
        ].join(' AND '),
    );
    expect(q.parameters).toEqual([
      'false',
      "DECIMAL '-0.5000'",
      "TIMESTAMP '2024-03-01 12:00:00.123456'",
      "DATE '2024-02-29'",
      "'o''brien'",
      "BIGINT '9223372036854775807'",
      "'%_'",
      "INTEGER '-5'",
      "INTEGER '42'",
      "DOUBLE '0.1'",
    ]);
  });

  it('sorts a double with its negative zero read as zero, as DuckDB sorts it, and other columns as they are', () => {
    const q = compile({ columns: ['score'], orderBy: [{ column: 'score', direction: 'DESC' }, { column: 'id' }] });
    expect(q.sql).toBe(
      'SELECT "src"."score" AS "score" FROM "careplus"."events" AS "src" ORDER BY ' +
        'CASE WHEN "src"."score" = 0 THEN 0E0 ELSE "src"."score" END DESC NULLS LAST, "src"."id" ASC NULLS LAST',
    );
  });

  it('keeps DuckDB semantics for NaN: equal to itself and above every number', () => {
    const cases: [ExportRequestInput['where'], string, string[]][] = [
      [[{ column: 'score', op: 'EQ', values: ['NaN'] }], 'is_nan("src"."score")', []],
      [[{ column: 'score', op: 'NE', values: ['nan'] }], 'NOT is_nan("src"."score")', []],
      [[{ column: 'score', op: 'LT', values: ['NaN'] }], 'NOT is_nan("src"."score")', []],
      [[{ column: 'score', op: 'LTE', values: ['NaN'] }], '"src"."score" IS NOT NULL', []],
      [[{ column: 'score', op: 'GT', values: ['NaN'] }], 'FALSE', []],
      [[{ column: 'score', op: 'GTE', values: ['NaN'] }], 'is_nan("src"."score")', []],
      [
        [{ column: 'score', op: 'GT', values: [1.5] }],
        '("src"."score" > ? OR is_nan("src"."score"))',
        ["DOUBLE '1.5'"],
      ],
      [
        [{ column: 'score', op: 'GTE', values: ['-Infinity'] }],
        '("src"."score" >= ? OR is_nan("src"."score"))',
        ["DOUBLE '-Infinity'"],
      ],
      [[{ column: 'score', op: 'LTE', values: ['Infinity'] }], '"src"."score" <= ?', ["DOUBLE 'Infinity'"]],
      [
        [{ column: 'score', op: 'IN', values: ['NaN', 2, 1e21] }],
        '("src"."score" IN (?, ?) OR is_nan("src"."score"))',
        ["DOUBLE '2'", "DOUBLE '1e+21'"],
      ],
      [[{ column: 'score', op: 'IN', values: ['NaN'] }], 'is_nan("src"."score")', []],
      [
        [{ column: 'score', op: 'BETWEEN', values: [0, 'NaN'] }],
        '(("src"."score" >= ? OR is_nan("src"."score")) AND "src"."score" IS NOT NULL)',
        ["DOUBLE '0'"],
      ],
    ];
    for (const [where, condition, parameters] of cases) {
      const q = compile({ columns: ['id'], where });
      expect({ sql: q.sql, parameters: q.parameters }).toEqual({
        sql: `SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" WHERE ${condition}`,
        parameters,
      });
    }
  });

  it('prunes partitions with predicates on the partition key and asks for the row cap plus one as a literal', () => {
    const q = compile(
      {
        columns: ['event_date', 'id'],
        partitions: { values: ['2024-01-02', '2024-01-01'] },
        where: [{ column: 'event_date', op: 'NE', values: ['2024-01-05'] }],
      },
      1001,
    );
    expect(q.sql).toBe(
      'SELECT "src"."event_date" AS "event_date", "src"."id" AS "id" FROM "careplus"."events" AS "src" ' +
        'WHERE "src"."event_date" <> ? AND "src"."event_date" IN (?, ?) LIMIT 1001',
    );
    expect(q.parameters).toEqual(["DATE '2024-01-05'", "DATE '2024-01-01'", "DATE '2024-01-02'"]);
    const range = compile({ columns: ['id'], partitions: { from: '2024-01-01', to: '2024-01-31' } });
    expect(range.sql).toBe(
      'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" ' +
        'WHERE "src"."event_date" >= ? AND "src"."event_date" <= ?',
    );
    expect(range.parameters).toEqual(["DATE '2024-01-01'", "DATE '2024-01-31'"]);
    // Values with a range are the values within it (normalizeExportRequest): the range is not asked again.
    expect(
      compile({ columns: ['id'], partitions: { values: ['2024-01-02', '2024-02-02'], to: '2024-01-31' } }),
    ).toMatchObject({
      sql: 'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" WHERE "src"."event_date" IN (?)',
      parameters: ["DATE '2024-01-02'"],
    });
  });

  it("hashes a double's and a float's IEEE 754 bytes and a timestamp's export text, as the DuckDB query does", () => {
    const floats = {
      ...table,
      columns: [...table.columns, { ...table.columns[0]!, name: 'ratio', type: 'float', kind: 'float' as const }],
    };
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['score', 'ratio', 'created_at'] },
      floats,
      DEFAULT_EXPORT_LIMITS,
      {
        allowedColumns: null,
        maskedColumns: ['score', 'ratio', 'created_at'].map((column) => ({ column, method: 'hash' as const })),
        rowFilter: [],
      },
    );
    const q = compileAthenaQuery(request, floats, { database: 'careplus', limit: null, maskKey: TEST_MASK_KEY });
    const key = TEST_MASK_KEY.toString('hex');
    const hashed = (bytes: string): string => `lower(to_hex(sha256(from_hex('${key}') || ${bytes})))`;
    expect(q.sql).toBe(
      `SELECT ${hashed('to_ieee754_64("src"."score")')} AS "score", ${hashed('to_ieee754_32("src"."ratio")')} AS "ratio", ` +
        `${hashed(`to_utf8(date_format("src"."created_at", '%Y-%m-%dT%H:%i:%s.%fZ'))`)} AS "created_at" ` +
        `FROM "careplus"."events" AS "src"`,
    );
  });

  it('leaves text alone when neutralisation is off, and masks columns from the grant', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['name', 'email', 'priority'], csv: { neutralizeFormulas: false } },
      table,
      DEFAULT_EXPORT_LIMITS,
      {
        allowedColumns: null,
        maskedColumns: [
          { column: 'email', method: 'hash' },
          { column: 'priority', method: 'redact' },
        ],
        rowFilter: [{ column: 'active', op: 'EQ', values: [true] }],
      },
    );
    const q = compileAthenaQuery(request, table, { database: 'careplus', limit: null, maskKey: TEST_MASK_KEY });
    const key = TEST_MASK_KEY.toString('hex');
    expect(q.sql).toBe(
      `SELECT "src"."name" AS "name", lower(to_hex(sha256(from_hex('${key}') || to_utf8(CAST("src"."email" AS varchar))))) AS "email", ` +
        `'REDACTED' AS "priority" FROM "careplus"."events" AS "src" WHERE "src"."active" = ?`,
    );
    expect(q.parameters).toEqual(['true']);
    expect(() => compileAthenaQuery(request, table, { database: 'careplus', limit: null })).toThrow(
      'a hash mask needs the mask key, and none was given to this engine',
    );
  });

  it('quotes hostile identifiers and orders by the stored value, not the neutralised one', () => {
    const odd = typesTable({ name: 'we"ird', columns: [column('na"me', 'string'), column('id', 'bigint')] });
    const request = normalizeExportRequest(
      { dataset: 'we"ird', orderBy: [{ column: 'na"me' }] },
      odd,
      DEFAULT_EXPORT_LIMITS,
    );
    const q = compileAthenaQuery(request, odd, { database: 'care"plus', limit: null });
    expect(q.sql).toBe(
      `SELECT CASE WHEN substr("src"."na""me", 1, 1) IN (chr(61), chr(43), chr(45), chr(64), chr(9), chr(13)) ` +
        `THEN '''' || "src"."na""me" ELSE "src"."na""me" END AS "na""me", "src"."id" AS "id", ` +
        `"src"."event_date" AS "event_date" FROM "care""plus"."we""ird" AS "src" ORDER BY "src"."na""me" ASC NULLS LAST`,
    );
    expect(quoteAthenaIdentifier('a"b')).toBe('"a""b"');
  });

  it('restricts the rows to the given files by "$path", each S3 URI a varchar parameter after the others', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', columns: ['id'], partitions: { values: ['2024-01-01'] } },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    const paths = [
      's3://careplus-processed/events/event_date=2024-01-01/part-0.parquet',
      "s3://careplus-processed/events/event_date=2024-01-01/part-o'brien.parquet",
    ];
    const q = compileAthenaQuery(request, table, { database: 'careplus', limit: 6, paths });
    expect(q).toEqual({
      sql:
        'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" ' +
        'WHERE "src"."event_date" IN (?) AND "src"."$path" IN (?, ?) LIMIT 6',
      parameters: [
        "DATE '2024-01-01'",
        "'s3://careplus-processed/events/event_date=2024-01-01/part-0.parquet'",
        "'s3://careplus-processed/events/event_date=2024-01-01/part-o''brien.parquet'",
      ],
    });
    // No file: no row (the engine does not ask Athena then, but the query says what it reads).
    expect(compileAthenaQuery(request, table, { database: 'careplus', limit: null, paths: [] }).sql).toBe(
      'SELECT "src"."id" AS "id" FROM "careplus"."events" AS "src" WHERE "src"."event_date" IN (?) AND FALSE',
    );
  });

  it('never puts a client value in the SQL text', () => {
    const needle = 'zz-needle-zz';
    const q = compile({
      where: [
        { column: 'name', op: 'IN', values: [`${needle}'"`, `${needle}2`] },
        { column: 'email', op: 'CONTAINS', values: [needle] },
      ],
    });
    expect(q.sql).not.toContain(needle);
    expect(q.sql.match(/\?/g)).toHaveLength(3);
    expect(q.parameters.every((p) => p.includes(needle))).toBe(true);
  });
});

describe('compileAthenaQuery on a float column', () => {
  const floats = typesTable({ columns: [...typesTable().columns, column('ratio', 'float')] });
  const compileFloat = (input: Omit<ExportRequestInput, 'dataset'>) =>
    compileAthenaQuery(normalizeExportRequest({ dataset: 'events', ...input }, floats, DEFAULT_EXPORT_LIMITS), floats, {
      database: 'careplus',
      limit: null,
    });

  it('compares with REAL values, so that = 0.1 matches the stored float 0.1, with the NaN terms of a double', () => {
    const q = compileFloat({
      columns: ['ratio'],
      where: [
        { column: 'ratio', op: 'EQ', values: [0.1] },
        { column: 'ratio', op: 'IN', values: [0.10000000149011612, 'NaN'] },
        { column: 'ratio', op: 'GT', values: ['-Infinity'] },
      ],
      orderBy: [{ column: 'ratio', direction: 'DESC' }],
    });
    expect(q.sql).toBe(
      'SELECT "src"."ratio" AS "ratio" FROM "careplus"."events" AS "src" WHERE ' +
        '"src"."ratio" = ? AND ("src"."ratio" > ? OR is_nan("src"."ratio")) AND ' +
        '("src"."ratio" IN (?) OR is_nan("src"."ratio")) ' +
        'ORDER BY CASE WHEN "src"."ratio" = 0 THEN 0E0 ELSE "src"."ratio" END DESC NULLS LAST',
    );
    // 0.10000000149011612 is the float 0.1 read as a double: the same float, so the same text.
    expect(q.parameters).toEqual(["REAL '0.1'", "REAL '-Infinity'", "REAL '0.1'"]);
  });
});

describe('athenaParameter', () => {
  it('writes each kind as the literal Athena types it by', () => {
    expect(athenaParameter("it's", 'string')).toBe("'it''s'");
    expect(athenaParameter('', 'string')).toBe("''");
    expect(athenaParameter(2147483647, 'int')).toBe("INTEGER '2147483647'");
    expect(athenaParameter('-9223372036854775808', 'bigint')).toBe("BIGINT '-9223372036854775808'");
    expect(athenaParameter('NaN', 'double')).toBe("DOUBLE 'NaN'");
    expect(athenaParameter(5e-324, 'double')).toBe("DOUBLE '5e-324'");
    expect(athenaParameter(0.1, 'float')).toBe("REAL '0.1'");
    expect(athenaParameter('Infinity', 'float')).toBe("REAL 'Infinity'");
    expect(athenaParameter(true, 'boolean')).toBe('true');
    expect(athenaParameter('0001-01-01', 'date')).toBe("DATE '0001-01-01'");
    expect(athenaParameter('1970-01-01T00:00:00.000000Z', 'timestamp')).toBe("TIMESTAMP '1970-01-01 00:00:00.000000'");
    expect(athenaParameter('-99999999999999.9999', 'decimal')).toBe("DECIMAL '-99999999999999.9999'");
  });
});
