import { type ColumnType, duckdbType, formatColumnType } from '../../src/domain/column-type.js';
import type { DatasetDefinition, DefinedColumn } from '../../src/domain/dataset-definition.js';
import { IngestError } from '../../src/domain/errors.js';
import { MAX_RECORD_BYTES, QUARANTINE_RAW_CHARS } from './scan-limits.js';
import { sqlIdent, sqlString } from './sql-text.js';
import { dateCastSql, timestampCastSql } from './temporal-casts.js';
import { compileTextPattern } from '../../src/domain/text-pattern.js';

export { sqlIdent, sqlString };

/**
 * The SQL that parses, validates, casts and normalises raw records inside DuckDB. Every reader yields the same
 * relation, so one validation query serves all formats:
 *
 *   _line  BIGINT   1-based physical line where the record starts
 *   _start BIGINT   CSV only: byte offset of the record in the canonical copy (raw text for the quarantine)
 *   _len   BIGINT   CSV only: its length in bytes
 *   _raw   VARCHAR  the record's text (line formats; CSV reads it back from _start/_len when rejected)
 *   _bad   VARCHAR  a reason the record as a whole is unreadable (malformed JSON, no pattern match), else NULL
 *   _empty BOOLEAN  fast JSON reader only: no declared field had a value (the reason is settled later)
 *   f0..fn VARCHAR  the raw value of each declared column, NULL when absent
 */

/** Reads a text file one line per row: no quoting, a delimiter the pre-pass keeps out of lines, `\n` only. */
function linesRelation(path: string, numbered = true): string {
  return `SELECT ${numbered ? 'row_number() OVER ()' : 'NULL::BIGINT'} AS _line, line AS _raw
    FROM read_csv(${sqlString(path)}, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
      delim = E'\\x01', quote = '', escape = '', new_line = '\\n', strict_mode = false, compression = 'none',
      max_line_size = ${MAX_RECORD_BYTES * 2})`;
}

/**
 * Skips blank lines (empty lines read as NULL; lines of spaces and tabs carry no record). trim() copies the line, so
 * it runs only for lines that start with white space (CASE evaluates its branches lazily; AND/OR do not).
 */
const NOT_BLANK = `_raw IS NOT NULL AND CASE WHEN prefix(_raw, ' ') OR prefix(_raw, E'\t') THEN trim(_raw, E' \\t') <> '' ELSE _raw <> '' END`;

export function jsonlReader(path: string, def: DatasetDefinition, numbered = true): string {
  const sources = uniqueSources(def);
  const struct = JSON.stringify(Object.fromEntries(sources.map((s) => [s, 'VARCHAR'])));
  const fields = def.columns.map((c, i) => `struct_extract(_s, ${sqlString(c.source)}) AS f${i}`).join(', ');
  // from_json parses each line once into the declared fields; try() turns a syntax error into NULL. Only rows
  // that fail (or are not objects) pay for a second look to name the reason.
  const kind = jsonKind('_raw');
  return `SELECT _line, NULL::BIGINT AS _start, NULL::BIGINT AS _len, _raw,
      CASE WHEN _s IS NOT NULL AND (prefix(_raw, '{') OR starts_with(ltrim(_raw), '{')) THEN NULL
        WHEN NOT json_valid(_raw) THEN 'malformed JSON'
        ELSE 'expected a JSON object, found ' || ${kind} END AS _bad,
      false AS _empty, ${fields}
    FROM (SELECT _line, _raw, try(from_json(_raw, ${sqlString(struct)})) AS _s
      FROM (${linesRelation(path, numbered)}) WHERE ${NOT_BLANK})`;
}

/**
 * The fast JSON Lines reader: DuckDB's own `read_json` (one parse per line straight into VARCHAR columns, about
 * twice as fast as lines + from_json). It skips blank lines and gives a malformed line a row of NULLs, so:
 * - physical line numbers come from the pre-pass's list of skipped lines (`skipsPath`, CSV of `_from,_add`: from
 *   row `_from` on, add `_add`), joined ASOF; without skipped lines the row number is the line;
 * - a row whose declared fields are all NULL (`_empty`) may be malformed or not an object: its reason is settled
 *   from the raw line afterwards (`fixJsonRejectsSql`), as is every rejected row's raw text.
 * The caller checks the row count against the pre-pass and falls back to `jsonlReader` on any mismatch.
 * `gzip`: the file is the raw .gz itself (the fast stage reads it while the pre-pass inflates it for its checks).
 */
