import { parseColumnType } from '../domain/column-type.js';
import type { TableColumn } from '../domain/table.js';
import { compareStatValues, type ParquetFileSummary, type StatValue } from './parquet-footer-cache.js';

/**
 * Column statistics of a whole dataset, from Parquet footers. `min`/`max` are text in the column's canonical
 * form (see `formatStatValue`) because one GraphQL field serves every column type.
 */
export interface ColumnStatistics {
  /** Null when some file has no null-count statistic. */
  nullCount: number | null;
  /** Null when the column holds only nulls, or when some file lacks bounds. */
  min: string | null;
  max: string | null;
}

/** The Hive partition value that stands for null. */
export const HIVE_NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

/**
 * Aggregates one data column over the readable files. A file written before the column existed counts all
 * its rows as nulls and does not affect the bounds.
 */
export function aggregateColumnStatistics(column: TableColumn, files: readonly ParquetFileSummary[]): ColumnStatistics {
  let nullCount: number | null = 0;
  let min: StatValue | undefined;
  let max: StatValue | undefined;
  let boundsKnown = true;
  for (const file of files) {
    const col = file.columns.find((c) => c.name === column.name);
    if (col === undefined) {
      if (nullCount !== null) nullCount += file.rowCount;
      continue;
    }
    nullCount = nullCount === null || col.nullCount === null ? null : nullCount + col.nullCount;
    if (!col.boundsKnown) boundsKnown = false;
    if (col.min !== undefined && (min === undefined || compareStatValues(col.min, min) < 0)) min = col.min;
    if (col.max !== undefined && (max === undefined || compareStatValues(col.max, max) > 0)) max = col.max;
  }
  if (!boundsKnown) return { nullCount, min: null, max: null };
  return {
    nullCount,
    min: min === undefined ? null : formatStatValue(min, column),
    max: max === undefined ? null : formatStatValue(max, column),
  };
}

/** A partition key's statistics from the values in the file paths, weighted by each file's rows. */
export function partitionKeyStatistics(
  column: TableColumn,
  files: readonly { values: Record<string, string>; rowCount: number }[],
): ColumnStatistics {
  let nullCount = 0;
  let min: string | undefined;
  let max: string | undefined;
  const numeric = column.kind === 'int' || column.kind === 'bigint' || column.kind === 'double';
  const compare = (a: string, b: string): number =>
    numeric ? Number(a) - Number(b) : Buffer.compare(Buffer.from(a), Buffer.from(b));
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
 * point, integers in full (64-bit values are exact), booleans as `true`/`false`.
 */
export function formatStatValue(value: StatValue, column: TableColumn): string | null {
  switch (column.kind) {
    case 'timestamp':
      return value instanceof Date ? value.toISOString() : String(value);
    case 'date':
      return value instanceof Date ? value.toISOString().slice(0, 10) : String(value);
    case 'decimal': {
      const type = parseColumnType(column.type);
      const scale = type.kind === 'decimal' ? type.scale : 0;
      if (typeof value === 'number') return value.toFixed(scale);
      if (typeof value === 'bigint') return scaleBigInt(value, scale);
      return String(value);
    }
    case 'string':
      return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value);
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
