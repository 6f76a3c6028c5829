import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportFloatText } from '../../src/adapters/csv/export-cell-text.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DEFAULT_CSV_OPTIONS } from '../../src/domain/export-request.js';
import { compileCsvCopy, quoteLiteral } from '../../src/domain/export-sql.js';
import { floatOfDecimalText } from '../../src/domain/float32.js';

/**
 * The Athena engine writes a FLOAT cell with exportFloatText; the DuckDB engine lets DuckDB's CSV writer write it.
 * These hold the two to the same bytes for a few hundred thousand floats of every kind (deterministic), and for the
 * floats where DuckDB's {fmt} does not write the shortest digits (2996100.25, 85904304.0).
 */

let root: string;
let db: DuckDbDatabase;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-float-text-'));
  db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(root, 'tmp') });
});

afterAll(async () => {
  db?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** DuckDB's CSV text of each value as a FLOAT column, through the export's COPY options. */
async function duckdbFloatCsv(values: number[]): Promise<string[]> {
  const input = join(root, 'in.csv');
  const out = join(root, 'out.csv');
  // String() names each double exactly (and each value is a float, so the FLOAT cast is exact).
  const text = (x: number): string =>
    Number.isNaN(x) ? 'nan' : Object.is(x, -0) ? '-0.0' : Number.isFinite(x) ? String(x) : x > 0 ? 'inf' : '-inf';
  await writeFile(input, values.map((x, i) => `${i},${text(x)}\n`).join(''));
  const sql =
    `SELECT CAST(v AS FLOAT) AS f FROM read_csv(${quoteLiteral(input)}, header = false, ` +
    `columns = {'i': 'BIGINT', 'v': 'DOUBLE'}) ORDER BY i`;
  const copy = compileCsvCopy({ sql, params: [] }, out, { ...DEFAULT_CSV_OPTIONS, header: false });
  await db.withConnection((c) => c.run(copy.sql, copy.params));
  return (await readFile(out, 'utf8')).split('\n').slice(0, -1);
}

function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const view = new DataView(new ArrayBuffer(4));
const fromBits = (bits: number): number => (view.setUint32(0, bits >>> 0), view.getFloat32(0));
const bitsOf = (x: number): number => (view.setFloat32(0, x), view.getUint32(0));

function generatedFloats(): number[] {
  const next = generator(20260101);
  const values: number[] = [];
  // Random bit patterns: every exponent, both signs (NaN bits become the one NaN).
  for (let i = 0; i < 150_000; i++) values.push(fromBits(next()));
  // Subnormals.
  for (let i = 0; i < 20_000; i++) values.push(fromBits(next() & 0x807fffff));
  // Decimals of 1 to 7 digits from 1e-40 to 1e38, rounded to floats.
  for (let i = 0; i < 100_000; i++) {
    const digits = 1 + (next() % 7);
    const mantissa = next() % 10 ** digits;
    const x = Math.fround(Number(`${mantissa}e${-40 - digits + 1 + (next() % 79)}`));
    if (Number.isFinite(x)) values.push(next() % 2 === 0 ? x : -x);
  }
  // Powers of two and of ten, and the floats either side of them.
  for (let k = -149; k <= 127; k++) {
    for (let d = -5; d <= 5; d++) values.push(fromBits(bitsOf(2 ** k) + d));
  }
  for (let k = -45; k <= 38; k++) {
    for (let d = -5; d <= 5; d++) values.push(fromBits(bitsOf(Math.fround(Number(`1e${k}`))) + d));
  }
  // Integers to 2^24 and beyond (where floats skip integers).
  for (let i = 0; i < 20_000; i++) values.push(next() % 2 ** 24, Math.fround(next() * 2 ** (next() % 40)));
  return values;
}

/**
 * Floats where fmt's Grisu search gives up (the first seven; for the first five DuckDB's digits are not the float's
 * shortest), then the float range's ends, subnormals, rounding and the layout's switches.
 */
const HARD: [number, string][] = [
  [2996100.2, '2996100.25'],
  [-3514309.25, '-3514309.25'],
  [1498417.75, '1498417.75'],
  [85904304, '85904304.0'],
  [365789216, '365789216.0'],
  [49854252, '49854252.0'],
  [59070092, '59070092.0'],
  [2 ** -149, '1e-45'],
  [7 * 2 ** -149, '1e-44'],
  [1.1754942106924411e-38, '1.1754942e-38'],
  [1.1754943508222875e-38, '1.1754944e-38'],
  [3.4028234663852886e38, '3.4028235e+38'],
  [-3.4028234663852886e38, '-3.4028235e+38'],
  [16777217, '16777216.0'],
  [1e15, '1000000000000000.0'],
  [1e16, '1e+16'],
  [0.0001, '0.0001'],
  [1e-5, '1e-05'],
  [0, '0.0'],
  [-0, '-0.0'],
  [Number.NaN, 'nan'],
  [Number.POSITIVE_INFINITY, 'inf'],
  [Number.NEGATIVE_INFINITY, '-inf'],
];

describe('exportFloatText against DuckDB', () => {
  it("writes the floats where DuckDB's digits are not the shortest as DuckDB does", async () => {
    const values = HARD.map(([x]) => Math.fround(x));
    expect(await duckdbFloatCsv(values)).toEqual(HARD.map(([, text]) => text));
    expect(values.map(exportFloatText)).toEqual(HARD.map(([, text]) => text));
  });

  it("writes a few hundred thousand floats of every kind as DuckDB's CSV writer does", async () => {
    const values = generatedFloats();
    const want = await duckdbFloatCsv(values);
    expect(want).toHaveLength(values.length);
    const wrong: { value: number; duckdb: string; ours: string }[] = [];
    values.forEach((value, i) => {
      const ours = exportFloatText(value);
      if (ours !== want[i]) wrong.push({ value, duckdb: want[i]!, ours });
    });
    expect({ mismatches: wrong.length, first: wrong.slice(0, 10) }).toEqual({ mismatches: 0, first: [] });
  });
});

/** The exact decimal expansion of a positive double. */
function exactDecimal(x: number): string {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const bits = v.getBigUint64(0);
  let e = Number(bits >> 52n);
  let f = bits & ((1n << 52n) - 1n);
  if (e === 0) e = 1;
  else f |= 1n << 52n;
  e -= 1075;
  if (e >= 0) return (f << BigInt(e)).toString();
  const digits = (f * 5n ** BigInt(-e)).toString().padStart(-e + 1, '0');
  return `${digits.slice(0, digits.length + e)}.${digits.slice(digits.length + e)}`;
}

describe('floatOfDecimalText against DuckDB', () => {
  it("rounds decimal text to a float as DuckDB's CAST(text AS FLOAT) does, where rounding to a double first ties the other way", async () => {
    const next = generator(20261128);
    const texts = ['1.00000005960464477539062500001', '3.4028235677973366e38', '-3.4028235677973366e38', '1e39'];
    // Around the halfway points between adjacent floats: exactly on one, just above and below it, and the shortest
    // text of the double there, which lies on either side.
    for (let i = 0; i < 5_000; i++) {
      const a = fromBits(next() % 0x7f7fffff);
      const b = fromBits(bitsOf(a) + 1);
      const halfway = (a + b) / 2;
      const exact = exactDecimal(halfway);
      const below = exact.replace(
        /([1-9])(0*)$/,
        (_m, d: string, zeros: string) => `${Number(d) - 1}${'9'.repeat(zeros.length)}`,
      );
      texts.push(
        exact,
        `${exact.includes('.') ? exact : `${exact}.`}0000001`,
        below,
        String(halfway),
        `-${String(halfway)}`,
      );
    }
    const input = join(root, 'texts.csv');
    await writeFile(input, texts.map((t, i) => `${i},${t}\n`).join(''));
    const rows = await db.withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT CAST(CAST(s AS FLOAT) AS DOUBLE) FROM read_csv(${quoteLiteral(input)}, header = false, ` +
            `columns = {'i': 'BIGINT', 's': 'VARCHAR'}) ORDER BY i`,
        )
      ).getRows(),
    );
    const wrong = texts.flatMap((t, i) =>
      Object.is(floatOfDecimalText(t), rows[i]![0])
        ? []
        : [{ text: t, duckdb: rows[i]![0], ours: floatOfDecimalText(t) }],
    );
    expect({ mismatches: wrong.length, first: wrong.slice(0, 5) }).toEqual({ mismatches: 0, first: [] });
    // Rounding to a double first gave another float for a good share of them.
    expect(texts.filter((t, i) => !Object.is(Math.fround(Number(t)), rows[i]![0])).length).toBeGreaterThan(1_000);
  });
});