export function jsonlFastReader(
  path: string,
  def: DatasetDefinition,
  skipsPath: string | undefined,
  numbered = true,
  gzip = false,
): string {
  const sources = uniqueSources(def);
  const columns = sources.map((s) => `${sqlString(s)}: 'VARCHAR'`).join(', ');
  const fields = def.columns.map((c, i) => `${sqlIdent(c.source)} AS f${i}`).join(', ');
  const empty = def.columns.map((_, i) => `f${i} IS NULL`).join(' AND ');
  const rows = `SELECT ${numbered ? 'row_number() OVER ()' : 'NULL::BIGINT'} AS _ord, ${fields}
      FROM read_json(${sqlString(path)}, format = 'newline_delimited', columns = {${columns}}, ignore_errors = true,
        compression = ${gzip ? `'gzip'` : `'uncompressed'`}, maximum_object_size = ${MAX_RECORD_BYTES * 2})`;
  const line = skipsPath && numbered ? `r._ord + coalesce(s._add, 0)` : `r._ord`;
  const join =
    skipsPath && numbered
      ? `ASOF LEFT JOIN read_csv(${sqlString(skipsPath)}, columns = {'_from': 'BIGINT', '_add': 'BIGINT'}, header = false,
        auto_detect = false) s ON r._ord >= s._from`
      : '';
  return `SELECT ${line} AS _line, NULL::BIGINT AS _start, NULL::BIGINT AS _len, NULL::VARCHAR AS _raw,
      NULL::VARCHAR AS _bad, (${empty}) AS _empty, ${def.columns.map((_, i) => `f${i}`).join(', ')}
    FROM (${rows}) r ${join}`;
}

/**
 * After the fast reader: fetches the raw text of rejected lines, and names the reason of rows that had no declared
 * field (malformed JSON, or not an object; an object merely lacking the fields keeps its "null in a required
 * column" reasons).
 */
export function fixJsonRejectsSql(path: string): string[] {
  return [
    `CREATE TEMP TABLE rejected_raw AS SELECT l._line, l._raw FROM (${linesRelation(path)}) l
      SEMI JOIN parsed p ON p._line = l._line AND p._reason IS NOT NULL`,
    `UPDATE parsed SET _raw = left(r._raw, ${QUARANTINE_RAW_CHARS}), _reason = CASE
        WHEN NOT parsed._empty THEN parsed._reason
        WHEN NOT json_valid(r._raw) THEN 'malformed JSON'
        WHEN json_type(r._raw::JSON) <> 'OBJECT' THEN 'expected a JSON object, found ' || ${jsonKind('r._raw')}
        ELSE parsed._reason END
      FROM rejected_raw r WHERE parsed._line = r._line`,
  ];
}

function jsonKind(raw: string): string {
  return `CASE json_type(${raw}::JSON) WHEN 'ARRAY' THEN 'an array' WHEN 'VARCHAR' THEN 'a string'
      WHEN 'BOOLEAN' THEN 'a boolean' WHEN 'NULL' THEN 'null' ELSE 'a number' END`;
}

