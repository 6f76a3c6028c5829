import { BadInputError } from '../domain/errors.js';
import { coercedOrUndefined, compareValues } from '../domain/export-values.js';
import type { PartitionRecord, TableColumn, TableDefinition } from '../domain/table.js';
import { HIVE_NULL_PARTITION } from './column-statistics.js';
import { compareText } from './pagination.js';
import type { ParquetFileSummary } from './parquet-footer-cache.js';

/** A condition on one partition key; every given bound must hold. Values are partition values as text. */
export interface PartitionFilter {
  key: string;
  eq?: string | null | undefined;
  in?: string[] | null | undefined;
  gte?: string | null | undefined;
  lte?: string | null | undefined;
}

/** A partition with figures from its files. */
export interface PartitionSummary {
  /** Hive path form, `k=v/k2=v2` in key order: the sort key and the cursor key. */
  name: string;
  values: Record<string, string>;
  rowCount: number;
  sizeBytes: number;
  fileCount: number;
  unreadableFileCount: number;
  /** Newest file write; null when the partition has no files. */
  lastModified: Date | null;
  /** Processed keys of its data files, to find the runs that wrote them. */
  fileKeys: string[];
  /** Whether the catalog has the partition registered (false: found only in the files). */
  registered: boolean;
}

interface FileInput {
  key: string;
  size: number;
  lastModified: Date;
  values: Record<string, string>;
}

/** Hive-style `k=v/k2=v2` in the table's partition key order, values escaped as the writers escape them. */
export function partitionName(table: TableDefinition, values: Record<string, string>): string {
  const keys = table.partitionKeys.length > 0 ? table.partitionKeys.map((k) => k.name) : Object.keys(values).sort();
  return keys
    .filter((k) => values[k] !== undefined)
    .map((k) => `${k}=${encodeURIComponent(values[k]!)}`)
    .join('/');
}

/**
 * Every partition of a table: the catalog's registered partitions joined with the partitions found in the
 * file listing (a registered table may never have had its partitions registered), with per-partition
 * figures. Sorted by name.
 */
export function summarisePartitions(
  table: TableDefinition,
  registered: readonly PartitionRecord[],
  files: readonly FileInput[],
  footers: ReadonlyMap<string, ParquetFileSummary | undefined>,
): PartitionSummary[] {
  const byName = new Map<string, PartitionSummary>();
  const entry = (values: Record<string, string>, isRegistered: boolean): PartitionSummary => {
    const picked: Record<string, string> = {};
    for (const k of table.partitionKeys) if (values[k.name] !== undefined) picked[k.name] = values[k.name]!;
    const name = partitionName(table, picked);
    let p = byName.get(name);
    if (p === undefined) {
      p = {
        name,
        values: picked,
        rowCount: 0,
        sizeBytes: 0,
        fileCount: 0,
        unreadableFileCount: 0,
        lastModified: null,
        fileKeys: [],
        registered: isRegistered,
      };
      byName.set(name, p);
    } else if (isRegistered) p.registered = true;
    return p;
  };
  for (const r of registered) entry(r.values, true);
  if (table.partitionKeys.length > 0) {
    for (const f of files) {
      const p = entry(f.values, false);
      p.fileCount += 1;
      p.sizeBytes += f.size;
      p.fileKeys.push(f.key);
      if (p.lastModified === null || f.lastModified.getTime() > p.lastModified.getTime()) {
        p.lastModified = new Date(f.lastModified.getTime());
      }
      const footer = footers.get(f.key);
      if (footer === undefined) p.unreadableFileCount += 1;
      else p.rowCount += footer.rowCount;
    }
  }
  return [...byName.values()].filter((p) => p.name !== '').sort((a, b) => compareText(a.name, b.name));
}

/** Validates filters against the table's partition keys and types; errors name the filter and the value. */
export function checkPartitionFilters(table: TableDefinition, filters: readonly PartitionFilter[]): void {
  const keys = new Map(table.partitionKeys.map((k) => [k.name, k]));
  for (const f of filters) {
    const key = keys.get(f.key);
    if (key === undefined) {
      const known = table.partitionKeys.map((k) => k.name).join(', ');
      throw new BadInputError(
        `filter.key "${f.key}" is not a partition key of dataset "${table.name}"; partition keys: ${known === '' ? '(none)' : known}`,
      );
    }
    const given: [string, string][] = [];
    if (f.eq !== null && f.eq !== undefined) given.push(['eq', f.eq]);
    for (const v of f.in ?? []) given.push(['in', v]);
    if (f.gte !== null && f.gte !== undefined) given.push(['gte', f.gte]);
    if (f.lte !== null && f.lte !== undefined) given.push(['lte', f.lte]);
    for (const [field, value] of given) {
      const problem = typeProblem(key, value);
      if (problem !== undefined) {
        throw new BadInputError(`filter.${field} for "${f.key}": "${value}" is not ${problem}`);
      }
    }
  }
}

/**
 * Whether a partition's folder values pass the filters, each value compared by its key's type as exports compare it
 * (`02012` is the int 2012, `1.50` the decimal 1.5, bigints beyond 2^53 exactly); as text where a folder's value is
 * not of its key's type, and for the null partition (`eq` may name it; it is outside every range).
 */
export function matchesPartitionFilters(
  table: TableDefinition,
  values: Record<string, string>,
  filters: readonly PartitionFilter[],
): boolean {
  const keys = new Map(table.partitionKeys.map((k) => [k.name, k]));
  return filters.every((f) => {
    const value = values[f.key];
    const key = keys.get(f.key);
    if (value === undefined || key === undefined) return false;
    const isNull = value === HIVE_NULL_PARTITION;
    const typed = isNull ? undefined : coercedOrUndefined(value, key);
    const compare = (given: string): number => {
      const other = typed === undefined ? undefined : coercedOrUndefined(given, key);
      return typed !== undefined && other !== undefined
        ? compareValues(key.kind, typed, other)
        : compareText(value, given);
    };
    if (f.eq !== null && f.eq !== undefined && compare(f.eq) !== 0) return false;
    if (f.in !== null && f.in !== undefined && !f.in.some((v) => compare(v) === 0)) return false;
    if (f.gte !== null && f.gte !== undefined && (isNull || compare(f.gte) < 0)) return false;
    if (f.lte !== null && f.lte !== undefined && (isNull || compare(f.lte) > 0)) return false;
    return true;
  });
}

function typeProblem(column: TableColumn, value: string): string | undefined {
  switch (column.kind) {
    case 'int':
    case 'bigint':
      return /^-?\d+$/.test(value) ? undefined : 'a whole number';
    case 'float':
    case 'double':
    case 'decimal':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? undefined : 'a number';
    case 'date':
      // Date.parse rolls 2024-02-30 over into March; a day the calendar lacks names no partition, so it is refused
      // as exports refuse it.
      return /^\d{4}-\d{2}-\d{2}$/.test(value) &&
        coercedOrUndefined(value, { kind: 'date', type: 'date' }) !== undefined
        ? undefined
        : 'a date (yyyy-mm-dd)';
    case 'timestamp':
      return Number.isNaN(Date.parse(value)) ? 'a timestamp (ISO 8601)' : undefined;
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'true or false';
    case 'string':
      return undefined;
  }
}
