import type { ColumnKind } from './column-type.js';
import { REDACTED_TEXT } from './export-grant.js';
import type {
  CsvOptions,
  ExportColumn,
  ExportFilterOp,
  NormalizedExportRequest,
  NormalizedPartitionFilter,
} from './export-request.js';
import { impliedDayPredicates } from './export-partitions.js';
import { type CanonicalValue, parameterText } from './export-values.js';
import { hashedBytesOf, maskKeyHex, missingMaskKey } from './mask-key.js';
import type { TableDefinition } from './table.js';

/**
 * An Athena (Trino) query with positional `?` placeholders and its execution parameters, in order: what
 * StartQueryExecution takes as `QueryString` and `ExecutionParameters`.
 */
export interface AthenaQuery {
  sql: string;
  parameters: string[];
}

/** Athena's longest query string, in bytes (StartQueryExecution `QueryString`: 1 to 262,144). */
export const ATHENA_QUERY_MAX_BYTES = 262_144;
/** Athena's longest execution parameter (StartQueryExecution `ExecutionParameters`: each 1 to 1,024 long). */
export const ATHENA_PARAMETER_MAX_LENGTH = 1_024;
/**
 * Athena's pseudo-column of a Hive table's row: the S3 URI of the file it was read from, `s3://<bucket>/<key>`, a
 * varchar. Trino (the Hive connector's `$path` metadata column) prunes the files of a scan by a predicate on it
 * before it reads them, together with the partition pruning of the partition keys.
 */
export const ATHENA_PATH_COLUMN = '$path';

/** Code points that make a spreadsheet read a text cell as a formula (OWASP CSV injection): = + - @ tab CR. */
const FORMULA_CODE_POINTS = [61, 43, 45, 64, 9, 13];
const SOURCE = '"src"';

/** A Trino delimited identifier. Athena folds identifiers to lower case; the catalog's names already are. */
export function quoteAthenaIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A Trino string literal: single quotes, a quote inside doubled. */
export function athenaStringLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The execution parameter for a canonical value of a column kind. Athena reads each parameter as a SQL literal
 * and types it by its syntax: text must be single-quoted to be a varchar, and a typed literal (`DATE '...'`)
 * gives the other types exactly, where a bare number would be read as an integer or a double and lose a
 * decimal's scale or a 64-bit integer's digits. So:
 * string `'it''s'`; int `INTEGER '42'`; bigint `BIGINT '9007199254740993'`; double `DOUBLE '0.1'`,
 * `DOUBLE 'NaN'`, `DOUBLE 'Infinity'`; float `REAL '0.1'` (a REAL column compared with a double would be widened, and
 * the float 0.1 is not the double 0.1); boolean `true`/`false`; date `DATE '2024-02-29'`; timestamp (UTC)
 * `TIMESTAMP '2024-03-01 12:34:56.789000'`; decimal `DECIMAL '12.3400'`. The quoted text is always escaped, even
 * where the canonical form cannot hold a quote.
 */
export function athenaParameter(value: CanonicalValue, kind: ColumnKind): string {
  const text = parameterText(value, kind);
  switch (kind) {
    case 'string':
      return athenaStringLiteral(text);
    case 'int':
      return `INTEGER ${athenaStringLiteral(text)}`;
    case 'bigint':
      return `BIGINT ${athenaStringLiteral(text)}`;
    case 'float':
      return `REAL ${athenaStringLiteral(text)}`;
    case 'double':
      return `DOUBLE ${athenaStringLiteral(text)}`;
    case 'boolean':
      return value === true ? 'true' : 'false';
    case 'date':
      return `DATE ${athenaStringLiteral(text)}`;
    case 'timestamp':
      return `TIMESTAMP ${athenaStringLiteral(text)}`;
    case 'decimal':
      return `DECIMAL ${athenaStringLiteral(text)}`;
  }
}

/**
 * Compiles a normalised request (the caller's grant already folded in: masks, row filter) to an Athena SELECT over
 * the Glue table `"<database>"."<table>"`, equivalent row for row and cell for cell to the DuckDB engine's query
 * (export-sql.ts):
 *
 * - every client value is an execution parameter (`?`), never part of the SQL text; Athena allows parameters only
 *   in WHERE, so the row cap, a number the service computed, is an integer literal in LIMIT;
 * - identifiers are quoted; columns are read through the alias `"src"`, so ORDER BY sorts by the stored value,
 *   not by the neutralised or masked one of the same name;
 * - partition pruning is Athena's own, from the predicates on the partition keys (the partition filter, any
 *   `where`/row-filter predicate on a key, and those a predicate on a day key's source column implies); Athena reads
 *   the partitions registered in Glue;
 * - formula neutralisation on text columns only, by the same rule as the DuckDB query; masks: `hash` is the
 *   SHA-256 hex of the deployment's mask key followed by the value's bytes (hashedBytesOf) and `redact` the fixed text (Athena takes
 *   parameters only in WHERE, so the key is a literal in the query's text: whoever may read this workgroup's query
 *   history or CloudTrail's StartQueryExecution events may read the key);
 * - doubles (and reals, for float columns) compare as in DuckDB, where NaN equals NaN and sorts above every number (Trino follows IEEE 754, where
 *   NaN compares false): predicates on a double column add `is_nan` terms so that both engines keep the same rows;
 * - doubles sort as in DuckDB, where -0.0 equals 0.0 (Trino's sort puts -0.0 first): ORDER BY reads a double's
 *   negative zero as zero, so ties go to the next key in both engines;
 * - values are not formatted here: the engine rewrites Athena's rendering into the export's (timestamps, doubles).
 *
 * `limit` is the row cap to apply (the engine asks for one row more than the export's, to detect truncation).
 * `paths`, when given, restricts the query to the rows of those files: `"src"."$path" IN (?, ...)`, each S3 URI
 * (`s3://<bucket>/<key>`) an execution parameter, after every other condition; an empty list reads no row. The
 * engine checks the result against Athena's limits (ATHENA_QUERY_MAX_BYTES, ATHENA_PARAMETER_MAX_LENGTH).
 */
