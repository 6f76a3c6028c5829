import type { Column, StorageDescriptor, Table, TableInput } from '@aws-sdk/client-glue';
import { hiveType, parseColumnType } from '../../domain/column-type.js';
import type { TableColumn, TableDefinition } from '../../domain/table.js';
import { columnTypeFromGlue } from './glue-types.js';

/**
 * Pure mapping between our catalog records and Glue tables. Our own facts ride in Glue `Parameters` (table and
 * column level) under the `careplus.` prefix; tables written by anyone else are read from their Hive types alone.
 */

export const PARQUET_INPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
export const PARQUET_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';
export const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';

export const P = {
  origin: 'careplus.origin',
  description: 'careplus.description',
  schemaVersion: 'careplus.schema_version',
  schemaCreatedAt: 'careplus.schema_created_at',
  columnDescription: 'careplus.description',
  columnPii: 'careplus.pii',
  columnNullable: 'careplus.nullable',
  dayPartitionSource: 'careplus.day_partition_source',
  /** The event key's columns joined by commas (column names have none). */
  eventKey: 'careplus.event_key',
} as const;

/** Glue limits: table Description 2048 characters, column Comment 255. The full texts live in Parameters. */
const DESCRIPTION_MAX = 2048;
const COMMENT_MAX = 255;

export type TableReading =
  { ok: true; table: TableDefinition; skippedColumns: string[] } | { ok: false; reason: string };

/** Whether a Glue table's files are Parquet, by its SerDe, input format or classification. */
export function parquetReason(table: Table): string | undefined {
  if ((table.TableType ?? '').toUpperCase() === 'VIRTUAL_VIEW') return 'it is a view';
  const format = (table.Parameters?.['table_type'] ?? '').toUpperCase();
  if (format === 'ICEBERG' || format === 'DELTA' || format === 'HUDI') {
    return `it is an ${format} table, whose current files cannot be read as plain Parquet`;
  }
  const sd = table.StorageDescriptor;
  const parquet =
    /parquet/i.test(sd?.SerdeInfo?.SerializationLibrary ?? '') ||
    /parquet/i.test(sd?.InputFormat ?? '') ||
    (table.Parameters?.['classification'] ?? '').toLowerCase() === 'parquet';
  return parquet ? undefined : 'its storage is not Parquet';
}

/**
 * Reads a Glue table as a catalog record. Columns of types we cannot serve (nested, binary) are left out and named in
 * `skippedColumns` with the reason; a table is refused when it is not Parquet, when a partition key cannot be mapped
 * (its partitions could not be addressed) or when no column is left.
 */
export function tableFromGlue(table: Table, processedBucket: string): TableReading {
  const name = table.Name ?? '';
  const notParquet = parquetReason(table);
  if (notParquet !== undefined) return { ok: false, reason: `Glue table "${name}" is skipped: ${notParquet}` };
  const skippedColumns: string[] = [];
  const columns: TableColumn[] = [];
  for (const c of table.StorageDescriptor?.Columns ?? []) {
    const col = columnFromGlue(c);
    if (col.ok) columns.push(col.column);
    else skippedColumns.push(`column "${c.Name ?? ''}" of Glue table "${name}" is skipped: ${col.reason}`);
  }
  const partitionKeys: TableColumn[] = [];
  for (const c of table.PartitionKeys ?? []) {
    const col = columnFromGlue(c);
    if (!col.ok) {
      return { ok: false, reason: `Glue table "${name}" is skipped: partition key "${c.Name ?? ''}": ${col.reason}` };
    }
    partitionKeys.push(col.column);
  }
  if (columns.length === 0) {
    return { ok: false, reason: `Glue table "${name}" is skipped: none of its columns has a servable type` };
  }
  const params = table.Parameters ?? {};
  const origin = params[P.origin];
  const updated = params[P.schemaCreatedAt] ?? (table.UpdateTime ?? table.CreateTime ?? new Date(0)).toISOString();
  return {
    ok: true,
    skippedColumns,
    table: {
      name,
      description: params[P.description] ?? table.Description ?? '',
      columns,
      partitionKeys,
      location: locationFromGlue(table.StorageDescriptor?.Location ?? '', processedBucket),
      origin: origin === 'etl' || origin === 'registered' ? origin : 'glue',
      // A table we did not write starts at schema version 1 in our numbering (see GlueCatalog.schemaVersions).
      schemaVersion: schemaVersionOf(params),
      updatedAt: updated,
      ...(params[P.dayPartitionSource] !== undefined ? { dayPartitionSource: params[P.dayPartitionSource] } : {}),
      ...(params[P.eventKey] !== undefined && params[P.eventKey] !== ''
        ? { eventKey: params[P.eventKey].split(',') }
        : {}),
    },
  };
}

