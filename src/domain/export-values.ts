import type { ColumnKind } from './column-type.js';
import { float32AsDuckdbDouble, floatOfDecimalText } from './float32.js';

/** A value as a client sends it in JSON. */
export type JsonScalar = string | number | boolean | null;

/**
 * A filter value coerced to its column's type, in one canonical JSON-safe form per kind, so that equal
 * requests serialise to equal bytes:
 * - string: the text; int: a number; bigint: a decimal integer string (exact beyond 2^53);
 * - double: a finite number, or `'NaN'`, `'Infinity'`, `'-Infinity'`; float: the same, the number rounded to the
 *   32-bit float and written with the digits DuckDB writes for it (0.1, not 0.10000000149011612: both name one float);
 *   boolean: a boolean;
 * - timestamp: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds); date: `YYYY-MM-DD`;
 * - decimal(p,s): a decimal string with exactly `s` fraction digits.
 */
export type CanonicalValue = string | number | boolean;

/** The part of a column that coercion needs: its kind and its canonical type text (`decimal(18,4)`). */
export interface ValueType {
  kind: ColumnKind;
  type: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** `coerceValue`, or undefined where it throws: for a value to be told apart, not reported (a folder's, a caller's). */
export function coercedOrUndefined(value: JsonScalar, column: ValueType): CanonicalValue | undefined {
  try {
    return coerceValue(value, column);
  } catch {
    return undefined;
  }
}

/**
 * Coerces a JSON scalar to a column type. Throws `Error` with a message that names the value and the expected
 * type but no field path; the caller prefixes the path. `null` is never coerced (IS_NULL expresses it).
 */
export function coerceValue(value: JsonScalar, column: ValueType): CanonicalValue {
  if (value === null) throw new Error('null is not a value: use IS_NULL or IS_NOT_NULL');
  switch (column.kind) {
    case 'string':
      if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(value, 'string');
      return String(value);
    case 'int':
      return coerceInt(value);
    case 'bigint':
      return coerceBigint(value);
    case 'float':
      return coerceFloat(value);
    case 'double':
      return coerceDouble(value);
    case 'boolean':
      return coerceBoolean(value);
    case 'timestamp':
      return coerceTimestamp(value);
    case 'date':
      return coerceDate(value);
    case 'decimal':
      return coerceDecimal(value, column.type);
  }
}

function coerceInt(value: string | number | boolean): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && INTEGER_TEXT.test(value.trim())) n = Number(value.trim());
  else throw invalid(value, 'int');
  if (!Number.isInteger(n)) throw invalid(value, 'int');
  if (n < INT32_MIN || n > INT32_MAX)
    throw new Error(`${show(value)} is out of range for int (${INT32_MIN} to ${INT32_MAX})`);
  return n === 0 ? 0 : n;
}

function coerceBigint(value: string | number | boolean): string {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalid(value, 'bigint');
    // A JSON number beyond 2^53 has already lost digits in the parser: refuse rather than filter on a rounded value.
    if (!Number.isSafeInteger(value)) {
      throw new Error(
        `a JSON number beyond 2^53 (read as ${show(value)}) may have lost digits before it arrived: give 64-bit integers as strings`,
      );
    }
    n = BigInt(value);
  } else if (typeof value === 'string' && INTEGER_TEXT.test(value.trim())) {
    n = BigInt(value.trim());
  } else {
    throw invalid(value, 'bigint');
  }
  if (n < INT64_MIN || n > INT64_MAX) throw new Error(`${show(value)} is out of range for bigint (64-bit)`);
  return n.toString();
}

function coerceDouble(value: string | number | boolean, kind: 'double' | 'float' = 'double'): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(value, kind);
    return value === 0 ? 0 : value;
  }
  if (typeof value !== 'string') throw invalid(value, kind);
  const t = value.trim();
  const lower = t.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf') return 'Infinity';
  if (lower === '-infinity' || lower === '-inf') return '-Infinity';
  if (!FLOAT_TEXT.test(t)) throw invalid(value, kind);
  const n = Number(t);
  if (!Number.isFinite(n)) throw new Error(`${show(value)} is out of range for ${kind}`);
  return n === 0 ? 0 : n;
}

/**
 * A double's forms, the number rounded to a 32-bit float as the engines' `CAST(? AS FLOAT)` rounds it. A number that
 * rounds past the largest float is refused: DuckDB's cast would make it an infinity and compare with that.
 */
function coerceFloat(value: string | number | boolean): number | string {
  const d = coerceDouble(value, 'float');
  if (typeof d === 'string') return d;
  // Text is rounded to the float once, as the engine's cast rounds it, not to a double first (floatOfDecimalText).
  const f = float32AsDuckdbDouble(typeof value === 'string' ? floatOfDecimalText(value.trim()) : d);
  if (!Number.isFinite(f)) throw new Error(`${show(value)} is out of range for float (32-bit, up to ±3.4028235e38)`);
  return f === 0 ? 0 : f;
}

function coerceBoolean(value: string | number | boolean): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const t = value.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  throw invalid(value, 'boolean');
}

