import { type ColumnType, formatColumnType, parseColumnType } from './column-type.js';

/**
 * How a table's schema changed between two versions, and whether data written under the old version stays
 * readable under the new one. Parquet files are never rewritten on a schema change: readers union files by
 * column name, so a change is only allowed when every old value still fits the new column.
 *
 * - safe: nothing old is affected (a nullable column added, columns reordered).
 * - widening: every old value still fits, in a wider type or now possibly null: a column's type grew (int → bigint,
 *   decimal(10,2) → decimal(12,2)), old values converting losslessly, or a required column was made nullable.
 * - breaking: old data would be lost or invalid (a column removed, a type narrowed or changed, a required column
 *   added, a nullable column made required).
 */
export type SchemaCompatibility = 'safe' | 'widening' | 'breaking';

/** The part of a column that matters for compatibility; catalog `TableColumn`s satisfy it. */
export interface SchemaColumnShape {
  name: string;
  /** Canonical type text: `string`, `int`, ..., `decimal(p,s)`. */
  type: string;
  nullable: boolean;
}

export type ColumnChangeKind = 'added' | 'removed' | 'type_changed' | 'nullability_changed';

export interface ColumnChange {
  column: string;
  kind: ColumnChangeKind;
  before: SchemaColumnShape | null;
  after: SchemaColumnShape | null;
  compatibility: SchemaCompatibility;
  /** One sentence for people, e.g. `column "priority" widened from int to bigint`. */
  explanation: string;
}

export interface SchemaChange {
  /** The worst compatibility of any change; `safe` when nothing changed. */
  compatibility: SchemaCompatibility;
  /** True when no column was added, removed or changed (order is ignored: readers match columns by name). */
  unchanged: boolean;
  added: string[];
  removed: string[];
  /** Columns whose type or nullability changed. */
  changed: string[];
  /** Every change in the order of the new schema, then removed columns in the order of the old one. */
  changes: ColumnChange[];
}

const RANK: Record<SchemaCompatibility, number> = { safe: 0, widening: 1, breaking: 2 };

/** Classifies the change from `before` to `after`. Pure: no catalog, no I/O. */
export function classifySchemaChange(
  before: readonly SchemaColumnShape[],
  after: readonly SchemaColumnShape[],
): SchemaChange {
  const old = new Map(before.map((c) => [c.name, c]));
  const next = new Set(after.map((c) => c.name));
  const changes: ColumnChange[] = [];

  for (const a of after) {
    const b = old.get(a.name);
    const shapeA = shape(a);
    if (b === undefined) {
      changes.push(
        a.nullable
          ? change(
              a.name,
              'added',
              null,
              shapeA,
              'safe',
              `column "${a.name}" added as nullable: old data reads as null`,
            )
          : change(
              a.name,
              'added',
              null,
              shapeA,
              'breaking',
              `column "${a.name}" added as required, but existing data has no values for it`,
            ),
      );
      continue;
    }
    const shapeB = shape(b);
    const typeChange = compareTypes(b.type, a.type);
    if (typeChange !== 'same') {
      changes.push(
        typeChange === 'widening'
          ? change(
              a.name,
              'type_changed',
              shapeB,
              shapeA,
              'widening',
              `column "${a.name}" widened from ${shapeB.type} to ${shapeA.type}`,
            )
          : change(
              a.name,
              'type_changed',
              shapeB,
              shapeA,
              'breaking',
              `column "${a.name}" changed from ${shapeB.type} to ${shapeA.type}, which existing values may not fit`,
            ),
      );
    }
    if (b.nullable !== a.nullable) {
      changes.push(
        a.nullable
          ? change(a.name, 'nullability_changed', shapeB, shapeA, 'widening', `column "${a.name}" became nullable`)
          : change(
              a.name,
              'nullability_changed',
              shapeB,
              shapeA,
              'breaking',
              `column "${a.name}" became required, but existing data may hold nulls`,
            ),
      );
    }
  }
  for (const b of before) {
    if (!next.has(b.name)) {
      changes.push(
        change(
          b.name,
          'removed',
          shape(b),
          null,
          'breaking',
          `column "${b.name}" removed: its existing values would no longer be served (exports and previews read only defined columns)`,
        ),
      );
    }
  }

  let compatibility: SchemaCompatibility = 'safe';
  for (const c of changes) if (RANK[c.compatibility] > RANK[compatibility]) compatibility = c.compatibility;
  const added = changes.filter((c) => c.kind === 'added').map((c) => c.column);
  const removed = changes.filter((c) => c.kind === 'removed').map((c) => c.column);
  const changed = [
    ...new Set(
      changes.filter((c) => c.kind === 'type_changed' || c.kind === 'nullability_changed').map((c) => c.column),
    ),
  ];
  return { compatibility, unchanged: changes.length === 0, added, removed, changed, changes };
}

/**
 * True when every value of `from` converts to `to` without loss, so Parquet files written with `from` stay
 * readable as `to`: int → bigint, int → double, float → double, int or bigint → a decimal with enough integer digits,
 * decimal(p,s) → decimal(p',s') with s' ≥ s and p'-s' ≥ p-s.
 */
export function isWideningType(from: ColumnType, to: ColumnType): boolean {
  switch (from.kind) {
    case 'int':
      return to.kind === 'bigint' || to.kind === 'double' || (to.kind === 'decimal' && to.precision - to.scale >= 10);
    case 'bigint':
      return to.kind === 'decimal' && to.precision - to.scale >= 19;
    case 'float':
      return to.kind === 'double';
    case 'decimal':
      return to.kind === 'decimal' && to.scale >= from.scale && to.precision - to.scale >= from.precision - from.scale;
    case 'string':
    case 'double':
    case 'boolean':
    case 'timestamp':
    case 'date':
      return false;
  }
}

function compareTypes(before: string, after: string): 'same' | 'widening' | 'breaking' {
  const b = parseColumnType(before);
  const a = parseColumnType(after);
  if (formatColumnType(a) === formatColumnType(b)) return 'same';
  return isWideningType(b, a) ? 'widening' : 'breaking';
}

function shape(c: SchemaColumnShape): SchemaColumnShape {
  return { name: c.name, type: formatColumnType(parseColumnType(c.type)), nullable: c.nullable };
}

function change(
  column: string,
  kind: ColumnChangeKind,
  before: SchemaColumnShape | null,
  after: SchemaColumnShape | null,
  compatibility: SchemaCompatibility,
  explanation: string,
): ColumnChange {
  return { column, kind, before, after, compatibility, explanation };
}