export function textReader(path: string, def: DatasetDefinition, numbered = true): string {
  if (!def.text) throw new IngestError('bad_definition', 'format text needs text.pattern in the dataset definition');
  const pattern = compileTextPattern(def.text.pattern);
  const whole = '__whole_line__';
  const names = [whole, ...pattern.groups];
  for (const c of def.columns) {
    if (!pattern.groups.includes(c.source)) {
      throw new IngestError(
        'bad_definition',
        `column "${c.name}": source "${c.source}" is not a named group of text.pattern`,
      );
    }
  }
  // One regexp evaluation per line: the outer group captures the whole line when it matches, '' when not.
  const re = `^(${pattern.re2})$`;
  const list = `[${names.map(sqlString).join(', ')}]`;
  // An optional group that did not take part reads as '' and means "absent".
  const fields = def.columns
    .map((c, i) => `nullif(struct_extract(_m, ${sqlString(c.source)}), '') AS f${i}`)
    .join(', ');
  return `SELECT _line, NULL::BIGINT AS _start, NULL::BIGINT AS _len, _raw,
      CASE WHEN struct_extract(_m, ${sqlString(whole)}) = '' THEN 'line does not match the pattern' END AS _bad,
      false AS _empty, ${fields}
    FROM (SELECT _line, _raw, regexp_extract(_raw, ${sqlString(re)}, ${list}) AS _m
      FROM (${linesRelation(path, numbered)}) WHERE ${NOT_BLANK})`;
}

/**
 * Reads the canonical CSV copy made by CsvScanner: three leading fields (line, start, length), then the
 * record's own fields, all VARCHAR. Records with the wrong field count go to the rejects table.
 *
 * An unquoted empty field is null; a quoted one (`""`) is the empty string in a string column, as the export writes
 * it and as a JSON line's `""` reads (DuckDB's default, `allow_quoted_nulls`, read it as null), and null in a column of
 * another type, which has no empty value (a quote-all writer's null).
 */
export function csvReader(
  path: string,
  def: DatasetDefinition,
  fieldIndex: (number | undefined)[],
  fieldCount: number,
  rejectsTable: string,
): string {
  const cols = [
    `'_line': 'BIGINT'`,
    `'_start': 'BIGINT'`,
    `'_len': 'BIGINT'`,
    ...Array.from({ length: fieldCount }, (_, i) => `'c${i}': 'VARCHAR'`),
  ].join(', ');
  const fields = def.columns
    .map((_, i) => {
      const idx = fieldIndex[i];
      if (idx === undefined) return `NULL::VARCHAR AS f${i}`;
      return def.columns[i]!.type.kind === 'string' ? `c${idx} AS f${i}` : `nullif(c${idx}, '') AS f${i}`;
    })
    .join(', ');
  const quote = def.csv.quote;
  return `SELECT _line, _start, _len, NULL::VARCHAR AS _raw, NULL::VARCHAR AS _bad, false AS _empty, ${fields}
    FROM read_csv(${sqlString(path)}, columns = {${cols}}, header = false, auto_detect = false,
      delim = ${sqlString(def.csv.delimiter)}, quote = ${sqlString(quote)}, escape = ${sqlString(quote)},
      new_line = '\\n', strict_mode = true, allow_quoted_nulls = false, store_rejects = true, compression = 'none',
      rejects_table = ${sqlString(rejectsTable)}, rejects_scan = ${sqlString(`${rejectsTable}_scan`)},
      max_line_size = ${MAX_RECORD_BYTES * 2})`;
}

interface ColumnSql {
  /** VARCHAR → typed value, NULL when it does not convert. */
  cast: (f: string) => string;
  /** Whether a converted value is acceptable (default: not NULL). */
  valid?: (t: string) => string;
  /** `a timestamp (formats: ...)` etc., for "is not ..." reasons. */
  description: string;
  /** A converted value's range, with its own reason (`is a date outside years 0001 to 9999`); part of `valid`. */
  range?: { within: (t: string) => string; outside: string };
}

/**
 * Dates and timestamps are kept to years 0001 to 9999. DuckDB reads `20240-03-01` (a mistyped year) as the year
 * 20240 and `-0001-…` as 2 BC; a partition folder `event_date=20240-03-01` is no date the API, Hive or Athena reads,
 * and such text is a typo in a support log, not an event.
 */
const YEARS = 'years 0001 to 9999';
const TIMESTAMP_RANGE = `TIMESTAMP '0001-01-01 00:00:00' AND TIMESTAMP '9999-12-31 23:59:59.999999'`;
const DATE_RANGE = `DATE '0001-01-01' AND DATE '9999-12-31'`;

