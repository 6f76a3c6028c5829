import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ExportCaller } from '../../src/domain/export-job.js';
import {
  type ExportRequestInput,
  type ExportFilterOp,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import { whereContradicts } from '../../src/domain/export-where-contradiction.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { column, typesTable } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
} from '../support/export-lake.js';
import {
  STRINGS,
  INTS,
  BIGINTS,
  DOUBLES,
  BOOLEANS,
  TIMESTAMPS,
  DATES,
  DECIMALS,
  ZONED,
} from '../support/export-fidelity-values.js';

/**
 * A differential test of the DuckDB export's filters and ordering: random requests (columns, `where` predicates with
 * values in the forms a client may send them, a partition filter, orderBy, limit) over the fidelity fixture's values,
 * each export compared with an oracle written here in plain TypeScript, independent of the export code. The oracle
 * follows SQL: a comparison with NULL is not true (NE keeps no NULL); CONTAINS and STARTS_WITH are literal and
 * case-sensitive; strings order by UTF-8 bytes; doubles as documented in export-values.ts and athena-sql.ts: NaN
 * equals NaN and sorts above every number, infinity included, and -0.0 equals 0.0 (and is exported as -0.0); a
 * timestamp value with an offset is that instant, one without is UTC, a date-only value midnight UTC; ORDER BY puts
 * NULLs last both ways, and a limit keeps the first rows by it, any of a tie; a partition folder's value is its
 * decoded text, a null only for `__HIVE_DEFAULT_PARTITION__`. A failure lists the seed, each failing request and
 * what differs.
 */

const SEED = 20261127;
const REQUESTS = 300;
/**
 * Requests of predicates on one column, from a sequence of their own (seed SEED + 1), of which at least
 * MIN_CONTRADICTIONS plan no file because their `where` contradicts itself (export-where-contradiction.ts; 43 with
 * this seed): the oracle checks that none of them had a row to export, and the others that a predicate judged in
 * doubt kept their rows.
 */
const ONE_COLUMN_REQUESTS = 100;
const MIN_CONTRADICTIONS = 35;
/**
 * Of them, at least this many read fewer files than partition pruning leaves, their other files ruled out by footer
 * statistics (47 with this seed): the oracle checks that no file so left out held a row of the result. Not counted:
 * the requests whose `where` contradicts itself, which plan no file whatever the statistics (seven of the 54 counted
 * before that was judged).
 */
const MIN_STATS_PRUNED = 45;
const DECIMAL_SCALE = 4;

type Kind = 'string' | 'int' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'date' | 'decimal';
/**
 * An oracle value: string, int (number), bigint (bigint), double (number), boolean, timestamp (bigint µs since the
 * epoch, UTC), date (`YYYY-MM-DD`), decimal (bigint in units of 10^-4).
 */
type Value = string | number | bigint | boolean;
type Row = Record<string, Value | null>;

/** A dataset under test: its columns' kinds, its rows as the oracle reads them, the partition filter values to try. */
interface Dataset {
  name: string;
  kinds: Record<string, Kind>;
  rows: Row[];
  partitionKey: string;
  partitionValues: string[];
}

const KINDS: Record<string, Kind> = {
  id: 'bigint',
  name: 'string',
  priority: 'int',
  score: 'double',
  active: 'boolean',
  created_at: 'timestamp',
  day: 'date',
  amount: 'decimal',
  email: 'string',
  updated_at: 'timestamp',
  big: 'bigint',
  event_date: 'date',
};

/** The fidelity strings and a few that a LIKE pattern or an escape would match where a literal must not. */
const TEXTS: (string | null)[] = [...STRINGS, 'a%b', 'a_b', 'a\\b', 'aXb', 'PLAIN', 'Plain', '100%'];
const PARTITIONS = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04'];
/** The last partition's file is older: written before `big` was added, with other physical types (see fixtureSql). */
const OLDER = PARTITIONS[3]!;
const ROWS = 72;

const table = typesTable({
  columns: [...typesTable().columns, column('updated_at', 'timestamp'), column('big', 'bigint')],
});
const caller: ExportCaller = { id: 'oracle' };

// ---------------------------------------------------------------------------------------------------------------
// The oracle's own reading of values (no code of src/ is used for it).

function parseDouble(text: string): number {
  if (text === 'nan') return Number.NaN;
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's algorithm: proleptic Gregorian, any year.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const MICROS_PER_DAY = 86_400_000_000n;

/** `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM]]` as µs since the epoch. */
function micros(text: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?(?:([+-])(\d{2})(?::(\d{2}))?)?$/.exec(
    text,
  );
  if (m === null) throw new Error(`oracle: bad timestamp ${text}`);
  const days = BigInt(daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3])));
  const seconds = BigInt(Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0));
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0').slice(0, 6));
  const offset = m[8] === undefined ? 0n : BigInt((m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10] ?? 0)));
  return days * MICROS_PER_DAY + seconds * 1_000_000n + fraction - offset * 60_000_000n;
}

