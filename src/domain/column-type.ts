import { DefinitionError } from './errors.js';

/** The column types a dataset definition may declare; one set for the ETL, the catalogs and the API. */
export type ColumnType =
  | { kind: 'string' }
  | { kind: 'int' }
  | { kind: 'bigint' }
  | { kind: 'float' }
  | { kind: 'double' }
  | { kind: 'boolean' }
  | { kind: 'timestamp' }
  | { kind: 'date' }
  | { kind: 'decimal'; precision: number; scale: number };

export type ColumnKind = ColumnType['kind'];

const SIMPLE = new Set(['string', 'int', 'bigint', 'float', 'double', 'boolean', 'timestamp', 'date']);
const DECIMAL = /^decimal\((\d{1,2}),\s*(\d{1,2})\)$/;

/** Parses `string`, `int`, ..., `decimal(p,s)`; throws naming the offending text. */
export function parseColumnType(text: string): ColumnType {
  const t = text.trim().toLowerCase();
  if (SIMPLE.has(t)) return { kind: t as Exclude<ColumnKind, 'decimal'> } as ColumnType;
  const m = DECIMAL.exec(t);
  if (m) {
    const precision = Number(m[1]);
    const scale = Number(m[2]);
    if (precision < 1 || precision > 38 || scale > precision) {
      throw new DefinitionError(`decimal(${precision},${scale}) is out of range: precision 1..38, scale 0..precision`);
    }
    return { kind: 'decimal', precision, scale };
  }
  throw new DefinitionError(
    `unknown column type "${text}": expected string, int, bigint, float, double, boolean, timestamp, date or decimal(p,s)`,
  );
}

export function formatColumnType(type: ColumnType): string {
  return type.kind === 'decimal' ? `decimal(${type.precision},${type.scale})` : type.kind;
}

/** The DuckDB SQL type for a column type. Timestamps are UTC instants (TIMESTAMP WITH TIME ZONE is avoided for portable Parquet). */
export function duckdbType(type: ColumnType): string {
  switch (type.kind) {
    case 'string':
      return 'VARCHAR';
    case 'int':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'date':
      return 'DATE';
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
  }
}

/** The Hive/Glue type for a column type. */
export function hiveType(type: ColumnType): string {
  switch (type.kind) {
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'bigint':
      return 'bigint';
    case 'float':
      return 'float';
    case 'double':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
  }
}
