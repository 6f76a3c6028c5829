import { sqlString } from './sql-text.js';

/**
 * Casting text to TIMESTAMP and DATE in DuckDB by the dataset's strptime formats, fast for the common ISO shapes.
 *
 * `try_strptime(text, [formats])` costs about 0.9 s of CPU per million values when the first format does not match
 * (it formats an error for every miss), DuckDB's plain cast about 0.05 s. For text of exactly the shape of a
 * well-known ISO format, the cast gives the same value as strptime with that format (checked over edge cases in
 * test/integration/etl-temporal-casts.test.ts), so such text goes through the cast; everything else, and anything
 * the cast refuses, through strptime, which keeps the list's semantics (first format that parses wins).
 */

const D = '[0-9]';
const DATE_GLOB = `${D}${D}${D}${D}-[01]${D}-[0-3]${D}`;
/** Hours 00-23 need two patterns: the cast reads 24:00:00 as the next day, strptime refuses it. */
const HOURS = ['[01][0-9]', '2[0-3]'];

function timeGlobs(sep: ' ' | 'T', fraction: string, suffix: string): string[] {
  return HOURS.map((h) => `${DATE_GLOB}${sep}${h}:[0-5]${D}:[0-5]${D}${fraction}${suffix}`);
}

/**
 * strptime formats whose text the cast reads identically, with GLOB patterns that match exactly that text. The
 * shapes exclude one another (length, separator or suffix differ), so text matching one cannot parse by another.
 */
export const FAST_TIMESTAMP_FORMATS: ReadonlyMap<string, readonly string[]> = new Map([
  ['%Y-%m-%d %H:%M:%S', timeGlobs(' ', '', '')],
  ['%Y-%m-%dT%H:%M:%S', timeGlobs('T', '', '')],
  ['%Y-%m-%dT%H:%M:%SZ', timeGlobs('T', '', 'Z')],
  ['%Y-%m-%d %H:%M:%S.%g', timeGlobs(' ', `.${D}${D}${D}`, '')],
  ['%Y-%m-%dT%H:%M:%S.%g', timeGlobs('T', `.${D}${D}${D}`, '')],
  ['%Y-%m-%dT%H:%M:%S.%gZ', timeGlobs('T', `.${D}${D}${D}`, 'Z')],
  ['%Y-%m-%d %H:%M:%S.%f', timeGlobs(' ', `.${D.repeat(6)}`, '')],
  ['%Y-%m-%dT%H:%M:%S.%f', timeGlobs('T', `.${D.repeat(6)}`, '')],
  ['%Y-%m-%dT%H:%M:%S.%fZ', timeGlobs('T', `.${D.repeat(6)}`, 'Z')],
]);

export const FAST_DATE_FORMATS: ReadonlyMap<string, readonly string[]> = new Map([['%Y-%m-%d', [DATE_GLOB]]]);

/**
 * GLOB patterns of the formats that may take the cast: those in `known` up to the first format that is not (an
 * unknown format earlier in the list could parse the same text differently, and it would win).
 */
function fastGlobs(formats: readonly string[], known: ReadonlyMap<string, readonly string[]>): string[] {
  return fastFormats(formats, known).flatMap((f) => known.get(f)!);
}

/** The formats of the list that may take the cast: those in `known` up to the first that is not. */
function fastFormats(formats: readonly string[], known: ReadonlyMap<string, readonly string[]>): string[] {
  const fast: string[] = [];
  for (const f of formats) {
    if (!known.has(f)) break;
    fast.push(f);
  }
  return fast;
}

/** Text shapes the cast reads as the strptime of their format would, and what to do with the cast's value. */
interface FastShape {
  globs: readonly string[];
  /** The cast's value → the column's (a wall time in the column's zone → UTC); the value itself by default. */
  wrap?: (value: string) => string;
}

function withFastPath(f: string, type: 'TIMESTAMP' | 'DATE', slow: string, shapes: readonly FastShape[]): string {
  const branches = shapes
    .filter((shape) => shape.globs.length > 0)
    .map(({ globs, wrap }) => {
      const when = globs.map((g) => `${f} GLOB ${sqlString(g)}`).join(' OR ');
      const cast = `TRY_CAST(${f} AS ${type})`;
      // A shaped text the cast refuses (2024-02-30) goes to strptime too, so the result is strptime's in every case.
      return `WHEN ${when} THEN coalesce(${wrap ? wrap(cast) : cast}, ${slow})`;
    });
  if (branches.length === 0) return slow;
  return `CASE ${branches.join(' ')} ELSE ${slow} END`;
}

