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
  const globs: string[] = [];
  for (const f of formats) {
    const g = known.get(f);
    if (g === undefined) break;
    globs.push(...g);
  }
  return globs;
}

function withFastPath(f: string, type: 'TIMESTAMP' | 'DATE', slow: string, globs: string[]): string {
  if (globs.length === 0) return slow;
  const shape = globs.map((g) => `${f} GLOB ${sqlString(g)}`).join(' OR ');
  // A shaped text the cast refuses (2024-02-30) goes to strptime too, so the result is strptime's in every case.
  return `CASE WHEN ${shape} THEN coalesce(TRY_CAST(${f} AS ${type}), ${slow}) ELSE ${slow} END`;
}

/**
 * strptime by each format in turn, the first that parses winning. Not `try_strptime(text, [formats])`: given a list
 * in which any format has a zone (`%z`), DuckDB (1.5) reads impossible dates by rolling them over (`2023-02-29` of
 * any format in the list became 2023-03-01, in the next day's partition); by one format at a time it refuses them.
 * `%Z` (a zone name) rolls over even alone, so definitions may not use it (dataset-definition.ts).
 */
function eachFormat(f: string, formats: readonly string[], type: 'TIMESTAMP' | 'DATE'): string {
  const tries = formats.map((format) => `CAST(try_strptime(${f}, ${sqlString(format)}) AS ${type})`);
  return tries.length === 1 ? tries[0]! : `coalesce(${tries.join(', ')})`;
}

/**
 * Text → TIMESTAMP (UTC wall time). With %z the parsed instant is converted to UTC (the session time zone is UTC);
 * without formats, ISO 8601 text is read and an offset converted likewise.
 */
export function timestampCastSql(f: string, formats: readonly string[] | undefined): string {
  if (!formats) return `CAST(TRY_CAST(${f} AS TIMESTAMPTZ) AS TIMESTAMP)`;
  return withFastPath(f, 'TIMESTAMP', eachFormat(f, formats, 'TIMESTAMP'), fastGlobs(formats, FAST_TIMESTAMP_FORMATS));
}

export function dateCastSql(f: string, formats: readonly string[] | undefined): string {
  if (!formats) return `TRY_CAST(${f} AS DATE)`;
  return withFastPath(f, 'DATE', eachFormat(f, formats, 'DATE'), fastGlobs(formats, FAST_DATE_FORMATS));
}
