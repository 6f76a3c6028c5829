import type { ColumnKind } from '../../domain/column-type.js';
import { exportDoubleText, exportFloatText, exportTimestampText } from '../csv/export-cell-text.js';

/** Turns one non-null cell of Athena's result into the text the export writes; throws on text it cannot read. */
export type CellConverter = (text: string) => string;

/**
 * How Athena (Trino) renders values in its CSV results, and how each becomes the export's text (the DuckDB
 * engine's, see export-cell-text.ts):
 * - double: Java's `Double.toString` (`1.0E20`, `4.9E-324`, `NaN`, `Infinity`, `-0.0`), read back exactly and
 *   written as DuckDB writes doubles;
 * - float (REAL): Java's `Float.toString` (`0.1`, `1.4E-45`), read back and rounded to the float it names (so any
 *   text that names it does), written as DuckDB writes floats;
 * - timestamp: `YYYY-MM-DD HH:MM:SS.fff` with as many fraction digits as the type's precision (3 for a Hive table's
 *   `timestamp`), written as `YYYY-MM-DDTHH:MM:SS.ffffffZ`;
 * - int, bigint, decimal (with all its scale digits), date (`YYYY-MM-DD`) and boolean (`true`/`false`): already
 *   the export's text, checked;
 * - string, and masked columns (a hash or a fixed text): as they are.
 */
export function athenaCellConverter(kind: ColumnKind | 'text'): CellConverter {
  switch (kind) {
    case 'text':
    case 'string':
      return (text) => text;
    case 'int':
    case 'bigint':
      return checked(INTEGER, kind);
    case 'decimal':
      return checked(DECIMAL, kind);
    case 'date':
      return checked(DATE, kind);
    case 'boolean':
      return checked(BOOLEAN, kind);
    case 'double':
      return athenaDoubleText;
    case 'float':
      return athenaFloatText;
    case 'timestamp':
      return athenaTimestampText;
  }
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const BOOLEAN = /^(true|false)$/;
/** Java's forms, and any other plain or scientific decimal. */
const JAVA_DOUBLE = /^-?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|NaN|Infinity)$/;
const TRINO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,12}))?$/;

function checked(pattern: RegExp, kind: string): CellConverter {
  return (text) => {
    if (!pattern.test(text)) throw new UnreadableCellError(kind);
    return text;
  };
}

export function athenaDoubleText(text: string): string {
  if (!JAVA_DOUBLE.test(text)) throw new UnreadableCellError('double');
  // Number() reads Java's forms, NaN and the infinities included; every Java form names one double exactly.
  return exportDoubleText(Number(text));
}

export function athenaFloatText(text: string): string {
  if (!JAVA_DOUBLE.test(text)) throw new UnreadableCellError('float');
  return exportFloatText(Number(text));
}

export function athenaTimestampText(text: string): string {
  const m = TRINO_TIMESTAMP.exec(text);
  if (m === null) throw new UnreadableCellError('timestamp');
  return exportTimestampText(m[1]!, m[2]!, m[3] ?? '');
}

/** A cell Athena rendered in a form this adapter does not know; the message names the type, never the value. */
export class UnreadableCellError extends Error {
  constructor(kind: string) {
    super(`Athena returned a ${kind} value in a form the export cannot read`);
    this.name = 'UnreadableCellError';
  }
}
