import { float32Text, floatDigits, float32AsDuckdbDouble } from '../../src/domain/float32.js';

/** DuckDB 1.5's text for these floats (`CAST(x::FLOAT AS VARCHAR)`); the integration test holds them to DuckDB. */
const DUCKDB: [number, string][] = [
  // Grisu gives up and fmt's fallback writes the widened double's shortest digits, not the float's (2996100.2).
  [2996100.2, '2996100.25'],
  [-3514309.25, '-3514309.25'],
  [85904304, '85904304.0'],
  [365789216, '365789216.0'],
  // Grisu gives up, the fallback's digits happen to be the float's shortest.
  [49854252, '49854252.0'],
  // The float range's ends, subnormals.
  [2 ** -149, '1e-45'],
  [7 * 2 ** -149, '1e-44'],
  [5 * 2 ** -149, '7e-45'],
  [1.1754942106924411e-38, '1.1754942e-38'],
  [1.1754943508222875e-38, '1.1754944e-38'],
  [3.4028234663852886e38, '3.4028235e+38'],
  // Rounding to the float, and the layout's switches.
  [16777217, '16777216.0'],
  [123456789, '123456790.0'],
  [0.1, '0.1'],
  [0.3, '0.3'],
  [1e-5, '1e-05'],
  [0.0001, '0.0001'],
  [0.00009999999, '9.999999e-05'],
  [1e15, '1000000000000000.0'],
  [9.999999e15, '9999999000000000.0'],
  [1e16, '1e+16'],
  [1.0000001e16, '1.0000001e+16'],
  [1e38, '1e+38'],
  [0, '0.0'],
  [-0, '-0.0'],
  [Number.NaN, 'nan'],
  [Number.POSITIVE_INFINITY, 'inf'],
  [Number.NEGATIVE_INFINITY, '-inf'],
  [1e39, 'inf'],
];

describe('float32Text', () => {
  it.each(DUCKDB)('writes %p as DuckDB does: %s', (value, text) => {
    expect(float32Text(value)).toBe(text);
  });
});

describe('float32AsDuckdbDouble', () => {
  it("is a double with DuckDB's digits that rounds to the same float", () => {
    expect(float32AsDuckdbDouble(0.1)).toBe(0.1);
    expect(float32AsDuckdbDouble(2996100.2)).toBe(2996100.25);
    expect(float32AsDuckdbDouble(-85904300)).toBe(-85904304);
    expect(float32AsDuckdbDouble(2 ** -149)).toBe(1e-45);
    expect(Object.is(float32AsDuckdbDouble(-0), -0)).toBe(true);
    expect(float32AsDuckdbDouble(1e39)).toBe(Number.POSITIVE_INFINITY);
    const view = new DataView(new ArrayBuffer(4));
    const wrong: number[] = [];
    let seed = 3;
    for (let i = 0; i < 20000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      view.setUint32(0, seed);
      const f = view.getFloat32(0);
      if (!Number.isFinite(f) || f === 0) continue;
      const { digits } = floatDigits(Math.abs(f));
      if (!/^[1-9]\d*$/.test(digits) || Math.fround(float32AsDuckdbDouble(f)) !== f) wrong.push(f);
    }
    expect(wrong).toEqual([]);
  });
});