/** Integer text: DuckDB's cast also takes 1.5 (rounded), 1e3, 0x10 and 1_000; a strict column refuses them. */
const NOT_INTEGER_TEXT = `GLOB '*[.eExXbBoO_]*'`;
/** Decimal text: a point is fine, exponents, radix prefixes and digit separators are not. */
const NOT_DECIMAL_TEXT = `GLOB '*[eExXbBoO_]*'`;

function columnSql(col: DefinedColumn): ColumnSql {
  const type: ColumnType = col.type;
  const formats = col.formats;
  switch (type.kind) {
    case 'string':
      return { cast: (f) => f, description: 'a string' };
    case 'int':
    case 'bigint':
      // Canonical integer text (what the cast prints back) cannot hold a refused character: it skips the GLOB,
      // which costs about three times the cast (measured: 113 vs 46 ms per million values).
      return {
        cast: (f) => {
          const t = `TRY_CAST(${f} AS ${duckdbType(type)})`;
          return `CASE WHEN CAST(${t} AS VARCHAR) = ${f} THEN ${t} WHEN ${f} ${NOT_INTEGER_TEXT} THEN NULL ELSE ${t} END`;
        },
        description: type.kind === 'int' ? 'an int' : 'a bigint',
      };
    case 'float':
    case 'double':
      // A float cast makes text beyond its range (1e39) an infinity, which isfinite refuses as it does "Infinity".
      // The cast also reads digit separators (1_000.5_5 is 1000.55), which int and decimal columns refuse: so do these.
      return {
        cast: (f) => `CASE WHEN contains(${f}, '_') THEN NULL ELSE TRY_CAST(${f} AS ${duckdbType(type)}) END`,
        valid: (t) => `isfinite(${t})`,
        // NaN and the infinities are refused: say so, and give a float's range (its text past it reads as infinite).
        description: type.kind === 'float' ? 'a finite float (32-bit, up to ±3.4028235e38)' : 'a finite double',
      };
    case 'decimal':
      // More fraction digits than the scale would be rounded by the cast: refused instead.
      return {
        cast: (f) =>
          `CASE WHEN ${f} ${NOT_DECIMAL_TEXT} OR ${f} GLOB '*.${'[0-9]'.repeat(type.scale + 1)}*'
            THEN NULL ELSE TRY_CAST(${f} AS ${duckdbType(type)}) END`,
        description: `a ${formatColumnType(type)}`,
      };
    case 'boolean':
      return { cast: (f) => `TRY_CAST(${f} AS BOOLEAN)`, description: 'a boolean' };
    case 'timestamp':
      return {
        cast: (f) => timestampCastSql(f, formats, col.timeZone),
        range: { within: (t) => `${t} BETWEEN ${TIMESTAMP_RANGE}`, outside: `a timestamp outside ${YEARS}` },
        description: `a timestamp (formats: ${formats ? formats.join(', ') : 'ISO 8601'}${col.timeZone !== undefined ? `; time zone ${col.timeZone}` : ''})`,
      };
    case 'date':
      return {
        cast: (f) => dateCastSql(f, formats),
        range: { within: (t) => `${t} BETWEEN ${DATE_RANGE}`, outside: `a date outside ${YEARS}` },
        description: `a date (formats: ${formats ? formats.join(', ') : 'ISO 8601'})`,
      };
  }
}

/** The raw value as a JSON string for a reason, cut to 100 characters. */
function shown(f: string): string {
  return `to_json(CASE WHEN length(${f}) > 100 THEN left(${f}, 100) || '…' ELSE ${f} END)`;
}

/**
 * Every record of a reader, validated and cast: its typed columns (by their names), the partition day `_part`,
 * `_ok` (true for a good row) and `_reason` (NULL for a good row; every failing column's reason joined with '; '
 * otherwise). `_raw` is kept for rejected rows only. `_ok` is a plain conjunction of the checks, so good rows never
 * build a reason string (CASE evaluates a branch only for the rows that take it).
 */
