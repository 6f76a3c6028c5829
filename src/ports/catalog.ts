import type { PartitionRecord, SchemaVersion, TableDefinition } from '../domain/table.js';

export interface PartitionPage {
  partitions: PartitionRecord[];
  nextToken?: string | undefined;
}

/**
 * The catalog port: table definitions, their schema versions and registered partitions.
 * Adapters: the local catalog (JSON files in the processed bucket) and AWS Glue.
 */
export interface Catalog {
  readonly kind: 'local' | 'glue';
  /** Every table, sorted by name. */
  listTables(): Promise<TableDefinition[]>;
  getTable(name: string): Promise<TableDefinition | undefined>;
  /**
   * Creates the table or updates it. When the columns differ from the current version a new schema
   * version is recorded and returned in `schemaVersion`; an identical definition changes nothing.
   */
  putTable(table: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>): Promise<TableDefinition>;
  schemaVersions(name: string): Promise<SchemaVersion[]>;
  /** Registers partitions; partitions that already exist are not an error. */
  addPartitions(name: string, partitions: PartitionRecord[]): Promise<void>;
  /**
   * Removes the records of partitions (by their values) that hold no files any more; partitions that are not
   * registered are not an error.
   */
  removePartitions(name: string, partitions: Pick<PartitionRecord, 'values'>[]): Promise<void>;
  /**
   * Whether the table has a registered partition: one request, where listPartitions (sorted) may read them all. False
   * for a table that does not exist.
   */
  hasPartitions(name: string): Promise<boolean>;
  /** Partitions sorted by their values, a page at a time. */
  listPartitions(name: string, options?: { maxResults?: number; token?: string }): Promise<PartitionPage>;
  deleteTable(name: string): Promise<void>;
}
