import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { duckdbType, parseColumnType } from '../domain/column-type.js';
import type { TableColumn } from '../domain/table.js';

/** A preview value as JSON: numbers only where JSON holds them exactly (INT, DOUBLE); text otherwise. */
export type PreviewValue = string | number | boolean | null;

export interface PreviewColumn {
  column: TableColumn;
  /** Where the value comes from: a column of the files, a partition folder, or nowhere (all null). */
  source: 'file' | 'partition' | 'absent';
}

/**
 * Reads the first `limit` rows of the given local Parquet files with DuckDB, each value in the API's
 * canonical JSON form: INT and DOUBLE as numbers, BIGINT and DECIMAL as exact text, TIMESTAMP as ISO 8601
 * UTC with microseconds, DATE as yyyy-mm-dd, BOOLEAN as true/false. Files are read in the order given.
 */
export async function readPreviewRows(
  db: DuckDbDatabase,
  paths: readonly string[],
  columns: readonly PreviewColumn[],
  limit: number,
): Promise<Record<string, PreviewValue>[]> {
  if (paths.length === 0 || limit === 0 || columns.length === 0) return [];
  const list = paths.map(literal).join(', ');
  const select = columns.map((c) => `${expression(c)} AS ${identifier(c.column.name)}`).join(', ');
  const sql = `SELECT ${select} FROM read_parquet([${list}], hive_partitioning = true, union_by_name = true) LIMIT ${limit}`;
  return db.withConnection(async (connection) => {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, PreviewValue>[];
  });
}

function expression(c: PreviewColumn): string {
  if (c.source === 'absent') return 'NULL';
  const type = parseColumnType(c.column.type);
  const typed = `CAST(${identifier(c.column.name)} AS ${duckdbType(type)})`;
  switch (type.kind) {
    case 'timestamp':
      return `strftime(${typed}, '%Y-%m-%dT%H:%M:%S.%fZ')`;
    case 'date':
      return `strftime(${typed}, '%Y-%m-%d')`;
    case 'bigint':
    case 'decimal':
      return `CAST(${typed} AS VARCHAR)`;
    case 'string':
    case 'int':
    case 'double':
    case 'boolean':
      return typed;
  }
}

function identifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