function decimalUnits(text: string): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (m === null) throw new Error(`oracle: bad decimal ${text}`);
  const units = BigInt((m[2] || '0') + (m[3] ?? '').padEnd(DECIMAL_SCALE, '0'));
  return m[1] === '-' ? -units : units;
}

function fixtureRow(i: number): Row {
  const at = <T>(list: T[], j: number): T => list[j % list.length]!;
  const ts = (t: string | null): bigint | null => (t === null ? null : micros(t));
  const score = at(DOUBLES, i * 7 + 1);
  const amount = at(DECIMALS, i * 3);
  const eventDate = PARTITIONS[Math.floor((i * PARTITIONS.length) / ROWS)]!;
  const big = eventDate === OLDER ? null : at(BIGINTS, i);
  return {
    id: BigInt(i),
    name: at(TEXTS, i),
    priority: at(INTS, i * 5 + 2),
    score: score === null ? null : parseDouble(score),
    active: at(BOOLEANS, i * 2 + 1),
    created_at: ts(at(TIMESTAMPS, i + Math.floor(i / 4))),
    day: at(DATES, i * 3 + 1),
    amount: amount === null ? null : decimalUnits(amount),
    email: at(TEXTS, i * 7 + 3),
    updated_at: ts(at(ZONED, i + Math.floor(i / 3))),
    big: big === null ? null : BigInt(big),
    event_date: eventDate,
  };
}

/**
 * The fixture's text for DuckDB, kept apart from the oracle's values: the same lists, as SQL literals. An `older` file
 * has no `big` column, and other physical types for some columns (as files registered from elsewhere may have) that
 * hold the same values: BIGINT for the int, TIMESTAMP_NS for a timestamp, DECIMAL(38,4) for the decimal(18,4).
 */
function fixtureSql(ids: number[], older = false): string {
  const lit = (v: string | null): string => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  const at = <T>(list: T[], j: number): T => list[j % list.length]!;
  const rows = ids.map(
    (i) =>
      `(${i}::BIGINT, ${lit(at(TEXTS, i))}, CAST(${at(INTS, i * 5 + 2) ?? 'NULL'} AS ${older ? 'BIGINT' : 'INTEGER'}), ` +
      `${lit(at(DOUBLES, i * 7 + 1))}::DOUBLE, ${at(BOOLEANS, i * 2 + 1) ?? 'NULL'}::BOOLEAN, ` +
      `${lit(at(TIMESTAMPS, i + Math.floor(i / 4)))}::${older ? 'TIMESTAMP_NS' : 'TIMESTAMP'}, ` +
      `${lit(at(DATES, i * 3 + 1))}::DATE, ${lit(at(DECIMALS, i * 3))}::DECIMAL(${older ? 38 : 18},4), ` +
      `${lit(at(TEXTS, i * 7 + 3))}, ${lit(at(ZONED, i + Math.floor(i / 3)))}::TIMESTAMPTZ, ${lit(at(BIGINTS, i))}::BIGINT)`,
  );
  const columns = 'id, name, priority, score, active, created_at, day, amount, email, updated_at, big';
  return `SELECT ${older ? columns.replace(', big', '') : '*'} FROM (VALUES ${rows.join(', ')}) v(${columns})`;
}

/**
 * A registered dataset partitioned by a text key whose folder names need care: escaped characters, `NULL` and `null`
 * (text in Hive's layout, where only `__HIVE_DEFAULT_PARTITION__` is a null), an empty value.
 */
const REGIONS: (string | null)[] = ['north', 'a b', 'NULL', 'null', '', null, '50%', 'a/b', 'é', 'x=y', 'Null'];
const REGION_ROWS = 44;
const regionsTable = typesTable({
  name: 'regions',
  columns: [column('id', 'bigint', { nullable: false }), column('name', 'string'), column('score', 'double')],
  partitionKeys: [column('region', 'string')],
  location: 'regions/',
  origin: 'registered',
});

function regionRow(i: number): Row {
  const score = DOUBLES[(i * 3) % DOUBLES.length]!;
  return {
    id: BigInt(i),
    name: TEXTS[(i * 5) % TEXTS.length]!,
    score: score === null ? null : parseDouble(score),
    region: REGIONS[i % REGIONS.length]!,
  };
}

function regionSql(ids: number[]): string {
  const lit = (v: string | null): string => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  const rows = ids.map(
    (i) => `(${i}::BIGINT, ${lit(TEXTS[(i * 5) % TEXTS.length]!)}, ${lit(DOUBLES[(i * 3) % DOUBLES.length]!)}::DOUBLE)`,
  );
  return `SELECT * FROM (VALUES ${rows.join(', ')}) v(id, name, score)`;
}

function regionFolder(region: string | null): string {
  return `region=${region === null ? '__HIVE_DEFAULT_PARTITION__' : encodeURIComponent(region)}`;
}

