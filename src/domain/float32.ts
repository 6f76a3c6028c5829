/**
 * The 32-bit float a number rounds to, as the double whose shortest text is the float's shortest text (`0.1` for the
 * float 0.100000001490116…, where the double's text is `0.10000000149011612`), so that `String()` and the double
 * formatters write a float as DuckDB writes a FLOAT: the decimal of fewest significant digits strictly inside the
 * float's rounding interval, the nearest to the float when two have that length. A decimal exactly halfway to a
 * neighbouring float is not taken, although IEEE 754 rounds it to the float when its significand is even (Java's
 * Float.toString takes it: 85904300 there, 85904304.0 in DuckDB). NaN, the infinities and both zeros are as they are;
 * a number beyond the float range is an infinity, as Math.fround makes it.
 *
 * Not DuckDB's text for every float: DuckDB 1.5 (fmt's Grisu) writes the float's exact value where its shortest-digit
 * search gives up, 2996100.25 for 2996100.2 (measured: 0.5% of floats of random bits, 1.6% of floats made from
 * decimals of up to 7 digits between 1e-10 and 1e10, none of 300,000 made from decimals of up to 6 digits below 1e6).
 */
export function shortestFloat32(value: number): number {
  const f = Math.fround(value);
  if (!Number.isFinite(f) || f === 0) return f;
  const a = Math.abs(f);
  const below = floatStep(a, -1);
  const above = floatStep(a, 1);
  // Both midpoints are exact doubles: a float has 24 significant bits, and these need 25.
  const low = (below + a) / 2;
  const high = Number.isFinite(above) ? (a + above) / 2 : a + (a - below) / 2;
  for (let digits = 1; digits <= 9; digits++) {
    const inside = candidates(a, digits).filter((c) => strictlyBetween(low, c, high));
    if (inside.length > 0) {
      const best = inside.reduce((x, y) => (nearer(a, y, x) ? y : x));
      return f < 0 ? -best.value : best.value;
    }
  }
  // Nine significant digits always name a float: not reached.
  return f;
}

/** A decimal `mantissa × 10^exponent` and the double nearest to it. */
interface Decimal {
  mantissa: bigint;
  exponent: number;
  value: number;
}

/**
 * The decimals of `digits` significant digits nearest to `a` (positive) on either side: at a power of two the float's
 * interval is narrower below than above, so the nearest may fall outside where the next one up does not.
 */
function candidates(a: number, digits: number): Decimal[] {
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(a.toExponential(digits - 1))!;
  const mantissa = BigInt(m[1]! + (m[2] ?? ''));
  const exponent = Number(m[3]) - (digits - 1);
  return [mantissa - 1n, mantissa, mantissa + 1n]
    .filter((n) => n > 0n)
    .map((n) => ({ mantissa: n, exponent, value: Number(`${n.toString()}e${exponent}`) }));
}

/** The next float above (`1`) or below (`-1`) a positive float; 0 below the smallest. */
function floatStep(a: number, direction: 1 | -1): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, a);
  view.setUint32(0, view.getUint32(0) + direction);
  return view.getFloat32(0);
}

/** Whether the decimal lies strictly between two doubles; exact where its double is too close to tell. */
function strictlyBetween(low: number, c: Decimal, high: number): boolean {
  const close = (x: number): boolean => Math.abs(c.value - x) <= x * 2 ** -50;
  if (close(low)) return compareExact(c, low) > 0;
  if (close(high)) return compareExact(c, high) < 0;
  return low < c.value && c.value < high;
}

/** Whether decimal `x` is nearer to `a` than decimal `y` (exact where the doubles are too close to tell). */
function nearer(a: number, x: Decimal, y: Decimal): boolean {
  const dx = Math.abs(x.value - a);
  const dy = Math.abs(y.value - a);
  if (Math.abs(dx - dy) > a * 2 ** -48) return dx < dy;
  // Two candidates on opposite sides of a: x is nearer when a lies beyond their midpoint on x's side.
  const [lower, upper] = x.value < y.value ? [x, y] : [y, x];
  const twiceA = exactDouble(a);
  twiceA.numerator *= 2n;
  const sum = addDecimals(lower, upper);
  const c = compareRationals(twiceA, sum);
  // a above the midpoint: the upper candidate is nearer.
  return c > 0 ? x === upper : c < 0 ? x === lower : false;
}

interface Rational {
  numerator: bigint;
  denominator: bigint;
}

function exactDouble(x: number): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const significand = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  return exponent >= 0
    ? { numerator: significand << BigInt(exponent), denominator: 1n }
    : { numerator: significand, denominator: 1n << BigInt(-exponent) };
}

function exactDecimal(d: Decimal): Rational {
  return d.exponent >= 0
    ? { numerator: d.mantissa * 10n ** BigInt(d.exponent), denominator: 1n }
    : { numerator: d.mantissa, denominator: 10n ** BigInt(-d.exponent) };
}

function addDecimals(x: Decimal, y: Decimal): Rational {
  const a = exactDecimal(x);
  const b = exactDecimal(y);
  return {
    numerator: a.numerator * b.denominator + b.numerator * a.denominator,
    denominator: a.denominator * b.denominator,
  };
}

function compareRationals(a: Rational, b: Rational): number {
  const left = a.numerator * b.denominator;
  const right = b.numerator * a.denominator;
  return left < right ? -1 : left > right ? 1 : 0;
}

function compareExact(d: Decimal, x: number): number {
  return compareRationals(exactDecimal(d), exactDouble(x));
}