export function compileAthenaQuery(
  request: NormalizedExportRequest,
  table: TableDefinition,
  options: { database: string; limit: number | null; maskKey?: Uint8Array; paths?: readonly string[] },
): AthenaQuery {
  const parameters: string[] = [];
  const param = (value: CanonicalValue, kind: ColumnKind): string => {
    parameters.push(athenaParameter(value, kind));
    return '?';
  };
  const select = request.columns
    .map((c) => `${projection(c, request.csv, options.maskKey)} AS ${quoteAthenaIdentifier(c.name)}`)
    .join(', ');
  const from = `${quoteAthenaIdentifier(options.database)}.${quoteAthenaIdentifier(table.name)} AS ${SOURCE}`;
  const conditions = [
    ...request.where.map((p) => predicateSql(p.column, p.kind, p.op, p.values, param)),
    ...request.rowFilter.map((p) => predicateSql(p.column, p.kind, p.op, p.values, param)),
    ...(request.partitions === null ? [] : partitionSql(request.partitions, param)),
    // Implied by the predicates above, so they keep the same rows; with them Athena prunes the day partitions of a
    // range on their source column (the DuckDB engine is handed only the pruned files).
    ...impliedDayPredicates(table, request).map((p) => predicateSql(p.column, p.kind, p.op, p.values, param)),
    ...(options.paths === undefined ? [] : [pathSql(options.paths, param)]),
  ];
  const kindOf = new Map([...table.columns, ...table.partitionKeys].map((c) => [c.name, c.kind]));
  const order = request.orderBy.map(
    (o) => `${sortKey(o.column, kindOf.get(o.column))} ${o.direction === 'DESC' ? 'DESC' : 'ASC'} NULLS LAST`,
  );
  let sql = `SELECT ${select} FROM ${from}`;
  if (conditions.length > 0) sql += ` WHERE ${conditions.join(' AND ')}`;
  if (order.length > 0) sql += ` ORDER BY ${order.join(', ')}`;
  if (options.limit !== null) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`row cap ${options.limit} is not a whole number`);
    }
    sql += ` LIMIT ${options.limit}`;
  }
  return { sql, parameters };
}

function ref(column: string): string {
  return `${SOURCE}.${quoteAthenaIdentifier(column)}`;
}

/**
 * What ORDER BY sorts a column by. Trino orders doubles by Java's `Double.compare` (reals by `Float.compare`), which puts -0.0 below 0.0; DuckDB
 * holds them equal and lets the next key decide, so a double sorts with its negative zero read as zero (NaN and NULL
 * are left as they are: both engines put NaN above every number).
 */
function sortKey(column: string, kind: ColumnKind | undefined): string {
  const r = ref(column);
  return kind === 'double' || kind === 'float' ? `CASE WHEN ${r} = 0 THEN 0E0 ELSE ${r} END` : r;
}

function projection(c: ExportColumn, csv: CsvOptions, maskKey: Uint8Array | undefined): string {
  const r = ref(c.name);
  // The same digest as the DuckDB query's: lower-case hex of SHA-256 over the key's bytes and the value's bytes as
  // hashedBytesOf (mask-key.ts) says.
  if (c.mask === 'hash') {
    if (maskKey === undefined) throw missingMaskKey();
    return `lower(to_hex(sha256(from_hex('${maskKeyHex(maskKey)}') || ${hashedBytes(r, c.kind)})))`;
  }
  if (c.mask === 'redact') return athenaStringLiteral(REDACTED_TEXT);
  if (c.kind === 'string' && csv.neutralizeFormulas) {
    const first = `substr(${r}, 1, 1)`;
    return `CASE WHEN ${first} IN (${FORMULA_CODE_POINTS.map((p) => `chr(${p})`).join(', ')}) THEN '''' || ${r} ELSE ${r} END`;
  }
  return r;
}

/**
 * The bytes a hash mask hashes after the key, in Trino: `to_ieee754_64` and `to_ieee754_32` encode with Java's
 * `doubleToLongBits` and `floatToIntBits`, which write every NaN as CANONICAL_NAN; `date_format`'s `%i` is the
 * minute, `%s` the second and `%f` six fraction digits, so a timestamp is written as the export writes it
 * (EXPORT_TIMESTAMP_FORMAT in DuckDB's notation).
 */