/**
 * An ETL dataset whose day key holds the UTC day of its timestamp `at` (TableDefinition.dayPartitionSource), so that predicates on
 * `at` prune days too: instants on both sides of midnight, a row with no `at` in the Hive null partition.
 */
const INSTANTS: (string | null)[] = [
  '2024-03-01 00:00:00',
  '2024-03-01 00:00:00.000001',
  '2024-03-01 12:00:00',
  '2024-03-01 23:59:59.999999',
  '2024-03-02 00:00:00',
  '2024-03-02 05:30:00',
  '2024-03-02 23:59:59',
  '2024-03-03 00:00:00.5',
  '2024-03-03 18:29:59.999999',
  '2024-03-04 00:00:00',
  null,
];
const DAILY_ROWS = 33;
const dailyTable = typesTable({
  name: 'daily',
  columns: [column('id', 'bigint', { nullable: false }), column('at', 'timestamp'), column('name', 'string')],
  partitionKeys: [column('day', 'date')],
  dayPartitionSource: 'at',
  location: 'daily/',
  origin: 'etl',
});

function dailyRow(i: number): Row {
  const at = INSTANTS[i % INSTANTS.length]!;
  return {
    id: BigInt(i),
    at: at === null ? null : micros(at),
    name: TEXTS[(i * 3) % TEXTS.length]!,
    day: at === null ? null : at.slice(0, 10),
  };
}