export function typedRowsSql(reader: string, def: DatasetDefinition): string {
  const specs = def.columns.map((c) => {
    const spec = columnSql(c);
    const { range, valid } = spec;
    if (range === undefined) return spec;
    return { ...spec, valid: (t: string) => (valid ? `${valid(t)} AND ${range.within(t)}` : range.within(t)) };
  });
  const typed = def.columns.map((_, i) => `${specs[i]!.cast(`f${i}`)} AS t${i}`).join(',\n      ');
  const value = (i: number): string => {
    const v = specs[i]!.valid;
    return v ? `CASE WHEN ${v(`t${i}`)} THEN t${i} END` : `t${i}`;
  };
  // Only checks that can fail are emitted: a nullable string column without maxLength accepts anything. Each check
  // is a failure condition that is never NULL, and the reason its CASE gives.
  const checks = def.columns.map((c, i) => {
    const name = `column "${c.name}": `;
    const out: { fails: string; reason: string }[] = [];
    if (!c.nullable)
      out.push({ fails: `f${i} IS NULL`, reason: sqlString(`${name}missing or null in a required column`) });
    // A record without its event key cannot be told from another: de-duplication would keep one keyless record per
    // day, dropping the others as repeats (and another source's as published), with no reason given.
    else if (def.eventKey.includes(c.name)) {
      out.push({ fails: `f${i} IS NULL`, reason: sqlString(`${name}missing or null in the event key`) });
    }
    if (c.type.kind !== 'string') {
      const range = specs[i]!.range;
      if (range !== undefined) {
        out.push({
          fails: `t${i} IS NOT NULL AND NOT (${range.within(`t${i}`)})`,
          reason: `${sqlString(name)} || ${shown(`f${i}`)} || ${sqlString(` is ${range.outside}`)}`,
        });
      }
      const v = specs[i]!.valid;
      const ok = v ? `t${i} IS NOT NULL AND ${v(`t${i}`)}` : `t${i} IS NOT NULL`;
      out.push({
        fails: `f${i} IS NOT NULL AND NOT (${ok})`,
        reason: `${sqlString(name)} || ${shown(`f${i}`)} || ${sqlString(` is not ${specs[i]!.description}`)}`,
      });
    } else if (c.maxLength !== undefined) {
      out.push({
        fails: `f${i} IS NOT NULL AND length(f${i}) > ${c.maxLength}`,
        reason: `${sqlString(`${name}value is `)} || length(f${i}) || ${sqlString(
          ` characters, longer than ${c.maxLength}`,
        )}`,
      });
    }
    return out;
  });
  const failures = checks.flat().map((c) => `(${c.fails})`);
  const ok = failures.length === 0 ? '_bad IS NULL' : `_bad IS NULL AND NOT (${failures.join(' OR ')})`;
  const reasons = checks
    .filter((cs) => cs.length > 0)
    .map((cs) => `CASE ${cs.map((c) => `WHEN ${c.fails} THEN ${c.reason}`).join(' ')} END`);
  const reason =
    reasons.length === 0 ? 'NULL::VARCHAR' : `nullif(concat_ws('; ',\n        ${reasons.join(',\n        ')}), '')`;
  const partIndex = def.columns.findIndex((c) => c.name === def.partition.source);
  const columns = def.columns.map((c, i) => `${value(i)} AS ${sqlIdent(c.name)}`).join(', ');
  return `WITH r AS (${reader}),
    t AS (SELECT r.*,
      ${typed}
      FROM r),
    v AS (SELECT t.*, ${ok} AS _ok FROM t),
    w AS (SELECT v.*, CASE WHEN _ok THEN NULL ELSE COALESCE(_bad, ${reason}) END AS _reason FROM v)
    SELECT _line, _start, _len, CASE WHEN NOT _ok THEN left(_raw, ${QUARANTINE_RAW_CHARS}) END AS _raw,
      _reason, _ok, _empty, ${columns}, CAST(${value(partIndex)} AS DATE) AS _part
    FROM w`;
}

/** `CREATE TEMP TABLE parsed`: every record of the reader, typed and validated (see typedRowsSql). */
export function parsedTableSql(reader: string, def: DatasetDefinition): string {
  return `CREATE TEMP TABLE parsed AS ${typedRowsSql(reader, def)}`;
}

