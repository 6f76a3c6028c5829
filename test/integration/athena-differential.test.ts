import type { EffectiveGrant, MaskMethod } from '../../src/domain/export-grant.js';
import { exportResultPrefix, type ExportJobResult } from '../../src/domain/export-job.js';
import type { ExportPlan } from '../../src/domain/export-plan.js';
import {
  type CsvOptionsInput,
  type ExportFilterOp,
  type ExportOrderByInput,
  type ExportPartitionFilterInput,
  type ExportPredicateInput,
  type ExportRequestInput,
  DEFAULT_EXPORT_LIMITS,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import { coerceValue, compareValues, type JsonScalar } from '../../src/domain/export-values.js';
import type { TableColumn, TableDefinition } from '../../src/domain/table.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import { SeededRandom } from '../../src/sample/seeded-random.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { type AthenaLake, createAthenaLake } from '../support/athena-lake.js';
import { parseCsv } from '../support/export-lake.js';
import {
  BIGINTS,
  BOOLEANS,
  DATES,
  DECIMALS,
  DOUBLES,
  INTS,
  STRINGS,
  TIMESTAMPS,
  ZONED,
} from '../support/export-fidelity-values.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * A randomised differential test of the two engines: for a few hundred random requests (column subsets and order,
 * `where` predicates of every operator with each type's edge values, partition filters, several sort keys over
 * nulls, NaN, -0.0 and ties, limits, CSV options, gzip, redact and hash masks, row filters), the Athena engine (real
 * AthenaClient, the Athena stand-in, the S3-protocol server, Glue through its stand-in) writes the bytes the DuckDB
 * engine writes (gzip compared decompressed). The seed is fixed (CAREPLUS_DIFF_SEED overrides it, CAREPLUS_DIFF_RUNS
 * the count); a failure prints the seed and each request that differed.
 *
 * Not drawn: a limit without a total order (which rows it keeps is the engine's choice), so a
 * limited request always ends its sort on the unique `id`. A request without orderBy is compared as a multiset of
 * records, and is never cut into small parts (where a part ends depends on the order).
 */

const SEED = Number(process.env['CAREPLUS_DIFF_SEED'] ?? 20261127);
const RUNS = Number(process.env['CAREPLUS_DIFF_RUNS'] ?? 250);
/** Requests in flight at once (each runs on both engines). */
const BATCH = 4;
const ROWS = 120;
const PARTITIONS = ['2024-01-01', '2024-01-02', '2024-01-03'];
/** Part sizes of the engines' pairs, in bytes: the default (one part), and small ones that cut many parts. */
const PART_SIZES = [1024 ** 3, 700, 4_000];

const table = typesTable({
  columns: [...typesTable().columns, column('updated_at', 'timestamp'), column('big', 'bigint')],
});
const COLUMNS: TableColumn[] = [...table.columns, ...table.partitionKeys];

/**
 * The fixture's values: the fidelity values and a few more edges: a positive zero beside the negative one (a tie in
 * ORDER BY), doubles at the bounds of each engine's notation, instants next to the epoch and the ends of the calendar,
 * text that only quoting keeps intact.
 */
const DOUBLE_VALUES = [
  ...DOUBLES,
  '0.0',
  '-5.5',
  '1e16',
  '1e15',
  '1e-5',
  '0.0001',
  '1e7',
  '0.001',
  '1.7976931348623157e308',
  '-2.2250738585072014e-308',
  '9007199254740993',
];
const TIMESTAMP_VALUES = [
  ...TIMESTAMPS,
  '1969-12-31 23:59:59.999999',
  '0001-01-01 00:00:00',
  '9999-12-31 23:59:59.999999',
  '2024-03-01 12:34:56.789',
];
const STRING_VALUES = [...STRINGS, '#start', '"', '  ', 'Ω', 'a\\b', "it's", 'a,b;c|d'];

function lit(v: string | null): string {
  return v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`;
}
/** Row i takes value (i * stride) modulo the list's length: strides prime to the lengths mix the columns. */
function pick<T>(list: readonly T[], i: number, stride: number): T {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  if (gcd(stride, list.length) !== 1) throw new Error(`stride ${stride} would skip values of a list of ${list.length}`);
  return list[(i * stride) % list.length]!;
}

function fixtureSql(ids: number[]): string {
  const rows = ids.map(
    (i) =>
      `(${i}, ${lit(pick(STRING_VALUES, i, 7))}, CAST(${pick(INTS, i, 5) ?? 'NULL'} AS INTEGER), ` +
      `${lit(pick(DOUBLE_VALUES, i, 4))}::DOUBLE, ${pick(BOOLEANS, i, 1) ?? 'NULL'}::BOOLEAN, ` +
      `${lit(pick(TIMESTAMP_VALUES, i, 3))}::TIMESTAMP, ${lit(pick(DATES, i, 3))}::DATE, ` +
      `${lit(pick(DECIMALS, i, 3))}::DECIMAL(18,4), ${lit(pick(STRING_VALUES, i, 3))}, ` +
      `${lit(pick(ZONED, i, 2))}::TIMESTAMPTZ, ${lit(pick(BIGINTS, i, 2))}::BIGINT)`,
  );
  return (
    `SELECT row_no::BIGINT AS id, name, priority, score, active, created_at, day, amount, email, updated_at, big ` +
    `FROM (VALUES ${rows.join(', ')}) v(row_no, name, priority, score, active, created_at, day, amount, email, updated_at, big)`
  );
}

// ---- random requests ------------------------------------------------------------------------------------------

/** The project's seeded generator (the sample data's), as a function: a seed names one sequence of requests. */
function generator(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

class Draw {
  constructor(private readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  one<T>(list: readonly T[]): T {
    return list[this.int(0, list.length - 1)]!;
  }
  some<T>(list: readonly T[], lo: number, hi: number): T[] {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out.slice(0, Math.min(out.length, this.int(lo, hi)));
  }
}

const nonNull = <T>(list: readonly (T | null)[]): T[] => list.filter((v): v is T => v !== null);
const iso = (sql: string): string => `${sql.replace(' ', 'T')}Z`;

/** Filter values per column: the fixture's values and their neighbours, as a client would send them. */
const VALUES: Record<string, JsonScalar[]> = {
  id: [0, 1, 59, 60, 119, 120, -1, '7'],
  name: [...nonNull(STRING_VALUES), 'a', 'pl', 'é', '=', ' ', "'", 'Z', '\u{10FFFF}'],
  email: [...nonNull(STRING_VALUES), 'inside', 'line', '\n', ''],
  priority: [...nonNull(INTS), 1, -6, 41],
  score: [
    'NaN',
    -5.5,
    0,
    '-0.0',
    1e20,
    5e-324,
    0.1,
    'Infinity',
    '-Infinity',
    '123456789.123456789',
    -1,
    1e-7,
    '1e16',
    0.001,
  ],
  active: [true, false],
  created_at: [...nonNull(TIMESTAMP_VALUES).map(iso), '2024-03-01T12:34:56.789Z', '1969-12-31T23:59:59Z'],
  updated_at: ['2024-03-01T10:00:00Z', '2024-06-01T05:30:00Z', '2024-03-01T12:00:00+02:00', '2024-06-01T05:29:59Z'],
  day: [...nonNull(DATES), '2024-02-28', '2024-03-01'],
  amount: [...nonNull(DECIMALS), '12.34', '-1', '0.00001', 12.34],
  big: [...nonNull(BIGINTS), '9007199254740992', '-9223372036854775807', 9007199254740991],
  event_date: [...PARTITIONS, '2023-12-31', '2024-01-04'],
};
const COMPARISONS: ExportFilterOp[] = ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE'];
const DELIMITERS = [
  ',',
  ';',
  '\t',
  '|',
  ' ',
  '#',
  "'",
  '-',
  '.',
  ':',
  'e',
  'a',
  'n',
  '0',
  '1',
  'T',
  'Z',
  '\\',
  '=',
  'N',
];
const NULL_TEXTS = [
  '',
  'NULL',
  'null',
  '\\N',
  '0',
  '0.0',
  '-0.0',
  'nan',
  'inf',
  'true',
  'false',
  '-',
  'REDACTED',
  ' ',
  'x y',
  '#',
  "'",
];

function drawPredicate(d: Draw, c: TableColumn): ExportPredicateInput {
  const ops: ExportFilterOp[] = [...COMPARISONS, 'IN', 'BETWEEN', 'IS_NULL', 'IS_NOT_NULL'];
  if (c.kind === 'string') ops.push('CONTAINS', 'STARTS_WITH', 'CONTAINS', 'STARTS_WITH');
  const op = d.one(ops);
  const values = VALUES[c.name]!;
  switch (op) {
    case 'IS_NULL':
    case 'IS_NOT_NULL':
      return { column: c.name, op };
    case 'IN':
      return { column: c.name, op, values: d.some(values, 1, 4) };
    case 'BETWEEN': {
      const [a, b] = [d.one(values), d.one(values)];
      let ordered = [a, b];
      try {
        if (compareValues(c.kind, coerceValue(a, c), coerceValue(b, c)) > 0) ordered = [b, a];
      } catch {
        // A value the column refuses: both engines get the same refusal.
      }
      return { column: c.name, op, values: ordered };
    }
    case 'CONTAINS':
    case 'STARTS_WITH': {
      const text = String(d.one(values));
      const from = d.int(0, text.length);
      return { column: c.name, op, values: [text.slice(from, d.int(from, text.length))] };
    }
    default:
      return { column: c.name, op, values: [d.one(values)] };
  }
}

interface Drawn {
  input: Partial<ExportRequestInput>;
  grant: EffectiveGrant | null;
  /** Index into PART_SIZES. */
  partSize: number;
}

function drawRequest(d: Draw): Drawn {
  let grant: EffectiveGrant | null = null;
  if (d.chance(0.3)) {
    const allowed = d.chance(0.5)
      ? null
      : [
          'id',
          ...d.some(
            COLUMNS.map((c) => c.name).filter((n) => n !== 'id'),
            3,
            11,
          ),
        ];
    const visible = COLUMNS.filter((c) => allowed === null || allowed.includes(c.name));
    const maskedColumns = d
      .some(
        visible.filter((c) => c.name !== 'id'),
        0,
        3,
      )
      .map((c) => {
        const method: MaskMethod = d.chance(0.6) ? 'hash' : 'redact';
        return { column: c.name, method };
      });
    const rowFilter = d.chance(0.3) ? [drawPredicate(d, d.one(COLUMNS))] : [];
    grant = { allowedColumns: allowed, maskedColumns, rowFilter };
  }
  const visible = COLUMNS.filter((c) => grant?.allowedColumns == null || grant.allowedColumns.includes(c.name));
  const masked = new Set((grant?.maskedColumns ?? []).map((m) => m.column));
  const usable = visible.filter((c) => !masked.has(c.name));

  const input: Partial<ExportRequestInput> = {};
  if (d.chance(0.7)) input.columns = d.some(visible, 1, visible.length).map((c) => c.name);
  if (d.chance(0.7)) input.where = Array.from({ length: d.chance(0.7) ? 1 : 2 }, () => drawPredicate(d, d.one(usable)));
  if (usable.some((c) => c.name === 'event_date') && d.chance(0.3)) {
    const partitions: ExportPartitionFilterInput = {};
    if (d.chance(0.5)) partitions.values = d.some(VALUES['event_date']! as string[], 1, 3);
    else {
      const [a, b] = [d.one(VALUES['event_date']!), d.one(VALUES['event_date']!)] as string[];
      const [from, to] = a! <= b! ? [a!, b!] : [b!, a!];
      if (d.chance(0.7)) partitions.from = from;
      if (d.chance(0.7)) partitions.to = to;
    }
    input.partitions = partitions;
  }
  const limited = d.chance(0.4);
  if (limited || d.chance(0.8)) {
    const orderBy: ExportOrderByInput[] = d
      .some(usable, 1, 3)
      .map((c) => ({ column: c.name, ...(d.chance(0.5) ? { direction: d.one(['ASC', 'DESC'] as const) } : {}) }));
    // Ties are broken by the unique id, so the order (and what a limit keeps) is the request's, not the engine's.
    if (!orderBy.some((o) => o.column === 'id')) orderBy.push({ column: 'id', direction: d.one(['ASC', 'DESC']) });
    input.orderBy = orderBy;
    if (limited) input.limit = d.int(1, ROWS + 5);
  }
  if (d.chance(0.7)) {
    const csv: CsvOptionsInput = {};
    if (d.chance(0.5)) csv.header = d.chance(0.5);
    if (d.chance(0.6)) csv.delimiter = d.one(DELIMITERS);
    if (d.chance(0.5)) csv.quoteAll = d.chance(0.5);
    if (d.chance(0.6)) {
      const nullText = d.one(NULL_TEXTS);
      if (!nullText.includes(csv.delimiter ?? ',')) csv.nullText = nullText;
    }
    if (d.chance(0.3)) csv.bom = d.chance(0.5);
    if (d.chance(0.5)) csv.neutralizeFormulas = d.chance(0.5);
    input.csv = csv;
  }
  if (d.chance(0.3)) input.compression = 'GZIP';
  // Where parts are cut depends on the order of the records: only an ordered export is cut into small parts.
  const partSize = input.orderBy === undefined || d.chance(0.7) ? 0 : d.int(1, PART_SIZES.length - 1);
  return { input, grant, partSize };
}

// ---- running and comparing --------------------------------------------------------------------------------------

interface Output {
  result: ExportJobResult;
  /** Each file's bytes, gunzipped for gzip. */
  texts: Buffer[];
}

/** Runs one engine on the plan, as the service would for job `id`; a failure is its code and message. */
async function runEngine(
  lake: AthenaLake,
  engine: ExportEngine,
  id: string,
  plan: ExportPlan,
): Promise<Output | string> {
  let result: ExportJobResult;
  try {
    result = await engine.run({ id }, plan, { signal: new AbortController().signal, onProgress: () => undefined });
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
  }
  const texts = await Promise.all(
    result.files.map((f) => lake.resultFile(`${exportResultPrefix(id)}${f.name}`).then((r) => r.text)),
  );
  return { result, texts };
}

/** What differs between the two outputs, or null when they are the same. */
function difference(drawn: Drawn, want: Output | string, got: Output | string): string | null {
  if (typeof want === 'string' || typeof got === 'string') {
    // Refused before planning: the same refusal for both. Planned: both must succeed.
    const outcome = (o: Output | string): string => (typeof o === 'string' ? o : 'SUCCEEDED');
    return typeof want === 'string' && want === got && want.startsWith('refused')
      ? null
      : `duckdb: ${outcome(want)}\nathena: ${outcome(got)}`;
  }
  const shape = (o: Output): string =>
    JSON.stringify({
      files: o.result.files.map((f) => [f.name, f.rowCount]),
      rowCount: o.result.rowCount,
      truncated: o.result.truncated,
    });
  if (shape(want) !== shape(got)) return `duckdb: ${shape(want)}\nathena: ${shape(got)}`;
  const a = Buffer.concat(want.texts);
  const b = Buffer.concat(got.texts);
  if ((drawn.input.orderBy ?? []).length === 0) {
    // No order asked: the same records in any order.
    const csv = { delimiter: drawn.input.csv?.delimiter ?? ',', nullText: drawn.input.csv?.nullText ?? '' };
    const records = (text: Buffer): string[] => {
      const bom = text.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]));
      const rows = parseCsv(bom ? text.subarray(3) : text, csv).map((r) => JSON.stringify(r));
      const header = drawn.input.csv?.header === false ? [] : rows.splice(0, 1);
      return [String(bom), ...header, ...rows.sort()];
    };
    const [x, y] = [records(a), records(b)];
    const i = x.findIndex((r, n) => r !== y[n]);
    return i < 0 && x.length === y.length ? null : `record ${i}:\nduckdb: ${x[i]}\nathena: ${y[i]}`;
  }
  if (a.equals(b)) return null;
  const [x, y] = [a.toString('utf8').split('\n'), b.toString('utf8').split('\n')];
  const i = x.findIndex((line, n) => line !== y[n]);
  return `line ${i + 1}:\nduckdb: ${JSON.stringify(x[i])}\nathena: ${JSON.stringify(y[i])}`;
}

describe('the Athena engine writes the DuckDB engine’s bytes for random requests', () => {
  let lake: AthenaLake;
  let tableDef: TableDefinition;
  let planner: ExportPlanner;
  /** A DuckDB and an Athena engine per part size. */
  const engines: [ExportEngine, ExportEngine][] = [];

  beforeAll(async () => {
    lake = await createAthenaLake({ hiveTimestampPrecision: 6, queuedMs: 0, runningMs: 0 });
    const ids = Array.from({ length: ROWS }, (_, i) => i);
    for (const [n, date] of PARTITIONS.entries()) {
      await lake.writeParquet(
        `events/event_date=${date}/part-${n}.parquet`,
        fixtureSql(ids.filter((i) => i % PARTITIONS.length === n)),
      );
    }
    await lake.registerTable(table);
    tableDef = (await lake.catalog.getTable('events'))!;
    planner = new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));
    for (const partSizeBytes of PART_SIZES) {
      engines.push([
        await lake.duckdbEngine({ partSizeBytes }),
        lake.athenaEngine({ partSizeBytes, pollIntervalMs: 5, maxPollIntervalMs: 10 }),
      ]);
    }
  }, 60_000);

  afterAll(async () => {
    await lake?.close();
  });

  /** The engines' outputs for one request, planned once as the service plans it; a refused request is its message. */
  async function both(drawn: Drawn, n: number): Promise<[Output | string, Output | string]> {
    let plan: ExportPlan;
    try {
      const request = normalizeExportRequest(
        { dataset: 'events', ...drawn.input },
        tableDef,
        DEFAULT_EXPORT_LIMITS,
        drawn.grant,
      );
      plan = await planner.plan(tableDef, request, DEFAULT_EXPORT_LIMITS.maxRows);
    } catch (err) {
      const refused = `refused: ${(err as Error).message}`;
      return [refused, refused];
    }
    const [duckdb, athena] = engines[drawn.partSize]!;
    return Promise.all([runEngine(lake, duckdb, `duckdb-${n}`, plan), runEngine(lake, athena, `athena-${n}`, plan)]);
  }

  it(`agrees on ${RUNS} random requests (seed ${SEED})`, async () => {
    const d = new Draw(generator(SEED));
    const requests = Array.from({ length: RUNS }, () => drawRequest(d));
    const failures: string[] = [];
    let refused = 0;
    let nonEmpty = 0;
    for (let start = 0; start < requests.length; start += BATCH) {
      await Promise.all(
        requests.slice(start, start + BATCH).map(async (drawn, offset) => {
          const n = start + offset;
          const [want, got] = await both(drawn, n);
          if (typeof want === 'string') refused += 1;
          else if (want.result.rowCount > 0) nonEmpty += 1;
          const diff = difference(drawn, want, got);
          if (diff !== null) {
            failures.push(
              `request ${n} (seed ${SEED}): ${JSON.stringify(drawn.input)}\ngrant: ${JSON.stringify(drawn.grant)}\n${diff}`,
            );
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    // The draw stays useful: most requests are valid, and most of those export rows.
    expect(refused).toBeLessThan(RUNS / 10);
    expect(nonEmpty).toBeGreaterThan(RUNS / 2);
  }, 600_000);
});