function dailySql(ids: number[]): string {
  const lit = (v: string | null): string => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  const rows = ids.map(
    (i) => `(${i}::BIGINT, ${lit(INSTANTS[i % INSTANTS.length]!)}::TIMESTAMP, ${lit(TEXTS[(i * 3) % TEXTS.length]!)})`,
  );
  return `SELECT * FROM (VALUES ${rows.join(', ')}) v(id, "at", name)`;
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison and predicates, with SQL semantics.

function compare(kind: Kind, a: Value, b: Value): number {
  switch (kind) {
    case 'string':
      return Buffer.compare(Buffer.from(a as string, 'utf8'), Buffer.from(b as string, 'utf8'));
    case 'double': {
      const x = a as number;
      const y = b as number;
      if (Number.isNaN(x) || Number.isNaN(y)) return Number(Number.isNaN(x)) - Number(Number.isNaN(y));
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'boolean':
      return Number(a) - Number(b);
    default:
      return a < b ? -1 : a > b ? 1 : 0;
  }
}

interface OraclePredicate {
  column: string;
  op: ExportFilterOp;
  values: Value[];
}

function matches(kind: Kind, p: OraclePredicate, v: Value | null): boolean {
  if (p.op === 'IS_NULL') return v === null;
  if (p.op === 'IS_NOT_NULL') return v !== null;
  if (v === null) return false;
  const c = (x: Value): number => compare(kind, v, x);
  switch (p.op) {
    case 'EQ':
      return c(p.values[0]!) === 0;
    case 'NE':
      return c(p.values[0]!) !== 0;
    case 'LT':
      return c(p.values[0]!) < 0;
    case 'LTE':
      return c(p.values[0]!) <= 0;
    case 'GT':
      return c(p.values[0]!) > 0;
    case 'GTE':
      return c(p.values[0]!) >= 0;
    case 'IN':
      return p.values.some((x) => c(x) === 0);
    case 'BETWEEN':
      return c(p.values[0]!) >= 0 && c(p.values[1]!) <= 0;
    case 'CONTAINS':
      return (v as string).includes(p.values[0] as string);
    case 'STARTS_WITH':
      return (v as string).startsWith(p.values[0] as string);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Expected cells, formatted here as the export documents them.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function dateText(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

function timestampText(us: bigint): string {
  const days = us >= 0n ? us / MICROS_PER_DAY : -((-us + MICROS_PER_DAY - 1n) / MICROS_PER_DAY);
  const rest = us - days * MICROS_PER_DAY;
  const s = Number(rest / 1_000_000n);
  const f = Number(rest % 1_000_000n);
  return `${dateText(Number(days))}T${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(f, 6)}Z`;
}

function decimalText(units: bigint): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(DECIMAL_SCALE + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -DECIMAL_SCALE)}.${digits.slice(-DECIMAL_SCALE)}`;
}

/** A double's text made comparable: DuckDB writes the shortest round trip, `nan`, `inf` and `-0.0`. */
function doubleKey(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function cellText(kind: Kind, v: Value | null, neutralize: boolean): string | null {
  if (v === null) return null;
  switch (kind) {
    case 'string':
      return neutralize && /^[=+\-@\t\r]/.test(v as string) ? `'${v as string}` : (v as string);
    case 'timestamp':
      return timestampText(v as bigint);
    case 'decimal':
      return decimalText(v as bigint);
    case 'double':
      return doubleKey(v as number);
    default:
      return String(v);
  }
}

/** An exported cell as cellText gives it: doubles read back as numbers. */
function gotCell(kind: Kind, text: string | null): string | null {
  return kind === 'double' && text !== null ? doubleKey(parseDouble(text)) : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Random requests. Each filter value comes as the JSON a client may send and as the value the oracle reads it as.

type Rng = () => number;

/**
 * mulberry32 unmixed (src/sample/seeded-random.ts mixes the seed first): this test's requests, and the count of them
 * that statistics prune, are those of this sequence.
 */
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const chance = (rng: Rng, p: number): boolean => rng() < p;

interface Sample {
  json: string | number | boolean;
  value: Value;
}

/** Values of the column in the fixture, and near misses. */
function pool(name: string, kind: Kind, rows: Row[]): Value[] {
  const present = rows.map((r) => r[name]).filter((v): v is Value => v !== null);
  const extra: Value[] = {
    string: ['', ' ', '%', '_', '\\', 'plain%', 'a', 'A', 'PLAIN', 'é', '🚀', '"', '\n', '-5', '=SUM', 'zzz'],
    int: [1, -1, -6, -4, 41, 43, 2147483646, -2147483647],
    bigint: [1n, -1n, 9007199254740992n, 9007199254740994n, 9223372036854775806n, -9223372036854775807n],
    double: [0, 1, -1, -5.4, -5.6, 0.1000000001, 1e21, 5e-323, Number.MAX_VALUE],
    boolean: [true, false],
    timestamp: [
      micros('2024-03-01 12:34:56.789122'),
      micros('2024-03-01 12:34:56.789124'),
      micros('2024-03-01 00:00:00'),
      micros('2024-03-01 10:00:00'),
      micros('2024-06-01 05:30:00'),
      micros('1969-12-31 23:59:59.999999'),
      micros('1900-01-01 00:00:00'),
    ],
    date: ['2024-02-28', '2024-03-01', '1970-01-01', '2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04'],
    decimal: [decimalUnits('12.3399'), decimalUnits('12.3401'), decimalUnits('-0.0001'), decimalUnits('1')],
  }[kind];
  return [...present, ...extra];
}

/** A JSON form of a value that the request's coercion must read as the value itself. */
function sample(rng: Rng, kind: Kind, value: Value): Sample {
  switch (kind) {
    case 'string': {
      // Other JSON scalars are read as their text: 12 as "12", true as "true".
      const text = value as string;
      const forms: (string | number | boolean)[] = [text];
      if (text !== '' && String(Number(text)) === text) forms.push(Number(text));
      if (text === 'true' || text === 'false') forms.push(text === 'true');
      return { json: pick(rng, forms), value };
    }
    case 'int': {
      const n = value as number;
      const forms: (string | number)[] = [n, String(n), ` ${n} `];
      if (n >= 0) forms.push(`+${n}`, `0${n}`);
      if (n === 0) forms.push('-0');
      return { json: pick(rng, forms), value };
    }
    case 'bigint': {
      const n = value as bigint;
      const forms: (string | number)[] = [n.toString(), ` ${n} `];
      if (n >= -(2n ** 53n) + 1n && n <= 2n ** 53n - 1n) forms.push(Number(n));
      if (n >= 0n) forms.push(`+${n}`);
      return { json: pick(rng, forms), value };
    }
    case 'double': {
      const n = value as number;
      if (Number.isNaN(n)) return { json: pick(rng, ['NaN', 'nan', 'NAN', ' NaN ']), value };
      if (n === Number.POSITIVE_INFINITY) return { json: pick(rng, ['Infinity', 'inf', 'INF', '+Infinity']), value };
      if (n === Number.NEGATIVE_INFINITY) return { json: pick(rng, ['-Infinity', '-inf', '-INFINITY']), value };
      if (n === 0) return { json: pick(rng, [0, -0, '0', '-0', '-0.0', '0.0', '0e5']), value };
      const forms = [n, String(n), n.toExponential(), ` ${n} `, n.toPrecision(17), String(n).toUpperCase()];
      if (n > 0) forms.push(`+${n}`);
      if (Math.abs(n) < 1 && /^-?0\.\d+$/.test(String(n))) forms.push(String(n).replace('0.', '.'));
      return { json: pick(rng, forms), value };
    }
    case 'boolean':
      return { json: pick(rng, value === true ? [true, 'true', 'TRUE', ' True '] : [false, 'false', 'False']), value };
    case 'date':
      return { json: pick(rng, [value as string, ` ${value as string} `]), value };
    case 'timestamp': {
      const us = value as bigint;
      const iso = timestampText(us); // YYYY-MM-DDTHH:MM:SS.ffffffZ
      const [date, rest] = iso.split('T') as [string, string];
      const time = rest.slice(0, 8);
      const fraction = rest.slice(9, 15);
      const forms = [
        iso,
        `${date} ${time}.${fraction}`,
        `${date}T${time}.${fraction}000Z`,
        `${date}T${time}.${fraction}+00:00`,
      ];
      if (fraction === '000000') forms.push(`${date}T${time}Z`, `${date} ${time}`);
      if (fraction === '000000' && time.endsWith(':00')) forms.push(`${date}T${time.slice(0, 5)}Z`);
      if (fraction === '000000' && time === '00:00:00') forms.push(date);
      forms.push(`${date}t${time}.${fraction}z`);
      // The same instant written in another zone.
      const shifted = timestampText(us + 330n * 60_000_000n);
      forms.push(`${shifted.slice(0, -1)}+05:30`, `${shifted.slice(0, 19)}.${shifted.slice(20, 26)}+0530`);
      const west = timestampText(us - 2n * 3_600_000_000n);
      forms.push(`${west.slice(0, -1)}-02`);
      // A date with an offset: midnight there.
      if (west.slice(11, 26) === '00:00:00.000000') forms.push(`${west.slice(0, 10)}-02:00`);
      return { json: pick(rng, forms), value };
    }
    case 'decimal': {
      const text = decimalText(value as bigint);
      const trimmed = text.replace(/0+$/, '').replace(/\.$/, '');
      const forms: (string | number)[] = [text, trimmed, ` ${text} `, `${text}000`];
      if (/^\d/.test(text)) forms.push(`00${text}`);
      if (!trimmed.startsWith('-')) forms.push(`+${trimmed}`);
      if (trimmed.startsWith('0.')) forms.push(trimmed.slice(1));
      if (trimmed.startsWith('-0.')) forms.push(`-${trimmed.slice(2)}`);
      if (!trimmed.includes('.')) forms.push(`${trimmed}.`);
      if (trimmed.replace(/[-.]/g, '').length <= 15 && !/e/.test(String(Number(trimmed)))) forms.push(Number(trimmed));
      if (value === 0n) forms.push('-0', '-0.0000', 0);
      return { json: pick(rng, forms), value };
    }
  }
}

/** A substring of a fixture text by code points (never half a surrogate pair), or a text of its own. */
function needle(rng: Rng, texts: string[]): string {
  if (chance(rng, 0.3))
    return pick(rng, [
      '',
      '%',
      '_',
      '\\',
      'a%',
      '_b',
      'a_',
      'PLAIN',
      'Plain',
      'plain',
      ' ',
      '\n',
      '"',
      '🚀',
      '日本',
      '%b',
    ]);
  const chars = Array.from(pick(rng, texts));
  const from = Math.floor(rng() * (chars.length + 1));
  const to = from + Math.floor(rng() * (chars.length - from + 1));
  return chars.slice(from, to).join('');
}

interface Case {
  input: ExportRequestInput;
  where: OraclePredicate[];
  partitions: { values: string[] | null; from: string | null; to: string | null } | null;
}

/** A random request; with `oneColumn`, of two or three predicates on one column, which often contradict each other. */
function randomCase(rng: Rng, data: Dataset, oneColumn = false): Case {
  const all = Object.keys(data.kinds);
  const where: OraclePredicate[] = [];
  const whereInput: NonNullable<ExportRequestInput['where']>[number][] = [];
  const count = pick(rng, oneColumn ? [2, 2, 3] : [0, 1, 1, 1, 2, 2, 3]);
  // Drawn only for `oneColumn`, so that the other requests are those of the sequence as before.
  const column = oneColumn ? pick(rng, all) : undefined;
  for (let k = 0; k < count; k++) {
    const name = column ?? pick(rng, all);
    const kind = data.kinds[name]!;
    const values = pool(name, kind, data.rows);
    const ops: ExportFilterOp[] = ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE', 'IN', 'BETWEEN', 'IS_NULL', 'IS_NOT_NULL'];
    if (kind === 'string') ops.push('CONTAINS', 'STARTS_WITH', 'CONTAINS', 'STARTS_WITH');
    const op = pick(rng, ops);
    let samples: Sample[];
    if (op === 'IS_NULL' || op === 'IS_NOT_NULL') samples = [];
    else if (op === 'CONTAINS' || op === 'STARTS_WITH') {
      const text = needle(
        rng,
        values.filter((v): v is string => typeof v === 'string'),
      );
      samples = [{ json: text, value: text }];
    } else if (op === 'IN') {
      const n = 1 + Math.floor(rng() * (chance(rng, 0.2) ? 9 : 4));
      samples = Array.from({ length: n }, () => sample(rng, kind, pick(rng, values)));
    } else if (op === 'BETWEEN') {
      const [a, b] = [pick(rng, values), pick(rng, values)];
      const [lo, hi] = compare(kind, a, b) <= 0 ? [a, b] : [b, a];
      samples = [sample(rng, kind, lo), sample(rng, kind, hi)];
    } else {
      samples = [sample(rng, kind, pick(rng, values))];
    }
    where.push({ column: name, op, values: samples.map((s) => s.value) });
    whereInput.push({
      column: name,
      op,
      ...(op === 'IS_NULL' || op === 'IS_NOT_NULL' ? {} : { values: samples.map((s) => s.json) }),
    });
  }

  let partitions: Case['partitions'] = null;
  const keys = data.partitionValues;
  if (chance(rng, 0.3)) {
    const values = chance(rng, 0.6) ? keys.filter(() => chance(rng, 0.5)) : null;
    let from = chance(rng, 0.4) ? pick(rng, keys) : null;
    let to = chance(rng, 0.4) ? pick(rng, keys) : null;
    if (from !== null && to !== null && compare(data.kinds[data.partitionKey]!, from, to) > 0) [from, to] = [to, from];
    if ((values === null || values.length === 0) && from === null && to === null) partitions = null;
    else partitions = { values: values === null || values.length === 0 ? null : values, from, to };
  }

  const withId = chance(rng, 0.85);
  const columns = all.filter((c) => c !== 'id' && chance(rng, 0.5));
  if (withId) columns.splice(Math.floor(rng() * (columns.length + 1)), 0, 'id');
  if (columns.length === 0) columns.push(pick(rng, all));
  const orderBy: { column: string; direction: 'ASC' | 'DESC' }[] = [];
  if (chance(rng, 0.6)) {
    const n = pick(rng, [1, 1, 2, 3]);
    for (const name of [...all].sort(() => rng() - 0.5).slice(0, n)) {
      orderBy.push({ column: name, direction: chance(rng, 0.5) ? 'ASC' : 'DESC' });
    }
  }
  const limit = withId && chance(rng, 0.4) ? 1 + Math.floor(rng() * 30) : null;
  const neutralizeFormulas = chance(rng, 0.8);

  const input: ExportRequestInput = {
    dataset: data.name,
    columns,
    where: whereInput,
    ...(partitions === null
      ? {}
      : {
          partitions: {
            ...(partitions.values === null ? {} : { values: partitions.values }),
            ...(partitions.from === null ? {} : { from: partitions.from }),
            ...(partitions.to === null ? {} : { to: partitions.to }),
          },
        }),
    ...(orderBy.length > 0 ? { orderBy } : {}),
    ...(limit === null ? {} : { limit }),
    csv: { neutralizeFormulas },
  };
  return { input, where, partitions };
}

// ---------------------------------------------------------------------------------------------------------------
// Checking one export against the oracle.

function selected(c: Case, data: Dataset): Row[] {
  const kind = data.kinds[data.partitionKey]!;
  return data.rows.filter((r) => {
    const p = c.partitions;
    const key = r[data.partitionKey] ?? null;
    if (p !== null) {
      if (key === null) return false;
      if (p.values !== null && !p.values.some((x) => compare(kind, key, x) === 0)) return false;
      if (p.from !== null && compare(kind, key, p.from) < 0) return false;
      if (p.to !== null && compare(kind, key, p.to) > 0) return false;
    }
    return c.where.every((w) => matches(data.kinds[w.column]!, w, r[w.column] ?? null));
  });
}

/** ORDER BY ... NULLS LAST on both directions; 0 for rows the ordering leaves tied. */
function orderOf(
  kinds: Record<string, Kind>,
  orderBy: readonly { column: string; direction?: 'ASC' | 'DESC' | null }[],
) {
  return (a: Row, b: Row): number => {
    for (const o of orderBy) {
      const x = a[o.column] ?? null;
      const y = b[o.column] ?? null;
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;
        continue;
      }
      const c = compare(kinds[o.column]!, x, y);
      if (c !== 0) return o.direction === 'DESC' ? -c : c;
    }
    return 0;
  };
}

/** What is wrong with an export's rows, by the oracle; empty when nothing is. */
function problems(c: Case, data: Dataset, csv: (string | null)[][], truncated: boolean): string[] {
  const kinds = data.kinds;
  const out: string[] = [];
  const columns = c.input.columns!;
  const neutralize = c.input.csv?.neutralizeFormulas !== false;
  const [header, ...body] = csv;
  if (JSON.stringify(header) !== JSON.stringify(columns)) out.push(`header ${JSON.stringify(header)}`);
  const want = selected(c, data);
  const expectCells = (r: Row): (string | null)[] => columns.map((k) => cellText(kinds[k]!, r[k] ?? null, neutralize));
  const idAt = columns.indexOf('id');
  const limit = c.input.limit ?? null;
  const order = orderOf(kinds, c.input.orderBy ?? []);

  if (idAt < 0) {
    // No id to tell rows apart (and no limit): the multiset of rows must be the oracle's.
    const left = new Map<string, number>();
    for (const r of want) left.set(JSON.stringify(expectCells(r)), (left.get(JSON.stringify(expectCells(r))) ?? 0) + 1);
    const extra: string[] = [];
    for (const cells of body) {
      const key = JSON.stringify(cells.map((v, i) => gotCell(kinds[columns[i]!]!, v)));
      const n = left.get(key) ?? 0;
      if (n === 0) extra.push(key);
      else left.set(key, n - 1);
    }
    const missing = [...left].flatMap(([key, n]) => Array<string>(n).fill(key));
    if (missing.length > 0) out.push(`rows missing: ${missing.join(' ')}`);
    if (extra.length > 0) out.push(`rows not expected: ${extra.join(' ')}`);
    return out;
  }

  const byId = new Map(data.rows.map((r) => [String(r.id), r]));
  const wanted = new Set(want.map((r) => String(r.id)));
  const seen = new Set<string>();
  const gotRows: Row[] = [];
  for (const cells of body) {
    const id = cells[idAt]!;
    const r = byId.get(id ?? '');
    if (r === undefined || seen.has(id)) {
      out.push(`row ${JSON.stringify(cells)}: unknown or repeated id`);
      continue;
    }
    seen.add(id);
    gotRows.push(r);
    if (!wanted.has(id)) out.push(`id ${id} exported but does not match the filter`);
    const expected = expectCells(r);
    columns.forEach((k, i) => {
      if (gotCell(kinds[k]!, cells[i] ?? null) !== expected[i]) {
        out.push(`id ${id} column ${k}: want ${JSON.stringify(expected[i])}, got ${JSON.stringify(cells[i])}`);
      }
    });
  }
  for (let i = 1; i < gotRows.length; i++) {
    if (order(gotRows[i - 1]!, gotRows[i]!) > 0) {
      out.push(`out of order: id ${String(gotRows[i - 1]!.id)} before id ${String(gotRows[i]!.id)}`);
    }
  }
  const sorted = [...want].sort(order);
  const n = limit === null ? want.length : Math.min(limit, want.length);
  if (gotRows.length !== n) out.push(`${gotRows.length} rows, want ${n} (of ${want.length} matching)`);
  if (limit === null) {
    const missing = want.filter((r) => !seen.has(String(r.id))).map((r) => String(r.id));
    if (missing.length > 0) out.push(`ids missing: ${missing.join(' ')}`);
  } else if (n > 0 && (c.input.orderBy ?? []).length > 0) {
    // The first `limit` by the ordering: every row before the last one's tie group, none after it.
    const last = sorted[n - 1]!;
    for (const r of sorted) {
      const c2 = order(r, last);
      if (c2 < 0 && !seen.has(String(r.id))) out.push(`id ${String(r.id)} sorts before the cut but is missing`);
      if (c2 > 0 && seen.has(String(r.id))) out.push(`id ${String(r.id)} sorts after the cut but is exported`);
    }
  }
  const wantTruncated = limit !== null && want.length > limit;
  if (truncated !== wantTruncated) out.push(`truncated ${truncated}, want ${wantTruncated}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

let lake: ExportLake;
let harness: ExportHarness;
const rows = Array.from({ length: ROWS }, (_, i) => fixtureRow(i));
const events: Dataset = {
  name: 'events',
  kinds: KINDS,
  rows,
  partitionKey: 'event_date',
  partitionValues: [...PARTITIONS, '2023-12-31', '2024-01-05'],
};
const regions: Dataset = {
  name: 'regions',
  kinds: { id: 'bigint', name: 'string', score: 'double', region: 'string' },
  rows: Array.from({ length: REGION_ROWS }, (_, i) => regionRow(i)),
  partitionKey: 'region',
  partitionValues: [...REGIONS.filter((r): r is string => r !== null), 'south', 'a%20b'],
};
const daily: Dataset = {
  name: 'daily',
  kinds: { id: 'bigint', at: 'timestamp', name: 'string', day: 'date' },
  rows: Array.from({ length: DAILY_ROWS }, (_, i) => dailyRow(i)),
  partitionKey: 'day',
  partitionValues: ['2024-02-29', '2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'],
};

beforeAll(async () => {
  lake = await createExportLake();
  const ids = (day: string): number[] => rows.filter((r) => r.event_date === day).map((r) => Number(r.id));
  const [first, second, third, fourth] = PARTITIONS.map(ids) as [number[], number[], number[], number[]];
  await lake.writeParquet(`events/event_date=${OLDER}/part-a.parquet`, fixtureSql(fourth, true));
  await lake.writeParquet(`events/event_date=${PARTITIONS[0]}/part-a.parquet`, fixtureSql(first));
  // Two files in one partition.
  const half = Math.floor(second.length / 2);
  await lake.writeParquet(`events/event_date=${PARTITIONS[1]}/part-a.parquet`, fixtureSql(second.slice(0, half)));
  await lake.writeParquet(`events/event_date=${PARTITIONS[1]}/part-b.parquet`, fixtureSql(second.slice(half)));
  // Small row groups, the rows in the order of the double column (in VALUES: DuckDB's ORDER BY writes -0.0 as 0.0),
  // so that row group statistics can skip groups.
  const byScore = [...third].sort((a, b) => orderOf(KINDS, [{ column: 'score' }])(rows[a]!, rows[b]!));
  const path = lake.store.localPath('processed', `events/event_date=${PARTITIONS[2]}/part-a.parquet`);
  await mkdir(dirname(path), { recursive: true });
  await lake.fixtures.withConnection((conn) =>
    conn.run(`COPY (${fixtureSql(byScore)}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, ROW_GROUP_SIZE 4)`),
  );
  await lake.catalog.putTable(table);
  for (const region of REGIONS) {
    const ids = regions.rows.filter((r) => r.region === region).map((r) => Number(r.id));
    await lake.writeParquet(`regions/${regionFolder(region)}/part-a.parquet`, regionSql(ids));
  }
  await lake.catalog.putTable(regionsTable);
  for (const day of new Set(daily.rows.map((r) => r.day as string | null))) {
    const ids = daily.rows.filter((r) => r.day === day).map((r) => Number(r.id));
    await lake.writeParquet(`daily/day=${day ?? '__HIVE_DEFAULT_PARTITION__'}/part-a.parquet`, dailySql(ids));
  }
  await lake.catalog.putTable(dailyTable);
  harness = await createExportHarness(lake, { service: { concurrency: 2 } });
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

type Drawn = Case & { data: Dataset };

/**
 * Runs each case as an export and checks it against the oracle: the failures, the requests whose plan left out a file
 * by its footer statistics beyond partition pruning (export-stats-pruning.ts), and those that planned no file because
 * their `where` contradicts itself.
 */
async function check(
  seed: number,
  cases: readonly Drawn[],
): Promise<{
  failures: { seed: number; index: number; request: string; problems: string[] }[];
  statsPruned: number;
  contradictions: number;
}> {
  const failures: { seed: number; index: number; request: string; problems: string[] }[] = [];
  let statsPruned = 0;
  let contradictions = 0;
  const planner = new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));
  const BATCH = 6;
  for (let start = 0; start < cases.length; start += BATCH) {
    await Promise.all(
      cases.slice(start, start + BATCH).map(async (c, k) => {
        const index = start + k;
        const report = (p: string[]): void => {
          failures.push({
            seed,
            index,
            request: JSON.stringify(c.input, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
            problems: p,
          });
        };
        try {
          const t = (await lake.catalog.getTable(c.input.dataset))!;
          const request = normalizeExportRequest(c.input, t);
          const plan = await planner.plan(t, request, Number.MAX_SAFE_INTEGER);
          if (whereContradicts(request.where)) {
            if (plan.files.length > 0) return report([`a contradictory where planned ${plan.files.length} files`]);
            contradictions += 1;
          } else if (plan.files.length < plan.partitionFiles.length) {
            statsPruned += 1;
          }
          const job = await harness.service.requestExport(caller, c.input);
          const done = await finished(harness.service, caller, job.id);
          if (done.status !== 'SUCCEEDED') return report([`job ${done.status}: ${JSON.stringify(done.error)}`]);
          const stored = (await harness.jobs.get(done.id))!.result!;
          const texts = await Promise.all(stored.files.map((f) => resultText(lake, f.key)));
          const csv = parseCsv(Buffer.concat(texts));
          const p = problems(c, c.data, csv, stored.truncated);
          if (p.length > 0) report(p);
        } catch (err) {
          report([`request failed: ${(err as Error).message}`]);
        }
      }),
    );
  }
  failures.sort((a, b) => a.index - b.index);
  return { failures, statsPruned, contradictions };
}

describe('export filters and ordering against an oracle', () => {
  it(`agree on ${REQUESTS} random requests (seed ${SEED})`, async () => {
    const rng = mulberry32(SEED);
    const cases = Array.from({ length: REQUESTS }, () => {
      const data = pick(rng, [events, events, events, regions, daily]);
      return { data, ...randomCase(rng, data) };
    });
    const { failures, statsPruned } = await check(SEED, cases);
    expect(failures).toEqual([]);
    expect(statsPruned).toBeGreaterThanOrEqual(MIN_STATS_PRUNED);
  }, 180_000);

  it(`agree on ${ONE_COLUMN_REQUESTS} random requests with predicates on one column (seed ${SEED + 1})`, async () => {
    const rng = mulberry32(SEED + 1);
    const cases = Array.from({ length: ONE_COLUMN_REQUESTS }, () => {
      const data = pick(rng, [events, events, events, regions, daily]);
      return { data, ...randomCase(rng, data, true) };
    });
    const { failures, contradictions } = await check(SEED + 1, cases);
    expect(failures).toEqual([]);
    expect(contradictions).toBeGreaterThanOrEqual(MIN_CONTRADICTIONS);
  }, 120_000);
});
