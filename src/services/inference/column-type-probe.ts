import type { DuckDBConnection } from '@duckdb/node-api';
import { readSql, sqlIdent, sqlString } from './duckdb-sql.js';
import { RAW_TABLE } from './sample-reader.js';

/**
 * Column types beyond DuckDB's first guess: our type for a DuckDB type, the strptime formats of timestamp and
 * date columns, and a second look at text columns that DuckDB left as VARCHAR because of a few bad values
 * (a `2024-02-30 25:61:00`, a `P2` among priorities). All probes read the text of RAW_TABLE.
 */

export type TemporalKind = 'timestamp' | 'date';

export const TIMESTAMP_FORMATS = [
  '%Y-%m-%d %H:%M:%S',
  '%Y-%m-%d %H:%M:%S.%g',
  '%Y-%m-%d %H:%M:%S.%f',
  '%Y-%m-%dT%H:%M:%S',
  '%Y-%m-%dT%H:%M:%SZ',
  '%Y-%m-%dT%H:%M:%S.%gZ',
  '%Y-%m-%dT%H:%M:%S.%fZ',
  '%Y-%m-%dT%H:%M:%S%z',
  '%Y-%m-%dT%H:%M:%S.%g%z',
  '%Y-%m-%dT%H:%M:%S.%f%z',
  '%Y-%m-%d %H:%M',
  '%Y/%m/%d %H:%M:%S',
  '%d/%m/%Y %H:%M:%S',
  '%m/%d/%Y %H:%M:%S',
  '%d.%m.%Y %H:%M:%S',
  // As logging libraries write them (Python's logging: a comma before the milliseconds; an offset after a space).
  '%Y-%m-%d %H:%M:%S,%g',
  '%Y-%m-%d %H:%M:%S,%f',
  '%Y-%m-%d %H:%M:%S%z',
  '%Y-%m-%d %H:%M:%S.%g%z',
];
export const DATE_FORMATS = ['%Y-%m-%d', '%Y/%m/%d', '%d/%m/%Y', '%m/%d/%Y', '%d.%m.%Y', '%Y%m%d'];

/** Share of a column's sampled values that may fail its type and still count as bad records, not a text column. */
export const MAX_INVALID_SHARE = 0.01;
/** A column needs at most this many formats; more means it is not one timestamp layout. */
const MAX_FORMATS = 3;

export interface TypeProbe {
  type: string;
  formats?: string[];
  /** Sampled values that do not parse as `type` (records the ETL will quarantine). */
  invalid: number;
  /** One such value, for the reviewer. */
  example?: string;
}

/** Our column type for a DuckDB type; types we do not model (nested, time, blob, uuid) are kept as text. */
export function columnTypeOf(duckdbType: string): { type: string; note?: string } {
  const t = duckdbType.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return { type: `decimal(${decimal[1]},${decimal[2]})` };
  switch (t) {
    case 'VARCHAR':
      return { type: 'string' };
    case 'BOOLEAN':
      return { type: 'boolean' };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'UTINYINT':
    case 'USMALLINT':
      return { type: 'int' };
    case 'UINTEGER':
    case 'BIGINT':
      return { type: 'bigint' };
    case 'UBIGINT':
      return { type: 'decimal(20,0)' };
    case 'HUGEINT':
    case 'UHUGEINT':
      return { type: 'decimal(38,0)' };
    case 'FLOAT':
    case 'DOUBLE':
      return { type: 'double' };
    case 'DATE':
      return { type: 'date' };
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
    case 'TIMESTAMP WITH TIME ZONE':
      return { type: 'timestamp' };
    default:
      return { type: 'string', note: `DuckDB saw ${duckdbType}; kept as text (its JSON or literal form)` };
  }
}

/**
 * The fewest strptime formats that together parse the column's sampled values, chosen greedily (the format
 * that parses most of what is left, first). `preferred` formats (DuckDB's own detection) win ties. Returns no
 * formats when more than MAX_INVALID_SHARE of the values would be left unparsed.
 */
export async function probeFormats(
  connection: DuckDBConnection,
  source: string,
  kind: TemporalKind,
  preferred: string[],
): Promise<TypeProbe> {
  const candidates = [...new Set([...preferred, ...(kind === 'timestamp' ? TIMESTAMP_FORMATS : DATE_FORMATS)])];
  const v = sqlIdent(source);
  const values = await countValues(connection, source);
  const chosen: string[] = [];
  for (;;) {
    const uncovered = `${v} IS NOT NULL${chosen.map((f) => ` AND try_strptime(${v}, ${sqlString(f)}) IS NULL`).join('')}`;
    const remaining = candidates.filter((f) => !chosen.includes(f));
    const [r] = await readSql(
      connection,
      `SELECT count(*) AS left_over, min(${v}) AS example` +
        remaining.map((f, i) => `, count(try_strptime(${v}, ${sqlString(f)})) AS f${i}`).join('') +
        ` FROM ${RAW_TABLE} WHERE ${uncovered}`,
      `cannot probe the formats of column ${source}`,
    );
    const leftOver = Number(r!.left_over);
    const counts = remaining.map((_, i) => Number(r![`f${i}`]));
    const top = Math.max(0, ...counts);
    if (leftOver === 0 || top === 0 || chosen.length >= MAX_FORMATS) {
      if (chosen.length === 0 || leftOver > values * MAX_INVALID_SHARE) return { type: 'string', invalid: leftOver };
      return {
        type: kind,
        formats: chosen,
        invalid: leftOver,
        ...(leftOver > 0 ? { example: String(r!.example) } : {}),
      };
    }
    chosen.push(remaining[counts.indexOf(top)]!);
  }
}

