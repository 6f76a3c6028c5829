import type { ColumnKind } from '../../src/domain/column-type.js';
import type { TableColumn, TableDefinition } from '../../src/domain/table.js';

export function column(name: string, type: string, extra: Partial<TableColumn> = {}): TableColumn {
  const kind = (type.startsWith('decimal') ? 'decimal' : type) as ColumnKind;
  return { name, type, kind, nullable: true, description: '', pii: false, ...extra };
}

/** A catalog table with one column of every type, partitioned by `event_date`. */
export function typesTable(overrides: Partial<TableDefinition> = {}): TableDefinition {
  return {
    name: 'events',
    description: 'every column type',
    columns: [
      column('id', 'bigint', { nullable: false }),
      column('name', 'string'),
      column('priority', 'int'),
      column('score', 'double'),
      column('active', 'boolean'),
      column('created_at', 'timestamp'),
      column('day', 'date'),
      column('amount', 'decimal(18,4)'),
      column('email', 'string', { pii: true }),
    ],
    partitionKeys: [column('event_date', 'date', { nullable: false })],
    location: 'events/',
    origin: 'etl',
    schemaVersion: 1,
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...overrides,
  };
}
