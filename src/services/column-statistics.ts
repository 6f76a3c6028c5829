import { parseColumnType } from '../domain/column-type.js';
import { float32AsDuckdbDouble } from '../domain/float32.js';
import type { TableColumn } from '../domain/table.js';
import { compareUtf8 } from '../domain/utf8-order.js';
import {
  compareBounds,
  type ParquetColumnSummary,
  type ParquetFileSummary,
  type StatValue,
} from './parquet-footer-cache.js';

/**
 * Column statistics of a whole dataset, from Parquet footers. `min`/`max` are text in the column's canonical
 * form (see `formatStatValue`) because one GraphQL field serves every column type.
 */
export interface ColumnStatistics {
  /** Null when some file has no null-count statistic. */
  nullCount: number | null;
  /** Null when the column holds only nulls, when some file lacks bounds, or when the deciding bound is a cut one. */
  min: string | null;
  max: string | null;
}

/** The Hive partition value that stands for null. */
export const HIVE_NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

/** One leaf column's figures over a set of files, before they are formatted for a table column. */
export interface ColumnAggregate {
  /** Sum of the null counts of the files that hold the column; null when one of them has no null count. */
  nullCount: number | null;
  /** Rows of the files that hold the column: the rows of the others are nulls of it. */
  rows: number;
  /** Smallest and largest value over the files, compared by compareBounds. */
  min: StatValue | undefined;
  max: StatValue | undefined;
  /** False when a file lacks bounds for it: then min and max are not the true bounds. */
  boundsKnown: boolean;
  /** Whether min (max) is a value of the column, not a bound a writer cut (see ParquetColumnSummary.minExact). */
  minExact: boolean;
  maxExact: boolean;
  /**
   * For a decimal column, the scale of `min` and `max` when they are unscaled integers (bigints): files may hold the
   * column at different scales (DECIMAL(10,2) beside DECIMAL(12,4)), whose unscaled integers are brought to the
   * largest before they are compared. Undefined for other columns.
   */
  scale: number | undefined;
}

/** Every leaf column of a set of files, aggregated in one pass over the files (not one pass per column). */
export interface FileColumnAggregates {
  /** Rows of all the files. */
  rowCount: number;
  columns: ReadonlyMap<string, ColumnAggregate>;
}

export function aggregateFileColumns(files: readonly ParquetFileSummary[]): FileColumnAggregates {
  const columns = new Map<string, ColumnAggregate>();
  let rowCount = 0;
  for (const file of files) {
    rowCount += file.rowCount;
    for (const col of file.columns) {
      let agg = columns.get(col.name);
      if (agg === undefined) {
        agg = {
          nullCount: 0,
          rows: 0,
          min: undefined,
          max: undefined,
          boundsKnown: true,
          minExact: true,
          maxExact: true,
          scale: undefined,
        };
        columns.set(col.name, agg);
      }
      let colMin = col.min;
      let colMax = col.max;
      // A plain integer is a decimal of scale 0: a column widened from int or bigint to a decimal has files of both.
      const scale = decimalScale(col) ?? (plainInteger(col) ? 0 : undefined);
      if (scale !== undefined) {
        colMin = typeof colMin === 'number' && Number.isInteger(colMin) ? BigInt(colMin) : colMin;
        colMax = typeof colMax === 'number' && Number.isInteger(colMax) ? BigInt(colMax) : colMax;
        const common = Math.max(scale, agg.scale ?? scale);
        agg.min = rescaled(agg.min, common - (agg.scale ?? common));
        agg.max = rescaled(agg.max, common - (agg.scale ?? common));
        agg.scale = common;
        colMin = rescaled(colMin, common - scale);
        colMax = rescaled(colMax, common - scale);
      }
      agg.rows += file.rowCount;
      agg.nullCount = agg.nullCount === null || col.nullCount === null ? null : agg.nullCount + col.nullCount;
      if (!col.boundsKnown) agg.boundsKnown = false;
      if (colMin !== undefined) {
        const order = agg.min === undefined ? -1 : compareBounds(colMin, agg.min, col.physicalType);
        // On a tie an exact bound wins: the cut one's true value is at least it.
        if (order < 0 || (order === 0 && col.minExact)) {
          agg.min = colMin;
          agg.minExact = col.minExact;
        }
      }
      if (colMax !== undefined) {
        const order = agg.max === undefined ? 1 : compareBounds(colMax, agg.max, col.physicalType);
        if (order > 0 || (order === 0 && col.maxExact)) {
          agg.max = colMax;
          agg.maxExact = col.maxExact;
        }
      }
    }
  }
  return { rowCount, columns };
}

/** The scale of a decimal column's schema element (its converted type's, or its logical type's); else undefined. */
function decimalScale(col: ParquetColumnSummary): number | undefined {
  if (col.convertedType !== 'DECIMAL' && col.logicalType?.type !== 'DECIMAL') return undefined;
  return col.scale ?? (col.logicalType?.type === 'DECIMAL' ? col.logicalType.scale : undefined);
}