/** Rows, rejected rows, and distinct (partition, event key) pairs among good rows. */
export function countsSql(def: DatasetDefinition): string {
  const key = `(_part, ${def.eventKey.map(sqlIdent).join(', ')})`;
  return `SELECT count(*)::BIGINT AS n, count(_reason)::BIGINT AS bad,
      count(DISTINCT ${key}) FILTER (WHERE _reason IS NULL)::BIGINT AS keys
    FROM parsed`;
}

export function existingKeysTableSql(def: DatasetDefinition): string {
  const cols = def.eventKey.map((k) => {
    const c = def.columns.find((col) => col.name === k)!;
    return `${sqlIdent(k)} ${duckdbType(c.type)}`;
  });
  // `_file`: the local path of the file holding the key; `_src`: its source's hash, known in compacted files only.
  return `CREATE TEMP TABLE existing (_part DATE, ${cols.join(', ')}, _file VARCHAR, _src VARCHAR)`;
}

/**
 * Event keys of rows other sources already published in one partition, with the file each is in. For compacted files
 * (`exceptSource` given: the ingesting source's hash), rows of that source are left out and each key carries its
 * source's hash.
 */
export function insertExistingKeysSql(
  def: DatasetDefinition,
  partition: string,
  files: string[],
  exceptSource?: string,
): string {
  const keys = def.eventKey.map(sqlIdent).join(', ');
  const where = exceptSource !== undefined ? `WHERE ${SOURCE_COLUMN} <> ${sqlString(exceptSource)}` : '';
  const src = exceptSource !== undefined ? SOURCE_COLUMN : 'NULL';
  return `INSERT INTO existing SELECT DISTINCT DATE ${sqlString(partition)}, ${keys}, filename, ${src}
    FROM read_parquet([${files.map(sqlString).join(', ')}], union_by_name = true, hive_partitioning = false,
      filename = true) ${where}`;
}

/** Leaves the keys of these files (local paths, as `existing` was filled from them) out of `existing`. */
export function forgetExistingFilesSql(files: readonly string[]): string {
  return `DELETE FROM existing WHERE _file IN (${files.map(sqlString).join(', ')})`;
}

/** The files (and, for compacted ones, the sources) holding keys the stage `table` has too: the rows it drops. */
export function existingKeyWinnersSql(def: DatasetDefinition, table: string): string {
  const t = sqlIdent(table);
  const on = def.eventKey.map((k) => `${t}.${sqlIdent(k)} IS NOT DISTINCT FROM e.${sqlIdent(k)}`).join(' AND ');
  return `SELECT DISTINCT strftime(e._part, '%Y-%m-%d') AS p, e._file AS file, e._src AS src FROM existing e
    WHERE EXISTS (SELECT 1 FROM ${t} WHERE ${t}._part = e._part AND ${on})`;
}

/**
 * Compacted files carry one extra column, the sha256 (16 hex) of the source key each row came from, so a newer
 * version of a source can take its rows back out. Readers select the catalog's columns and never see it.
 */
export const SOURCE_COLUMN = '_source';

export function isCompactedKey(key: string): boolean {
  return /\/part-compacted-[0-9a-f]{16}-\d+\.parquet$/.test(key);
}

/** A compacted file without the rows of one source, in the same order. */
export function purgeCompactedSql(input: string, sourceHash: string, output: string): string {
  return `COPY (SELECT * FROM read_parquet(${sqlString(input)}, hive_partitioning = false)
      WHERE ${SOURCE_COLUMN} <> ${sqlString(sourceHash)})
    TO ${sqlString(output)} (${PARQUET_OPTIONS})`;
}

/** Parquet options: zstd, DuckDB's default row group (122,880 rows), min/max statistics (on by default). */
export const PARQUET_OPTIONS = `FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880`;

/*
 * The stage table: the rows to publish, in the order they are written, in a regular (not TEMP) table so that
 * several connections can write partition files from it at once. Rows are sorted by partition, then event key
 * (then line): each partition's rows are one contiguous range of row ids, already in file order, so a partition
 * file is a plain range scan (no sort, no scan of the other partitions), and the same rows give the same bytes.
 */

