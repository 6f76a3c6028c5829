import type { NormalizedExportRequest, NormalizedPredicate } from './export-request.js';
import { type CanonicalValue, compareValues } from './export-values.js';
import type { TableDefinition } from './table.js';

/**
 * What a Parquet footer says about one leaf column of one file, summed over its row groups (the footer cache's
 * ParquetColumnSummary has this shape). Values as hyparquet decodes them with the footer cache's parsers.
 */
export interface FileColumnStatistics {
  name: string;
  physicalType: string;
  logicalType:
    { type: string; isAdjustedToUTC?: boolean; unit?: string; bitWidth?: number; isSigned?: boolean } | undefined;
  convertedType: string | undefined;
  /** Null when a row group lacks the statistic. */
  nullCount: number | null;
  /** Undefined when the column holds only nulls or the bounds are unknown. */
  min: unknown;
  max: unknown;
  /** False when a row group holding values had no bounds: `min`/`max` are then not the file's. */
  boundsKnown: boolean;
  /** True when every row group's bounds are marked exact (not truncated) by their writer. */
  boundsExact: boolean;
}

export interface FileStatistics {
  rowCount: number;
  columns: readonly FileColumnStatistics[];
}

/**
 * Whether a file may hold a row that satisfies every predicate of the request's `where`, judged from its footer
 * statistics: false only when they prove that no row can. Used after partition pruning, so that an export reads
 * (and, with a remote store, stages) only the files that may hold its rows; the planner and every check that lists
 * the files again decide with this one function.
 *
 * Conservative: a file is kept when its footer was not read, when a predicate's column is not in it (a column added
 * later, or one whose name the engine matches another way), when its bounds are unknown or may be truncated, and
 * when its Parquet type is not one whose values the engine's `CAST(c AS <catalog type>)` keeps exactly and whose
 * statistics order as the engine compares (see boundsOf). Predicates on partition keys are partition pruning's, and
 * a masked column's raw statistics are never compared (a `where` on one is refused earlier anyway). Under a row
 * filter of the access policy nothing is pruned: the bounds also describe rows the caller may not see, and the
 * estimate's file count would tell about them.
 */
export function statisticsMayMatch(
  file: FileStatistics | undefined,
  table: TableDefinition,
  request: NormalizedExportRequest,
): boolean {
  // A predicate no value satisfies rules every file out, read or not, and says nothing of any row. Athena's query has
  // it as FALSE, for which Trino plans no scan: not asked, it is not run a second time as a query that read nothing.
  if (request.where.some(neverTrue)) return false;
  if (file === undefined || request.rowFilter.length > 0) return true;
  const keys = new Set(table.partitionKeys.map((k) => k.name));
  const masked = new Set(request.columns.filter((c) => c.mask !== null).map((c) => c.name));
  return request.where.every((p) => {
    if (keys.has(p.column) || masked.has(p.column)) return true;
    const column = file.columns.find((c) => c.name === p.column);
    return column === undefined || columnMayMatch(p, column, file.rowCount);
  });
}

/** No double or float is above NaN (DuckDB's order, which the Athena query follows). */
function neverTrue(p: NormalizedPredicate): boolean {
  return (p.kind === 'double' || p.kind === 'float') && p.op === 'GT' && p.values[0] === 'NaN';
}

/** The values a column holds, as the engine orders them: every non-null value lies within [lower, upper]. */
export interface Bounds {
  lower: CanonicalValue;
  upper: CanonicalValue;
}

function columnMayMatch(p: NormalizedPredicate, column: FileColumnStatistics, rowCount: number): boolean {
  const nulls = column.nullCount;
  if (p.op === 'IS_NULL') return nulls === null || nulls > 0;
  // Only nulls: IS NOT NULL, a comparison, CONTAINS or STARTS_WITH is never true of a row (SQL's NULL semantics).
  if (nulls !== null && nulls === rowCount) return false;
  if (p.op === 'IS_NOT_NULL' || p.op === 'CONTAINS') return true;
  const bounds = boundsOf(column, p);
  if (bounds === undefined) return true;
  const { lower, upper } = bounds;
  const cmp = (a: CanonicalValue, b: CanonicalValue): number => compareValues(p.kind, a, b);
  const outside = (v: CanonicalValue): boolean => cmp(v, lower) < 0 || cmp(v, upper) > 0;
  const v0 = p.values[0]!;
  switch (p.op) {
    case 'EQ':
      return !outside(v0);
    case 'NE':
      // Every value is v0 (nulls are never `<> v0` either).
      return !(cmp(lower, v0) === 0 && cmp(upper, v0) === 0);
    case 'LT':
      return cmp(lower, v0) < 0;
    case 'LTE':
      return cmp(lower, v0) <= 0;
    case 'GT':
      return cmp(upper, v0) > 0;
    case 'GTE':
      return cmp(upper, v0) >= 0;
    case 'IN':
      return !p.values.every(outside);
    case 'BETWEEN':
      return cmp(p.values[1]!, lower) >= 0 && cmp(v0, upper) <= 0;
    case 'STARTS_WITH': {
      // Text starting with v0 sorts at or after v0 and before any text above v0 that does not start with it.
      const prefix = String(v0);
      if (cmp(upper, prefix) < 0) return false;
      return !(cmp(lower, prefix) > 0 && !String(lower).startsWith(prefix));
    }
  }
}

