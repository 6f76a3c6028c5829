import { parseColumnType, type ColumnType } from '../domain/column-type.js';
import type { SchemaVersion, TableColumn } from '../domain/table.js';

/**
 * How a schema change affects readers of the data: SAFE (old readers and old files keep working), WIDENING
 * (values still fit, in a wider type or now possibly null), BREAKING (a column is gone, narrowed, changed
 * incompatibly, or a required column appears that old files lack).
 */
export type Compatibility = 'SAFE' | 'WIDENING' | 'BREAKING';

export interface ColumnChange {
  name: string;
  from: TableColumn;
  to: TableColumn;
  compatibility: Compatibility;
}

export interface SchemaDiff {
  added: TableColumn[];
  removed: TableColumn[];
  changed: ColumnChange[];
  compatibility: Compatibility;
}

export interface SchemaVersionView extends SchemaVersion {
  /** The change from the previous version; null for the first. */
  change: SchemaDiff | null;
}

const RANK: Record<Compatibility, number> = { SAFE: 0, WIDENING: 1, BREAKING: 2 };

function worst(a: Compatibility, b: Compatibility): Compatibility {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Versions oldest first, each with its change from the one before. */
export function schemaHistory(versions: readonly SchemaVersion[]): SchemaVersionView[] {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  return sorted.map((v, i) => ({ ...v, change: i === 0 ? null : diffSchemas(sorted[i - 1]!.columns, v.columns) }));
}

export function diffSchemas(before: readonly TableColumn[], after: readonly TableColumn[]): SchemaDiff {
  const old = new Map(before.map((c) => [c.name, c]));
  const now = new Map(after.map((c) => [c.name, c]));
  const added = after.filter((c) => !old.has(c.name));
  const removed = before.filter((c) => !now.has(c.name));
  const changed: ColumnChange[] = [];
  for (const to of after) {
    const from = old.get(to.name);
    if (from === undefined || (from.type === to.type && from.nullable === to.nullable)) continue;
    changed.push({ name: to.name, from, to, compatibility: columnChange(from, to) });
  }
  let compatibility: Compatibility = 'SAFE';
  if (removed.length > 0) compatibility = 'BREAKING';
  // Files written before the column existed read it as null, which a required column does not allow.
  if (added.some((c) => !c.nullable)) compatibility = 'BREAKING';
  for (const c of changed) compatibility = worst(compatibility, c.compatibility);
  return { added, removed, changed, compatibility };
}

function columnChange(from: TableColumn, to: TableColumn): Compatibility {
  let result: Compatibility = 'SAFE';
  if (from.nullable !== to.nullable) result = to.nullable ? 'WIDENING' : 'BREAKING';
  if (from.type !== to.type) result = worst(result, typeChange(parseColumnType(from.type), parseColumnType(to.type)));
  return result;
}

/** Widening where every old value is exactly representable in the new type. */
function typeChange(from: ColumnType, to: ColumnType): Compatibility {
  switch (from.kind) {
    case 'int':
      return to.kind === 'bigint' || to.kind === 'double' ? 'WIDENING' : decimalHolds(to, 10, 0);
    case 'bigint':
      return decimalHolds(to, 19, 0);
    case 'float':
      return to.kind === 'double' ? 'WIDENING' : 'BREAKING';
    case 'decimal':
      return decimalHolds(to, from.precision - from.scale, from.scale);
    case 'date':
      return to.kind === 'timestamp' ? 'WIDENING' : 'BREAKING';
    case 'string':
    case 'double':
    case 'boolean':
    case 'timestamp':
      return 'BREAKING';
  }
}

/** A decimal target holds every value with `integerDigits` digits before the point and `scale` after it. */
function decimalHolds(to: ColumnType, integerDigits: number, scale: number): Compatibility {
  if (to.kind !== 'decimal') return 'BREAKING';
  return to.precision - to.scale >= integerDigits && to.scale >= scale ? 'WIDENING' : 'BREAKING';
}
