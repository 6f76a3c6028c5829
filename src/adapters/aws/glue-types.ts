import type { ColumnType } from '../../domain/column-type.js';
import { formatColumnType } from '../../domain/column-type.js';

/** The outcome of reading one Glue/Hive column type: our column type, or why it has none. */
export type GlueTypeMapping = { ok: true; type: ColumnType; text: string } | { ok: false; reason: string };

const SIMPLE: Record<string, ColumnType> = {
  string: { kind: 'string' },
  tinyint: { kind: 'int' },
  smallint: { kind: 'int' },
  int: { kind: 'int' },
  integer: { kind: 'int' },
  bigint: { kind: 'bigint' },
  float: { kind: 'float' },
  double: { kind: 'double' },
  boolean: { kind: 'boolean' },
  timestamp: { kind: 'timestamp' },
  date: { kind: 'date' },
};

const SIZED_TEXT = /^(varchar|char)\s*\(\s*\d+\s*\)$/;
const DECIMAL = /^decimal\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/;
const NESTED = /^(array|map|struct|uniontype)\s*</;

/**
 * Maps a Glue/Hive type text (as Glue crawlers, Athena DDL or other tools write it) to our one set of column types.
 * Widening only: `varchar(n)`/`char(n)` read as string, `tinyint`/`smallint` as int. `float` stays a 32-bit float:
 * widened to double, a FLOAT 0.1 would be exported as 0.10000000149011612 and `= 0.1` would match none of it. Nested
 * types (array, map, struct, uniontype) and `binary` have no column type here and are refused with the reason.
 */
export function columnTypeFromGlue(glueType: string): GlueTypeMapping {
  const t = glueType.trim().toLowerCase();
  const simple = SIMPLE[t];
  if (simple !== undefined) return mapped(simple);
  if (SIZED_TEXT.test(t)) return mapped({ kind: 'string' });
  const dec = DECIMAL.exec(t);
  if (dec) {
    // Hive's bare `decimal` is decimal(10,0); `decimal(p)` has scale 0.
    const precision = dec[1] !== undefined ? Number(dec[1]) : 10;
    const scale = dec[2] !== undefined ? Number(dec[2]) : 0;
    if (precision < 1 || precision > 38 || scale > precision) {
      return {
        ok: false,
        reason: `Glue type "${glueType}" is out of range: decimal precision 1..38, scale 0..precision`,
      };
    }
    return mapped({ kind: 'decimal', precision, scale });
  }
  const nested = NESTED.exec(t);
  if (nested) {
    return {
      ok: false,
      reason: `Glue type "${glueType}" is a nested ${nested[1]} type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served`,
    };
  }
  if (t === 'binary') {
    return { ok: false, reason: `Glue type "${glueType}" holds raw bytes, which have no column type here` };
  }
  return { ok: false, reason: `Glue type "${glueType}" is not a known Hive type` };
}

function mapped(type: ColumnType): GlueTypeMapping {
  return { ok: true, type, text: formatColumnType(type) };
}
