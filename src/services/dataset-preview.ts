import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { duckdbType, parseColumnType } from '../domain/column-type.js';
import { type CompiledQuery, quoteIdentifier } from '../domain/export-sql.js';

/** A preview value as JSON: numbers only where JSON holds them exactly (INT, FLOAT, DOUBLE); text otherwise. */
export type PreviewValue = string | number | boolean | null;

/** A column of a preview, in output order. */
export interface PreviewColumn {
  name: string;
  /** Canonical type text of what the query yields: `string` for a masked column. */
  type: string;
  /** Not in the files read (a partition key without Hive folders): every value is null. */
  absent: boolean;
}

/**
 * Runs a compiled export query (masks, row filter and limit already in it) and returns its rows with each value
 * in the API's canonical JSON form: INT, FLOAT and DOUBLE as numbers (a FLOAT with the digits DuckDB writes for it: 0.1), BIGINT and DECIMAL as exact text, TIMESTAMP as
 * ISO 8601 UTC with microseconds, DATE as yyyy-mm-dd, BOOLEAN as true/false.
 */
export async function readPreviewRows(
  db: DuckDbDatabase,
  query: CompiledQuery,
  columns: readonly PreviewColumn[],
): Promise<Record<string, PreviewValue>[]> {
  if (columns.length === 0) return [];
  const select = columns.map((c) => `${expression(c)} AS ${quoteIdentifier(c.name)}`).join(', ');
  const sql = `SELECT ${select} FROM (${query.sql}) AS q`;
  return db.withConnection(async (connection) => {
    // As the export engine reads: a zoned timestamp (registered Parquet) as its UTC time, whatever the host's zone.
    await connection.run(`SET SESSION TimeZone = 'UTC'`);
    const reader = await connection.runAndReadAll(sql, query.params);
    return reader.getRowObjectsJson() as Record<string, PreviewValue>[];
  });
}

function expression(c: PreviewColumn): string {
  if (c.absent) return 'NULL';
  const type = parseColumnType(c.type);
  // Cast to the catalog type first: the files may hold a wider physical type (INT64 for an int, TIMESTAMP_NS).
  const typed = `CAST(q.${quoteIdentifier(c.name)} AS ${duckdbType(type)})`;
  switch (type.kind) {
    case 'timestamp':
      return `strftime(${typed}, '%Y-%m-%dT%H:%M:%S.%fZ')`;
    case 'date':
      return `strftime(${typed}, '%Y-%m-%d')`;
    case 'bigint':
    case 'decimal':
      return `CAST(${typed} AS VARCHAR)`;
    case 'float':
      // Through DuckDB's text of the float (`0.1`): as a number, JSON would show the double 0.10000000149011612.
      return `CAST(CAST(${typed} AS VARCHAR) AS DOUBLE)`;
    case 'string':
    case 'int':
    case 'double':
    case 'boolean':
      return typed;
  }
}