function eventKeyList(def: DatasetDefinition): string {
  return def.eventKey.map(sqlIdent).join(', ');
}

/** The message the fast stage aborts with at its first bad row. */
export const FAST_STAGE_BAD_ROW = 'etl fast stage: a record is bad';

/**
 * The fast JSON Lines stage: the good rows of `typedRows` (see typedRowsSql), their declared columns and `_part`,
 * sorted. The statement aborts at the first bad row (`error()` in a CASE runs only for the rows that reach it): a
 * file with defects then costs little here before the careful path parses it with line numbers.
 */
export function fastStageSql(typedRows: string, def: DatasetDefinition, table: string): string {
  const columns = def.columns.map((c) => sqlIdent(c.name)).join(', ');
  return `CREATE TABLE ${sqlIdent(table)} AS SELECT ${columns}, _part FROM (${typedRows})
    WHERE CASE WHEN _ok THEN true ELSE error(${sqlString(FAST_STAGE_BAD_ROW)}) END
    ORDER BY _part, ${eventKeyList(def)}`;
}

/**
 * The fast stage as one finished Parquet file instead of a table, for a source whose rows are expected to fall in
 * one partition: the good rows of `typedRows`, their declared columns only (the partition is the file's place),
 * sorted as the stage table is, written straight from the reader (no table in between, which costs about as much
 * as the write). When it holds one partition, it is the file the publish step puts (linked into place, see
 * `writeStageFiles`). Aborts at the first bad row, as `fastStageSql`.
 */
export function fastStageFileSql(typedRows: string, def: DatasetDefinition, path: string): string {
  const columns = def.columns.map((c) => sqlIdent(c.name)).join(', ');
  return `COPY (SELECT ${columns} FROM (${typedRows})
    WHERE CASE WHEN _ok THEN true ELSE error(${sqlString(FAST_STAGE_BAD_ROW)}) END
    ORDER BY _part, ${eventKeyList(def)}) TO ${sqlString(path)} (${PARQUET_OPTIONS})`;
}

/** A stage file as a relation: its columns and the partition day `_part` of each row, in file order. */
export function stageFileRelation(def: DatasetDefinition, path: string): string {
  const columns = def.columns.map((c) => sqlIdent(c.name)).join(', ');
  return `(SELECT ${columns}, CAST(${sqlIdent(def.partition.source)} AS DATE) AS _part
    FROM read_parquet(${sqlString(path)}, hive_partitioning = false))`;
}

/** The stage table made from a stage file (its rows in the file's order, which is the stage's order). */
export function stageTableFromFileSql(def: DatasetDefinition, table: string, path: string): string {
  return `CREATE TABLE ${sqlIdent(table)} AS SELECT * FROM ${stageFileRelation(def, path)}`;
}

/** Rows per partition of a stage file. */
export function stageFilePartitionsSql(def: DatasetDefinition, path: string): string {
  return `SELECT strftime(_part, '%Y-%m-%d') AS p, count(*)::BIGINT AS n
    FROM ${stageFileRelation(def, path)} GROUP BY _part ORDER BY _part`;
}

/**
 * Rows and the range of partition days among the good records of a small sample of the source (see
 * partition-sample.ts).
 */
export function sampleSpanSql(typedRows: string): string {
  return `SELECT count(*)::BIGINT AS n, count(*) FILTER (WHERE _ok)::BIGINT AS good,
      strftime(min(_part), '%Y-%m-%d') AS lo, strftime(max(_part), '%Y-%m-%d') AS hi
    FROM (${typedRows})`;
}

/**
 * The stage from `parsed`: good rows, de-duplicated when `dedup` (of rows with the same partition and event key the
 * first by line wins), sorted; event keys are then unique per partition, so `_line` breaks no ties.
 */
export function stageFromParsedSql(def: DatasetDefinition, table: string, dedup: boolean): string {
  const columns = def.columns.map((c) => sqlIdent(c.name)).join(', ');
  const keys = eventKeyList(def);
  const first = dedup ? `QUALIFY row_number() OVER (PARTITION BY _part, ${keys} ORDER BY _line) = 1` : '';
  return `CREATE TABLE ${sqlIdent(table)} AS SELECT ${columns}, _part FROM parsed WHERE _reason IS NULL ${first}
    ORDER BY _part, ${keys}, _line`;
}