/**
 * strptime by each format in turn, the first that parses winning. Not `try_strptime(text, [formats])`: given a list
 * in which any format has a zone (`%z`), DuckDB (1.5) reads impossible dates by rolling them over (`2023-02-29` of
 * any format in the list became 2023-03-01, in the next day's partition); by one format at a time it refuses them.
 * `%Z` (a zone name) rolls over even alone, so definitions may not use it (dataset-definition.ts). `zoned` turns a
 * value of a format without an offset into the column's.
 */
function eachFormat(
  f: string,
  formats: readonly string[],
  type: 'TIMESTAMP' | 'DATE',
  zoned: (format: string, value: string) => string = (_, value) => value,
): string {
  const tries = formats.map((format) => zoned(format, `CAST(try_strptime(${f}, ${sqlString(format)}) AS ${type})`));
  return tries.length === 1 ? tries[0]! : `coalesce(${tries.join(', ')})`;
}

/**
 * Whether text of this strptime format names its instant: an offset (`%z`) anywhere, or a literal `Z`, `UTC` or `GMT`
 * at its end (UTC).
 */
export function formatHasOffset(format: string): boolean {
  const bare = format.replace(/%%/g, '');
  return bare.includes('%z') || /(^|[^%])(Z|UTC|GMT)$/.test(bare);
}

/** A wall time in `timeZone` (an IANA name) as UTC wall time: DuckDB's ICU `timezone(zone, timestamp)`. */
function fromZone(timeZone: string, value: string): string {
  return `CAST(timezone(${sqlString(timeZone)}, ${value}) AS TIMESTAMP)`;
}

/**
 * Text with something after its time of day: an offset or a zone (`10:00:00+02`, `10:00Z`, `10:00:00 UTC`,
 * `10:00 Europe/Paris`), which DuckDB's TIMESTAMPTZ cast reads (a TIMESTAMP cast drops a zone name). The time's own
 * digits, colons and fraction cannot start the suffix, so plain wall times never match. What the TIMESTAMPTZ cast
 * does not read (an offset after a space, `10:00:00 -05:30`) is refused, as it is without a time zone.
 */
const ISO_ZONED = `'[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?[ ]*[^0-9:.,[:space:]]'`;

/**
 * Text → TIMESTAMP (UTC wall time). With %z the parsed instant is converted to UTC (the session time zone is UTC);
 * without formats, ISO 8601 text is read and an offset converted likewise. Text without an offset is a UTC wall time,
 * or, with `timeZone`, a wall time there (a time a clock change skips is read past the change, as 02:30 → 03:30; one it
 * repeats as its second, standard-time occurrence).
 */
export function timestampCastSql(f: string, formats: readonly string[] | undefined, timeZone?: string): string {
  if (!formats) {
    const withOffset = `CAST(TRY_CAST(${f} AS TIMESTAMPTZ) AS TIMESTAMP)`;
    if (timeZone === undefined) return withOffset;
    return `CASE WHEN regexp_matches(${f}, ${ISO_ZONED}) THEN ${withOffset} ELSE ${fromZone(timeZone, `TRY_CAST(${f} AS TIMESTAMP)`)} END`;
  }
  if (timeZone === undefined) {
    return withFastPath(f, 'TIMESTAMP', eachFormat(f, formats, 'TIMESTAMP'), [
      { globs: fastGlobs(formats, FAST_TIMESTAMP_FORMATS) },
    ]);
  }
  const zoned = (format: string, value: string): string =>
    formatHasOffset(format) ? value : fromZone(timeZone, value);
  const fast = fastFormats(formats, FAST_TIMESTAMP_FORMATS);
  return withFastPath(f, 'TIMESTAMP', eachFormat(f, formats, 'TIMESTAMP', zoned), [
    {
      globs: fast.filter((k) => !formatHasOffset(k)).flatMap((k) => FAST_TIMESTAMP_FORMATS.get(k)!),
      wrap: (v) => fromZone(timeZone, v),
    },
    { globs: fast.filter((k) => formatHasOffset(k)).flatMap((k) => FAST_TIMESTAMP_FORMATS.get(k)!) },
  ]);
}

export function dateCastSql(f: string, formats: readonly string[] | undefined): string {
  if (!formats) return `TRY_CAST(${f} AS DATE)`;
  return withFastPath(f, 'DATE', eachFormat(f, formats, 'DATE'), [{ globs: fastGlobs(formats, FAST_DATE_FORMATS) }]);
}
