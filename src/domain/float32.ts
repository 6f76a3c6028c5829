/**
 * A 32-bit float's text as DuckDB (1.5) writes a FLOAT, in `CAST(x AS VARCHAR)` and in its CSV writer.
 *
 * DuckDB formats a FLOAT with its vendored {fmt} 6 (`format("{}", value)`): the float is widened to a double and
 * fmt's Grisu search runs over the float's rounding interval for the shortest digits. Where Grisu cannot decide (its
 * 64-bit arithmetic is too coarse: about 1 float in 120 of random bits), fmt falls back to an exact (bignum) search,
 * but over the rounding interval of the widened DOUBLE, not the float's: the digits are then the double's shortest,
 * the float's exact value in few digits (2996100.25 for the float nearest 2996100.2, 85904304 where the float's
 * shortest is 85904300; for about 2 in 5 of these the two agree anyway).
 *
 * This module repeats both steps as fmt does them (the same cached powers of ten, 64-bit rounding and wrap-around,
 * stopping rules and fallback), then fmt's general layout: plain with at least one fraction digit when the decimal
 * exponent is from -4 to 15 (`0.0001`, `85904304.0`), else scientific with a signed exponent of at least two digits
 * (`1e-05`, `3.4028235e+38`, `1e-45`); `nan`, `inf`, `-inf`, `0.0`, `-0.0`. Checked against DuckDB 1.5.6 on about 7
 * million floats (random bits, subnormals, short decimals from 1e-40 to 1e38, powers of two and ten and their
 * neighbours, integers): no difference; test/integration/float32-duckdb-text.test.ts repeats this on 300,000.
 */

/**
 * The 32-bit float a number rounds to (Math.fround), as the double whose shortest text has the digits DuckDB writes
 * for that float (`0.1` for the float 0.100000001490116…, where the double's own text is `0.10000000149011612`;
 * `2996100.25` for the float nearest 2996100.2, as DuckDB writes it), so that `String()` and the double formatters
 * show a float with DuckDB's digits. Either way the double rounds back to the same float. NaN, the infinities and both
 * zeros are as they are; a number beyond the float range is an infinity, as Math.fround makes it.
 */
export function float32AsDuckdbDouble(value: number): number {
  const f = Math.fround(value);
  if (!Number.isFinite(f) || f === 0) return f;
  const d = floatDigits(Math.abs(f));
  const a = Number(`${d.digits}e${d.exponent}`);
  return f < 0 ? -a : a;
}

/**
 * A number rounded to a 32-bit float, written exactly as DuckDB 1.5 writes that FLOAT (`0.1`, `2996100.25`,
 * `85904304.0`, `1e-05`, `3.4028235e+38`, `1e-45`, `nan`, `inf`, `-inf`, `-0.0`).
 */
export function float32Text(value: number): string {
  const f = Math.fround(value);
  if (Number.isNaN(f)) return 'nan';
  if (f === Number.POSITIVE_INFINITY) return 'inf';
  if (f === Number.NEGATIVE_INFINITY) return '-inf';
  const sign = f < 0 || Object.is(f, -0) ? '-' : '';
  if (f === 0) return `${sign}0.0`;
  const d = floatDigits(Math.abs(f));
  return sign + generalLayout(d.digits, d.exponent);
}