function hashedBytes(r: string, kind: ColumnKind): string {
  switch (hashedBytesOf(kind)) {
    case 'ieee754':
      return kind === 'float' ? `to_ieee754_32(${r})` : `to_ieee754_64(${r})`;
    case 'export-text':
      return `to_utf8(date_format(${r}, '%Y-%m-%dT%H:%i:%s.%fZ'))`;
    case 'text':
      return `to_utf8(CAST(${r} AS varchar))`;
  }
}

type Param = (value: CanonicalValue, kind: ColumnKind) => string;

function predicateSql(
  column: string,
  kind: ColumnKind,
  op: ExportFilterOp,
  values: readonly CanonicalValue[],
  param: Param,
): string {
  const r = ref(column);
  const v = (x: CanonicalValue): string => param(x, kind);
  const v0 = values[0]!;
  if (kind === 'double' || kind === 'float') {
    const double = doublePredicate(r, op, values, v);
    if (double !== undefined) return double;
  }
  switch (op) {
    case 'EQ':
      return `${r} = ${v(v0)}`;
    case 'NE':
      return `${r} <> ${v(v0)}`;
    case 'LT':
      return `${r} < ${v(v0)}`;
    case 'LTE':
      return `${r} <= ${v(v0)}`;
    case 'GT':
      return `${r} > ${v(v0)}`;
    case 'GTE':
      return `${r} >= ${v(v0)}`;
    case 'IN':
      return `${r} IN (${values.map(v).join(', ')})`;
    case 'BETWEEN':
      return `${r} BETWEEN ${v(v0)} AND ${v(values[1]!)}`;
    case 'IS_NULL':
      return `${r} IS NULL`;
    case 'IS_NOT_NULL':
      return `${r} IS NOT NULL`;
    case 'CONTAINS':
      // Trino's contains() is for arrays; strpos is 1-based and 0 when absent (1 for the empty text, as DuckDB).
      return `strpos(${r}, ${v(v0)}) > 0`;
    case 'STARTS_WITH':
      return `starts_with(${r}, ${v(v0)})`;
  }
}

/**
 * Comparisons on a double column with DuckDB's NaN semantics: NaN equals NaN and is greater than every other
 * value (infinity included). Undefined for operators that need nothing special.
 */
function doublePredicate(
  r: string,
  op: ExportFilterOp,
  values: readonly CanonicalValue[],
  v: (x: CanonicalValue) => string,
): string | undefined {
  const isNan = (x: CanonicalValue): boolean => x === 'NaN';
  const compare = (o: 'EQ' | 'NE' | 'LT' | 'LTE' | 'GT' | 'GTE', x: CanonicalValue): string => {
    if (isNan(x)) {
      switch (o) {
        case 'EQ':
        case 'GTE':
          return `is_nan(${r})`;
        case 'NE':
        case 'LT':
          return `NOT is_nan(${r})`;
        case 'LTE':
          return `${r} IS NOT NULL`;
        case 'GT':
          return 'FALSE';
      }
    }
    switch (o) {
      case 'EQ':
        return `${r} = ${v(x)}`;
      case 'NE':
        return `${r} <> ${v(x)}`;
      case 'LT':
        return `${r} < ${v(x)}`;
      case 'LTE':
        return `${r} <= ${v(x)}`;
      case 'GT':
        return `(${r} > ${v(x)} OR is_nan(${r}))`;
      case 'GTE':
        return `(${r} >= ${v(x)} OR is_nan(${r}))`;
    }
  };
  switch (op) {
    case 'EQ':
    case 'NE':
    case 'LT':
    case 'LTE':
    case 'GT':
    case 'GTE':
      return compare(op, values[0]!);
    case 'IN': {
      const numbers = values.filter((x) => !isNan(x));
      const terms = [
        ...(numbers.length > 0 ? [`${r} IN (${numbers.map(v).join(', ')})`] : []),
        ...(numbers.length < values.length ? [`is_nan(${r})`] : []),
      ];
      return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
    }
    case 'BETWEEN':
      return `(${compare('GTE', values[0]!)} AND ${compare('LTE', values[1]!)})`;
    default:
      return undefined;
  }
}

/** The rows of the given files only (the URIs as varchar parameters); none for an empty list. */
function pathSql(paths: readonly string[], param: Param): string {
  if (paths.length === 0) return 'FALSE';
  return `${ref(ATHENA_PATH_COLUMN)} IN (${paths.map((p) => param(p, 'string')).join(', ')})`;
}

function partitionSql(f: NormalizedPartitionFilter, param: Param): string[] {
  const out: string[] = [];
  if (f.values !== null) out.push(predicateSql(f.column, f.kind, 'IN', f.values, param));
  if (f.from !== null) out.push(predicateSql(f.column, f.kind, 'GTE', [f.from], param));
  if (f.to !== null) out.push(predicateSql(f.column, f.kind, 'LTE', [f.to], param));
  return out;
}