function coerceDate(value: string | number | boolean): string {
  if (typeof value !== 'string') throw invalid(value, 'date (YYYY-MM-DD)');
  const m = DATE_TEXT.exec(value.trim());
  if (!m) throw invalid(value, 'date (YYYY-MM-DD)');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDay(y, mo, d)) throw new Error(`${show(value)} is not a calendar date`);
  return `${m[1]}-${m[2]}-${m[3]}`;
}

function coerceTimestamp(value: string | number | boolean): string {
  if (typeof value !== 'string') throw invalid(value, 'ISO 8601 timestamp');
  const m = TIMESTAMP_TEXT.exec(value.trim());
  if (!m) throw invalid(value, 'ISO 8601 timestamp');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (!validDay(y, mo, d) || h > 23 || mi > 59 || s > 59) throw new Error(`${show(value)} is not a valid timestamp`);
  const fraction = m[7] ?? '';
  if (fraction.length > 6 && /[1-9]/.test(fraction.slice(6))) {
    throw new Error(`${show(value)} has more than microsecond precision`);
  }
  const micros = fraction.slice(0, 6).padEnd(6, '0');
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) throw new Error(`${show(value)} has an invalid UTC offset`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  // Not Date.UTC: it maps years 0..99 to 1900..1999, where setUTCFullYear keeps the year as given.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi - offsetMinutes, s, 0);
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new Error(`${show(value)} is out of range for timestamp (years 0001 to 9999)`);
  return `${String(year).padStart(4, '0')}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${pad(
    date.getUTCHours(),
  )}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${micros}Z`;
}

function coerceDecimal(value: string | number | boolean, typeText: string): string {
  const { precision, scale } = decimalShape(typeText);
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(value, typeText);
    text = String(value);
    // Number formatting switches to exponents for very small or large values; exact decimals are strings.
    if (/e/i.test(text))
      throw new Error(`${show(value)} cannot be read exactly as ${typeText}: give decimals as strings`);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw invalid(value, typeText);
  }
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw invalid(value, typeText);
  const negative = m[1] === '-';
  const intDigits = m[2]!.replace(/^0+/, '');
  const rawFraction = m[3] ?? '';
  const fraction = rawFraction.replace(/0+$/, '');
  if (fraction.length > scale) throw new Error(`${show(value)} has more than ${scale} decimal places for ${typeText}`);
  if (intDigits.length > precision - scale) throw new Error(`${show(value)} is out of range for ${typeText}`);
  const frac = fraction.padEnd(scale, '0');
  const isZero = intDigits === '' && /^0*$/.test(frac);
  const body = `${intDigits === '' ? '0' : intDigits}${scale > 0 ? `.${frac}` : ''}`;
  return negative && !isZero ? `-${body}` : body;
}

/** Precision and scale of a `decimal(p,s)` type text; decimal(38,0) when the text does not say. */
export function decimalShape(typeText: string): { precision: number; scale: number } {
  const m = /^decimal\((\d+),\s*(\d+)\)$/i.exec(typeText.trim());
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : { precision: 38, scale: 0 };
}

/**
 * The text bound to a prepared-statement parameter for a canonical value; the SQL casts it to the column type,
 * so 64-bit integers and decimals stay exact. Timestamps lose the `Z`: they are UTC instants already.
 */
export function parameterText(value: CanonicalValue, kind: ColumnKind): string {
  if (kind === 'timestamp' && typeof value === 'string') return value.replace('T', ' ').replace(/Z$/, '');
  return String(value);
}

/** Orders two canonical values of the same kind as the engine does (strings by UTF-8 bytes, NaN greatest). */
export function compareValues(kind: ColumnKind, a: CanonicalValue, b: CanonicalValue): number {
  switch (kind) {
    case 'string':
      return Buffer.compare(Buffer.from(String(a), 'utf8'), Buffer.from(String(b), 'utf8'));
    case 'int':
      return Math.sign(Number(a) - Number(b));
    case 'bigint': {
      const x = BigInt(String(a));
      const y = BigInt(String(b));
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'double':
      return compareDouble(a, b);
    case 'float':
      // Rounded to floats: a FLOAT column's footer bounds (0.10000000149...) and its canonical values (0.1) meet.
      return compareDouble(toFloat(a), toFloat(b));
    case 'boolean':
      return Number(a === true) - Number(b === true);
    case 'timestamp':
    case 'date':
      // Canonical forms are fixed width with four-digit years, so text order is time order.
      return a < b ? -1 : a > b ? 1 : 0;
    case 'decimal': {
      const x = scaledDecimal(String(a));
      const y = scaledDecimal(String(b));
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

function compareDouble(a: CanonicalValue, b: CanonicalValue): number {
  const x = a === 'NaN' ? Number.NaN : Number(a);
  const y = b === 'NaN' ? Number.NaN : Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number(Number.isNaN(x)) - Number(Number.isNaN(y));
  return x < y ? -1 : x > y ? 1 : 0;
}

function toFloat(v: CanonicalValue): CanonicalValue {
  return typeof v === 'number' ? Math.fround(v) : v;
}

/** A canonical decimal as an integer of its smallest unit; canonical values of one column share the scale. */
function scaledDecimal(text: string): bigint {
  return BigInt(text.replace('.', ''));
}

function validDay(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function show(value: string | number | boolean): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function invalid(value: string | number | boolean, expected: string): Error {
  return new Error(`${show(value)} is not a valid ${expected}`);
}