const SIGNED_INTEGERS = new Set([undefined, 'INT_8', 'INT_16', 'INT_32', 'INT_64']);
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * The file's bounds of a column in the predicate's canonical values, when its Parquet type is one the engine's cast
 * to the catalog type keeps value for value and its statistics order as the engine compares; otherwise undefined.
 * Decimals (whose statistics hyparquet decodes to rounded doubles), FLOAT under a double, DOUBLE under a float, TIMESTAMP_NS, timestamps
 * adjusted to UTC (TIMESTAMPTZ, read through the session's time zone), INT96, unsigned integers, UUIDs, binary and
 * other annotations are never pruned on.
 */
function boundsOf(column: FileColumnStatistics, p: NormalizedPredicate): Bounds | undefined {
  const { min, max, physicalType: physical, logicalType: logical, convertedType: converted } = column;
  if (!column.boundsKnown || min === undefined || max === undefined) return undefined;
  switch (p.kind) {
    case 'string': {
      // Parquet orders UTF-8 text by unsigned bytes, as DuckDB compares VARCHAR; a truncated bound is not a value.
      const text = converted === 'UTF8' || logical?.type === 'STRING';
      if (physical !== 'BYTE_ARRAY' || !text || !column.boundsExact) return undefined;
      return typeof min === 'string' && typeof max === 'string' ? { lower: min, upper: max } : undefined;
    }
    case 'int':
    case 'bigint': {
      const width = p.kind === 'int' ? ['INT32'] : ['INT32', 'INT64'];
      if (!width.includes(physical) || !SIGNED_INTEGERS.has(converted) || !signedIntegerLogical(logical)) {
        return undefined;
      }
      const lower = integer(min);
      const upper = integer(max);
      if (lower === undefined || upper === undefined) return undefined;
      return p.kind === 'int'
        ? { lower: Number(lower), upper: Number(upper) }
        : { lower: lower.toString(), upper: upper.toString() };
    }
    case 'double': {
      // Not FLOAT: DuckDB pushes `column OP constant` into the scan of a FLOAT file read beside a DOUBLE one with the
      // constant rounded to a float, so that a FLOAT 0.2 equals the double 0.2 its exact bounds (0.20000000298...)
      // exclude. The export's query no longer lets it (export-sql.ts predicateSql compares such a column as an
      // expression); these bounds stay unused all the same, which can only read more.
      if (physical !== 'DOUBLE' || logical !== undefined || converted !== undefined) return undefined;
      if (typeof min !== 'number' || typeof max !== 'number' || Number.isNaN(min) || Number.isNaN(max)) {
        return undefined;
      }
      // Parquet bounds leave NaN out, and DuckDB orders NaN above every other double: NaN may be there.
      return { lower: min === 0 ? 0 : min, upper: 'NaN' };
    }
    case 'float': {
      // FLOAT only: the column and the predicate's value (`CAST(? AS FLOAT)`) are then both floats, and the bounds
      // (read exactly, 0.10000000149... for 0.1) compare with the value as floats (compareValues). A DOUBLE file of
      // a float column is cast down to float when read, which its bounds do not describe.
      if (physical !== 'FLOAT' || logical !== undefined || converted !== undefined) return undefined;
      if (typeof min !== 'number' || typeof max !== 'number' || Number.isNaN(min) || Number.isNaN(max)) {
        return undefined;
      }
      return { lower: min === 0 ? 0 : min, upper: 'NaN' };
    }
    case 'boolean':
      if (physical !== 'BOOLEAN' || logical !== undefined || converted !== undefined) return undefined;
      return typeof min === 'boolean' && typeof max === 'boolean' ? { lower: min, upper: max } : undefined;
    case 'timestamp': {
      // The footer cache decodes MILLIS and MICROS exactly as canonical ISO text (parquet-footer-cache.ts).
      const plain = logical?.type === 'TIMESTAMP' && logical.isAdjustedToUTC === false;
      if (physical !== 'INT64' || !plain || (logical.unit !== 'MILLIS' && logical.unit !== 'MICROS')) return undefined;
      if (typeof min !== 'string' || typeof max !== 'string' || !ISO_TIMESTAMP.test(min) || !ISO_TIMESTAMP.test(max)) {
        return undefined;
      }
      return millisecondBounds(min, max);
    }
    case 'date': {
      const date = converted === 'DATE' || logical?.type === 'DATE';
      if (physical !== 'INT32' || !date) return undefined;
      const lower = isoDate(min);
      const upper = isoDate(max);
      return lower === undefined || upper === undefined ? undefined : { lower, upper };
    }
    case 'decimal':
      return undefined;
  }
}

/**
 * Timestamp bounds widened to whole milliseconds: the Athena engine reads a Hive table's timestamps rounded to the
 * millisecond (`00:00:00.123600` is `.124` there), so a value may compare there as the millisecond on either side of
 * it; the DuckDB engine's exact values lie within too. Undefined when the upper millisecond is past year 9999. Takes
 * canonical timestamps (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
 */
export function millisecondBounds(min: string, max: string): Bounds | undefined {
  // `YYYY-MM-DDTHH:MM:SS.fff` is 23 characters; the three digits after it are the microseconds.
  const lower = `${min.slice(0, 23)}000Z`;
  if (max.slice(23, 26) === '000') return { lower, upper: max };
  const next = new Date(Date.parse(`${max.slice(0, 23)}Z`) + 1).toISOString();
  return /^\d{4}-/.test(next) ? { lower, upper: `${next.slice(0, -1)}000Z` } : undefined;
}

function signedIntegerLogical(logical: FileColumnStatistics['logicalType']): boolean {
  return logical === undefined || (logical.type === 'INTEGER' && logical.isSigned === true);
}

function integer(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined;
}

/** A date statistic (hyparquet's UTC-midnight Date) as `YYYY-MM-DD`; undefined outside years 0001 to 9999. */
function isoDate(value: unknown): string | undefined {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return undefined;
  const text = value.toISOString();
  return /^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/.test(text) ? text.slice(0, 10) : undefined;
}