/**
 * A typed reading of a column DuckDB left as text, when all but a few of its values (at most
 * MAX_INVALID_SHARE; for integers and numbers at least one) are integers, numbers, timestamps or dates. Undefined
 * when it is text.
 * A column whose values all parse as numbers was left as text by DuckDB on purpose (JSON strings such as "01234");
 * one whose values all parse as timestamps or dates by the probed formats was not (see below).
 */
export async function probeTextColumn(connection: DuckDBConnection, source: string): Promise<TypeProbe | undefined> {
  const v = sqlIdent(source);
  const [r] = await readSql(
    connection,
    `SELECT count(${v}) AS n,
            count(${v}) - count(TRY_CAST(${v} AS BIGINT)) AS bad_bigint,
            min(${v}) FILTER (WHERE TRY_CAST(${v} AS BIGINT) IS NULL) AS example_bigint,
            count(${v}) - count(TRY_CAST(${v} AS DOUBLE)) AS bad_double,
            min(${v}) FILTER (WHERE TRY_CAST(${v} AS DOUBLE) IS NULL) AS example_double,
            count(${v}) FILTER (WHERE NOT regexp_matches(${v}, '^\\s*\\d{1,4}[-/.]\\d{1,2}[-/.]\\d{1,4}')) AS not_dated
       FROM ${RAW_TABLE}`,
    `cannot probe the type of column ${source}`,
  );
  const n = Number(r!.n);
  const tolerated = (bad: number): boolean => bad > 0 && bad <= n * MAX_INVALID_SHARE;
  if (n === 0) return undefined;
  const badBigint = Number(r!.bad_bigint);
  if (tolerated(badBigint)) return { type: 'bigint', invalid: badBigint, example: String(r!.example_bigint) };
  const badDouble = Number(r!.bad_double);
  if (tolerated(badDouble)) return { type: 'double', invalid: badDouble, example: String(r!.example_double) };
  // Only a column whose values nearly all start like a date is worth the format probes.
  if (badDouble === 0 || Number(r!.not_dated) > n * MAX_INVALID_SHARE) return undefined;
  // A column whose values all parse is a timestamp too: DuckDB's sniffer knows one layout per column, and leaves a
  // column written in two (`2023-03-01 10:00:00` and `02/03/2023 10:00:00`) as text. probeFormats already allows
  // at most MAX_INVALID_SHARE of the values to fail.
  for (const kind of ['timestamp', 'date'] as const) {
    const probe = await probeFormats(connection, source, kind, []);
    if (probe.type === kind) return probe;
  }
  return undefined;
}

async function countValues(connection: DuckDBConnection, source: string): Promise<number> {
  const [r] = await readSql(
    connection,
    `SELECT count(${sqlIdent(source)}) AS n FROM ${RAW_TABLE}`,
    `cannot count the values of column ${source}`,
  );
  return Number(r!.n);
}

/**
 * The format that reads a column's values with day and month swapped (`%d/%m/%Y` and `%m/%d/%Y`), when every sampled
 * value one of `formats` parses parses by it too: with no day above 12 in the sample, nothing tells the two apart,
 * and the wrong one puts every row on another date. Undefined when the sample decides it.
 */
export async function dayMonthAmbiguity(
  connection: DuckDBConnection,
  source: string,
  formats: string[],
): Promise<{ format: string; swapped: string } | undefined> {
  const v = sqlIdent(source);
  for (const format of formats) {
    // Only day and month before the year: year first is ISO's order, which no one writes month last.
    const [d, m, y] = ['%d', '%m', '%Y'].map((f) => format.indexOf(f));
    if (d! < 0 || m! < 0 || y! < Math.max(d!, m!)) continue;
    const swapped = swapDayMonth(format);
    const [r] = await readSql(
      connection,
      `SELECT count(*) FILTER (WHERE try_strptime(${v}, ${sqlString(format)}) IS NOT NULL) AS parsed,
              count(*) FILTER (WHERE try_strptime(${v}, ${sqlString(format)}) IS NOT NULL
                                 AND try_strptime(${v}, ${sqlString(swapped)}) IS NULL) AS decided,
              count(*) FILTER (WHERE try_strptime(${v}, ${sqlString(format)})
                                     IS DISTINCT FROM try_strptime(${v}, ${sqlString(swapped)})) AS differ
         FROM ${RAW_TABLE}`,
      `cannot probe the formats of column ${source}`,
    );
    if (Number(r!.parsed) > 0 && Number(r!.decided) === 0 && Number(r!.differ) > 0) return { format, swapped };
  }
  return undefined;
}

function swapDayMonth(format: string): string {
  return format.replace(/%d|%m/g, (f) => (f === '%d' ? '%m' : '%d'));
}
