import { classifySchemaChange, type SchemaCompatibility } from '../domain/schema-change.js';
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
const UPPER: Record<SchemaCompatibility, Compatibility> = { safe: 'SAFE', widening: 'WIDENING', breaking: 'BREAKING' };

function worst(a: Compatibility, b: Compatibility): Compatibility {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Versions oldest first, each with its change from the one before. */
export function schemaHistory(versions: readonly SchemaVersion[]): SchemaVersionView[] {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  return sorted.map((v, i) => ({ ...v, change: i === 0 ? null : diffSchemas(sorted[i - 1]!.columns, v.columns) }));
}

/**
 * The change from `before` to `after` by the rules the ETL applies to a definition's change (classifySchemaChange in
 * domain/schema-change.ts: one rule set, so the history never calls a change widening that the ETL refuses).
 */
export function diffSchemas(before: readonly TableColumn[], after: readonly TableColumn[]): SchemaDiff {
  const change = classifySchemaChange(before, after);
  const old = new Map(before.map((c) => [c.name, c]));
  const now = new Map(after.map((c) => [c.name, c]));
  // A column whose type and nullability both changed is as compatible as the worse of the two.
  const byColumn = new Map<string, Compatibility>();
  for (const c of change.changes) {
    if (c.kind !== 'type_changed' && c.kind !== 'nullability_changed') continue;
    byColumn.set(c.column, worst(byColumn.get(c.column) ?? 'SAFE', UPPER[c.compatibility]));
  }
  return {
    added: change.added.map((name) => now.get(name)!),
    removed: change.removed.map((name) => old.get(name)!),
    changed: change.changed.map((name) => ({
      name,
      from: old.get(name)!,
      to: now.get(name)!,
      compatibility: byColumn.get(name)!,
    })),
    compatibility: UPPER[change.compatibility],
  };
}
