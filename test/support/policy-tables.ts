import { join } from 'node:path';
import { tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import type { PolicyCaller } from '../../src/domain/policy.js';
import type { TableColumn, TableDefinition } from '../../src/domain/table.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';

/** The repository root (policy.yaml, datasets/). */
export const REPO_ROOT = join(__dirname, '..', '..');

/** The catalog tables the ETL publishes for the shipped dataset definitions (datasets/*.yaml). */
export async function shippedTables(): Promise<Record<string, TableDefinition>> {
  const registry = await DatasetRegistry.load(join(REPO_ROOT, 'datasets'));
  const out: Record<string, TableDefinition> = {};
  for (const def of registry.list()) {
    out[def.name] = { ...tableFromDefinition(def), schemaVersion: 1, updatedAt: '2024-01-01T00:00:00.000Z' };
  }
  return out;
}

export function tableOf(name: string, columns: TableColumn[], partitionKeys: TableColumn[] = []): TableDefinition {
  return {
    name,
    description: '',
    columns,
    partitionKeys,
    location: `${name}/`,
    origin: 'etl',
    schemaVersion: 1,
    updatedAt: '2024-01-01T00:00:00.000Z',
  };
}

export function col(name: string, options: Partial<TableColumn> = {}): TableColumn {
  return { name, type: 'string', kind: 'string', nullable: true, description: '', pii: false, ...options };
}

export function caller(role: string, attributes: PolicyCaller['attributes'] = {}, subject = 'k1'): PolicyCaller {
  return { id: `key:${subject}`, subject, name: `${role} caller`, role, attributes };
}
