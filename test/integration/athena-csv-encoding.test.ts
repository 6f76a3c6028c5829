import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvRecordEncoder } from '../../src/adapters/csv/csv-record-encoder.js';
import { exportDoubleText, exportFloatText } from '../../src/adapters/csv/export-cell-text.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { type CsvOptions, DEFAULT_CSV_OPTIONS } from '../../src/domain/export-request.js';
import { compileCsvCopy } from '../../src/domain/export-sql.js';

/**
 * The Athena engine writes CSV itself; these tests hold its encoder and number text to DuckDB's writer as the DuckDB
 * engine drives it (the same COPY options, from export-sql.ts), for every ASCII character and many doubles.
 */

let root: string;
let db: DuckDbDatabase;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-athena-csv-'));
  db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(root, 'tmp') });
});

afterAll(async () => {
  db?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function duckdbCsv(sql: string, params: string[], csv: CsvOptions): Promise<string> {
  const out = join(root, `out-${Math.random().toString(36).slice(2)}.csv`);
  const copy = compileCsvCopy({ sql, params }, out, csv);
  await db.withConnection((c) => c.run(copy.sql, copy.params));
  return readFile(out, 'utf8');
}

describe('CsvRecordEncoder', () => {
  it('quotes and escapes every ASCII character exactly as DuckDB does, for every delimiter kind', async () => {
    const cells: (string | null)[] = [null, '', ' ', 'NULL', '\\N', 'a"b', 'x y', 'é日本語 🚀'];
    for (let b = 1; b < 128; b++) cells.push(String.fromCharCode(b), `a${String.fromCharCode(b)}b`);
    const options: Partial<CsvOptions>[] = [
      {},
      { quoteAll: true },
      { delimiter: ';', nullText: 'NULL' },
      { delimiter: '\t', nullText: '\\N' },
      { delimiter: '#' },
      { delimiter: 'a', nullText: ' ' },
      { delimiter: '|', quoteAll: true, nullText: 'x y' },
    ];
    for (const o of options) {
      const csv = { ...DEFAULT_CSV_OPTIONS, ...o };
      const params: string[] = [];
      const rows = cells.map((cell, i) => {
        if (cell === null) return `(${i}, NULL)`;
        params.push(cell);
        return `(${i}, CAST($${params.length} AS VARCHAR))`;
      });
      const sql = `SELECT v AS "we,ird ""#"" name" FROM (VALUES ${rows.join(', ')}) t(i, v) ORDER BY i`;
      const encoder = new CsvRecordEncoder(csv);
      const want = await duckdbCsv(sql, params, csv);
      const got = encoder.encode(['we,ird "#" name']) + cells.map((c) => encoder.encode([c])).join('');
      expect({ options: o, csv: got }).toEqual({ options: o, csv: want });
    }
  });

  it('joins several fields as DuckDB does, quoting numbers that hold the delimiter or equal the null text', async () => {
    const csv = { ...DEFAULT_CSV_OPTIONS, delimiter: '-', nullText: '0' };
    const want = await duckdbCsv(
      `SELECT * FROM (VALUES (1, -5, 0, NULL::INTEGER, '1e-05', '-0.0')) t(a, b, c, d, e, f)`,
      [],
      csv,
    );
    const got =
      new CsvRecordEncoder(csv).encode(['a', 'b', 'c', 'd', 'e', 'f']) +
      new CsvRecordEncoder(csv).encode(['1', '-5', '0', null, '1e-05', '-0.0']);
    expect(got).toBe(want);
  });
});

describe('exportDoubleText', () => {
  it("writes every double as DuckDB's CSV writer does", async () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const values = [0, -0, 1e15, 1e16, 9999999999999998, 0.0001, 0.00001, 5e-324, 1.7976931348623157e308, 0.1 + 0.2];
    for (let i = 0; i < 3000; i++) {
      view.setUint32(0, next());
      view.setUint32(4, next());
      const x = view.getFloat64(0);
      if (Number.isFinite(x)) values.push(x);
      values.push((next() % 2_000_000) / 10 ** (next() % 12));
    }
    // Exact: each value's shortest text reads back as the same double in DuckDB.
    const params = values.map((x) => (Object.is(x, -0) ? '-0.0' : String(x)));
    const sql = `SELECT v FROM (VALUES ${params.map((_, i) => `(${i}, CAST($${i + 1} AS DOUBLE))`).join(', ')}) t(i, v) ORDER BY i`;
    const want = (await duckdbCsv(sql, params, { ...DEFAULT_CSV_OPTIONS, header: false })).split('\n').slice(0, -1);
    expect(values.map(exportDoubleText)).toEqual(want);
  });
});

describe('exportFloatText', () => {
  it("writes floats as DuckDB's CSV writer writes a FLOAT column: decimals of up to 6 digits, the float range's ends", async () => {
    let seed = 11;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const values = [0.1, -0.1, 0.3, 2.5, 100, 1e-5, 0.0001, 1e10, 1e16, 16777216, 3.4028234663852886e38, 2 ** -149];
    values.push(1.1754943508222875e-38, -0, 0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
    for (let i = 0; i < 3000; i++) values.push((next() % 1_000_000) / 10 ** (next() % 6));
    const params = values.map((x) => (Object.is(x, -0) ? '-0.0' : String(x)));
    const sql = `SELECT v FROM (VALUES ${params.map((_, i) => `(${i}, CAST($${i + 1} AS FLOAT))`).join(', ')}) t(i, v) ORDER BY i`;
    const want = (await duckdbCsv(sql, params, { ...DEFAULT_CSV_OPTIONS, header: false })).split('\n').slice(0, -1);
    expect(values.slice(0, 18).map(exportFloatText)).toEqual([
      '0.1',
      '-0.1',
      '0.3',
      '2.5',
      '100.0',
      '1e-05',
      '0.0001',
      '10000000000.0',
      '1e+16',
      '16777216.0',
      '3.4028235e+38',
      '1e-45',
      '1.1754944e-38',
      '-0.0',
      '0.0',
      'nan',
      'inf',
      '-inf',
    ]);
    expect(values.map(exportFloatText)).toEqual(want);
  });
});
