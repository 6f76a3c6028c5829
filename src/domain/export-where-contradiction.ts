import type { ColumnKind } from './column-type.js';
import type { NormalizedPredicate } from './export-request.js';
import { type Bounds, millisecondBounds } from './export-stats-pruning.js';
import { type CanonicalValue, compareValues } from './export-values.js';

/**
 * Whether the ANDed predicates of a `where` match no row whatever the data: true only when the predicates on one
 * column contradict each other, as both engines evaluate them (SQL's NULL semantics, and each kind's order as
 * compareValues gives it: text by UTF-8 bytes, NaN above every other double). The planner then reads no file, and the
 * Athena engine asks no query: Trino plans no scan for conditions such as `id = 1 AND id = 2`, and a query restricted
 * to the planned files that read nothing is run again unrestricted, since it looks like one whose `"$path"` matched
 * none of its files.
 *
 * Proven, per column: IS_NULL with any other predicate (a comparison, IN, CONTAINS, STARTS_WITH or IS_NOT_NULL is
 * never true of NULL); EQ and IN lists with no value in common; a value list outside the range of the LT, LTE, GT,
 * GTE and BETWEEN predicates, or a range that is empty; NE of the one value the others leave.
 *
 * Conservative: a predicate whose values are in doubt constrains nothing here (which can only leave more rows), so
 * the answer is false whenever a contradiction rests on it. In doubt: decimals (a file may hold another scale, and
 * the engine may compare in it), NaN, text that is not well-formed UTF-16 (a lone surrogate, which each engine's client
 * may replace on the way, with U+FFFD or another character), CONTAINS and STARTS_WITH (only their NOT NULL counts), and NE of a value that is not exact.
 * Some values stand for a span of values: a double may be compared rounded to a float (DuckDB does when a FLOAT file
 * is read beside a DOUBLE one, unless the column is an expression, as export-sql.ts predicateSql now makes it; the span
 * is kept, which can only read more) and zero as -0.0; a timestamp as the millisecond on either side of it (Athena reads a
 * Hive table's timestamps to the millisecond). A contradiction must hold for any value within each span.
 *
 * Only the request's own `where` is judged, never the access policy's row filter: the answer then depends on what the
 * caller sent alone, so the plan it gives (no file, no row) tells the caller nothing about the data or the policy,
 * row filter or not. Judged with the row filter, a caller could learn the filter's values from the estimate.
 */
export function whereContradicts(where: readonly NormalizedPredicate[]): boolean {
  const byColumn = new Map<string, NormalizedPredicate[]>();
  for (const p of where) {
    const list = byColumn.get(p.column);
    if (list === undefined) byColumn.set(p.column, [p]);
    else list.push(p);
  }
  return [...byColumn.values()].some(columnContradicts);
}

/** A closed span of values as the engine orders them: a value list or a value that may compare as any within. */
type Span = Bounds;

/** One side of a range: the bound and whether it is open (`<`, `>`) rather than closed (`<=`, `>=`). */
interface Limit {
  value: CanonicalValue;
  open: boolean;
}

function columnContradicts(predicates: readonly NormalizedPredicate[]): boolean {
  // Every operator but IS_NULL is never true of NULL (a comparison with NULL is NULL, and so is strpos or starts_with
  // of NULL): IS_NULL with any of them leaves no row.
  if (predicates.some((p) => p.op === 'IS_NULL')) return predicates.some((p) => p.op !== 'IS_NULL');
  const kind = predicates[0]!.kind;
  const cmp = (a: CanonicalValue, b: CanonicalValue): number => compareValues(kind, a, b);
  let lower: Limit | undefined;
  let upper: Limit | undefined;
  // The values an EQ or IN list leaves, as disjoint sorted spans; undefined while no such predicate was seen.
  let points: Span[] | undefined;
  const excluded: CanonicalValue[] = [];
  const atLeast = (value: CanonicalValue, open: boolean): void => {
    const c = lower === undefined ? 1 : cmp(value, lower.value);
    if (c > 0 || (c === 0 && open)) lower = { value, open };
  };
  const atMost = (value: CanonicalValue, open: boolean): void => {
    const c = upper === undefined ? -1 : cmp(value, upper.value);
    if (c < 0 || (c === 0 && open)) upper = { value, open };
  };
  for (const p of predicates) {
    if (p.op === 'IS_NOT_NULL' || p.op === 'CONTAINS' || p.op === 'STARTS_WITH') continue;
    const spans = p.values.map((v) => spanOf(kind, v));
    if (!spans.every((s): s is Span => s !== undefined)) continue;
    const first = spans[0]!;
    switch (p.op) {
      case 'EQ':
      case 'IN': {
        const list = union(spans, cmp);
        points = points === undefined ? list : intersection(points, list, cmp);
        break;
      }
      case 'NE':
        // A value that may compare as another excludes none for certain.
        if (cmp(first.lower, first.upper) === 0) excluded.push(first.lower);
        break;
      // `x < v` for some v within [lower, upper] of its span: x < upper, and so on.
      case 'LT':
        atMost(first.upper, true);
        break;
      case 'LTE':
        atMost(first.upper, false);
        break;
      case 'GT':
        atLeast(first.lower, true);
        break;
      case 'GTE':
        atLeast(first.lower, false);
        break;
      case 'BETWEEN':
        atLeast(first.lower, false);
        atMost(spans[1]!.upper, false);
        break;
    }
  }
  const within = (s: Span): boolean => {
    if (lower !== undefined) {
      const c = cmp(s.upper, lower.value);
      if (c < 0 || (c === 0 && lower.open)) return false;
    }
    if (upper !== undefined) {
      const c = cmp(s.lower, upper.value);
      if (c > 0 || (c === 0 && upper.open)) return false;
    }
    return true;
  };
  const isExcluded = (s: Span): boolean => cmp(s.lower, s.upper) === 0 && excluded.some((v) => cmp(v, s.lower) === 0);
  if (points !== undefined) return !points.some((s) => within(s) && !isExcluded(s));
  if (lower === undefined || upper === undefined) return false;
  const c = cmp(lower.value, upper.value);
  if (c > 0 || (c === 0 && (lower.open || upper.open))) return true;
  // A range of one value (`x >= 5 AND x <= 5`) that NE rules out.
  return c === 0 && isExcluded({ lower: lower.value, upper: upper.value });
}