/** Per partition of the stage: rows and the row id range. */
export function stagePartitionsSql(table: string): string {
  return `SELECT strftime(_part, '%Y-%m-%d') AS p, count(*)::BIGINT AS n,
      min(rowid)::BIGINT AS lo, max(rowid)::BIGINT AS hi
    FROM ${sqlIdent(table)} GROUP BY _part ORDER BY _part`;
}

/**
 * Rows of the sorted stage whose (partition, event key) equals the previous row's: the stage is sorted by both, so
 * equal keys are neighbours, and `rows - repeats` is the number of distinct keys. Each row is paired with the next
 * by position (a scan keeps row id order), two streaming scans of the key columns: measured 10-20 ms for 1M rows,
 * where `count(DISTINCT (_part, key))` took 150-300 ms of CPU on the critical path.
 */
export function stageRepeatedKeysSql(def: DatasetDefinition, table: string): string {
  return repeatedNeighbourKeysSql(sqlIdent(table), ['_part', ...def.eventKey.map(sqlIdent)]);
}

/** The same count over a stage file of one partition: equal event keys are neighbours in the file's order. */
export function stageFileRepeatedKeysSql(def: DatasetDefinition, path: string): string {
  return repeatedNeighbourKeysSql(
    `read_parquet(${sqlString(path)}, hive_partitioning = false)`,
    def.eventKey.map(sqlIdent),
  );
}

function repeatedNeighbourKeysSql(relation: string, keys: string[]): string {
  const next = keys.map((k, i) => `${k} AS _k${i}`).join(', ');
  const same = keys.map((k, i) => `a.${k} IS NOT DISTINCT FROM b._k${i}`).join(' AND ');
  // The shorter side is padded with NULLs: `_next` tells the last row's padding from a real row of NULL keys.
  return `SELECT count(*)::BIGINT AS repeats
    FROM (SELECT ${keys.join(', ')} FROM ${relation}) a
    POSITIONAL JOIN (SELECT ${next}, true AS _next FROM ${relation} OFFSET 1) b
    WHERE b._next AND ${same}`;
}

/** Rows left per partition (after removing keys other sources hold). */
export function stageCountsSql(table: string): string {
  return `SELECT strftime(_part, '%Y-%m-%d') AS p, count(*)::BIGINT AS n FROM ${sqlIdent(table)}
    GROUP BY _part ORDER BY _part`;
}

/** Removes rows whose (partition, event key) is in `existing`: first published wins. */
export function deleteExistingKeysSql(def: DatasetDefinition, table: string): string {
  const t = sqlIdent(table);
  const on = def.eventKey.map((k) => `${t}.${sqlIdent(k)} IS NOT DISTINCT FROM e.${sqlIdent(k)}`).join(' AND ');
  return `DELETE FROM ${t} USING existing e WHERE ${t}._part = e._part AND ${on}`;
}

/**
 * One partition file. `range`: the partition's row ids (contiguous, in order); a table scan keeps row id order,
 * so the file is deterministic. Without a range (never expected; a safety net) the rows are filtered and sorted.
 */
export function copyStagePartitionSql(
  def: DatasetDefinition,
  table: string,
  partition: string,
  range: { lo: number; hi: number } | undefined,
  path: string,
): string {
  const columns = def.columns.map((c) => sqlIdent(c.name)).join(', ');
  const rows = range
    ? `SELECT ${columns} FROM ${sqlIdent(table)} WHERE rowid BETWEEN ${range.lo} AND ${range.hi}`
    : `SELECT ${columns} FROM ${sqlIdent(table)} WHERE _part = DATE ${sqlString(partition)} ORDER BY ${eventKeyList(def)}`;
  return `COPY (${rows}) TO ${sqlString(path)} (${PARQUET_OPTIONS})`;
}

function uniqueSources(def: DatasetDefinition): string[] {
  return [...new Set(def.columns.map((c) => c.source))];
}
