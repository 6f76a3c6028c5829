import { float32Text } from '../../domain/float32.js';

/**
 * The text of a cell in an export, as DuckDB's CSV writer renders it with the export's formats
 * (`TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%fZ'`, `DATEFORMAT '%Y-%m-%d'`): engines that render values themselves use
 * these so that both engines write the same bytes.
 */

/**
 * A double as DuckDB writes it: the shortest text that reads back as the same double; plain notation with at
 * least one fraction digit when the decimal exponent is from -4 to 15 (`0.0001`, `1000000000000000.0`), else
 * scientific with a signed exponent of at least two digits (`1e-05`, `1e+16`, `1.2345678901234567e+19`);
 * `nan`, `inf`, `-inf`, and `-0.0` for negative zero. (Python's `repr` follows the same rule; checked against
 * DuckDB 1.5 on 600,000 doubles.)
 */
export function exportDoubleText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument gives the shortest digits that identify the double.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(value.toExponential());
  if (m === null) throw new Error(`cannot format double ${value}`);
  const sign = m[1]!;
  const digits = m[2]! + (m[3] ?? '');
  const exponent = Number(m[4]);
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.length > exponent + 1 ? digits.slice(exponent + 1) : '0';
    return `${sign}${whole}.${fraction}`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/**
 * A 32-bit float as DuckDB writes a FLOAT (float32Text): the digits of DuckDB's {fmt} (the shortest, or where its
 * Grisu search gives up the widened double's shortest: `2996100.25`) in the layout of a double (`0.1`, `1e-05`,
 * `85904304.0`, `3.4028235e+38`, `nan`, `-0.0`).
 */
export function exportFloatText(value: number): string {
  return float32Text(value);
}

/**
 * A timestamp (UTC) as exports write it, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, from its date, time and fraction digits
 * (at most 9; digits past microseconds are dropped, as DuckDB keeps microseconds).
 */
export function exportTimestampText(date: string, time: string, fraction: string): string {
  return `${date}T${time}.${fraction.slice(0, 6).padEnd(6, '0')}Z`;
}