/** Text with a lone surrogate (U+D800 to U+DFFF outside a pair), which no UTF-8 text holds. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The values a predicate's canonical value may compare as in the engines; undefined when in doubt. */
function spanOf(kind: ColumnKind, value: CanonicalValue): Span | undefined {
  switch (kind) {
    case 'string':
      return typeof value === 'string' && !LONE_SURROGATE.test(value) ? { lower: value, upper: value } : undefined;
    case 'int':
    case 'bigint':
    case 'boolean':
    case 'date':
      return { lower: value, upper: value };
    case 'double':
      return doubleSpan(value);
    case 'float':
      return floatSpan(value);
    case 'timestamp':
      return typeof value === 'string' ? millisecondBounds(value, value) : undefined;
    case 'decimal':
      return undefined;
  }
}

/**
 * A double and the float it rounds to: DuckDB may compare a FLOAT file's column with the value rounded to a float
 * (it does when another file of the read has the column as DOUBLE and the comparison is pushed into the scan, which
 * export-sql.ts no longer lets happen), so that `IN (0.2)` and `= 0.20000000298023224` both held for its 0.2. A span that reaches zero takes in the doubles next to it, for -0.0. NaN: in doubt.
 */
function doubleSpan(value: CanonicalValue): Span | undefined {
  if (value === 'NaN') return undefined;
  const n = Number(value);
  if (Number.isNaN(n)) return undefined;
  const f = Math.fround(n);
  let lower = Math.min(n, f);
  let upper = Math.max(n, f);
  if (lower <= 0 && upper >= 0) {
    lower = Math.min(lower, -Number.MIN_VALUE);
    upper = Math.max(upper, Number.MIN_VALUE);
  }
  return { lower, upper };
}

/**
 * A float column compares with the value as a float (`CAST(? AS FLOAT)`, canonical values are floats already):
 * compareValues compares as floats, so the span is the value, but zero takes in the floats next to it, for -0.0.
 * NaN: in doubt.
 */
function floatSpan(value: CanonicalValue): Span | undefined {
  if (value === 'NaN') return undefined;
  const n = Number(value);
  if (Number.isNaN(n)) return undefined;
  // The smallest float above zero (2^-149), which compareValues does not round to zero.
  return n === 0 ? { lower: -(2 ** -149), upper: 2 ** -149 } : { lower: n, upper: n };
}

/** The spans of a value list as disjoint spans in order. */
function union(spans: readonly Span[], cmp: (a: CanonicalValue, b: CanonicalValue) => number): Span[] {
  const sorted = [...spans].sort((a, b) => cmp(a.lower, b.lower));
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && cmp(s.lower, last.upper) <= 0) {
      if (cmp(s.upper, last.upper) > 0) out[out.length - 1] = { lower: last.lower, upper: s.upper };
    } else {
      out.push(s);
    }
  }
  return out;
}

/** The values two lists of disjoint spans in order have in common, as such a list. */
function intersection(
  a: readonly Span[],
  b: readonly Span[],
  cmp: (x: CanonicalValue, y: CanonicalValue) => number,
): Span[] {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const lower = cmp(x.lower, y.lower) >= 0 ? x.lower : y.lower;
    const upper = cmp(x.upper, y.upper) <= 0 ? x.upper : y.upper;
    if (cmp(lower, upper) <= 0) out.push({ lower, upper });
    if (cmp(x.upper, y.upper) < 0) i++;
    else j++;
  }
  return out;
}