export function schemaVersionOf(params: Record<string, string> | undefined): number {
  const n = Number(params?.[P.schemaVersion]);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

function columnFromGlue(c: Column): { ok: true; column: TableColumn } | { ok: false; reason: string } {
  const mapped = columnTypeFromGlue(c.Type ?? '');
  if (!mapped.ok) return mapped;
  const params = c.Parameters ?? {};
  return {
    ok: true,
    column: {
      name: c.Name ?? '',
      type: mapped.text,
      kind: mapped.type.kind,
      // Hive has no NOT NULL; only our own parameter says a column is required.
      nullable: params[P.columnNullable] !== 'false',
      description: params[P.columnDescription] ?? c.Comment ?? '',
      pii: params[P.columnPii] === 'true',
    },
  };
}

/** `s3://<processed bucket>/<prefix>` → `<prefix>/`; a location elsewhere stays a full `s3://` URI. */
export function locationFromGlue(location: string, processedBucket: string): string {
  const m = /^s3[an]?:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (m === null) return location;
  const rest = m[2] ?? '';
  const prefix = rest === '' || rest.endsWith('/') ? rest : `${rest}/`;
  if (m[1] === processedBucket) return prefix;
  return `s3://${m[1]}/${prefix}`;
}

export function locationToGlue(location: string, processedBucket: string): string {
  return location.startsWith('s3://') ? location : `s3://${processedBucket}/${location}`;
}

function columnToGlue(c: TableColumn): Column {
  return {
    Name: c.name,
    // Through parseColumnType so a malformed type text fails here, not in Athena.
    Type: hiveType(parseColumnType(c.type)),
    ...(c.description !== '' ? { Comment: c.description.slice(0, COMMENT_MAX) } : {}),
    Parameters: {
      [P.columnDescription]: c.description,
      [P.columnPii]: String(c.pii),
      [P.columnNullable]: String(c.nullable),
    },
  };
}

export function storageDescriptor(columns: TableColumn[], location: string): StorageDescriptor {
  return {
    Columns: columns.map(columnToGlue),
    Location: location,
    InputFormat: PARQUET_INPUT_FORMAT,
    OutputFormat: PARQUET_OUTPUT_FORMAT,
    SerdeInfo: { SerializationLibrary: PARQUET_SERDE, Parameters: { 'serialization.format': '1' } },
    Compressed: false,
    StoredAsSubDirectories: false,
  };
}

export function tableToGlue(
  table: Omit<TableDefinition, 'updatedAt'> & { schemaCreatedAt: string },
  processedBucket: string,
): TableInput {
  return {
    Name: table.name,
    Description: table.description.slice(0, DESCRIPTION_MAX),
    TableType: 'EXTERNAL_TABLE',
    StorageDescriptor: storageDescriptor(table.columns, locationToGlue(table.location, processedBucket)),
    PartitionKeys: table.partitionKeys.map(columnToGlue),
    Parameters: {
      EXTERNAL: 'TRUE',
      classification: 'parquet',
      [P.origin]: table.origin,
      [P.description]: table.description,
      [P.schemaVersion]: String(table.schemaVersion),
      [P.schemaCreatedAt]: table.schemaCreatedAt,
      ...(table.dayPartitionSource !== undefined ? { [P.dayPartitionSource]: table.dayPartitionSource } : {}),
      ...(table.eventKey !== undefined ? { [P.eventKey]: table.eventKey.join(',') } : {}),
    },
  };
}
