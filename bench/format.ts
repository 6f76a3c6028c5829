/** Number formatting shared by the benchmarks and the results table. */

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Decimal megabytes with one decimal: 406200000 → "406.2". */
export function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** Thousands separated: 1234567 → "1,234,567". */
export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Binary sizes for memory: 1.5 GiB, 312 MiB. */
export function memory(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

/** A rate: one decimal below 100 (9.6 req/s), whole and thousands-separated above (943 req/s, 230,142 rows/s). */
export function rate(value: number): string {
  return value < 100 ? value.toFixed(1) : count(value);
}
