import type { ColumnKind } from './column-type.js';

/** Catalog records: what the catalog (local or Glue) stores about a processed table. Not GraphQL types. */
export interface TableColumn {
  name: string;
  /** Canonical type text: `string`, `int`, `bigint`, `double`, `boolean`, `timestamp`, `date`, `decimal(p,s)`. */
  type: string;
  kind: ColumnKind;
  nullable: boolean;
  description: string;
  pii: boolean;
}

export interface TableDefinition {
  name: string;
  description: string;
  columns: TableColumn[];
  partitionKeys: TableColumn[];
  /** Prefix of the table's Parquet files in the processed bucket, ending in `/`. */
  location: string;
  /** Where the table came from: our ETL, `careplus register`, or found in Glue. */
  origin: 'etl' | 'registered' | 'glue';
  schemaVersion: number;
  /** ISO 8601. */
  updatedAt: string;
  /**
   * The column whose UTC day the (date) partition key holds in every file of the table, when that is known: the ETL
   * records it when it creates the table, or while the table holds no data, and refuses to change a dataset's
   * partition source once it holds data. Tables the ETL wrote before it recorded this (whose source may have changed
   * with data in them), registered tables and Glue tables have none. With it, a range on that column prunes the
   * partitions (export-partitions.ts, dayKeysOf). Not covered: a definition whose source changes while the first
   * ingests into the empty table run, each under its own definition (both pass the check on the empty table).
   */
  dayPartitionSource?: string;
  /**
   * The event key the ETL de-duplicates the table's rows on (a dataset definition's `eventKey`), recorded at each
   * write: a later definition whose key leaves out one of its columns is refused while the table holds data, since
   * rows kept apart by that column would become duplicates that the next ingest or compaction of their days drops.
   * Tables written before it was recorded, registered tables and Glue tables have none.
   */
  eventKey?: string[];
}

export interface SchemaVersion {
  version: number;
  columns: TableColumn[];
  /** ISO 8601. */
  createdAt: string;
}

export interface PartitionRecord {
  /** Partition key → value, e.g. `{ event_date: '2024-03-01' }`. */
  values: Record<string, string>;
  /** Prefix of the partition's files, ending in `/`. */
  location: string;
}

/**
 * Whether `name` can name a catalog table at all: letters, digits, `_` and `-`, at most 128 characters (a dataset
 * definition's limit; the local catalog's file name must stay under the file system's 255 bytes). A name that
 * cannot (`../x`, a backslash, a path-length string) is a table that does not exist; asking the store for it would
 * be an error, and a caller's typo must answer NOT_FOUND, never an internal error.
 */
export function isCatalogName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/.test(name);
}