/** fmt's general format for `digits × 10^exponent` with the default (shortest) precision and a point always shown. */
function generalLayout(digits: string, exponent: number): string {
  const n = digits.length;
  const leading = n + exponent - 1;
  if (leading < -4 || leading >= 16) {
    const e = Math.abs(leading);
    const mantissa = n > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${mantissa}e${leading < 0 ? '-' : '+'}${String(e).padStart(2, '0')}`;
  }
  const whole = n + exponent;
  if (n <= whole) return `${digits}${'0'.repeat(whole - n)}.0`;
  if (whole > 0) return `${digits.slice(0, whole)}.${digits.slice(whole)}`;
  return `0.${'0'.repeat(-whole)}${digits}`;
}

const U64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const IMPLICIT_BIT = 1n << 52n;
/** The binary exponent of a double's significand unit at the smallest normal float (2^-126 = 2^52 × 2^-178). */
const FLOAT_MIN_NORMAL_E = -178;
/** Grisu's alpha: scaled values get a binary exponent from -60 to -32. */
const MIN_EXP = -60;

interface Digits {
  /** Decimal digits, as fmt's buffer holds them (no leading or trailing zero in any float checked). */
  digits: string;
  /** The value is `digits × 10^exponent`. */
  exponent: number;
}

/** The digits and exponent fmt's `format_float` gives a positive finite float (as a double) at shortest precision. */
export function floatDigits(a: number): Digits {
  const { f, e } = decompose(a);
  // The float's rounding interval, on the double's significand scale (fmt's assign_float_with_boundaries).
  let halfUlp = 1n << 28n;
  if (FLOAT_MIN_NORMAL_E > e) halfUlp <<= BigInt(FLOAT_MIN_NORMAL_E - e);
  const upper0 = f + halfUlp; // below 2^53, so normalizing is a shift by 11
  const lower0 = f - (halfUlp >> (f === IMPLICIT_BIT && e > FLOAT_MIN_NORMAL_E ? 1n : 0n));
  const valueE = e - 11;
  const cached = cachedPower(MIN_EXP - (valueE + 64));
  const scaledE = valueE + cached.e + 64;
  const scaled = multiply(f << 11n, cached.f);
  const lower = U64(multiply(lower0 << 11n, cached.f) - 1n);
  const upper = U64(multiply(upper0 << 11n, cached.f) + 1n);
  const grisu = grisuShortest(upper, scaledE, U64(upper - lower), U64(upper - scaled));
  if (grisu.ok) return { digits: text(grisu.digits), exponent: grisu.exp - cached.exp10 };
  // Grisu gave up: fmt's exact fallback, which takes the widened double's interval, with its leading-digit exponent.
  return exactShortest(a, grisu.exp + grisu.digits.length - cached.exp10 - 1);
}

function text(digits: number[]): string {
  let s = '';
  for (const d of digits) s += String.fromCharCode(48 + d);
  return s;
}

/** 10^k as BigInt for the units and scales the digit loops need. */
const POW10: bigint[] = Array.from({ length: 40 }, (_, k) => 10n ** BigInt(k));
const pow10 = (k: number): bigint => POW10[k] ?? 10n ** BigInt(k);

const doubleView = new DataView(new ArrayBuffer(8));

/** A positive finite double as `f × 2^e`, `f` with the implicit bit (fmt's fp::assign). */
function decompose(a: number): { f: bigint; e: number; fractionZero: boolean; biased: number } {
  doubleView.setFloat64(0, a);
  const bits = doubleView.getBigUint64(0);
  const fraction = bits & (IMPLICIT_BIT - 1n);
  let biased = Number(bits >> 52n);
  const f = biased !== 0 ? fraction | IMPLICIT_BIT : fraction;
  const fractionZero = fraction === 0n;
  if (biased === 0) biased = 1;
  return { f, e: biased - 1075, fractionZero, biased };
}

/** `lhs × rhs / 2^64`, rounded half up (fmt's multiply). */
function multiply(lhs: bigint, rhs: bigint): bigint {
  const product = lhs * rhs;
  const high = product >> 64n;
  return (product & (1n << 63n)) !== 0n ? high + 1n : high;
}

interface CachedPower {
  f: bigint;
  e: number;
  exp10: number;
}

const cachedPowers: CachedPower[] = [];

/**
 * fmt's get_cached_power: the power of ten 10^k (k = -348 + 8i) whose normalized 64-bit significand brings the scaled
 * value's exponent into Grisu's range. The significand is 10^k rounded to nearest at 64 bits, as fmt's table holds it.
 */
function cachedPower(minExponent: number): CachedPower {
  // ceil((minExponent + 63) × round(2^32 / log2 10) / 2^32): exact in doubles at these magnitudes.
  let index = Math.floor(((minExponent + 63) * 0x4d104d42 + 0xffffffff) / 2 ** 32);
  index = Math.trunc((index + 348 - 1) / 8) + 1;
  let p = cachedPowers[index];
  if (p === undefined) {
    const exp10 = -348 + index * 8;
    p = { ...normalizedPowerOfTen(exp10), exp10 };
    cachedPowers[index] = p;
  }
  return p;
}

function normalizedPowerOfTen(k: number): { f: bigint; e: number } {
  // 10^k = num / den exactly; find e with 2^63 <= 10^k / 2^e < 2^64, then round num / (den × 2^e) to nearest.
  const num = k >= 0 ? 10n ** BigInt(k) : 1n;
  const den = k >= 0 ? 1n : 10n ** BigInt(-k);
  let e = num.toString(2).length - den.toString(2).length - 64;
  for (;;) {
    const [n, d] = e >= 0 ? [num, den << BigInt(e)] : [num << BigInt(-e), den];
    const q = n / d;
    if (q >= 1n << 64n) {
      e++;
      continue;
    }
    if (q < 1n << 63n) {
      e--;
      continue;
    }
    const r = n - q * d;
    let f = 2n * r >= d ? q + 1n : q;
    if (f === 1n << 64n) {
      f = 1n << 63n;
      e++;
    }
    return { f, e };
  }
}

interface GrisuResult {
  ok: boolean;
  digits: number[];
  /** fmt's `exp` after digit generation (kappa less the digits made). */
  exp: number;
}

/** fmt's grisu_gen_digits with grisu_shortest_handler, over the scaled upper boundary `upper × 2^e`. */
function grisuShortest(upper: bigint, e: number, error0: bigint, diff: bigint): GrisuResult {
  const shift = BigInt(-e);
  const oneF = 1n << shift;
  let integral = Number(upper >> shift);
  let fractional = upper & (oneF - 1n);
  let error = error0;
  let exp = String(integral).length;
  const digits: number[] = [];

  // fmt's round_weed, after a digit: 'more', 'done' or 'error'.
  const onDigit = (digit: number, divisor: bigint, rem: bigint, err: bigint, inIntegral: boolean): string => {
    digits.push(digit);
    let remainder = rem;
    if (remainder >= err) return 'more';
    const unit = inIntegral ? 1n : pow10(-exp);
    const up = U64((diff - 1n) * unit);
    while (
      remainder < up &&
      U64(err - remainder) >= divisor &&
      (U64(remainder + divisor) < up || U64(up - remainder) >= U64(remainder + divisor - up))
    ) {
      digits[digits.length - 1]!--;
      remainder = U64(remainder + divisor);
    }
    const down = U64((diff + 1n) * unit);
    if (
      remainder < down &&
      U64(err - remainder) >= divisor &&
      (U64(remainder + divisor) < down || U64(down - remainder) > U64(remainder + divisor - down))
    ) {
      return 'error';
    }
    return U64(2n * unit) <= remainder && remainder <= U64(err - U64(4n * unit)) ? 'done' : 'error';
  };

  do {
    const divisor = 10 ** (exp - 1);
    const digit = Math.floor(integral / divisor);
    integral %= divisor;
    exp--;
    const remainder = (BigInt(integral) << shift) + fractional;
    const r = onDigit(digit, U64(BigInt(10 ** exp) << shift), remainder, error, true);
    if (r !== 'more') return { ok: r === 'done', digits, exp };
  } while (exp > 0);
  for (;;) {
    fractional = U64(fractional * 10n);
    error = U64(error * 10n);
    const digit = Number(fractional >> shift);
    fractional &= oneF - 1n;
    exp--;
    const r = onDigit(digit, oneF, fractional, error, false);
    if (r !== 'more') return { ok: r === 'done', digits, exp };
  }
}

/**
 * fmt's fallback_format (Steele & White's exact digit generation) for the double `a`, whose first digit Grisu put at
 * 10^exp10: digits until the rest falls within the double's rounding interval (ends included, the significand of a
 * widened float being even), the last rounded half to even.
 */
function exactShortest(a: number, exp10: number): Digits {
  const { f, e, fractionZero, biased } = decompose(a);
  const shift = fractionZero && biased > 1 ? 2 : 1;
  const significand = f << BigInt(shift);
  let numerator: bigint;
  let denominator: bigint;
  let lower: bigint;
  let upper: bigint | undefined;
  if (e >= 0) {
    numerator = significand << BigInt(e);
    lower = 1n << BigInt(e);
    if (shift !== 1) upper = 1n << BigInt(e + 1);
    denominator = pow10(exp10) << 1n;
  } else if (exp10 < 0) {
    numerator = pow10(-exp10);
    lower = numerator;
    if (shift !== 1) upper = numerator << 1n;
    numerator *= significand;
    denominator = 1n << BigInt(shift - e);
  } else {
    numerator = significand;
    denominator = pow10(exp10) << BigInt(shift - e);
    lower = 1n;
    if (shift !== 1) upper = 2n;
  }
  const even = (f & 1n) === 0n;
  const digits: number[] = [];
  for (;;) {
    const digit = Number(numerator / denominator);
    numerator %= denominator;
    const high = upper ?? lower;
    const low = even ? numerator <= lower : numerator < lower;
    const reach = even ? numerator + high >= denominator : numerator + high > denominator;
    digits.push(digit);
    if (low || reach) {
      if (!low) {
        digits[digits.length - 1]!++;
      } else if (reach) {
        const twice = 2n * numerator;
        if (twice > denominator || (twice === denominator && digit % 2 !== 0)) digits[digits.length - 1]!++;
      }
      return { digits: text(digits), exponent: exp10 - (digits.length - 1) };
    }
    numerator *= 10n;
    lower *= 10n;
    if (upper !== undefined) upper *= 10n;
  }
}

/**
 * The 32-bit float nearest to a decimal text (`[+-]digits[.digits][e±n]`, finite as a double), rounded once, as
 * DuckDB's `CAST(text AS FLOAT)` rounds it (ties to even), where `Math.fround(Number(text))` rounds twice: to the double
 * first, which may land exactly halfway between two floats and then tie the other way. `1.00000005960464477539062500001`
 * lies above the halfway point 1.000000059604644775390625 and is the float 1.0000001 (Number() gives the halfway double,
 * which ties to 1); `3.4028235677973366e38` lies below the halfway point to 2^128 and is the largest float. Returns
 * ±Infinity past the float range.
 */
export function floatOfDecimalText(text: string): number {
  const d = Number(text);
  const f = Math.fround(d);
  if (f === d || Number.isNaN(d)) return f;
  const a = Math.abs(d);
  const sign = d < 0 ? -1 : 1;
  if (!Number.isFinite(f)) {
    // At or past the halfway point between the largest float and 2^128, which ties to 2^128 (an infinity).
    return a === FLOAT_OVERFLOW_HALFWAY && compareDecimal(text, a) < 0 ? sign * FLOAT_MAX : f;
  }
  const near = Math.abs(f);
  // The float on the other side of the double, and the halfway point between the two (exact as a double: 25 bits).
  const other = near < a ? floatStep(near, 1) : floatStep(near, -1);
  // Past MAX_EXACT_TEXT characters the tie stays the double's: the exact comparison costs time with the text's length
  // (160 ms for a megabyte), and the exact decimal of any float's halfway point takes fewer than 200 characters.
  if (!Number.isFinite(other) || a !== (near + other) / 2 || text.length > MAX_EXACT_TEXT) return f;
  const side = compareDecimal(text, a);
  if (side === 0) return f;
  return sign * (side > 0 === other > near ? other : near);
}

const MAX_EXACT_TEXT = 1_000;
const FLOAT_MAX = 3.4028234663852886e38;
/** 2^128 − 2^103: halfway between the largest float and 2^128. */
const FLOAT_OVERFLOW_HALFWAY = 2 ** 128 - 2 ** 103;

/** The next float above (`1`) or below (`-1`) a positive float. */
function floatStep(a: number, direction: 1 | -1): number {
  floatView.setFloat32(0, a);
  floatView.setUint32(0, floatView.getUint32(0) + direction);
  return floatView.getFloat32(0);
}

const floatView = new DataView(new ArrayBuffer(4));

/** The sign of |decimal text| − x, for a positive finite double x, computed exactly. */
function compareDecimal(text: string, x: number): number {
  const m = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (m === null) throw new Error(`not a decimal: ${text}`);
  const fraction = m[2] ?? '';
  let mantissa = BigInt(`${m[1] ?? ''}${fraction}` || '0');
  const exponent10 = Number(m[3] ?? '0') - fraction.length;
  const { f, e } = decompose(x);
  let scaled = f;
  // |text| = mantissa × 10^exponent10 and x = scaled × 2^e: both sides made integers.
  if (exponent10 >= 0) mantissa *= pow10(exponent10);
  else scaled *= pow10(-exponent10);
  const left = e < 0 ? mantissa << BigInt(-e) : mantissa;
  const right = e > 0 ? scaled << BigInt(e) : scaled;
  return left < right ? -1 : left > right ? 1 : 0;
}
