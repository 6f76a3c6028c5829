import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError } from '../../domain/errors.js';

/** Small SQL helpers for definition inference: literal quoting and queries whose failures name what was tried. */

export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The first line of an error message: DuckDB appends long hints that do not help a reader of the CLI. */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

export async function runSql(connection: DuckDBConnection, sql: string, what: string): Promise<void> {
  try {
    await connection.run(sql);
  } catch (err) {
    throw new BadInputError(`${what}: ${firstLine(err)}`, { cause: err });
  }
}

/** Rows as JSON-safe objects (BIGINT as text, so read counts with `Number`). */
export async function readSql(
  connection: DuckDBConnection,
  sql: string,
  what: string,
): Promise<Record<string, unknown>[]> {
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } catch (err) {
    throw new BadInputError(`${what}: ${firstLine(err)}`, { cause: err });
  }
}