/** Whether the column holds plain integers (INT32 or INT64 without a decimal, date or time annotation). */
function plainInteger(col: ParquetColumnSummary): boolean {
  if (col.physicalType !== 'INT32' && col.physicalType !== 'INT64') return false;
  const converted = col.convertedType;
  if (converted !== undefined && !converted.startsWith('INT_') && !converted.startsWith('UINT_')) return false;
  return col.logicalType === undefined || col.logicalType.type === 'INTEGER';
}

/** An unscaled decimal bound with `digits` more digits of scale (exact); other values as they are. */
function rescaled(value: StatValue | undefined, digits: number): StatValue | undefined {
  return typeof value === 'bigint' && digits > 0 ? value * 10n ** BigInt(digits) : value;
}

/**
 * One data column's statistics from the aggregates of the readable files. A file written before the column existed
 * counts all its rows as nulls and does not affect the bounds.
 */
export function columnStatistics(column: TableColumn, aggregates: FileColumnAggregates): ColumnStatistics {
  const agg = aggregates.columns.get(column.name);
  if (agg === undefined) return { nullCount: aggregates.rowCount, min: null, max: null };
  const nullCount = agg.nullCount === null ? null : agg.nullCount + (aggregates.rowCount - agg.rows);
  if (!agg.boundsKnown) return { nullCount, min: null, max: null };
  // A cut bound is no value of the column (a prefix, or a prefix with its last byte raised): no text rather than that.
  const format = (value: StatValue): string | null => {
    const type = parseColumnType(column.type);
    if (agg.scale === undefined || type.kind !== 'decimal' || typeof value !== 'bigint') {
      return formatStatValue(value, column);
    }
    // The unscaled integer at the aggregate's scale, written at the column's: exact, or no text.
    const digits = type.scale - agg.scale;
    if (digits >= 0) return formatStatValue(value * 10n ** BigInt(digits), column);
    const divisor = 10n ** BigInt(-digits);
    return value % divisor === 0n ? formatStatValue(value / divisor, column) : null;
  };
  return {
    nullCount,
    min: agg.min === undefined || !agg.minExact ? null : format(agg.min),
    max: agg.max === undefined || !agg.maxExact ? null : format(agg.max),
  };
}

/** Aggregates one data column over the readable files (see columnStatistics). */
export function aggregateColumnStatistics(column: TableColumn, files: readonly ParquetFileSummary[]): ColumnStatistics {
  return columnStatistics(column, aggregateFileColumns(files));
}

/** A partition key's statistics from the values in the file paths, weighted by each file's rows. */
export function partitionKeyStatistics(
  column: TableColumn,
  files: readonly { values: Record<string, string>; rowCount: number }[],
): ColumnStatistics {
  let nullCount = 0;
  let min: string | undefined;
  let max: string | undefined;
  const numeric =
    column.kind === 'int' || column.kind === 'bigint' || column.kind === 'float' || column.kind === 'double';
  const compare = (a: string, b: string): number => (numeric ? Number(a) - Number(b) : compareUtf8(a, b));
  for (const file of files) {
    const value = file.values[column.name];
    if (value === undefined || value === HIVE_NULL_PARTITION) {
      nullCount += file.rowCount;
      continue;
    }
    if (min === undefined || compare(value, min) < 0) min = value;
    if (max === undefined || compare(value, max) > 0) max = value;
  }
  return { nullCount, min: min ?? null, max: max ?? null };
}

/**
 * Canonical text of a statistics value: timestamps as ISO 8601 UTC with microseconds
 * (`2024-01-01T08:00:00.123456Z`), dates as `yyyy-mm-dd`, decimals with exactly `scale` digits after the
 * point, integers in full (64-bit values are exact), booleans as `true`/`false`; a float with the digits DuckDB writes for it
 * (`0.1`, where the footer holds 0.10000000149011612).
 */
export function formatStatValue(value: StatValue, column: TableColumn): string | null {
  switch (column.kind) {
    case 'timestamp':
      if (!(value instanceof Date)) return String(value);
      return Number.isNaN(value.getTime()) ? null : value.toISOString();
    case 'date':
      // Up to the `T`: a year past 9999 is written in ISO 8601's extended form (`+010000-01-01`), which a fixed
      // slice cut to `+010000-01`.
      if (!(value instanceof Date)) return String(value);
      // Past JavaScript's dates (DuckDB accepts year 300000): no text rather than a RangeError for the whole query.
      return Number.isNaN(value.getTime()) ? null : value.toISOString().split('T')[0]!;
    case 'decimal': {
      const type = parseColumnType(column.type);
      const scale = type.kind === 'decimal' ? type.scale : 0;
      if (typeof value === 'number') return value.toFixed(scale);
      if (typeof value === 'bigint') return scaleBigInt(value, scale);
      return String(value);
    }
    case 'string':
      return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value);
    case 'float':
      if (typeof value === 'number') return String(float32AsDuckdbDouble(value));
      return value instanceof Uint8Array ? null : String(value);
    case 'int':
    case 'bigint':
    case 'double':
    case 'boolean':
      return value instanceof Uint8Array ? null : String(value);
  }
}

function scaleBigInt(unscaled: bigint, scale: number): string {
  if (scale === 0) return unscaled.toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
