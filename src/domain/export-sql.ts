import { type ColumnKind, duckdbType, parseColumnType } from './column-type.js';
import { REDACTED_TEXT } from './export-grant.js';
import type {
  CsvOptions,
  ExportColumn,
  NormalizedExportRequest,
  NormalizedPartitionFilter,
  NormalizedPredicate,
} from './export-request.js';
import { HIVE_NULL_PARTITION } from './export-partitions.js';
import { type CanonicalValue, parameterText } from './export-values.js';
import { CANONICAL_NAN, hashedBytesOf, maskKeyHex, missingMaskKey } from './mask-key.js';
import type { TableDefinition } from './table.js';

/** SQL with positional parameters (`$1`, `$2`, ...) and their values, always bound as text and cast in SQL. */
export interface CompiledQuery {
  sql: string;
  params: string[];
}

/** A local Parquet file to read, with the partition values its path carries (`.../event_date=2024-01-01/x.parquet`). */
export interface QueryFile {
  path: string;
  partitionValues: Record<string, string>;
}

/** Timestamps in every export: ISO 8601 in UTC with microseconds, e.g. `2024-03-01T12:34:56.789000Z`. */
export const EXPORT_TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%fZ';
export const EXPORT_DATE_FORMAT = '%Y-%m-%d';

/** Code points that make a spreadsheet read a text cell as a formula (OWASP CSV injection): = + - @ tab CR. */
const FORMULA_CODE_POINTS = [61, 43, 45, 64, 9, 13];

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal. Only for text the product controls (paths, CSV options); client values are parameters. */
export function quoteLiteral(text: string): string {
  if (text.includes('\u0000')) throw new Error('a SQL literal cannot contain NUL');
  return `'${text.replace(/'/g, "''")}'`;
}

/** The DuckDB type of a catalog column's type text; VARCHAR for a type the product does not know. */
export function sqlTypeOf(typeText: string): string {
  try {
    return duckdbType(parseColumnType(typeText));
  } catch {
    return 'VARCHAR';
  }
}

/**
 * Compiles a normalised request to a DuckDB SELECT over the given local Parquet files (already chosen by
 * partition pruning and by footer statistics). Identifiers are quoted; every client value is a parameter; text cells are neutralised
 * in SQL when asked, numeric, date and boolean columns never. `limit` is the row cap to apply (the engine may
 * ask for one row more to detect truncation). `unionByName` (default true) has DuckDB match the files' columns by
 * name, which costs it a footer read of every file before the query starts; false only when the files are known
 * to share one schema. `missingColumns` (see columnsMissingFromFiles) are catalog columns that none of the files
 * holds: they read as NULLs of the catalog type, as Athena reads them, rather than failing to bind.
 */
export function compileExportQuery(
  request: NormalizedExportRequest,
  table: TableDefinition,
  files: readonly QueryFile[],
  options: {
    limit: number | null;
    unionByName?: boolean;
    missingColumns?: readonly string[];
    /** The deployment's mask key (mask-key.ts); needed only when a column is masked by hash. */
    maskKey?: Uint8Array;
    /** Timestamp columns that a file holds with nanoseconds (see nanosecondTimestampColumns). */
    nanosecondColumns?: readonly string[];
  },
): CompiledQuery {
  const params: string[] = [];
  const param = (text: string): string => {
    params.push(text);
    return `$${params.length}`;
  };

  if (files.length === 0) {
    // Pruning left nothing to read: the right columns and types, no rows, so a header is still written.
    const empty = request.columns
      .map((c) => `CAST(NULL AS ${c.mask === null ? sqlTypeOf(c.type) : 'VARCHAR'}) AS ${quoteIdentifier(c.name)}`)
      .join(', ');
    return { sql: `SELECT ${empty} LIMIT 0`, params };
  }

  const hash = hashMask(options.maskKey, param);
  const select = request.columns
    .map((c) => `${projection(c, request.csv, hash)} AS ${quoteIdentifier(c.name)}`)
    .join(', ');

  const unionByName = options.unionByName ?? true;
  const conditions = [
    ...request.where.map((p) => predicateSql(p, param, unionByName)),
    ...request.rowFilter.map((p) => predicateSql(p, param, unionByName)),
    ...(request.partitions === null ? [] : partitionSql(request.partitions, param)),
  ];
  const typeOf = new Map([...table.columns, ...table.partitionKeys].map((c) => [c.name, c.type]));
  const order = request.orderBy.map(
    (o) =>
      `${orderKey(o.column, typeOf.get(o.column) ?? 'string')} ${o.direction === 'DESC' ? 'DESC' : 'ASC'} NULLS LAST`,
  );
  const source = withMicrosecondFloor(
    withMissingColumns(readParquet(table, files, unionByName, param), table, options.missingColumns ?? []),
    options.nanosecondColumns ?? [],
  );
  let sql = `SELECT ${select} FROM ${source} AS src`;
  if (conditions.length > 0) sql += ` WHERE ${conditions.join(' AND ')}`;
  if (order.length > 0) sql += ` ORDER BY ${order.join(', ')}`;
  if (options.limit !== null) sql += ` LIMIT CAST(${param(String(options.limit))} AS BIGINT)`;
  return { sql, params };
}

/** `COPY (query) TO target` as CSV with the request's options; DuckDB's own writer does the quoting. */
export function compileCsvCopy(query: CompiledQuery, target: string, csv: CsvOptions): CompiledQuery {
  const options = [
    'FORMAT csv',
    `HEADER ${csv.header ? 'true' : 'false'}`,
    `DELIMITER ${quoteLiteral(csv.delimiter)}`,
    `QUOTE '"'`,
    `ESCAPE '"'`,
    `NULLSTR ${quoteLiteral(csv.nullText)}`,
    ...(csv.quoteAll ? ['FORCE_QUOTE *'] : []),
    `TIMESTAMPFORMAT ${quoteLiteral(EXPORT_TIMESTAMP_FORMAT)}`,
    `DATEFORMAT ${quoteLiteral(EXPORT_DATE_FORMAT)}`,
  ];
  return { sql: `COPY (${query.sql}) TO ${quoteLiteral(target)} (${options.join(', ')})`, params: query.params };
}

/** The column DuckDB adds with each row's file when a partition value is taken from the file list (below). */
const FILE_COLUMN = '__careplus_file';

function readParquet(
  table: TableDefinition,
  files: readonly QueryFile[],
  unionByName: boolean,
  param: (text: string) => string,
): string {
  const list = `[${files.map((f) => quoteLiteral(f.path)).join(', ')}]`;
  // Type partition keys from the catalog rather than letting DuckDB guess from the first values it sees.
  const present = new Set(files.flatMap((f) => Object.keys(f.partitionValues)));
  const keys = table.partitionKeys.filter((k) => present.has(k.name));
  const hiveTypes =
    keys.length > 0
      ? `, hive_types = {${keys.map((k) => `${quoteLiteral(k.name)}: ${sqlTypeOf(k.type)}`).join(', ')}}`
      : '';
  // DuckDB reads a folder value of `NULL`, in any case, as a SQL NULL; Hive, Athena and partitionValuesOf read only
  // `__HIVE_DEFAULT_PARTITION__` so. A text key with such a value takes it from the file list, for those files only.
  const nullTexts = keys
    .filter((k) => k.kind === 'string')
    .map((k) => ({
      key: k.name,
      files: files.filter((f) => {
        const value = f.partitionValues[k.name];
        return value !== undefined && value !== HIVE_NULL_PARTITION && value.toLowerCase() === 'null';
      }),
    }))
    .filter((k) => k.files.length > 0);
  const filename = nullTexts.length > 0 ? `, filename = ${quoteLiteral(FILE_COLUMN)}` : '';
  const read = `read_parquet(${list}, hive_partitioning = ${keys.length > 0 ? 'true' : 'false'}, union_by_name = ${unionByName ? 'true' : 'false'}${hiveTypes}${filename})`;
  if (nullTexts.length === 0) return read;
  const file = quoteIdentifier(FILE_COLUMN);
  const replaced = nullTexts.map(({ key, files: named }) => {
    const cases = named.map(
      (f) => `WHEN ${quoteLiteral(f.path)} THEN CAST(${param(f.partitionValues[key]!)} AS VARCHAR)`,
    );
    // Only the rows DuckDB read as NULL look their file up: a CASE tries its branches in turn for every row it has
    // not matched yet, so a flat CASE over many such files cost every row of the other files one comparison each.
    const k = quoteIdentifier(key);
    return `CASE WHEN ${k} IS NULL THEN CASE ${file} ${cases.join(' ')} END ELSE ${k} END AS ${k}`;
  });
  return `(SELECT * EXCLUDE (${file}) REPLACE (${replaced.join(', ')}) FROM ${read})`;
}

/**
 * The table's data columns that no file holds, by the column paths of each file's footer (`a`, or `a.b` for a leaf
 * of a nested column): columns added to the catalog after the files were written (old files are not rewritten).
 * Names are matched as DuckDB binds them, ignoring case. Partition keys are never missing: their values come from
 * the files' paths.
 */
export function columnsMissingFromFiles(table: TableDefinition, fileColumns: readonly (readonly string[])[]): string[] {
  const held = new Set<string>();
  for (const paths of fileColumns) {
    for (const path of paths) {
      const lower = path.toLowerCase();
      held.add(lower);
      // A nested column's leaves (`a.b`) hold its top-level name `a`; every prefix counts, in case a name has a dot.
      for (let dot = lower.indexOf('.'); dot >= 0; dot = lower.indexOf('.', dot + 1)) held.add(lower.slice(0, dot));
    }
  }
  const keys = new Set(table.partitionKeys.map((k) => k.name.toLowerCase()));
  return table.columns
    .map((c) => c.name)
    .filter((name) => !held.has(name.toLowerCase()) && !keys.has(name.toLowerCase()));
}

/**
 * The files' rows with each missing column as a NULL of its catalog type, so the projection, the predicates and the
 * ordering bind it as any other column. The source as it is when nothing is missing.
 */
function withMissingColumns(source: string, table: TableDefinition, missing: readonly string[]): string {
  const wanted = new Set(missing);
  const columns = table.columns.filter((c) => wanted.has(c.name));
  if (columns.length === 0) return source;
  const nulls = columns.map((c) => `CAST(NULL AS ${sqlTypeOf(c.type)}) AS ${quoteIdentifier(c.name)}`).join(', ');
  return `(SELECT *, ${nulls} FROM ${source})`;
}

/**
 * The table's timestamp columns that a file holds with nanoseconds (a Parquet TIMESTAMP of unit NANOS, as pandas and
 * Spark write), by the columns of each file's footer (the footer cache's column summaries have this shape). Names
 * are matched as DuckDB binds them, ignoring case.
 */
export function nanosecondTimestampColumns(
  table: TableDefinition,
  fileColumns: readonly (readonly { name: string; logicalType?: { type: string; unit?: string } | undefined }[])[],
): string[] {
  const held = new Set(
    fileColumns.flatMap((columns) =>
      columns
        .filter((c) => c.logicalType?.type === 'TIMESTAMP' && c.logicalType.unit === 'NANOS')
        .map((c) => c.name.toLowerCase()),
    ),
  );
  return table.columns.filter((c) => c.kind === 'timestamp' && held.has(c.name.toLowerCase())).map((c) => c.name);
}

/**
 * The source with each of `columns` cut to the microsecond below it, as the footer statistics (and DuckDB's own
 * strftime of a TIMESTAMP_NS) read it. DuckDB's cast from TIMESTAMP_NS to TIMESTAMP cuts toward zero, which before
 * 1970 moves a value to the next microsecond: 1969-12-31 23:59:59.9999995 was exported as 1970-01-01T00:00:00.000000Z,
 * another day, and `< 1970-01-01` did not match it. The source as it is when there are none.
 */
function withMicrosecondFloor(source: string, columns: readonly string[]): string {
  if (columns.length === 0) return source;
  const floors = columns.map((name) => {
    const ns = `epoch_ns(${quoteIdentifier(name)})`;
    // The remainder of a division in DuckDB has the dividend's sign: take the one in [0, 1000) off first.
    return `make_timestamp((${ns} - (${ns} % 1000 + 1000) % 1000) // 1000) AS ${quoteIdentifier(name)}`;
  });
  return `(SELECT * REPLACE (${floors.join(', ')}) FROM ${source})`;
}

/**
 * A `hash` mask in DuckDB: SHA-256 of the key's bytes followed by the value's bytes as hashedBytesOf (mask-key.ts)
 * says, lower-case hex, as the Athena query computes it. The key is bound once as a parameter, so it is in no SQL
 * text. A double's or float's bits come from its cast to BIT (64 or 32 bits, sign first), then to BLOB.
 */
function hashMask(
  key: Uint8Array | undefined,
  param: (text: string) => string,
): (ref: string, kind: ColumnKind) => string {
  let bound: string | undefined;
  return (ref, kind) => {
    if (key === undefined) throw missingMaskKey();
    bound ??= param(maskKeyHex(key));
    return `sha256(unhex(${bound}) || ${hashedBytes(ref, kind)})`;
  };
}

function hashedBytes(ref: string, kind: ColumnKind): string {
  switch (hashedBytesOf(kind)) {
    case 'ieee754': {
      const nan = kind === 'float' ? CANONICAL_NAN.float : CANONICAL_NAN.double;
      return `CASE WHEN isnan(${ref}) THEN unhex('${nan}') ELSE CAST(CAST(${ref} AS BIT) AS BLOB) END`;
    }
    case 'export-text':
      return `encode(strftime(${ref}, ${quoteLiteral(EXPORT_TIMESTAMP_FORMAT)}))`;
    case 'text':
      return `encode(CAST(${ref} AS VARCHAR))`;
  }
}

/**
 * A column as its catalog type. Files registered from elsewhere may hold another physical type for it (UUID for a
 * string, TIMESTAMP_NS or TIMESTAMPTZ for a timestamp, FLOAT for a double, TINYINT for an int): read as the catalog
 * type, every projection, predicate, ordering, mask and the CSV writer's formats see the same values the catalog
 * and its statistics describe. Where the file's type is the catalog's (every file the ETL writes), DuckDB drops the
 * cast when it binds, so the Parquet scan's filter and projection pushdown are as without it.
 */
function columnRef(name: string, type: string): string {
  return `CAST(src.${quoteIdentifier(name)} AS ${sqlTypeOf(type)})`;
}

/**
 * A column as an ORDER BY key. DuckDB (1.5) returns a projected column that is also a sort key by decoding it from the
 * key, whose encoding of a double has no negative zero: sorted by itself, -0.0 would be written 0.0. Adding zero gives
 * a key of its own that sorts the same (-0.0 and 0.0 tie either way; NaN, infinities and NULLs are as they were), and
 * the projected value is then the one read.
 */
function orderKey(name: string, type: string): string {
  const ref = columnRef(name, type);
  const sqlType = sqlTypeOf(type);
  // FLOAT keys lose -0.0 the same way; `+ 0.0` keeps a FLOAT a FLOAT.
  return sqlType === 'DOUBLE' || sqlType === 'FLOAT' ? `(${ref} + 0.0)` : ref;
}

function projection(c: ExportColumn, csv: CsvOptions, hash: (ref: string, kind: ColumnKind) => string): string {
  const ref = columnRef(c.name, c.type);
  if (c.mask === 'hash') return hash(ref, c.kind);
  if (c.mask === 'redact') return quoteLiteral(REDACTED_TEXT);
  if (c.kind === 'string' && csv.neutralizeFormulas) {
    // All six are below 65, so most text is decided by the first comparison. ORs rather than IN: DuckDB turns an
    // IN list of five or more constants into a join, which costs time and stops its progress reports.
    const first = `ascii(${ref})`;
    const test = `${first} <= 64 AND (${FORMULA_CODE_POINTS.map((p) => `${first} = ${p}`).join(' OR ')})`;
    return `CASE WHEN ${test} THEN '''' || ${ref} ELSE ${ref} END`;
  }
  return ref;
}

/**
 * The column a predicate compares. Files read with `union_by_name` may hold a numeric column in a narrower type than
 * the others (FLOAT beside DOUBLE, DECIMAL(10,2) beside DECIMAL(12,3)); DuckDB 1.5 pushes `column OP constant` into
 * each file's scan with the constant cast to that file's type, rounding it: over a FLOAT 0.1 and a DOUBLE 0.1,
 * `= 0.1` kept both and `> 0.1` dropped the FLOAT (0.10000000149…). An expression of the column (`+ 0`: the same
 * value, type and order) is not pushed that way, and is compared on the values as the query types them.
 */
function predicateSql(p: NormalizedPredicate, param: (text: string) => string, unionByName: boolean): string {
  const column = columnRef(p.column, p.type);
  const ref = unionByName && ROUNDED_WHEN_PUSHED.has(p.kind) ? `(${column} + 0)` : column;
  const type = sqlTypeOf(p.type);
  const typed = (v: CanonicalValue): string => `CAST(${param(parameterText(v, p.kind))} AS ${type})`;
  const v0 = (): CanonicalValue => p.values[0]!;
  switch (p.op) {
    case 'EQ':
      return `${ref} = ${typed(v0())}`;
    case 'NE':
      return `${ref} <> ${typed(v0())}`;
    case 'LT':
      return `${ref} < ${typed(v0())}`;
    case 'LTE':
      return `${ref} <= ${typed(v0())}`;
    case 'GT':
      return `${ref} > ${typed(v0())}`;
    case 'GTE':
      return `${ref} >= ${typed(v0())}`;
    case 'IN':
      return `${ref} IN (${p.values.map(typed).join(', ')})`;
    case 'BETWEEN':
      return `${ref} BETWEEN ${typed(v0())} AND ${typed(p.values[1]!)}`;
    case 'IS_NULL':
      return `${ref} IS NULL`;
    case 'IS_NOT_NULL':
      return `${ref} IS NOT NULL`;
    case 'CONTAINS':
      return `contains(${ref}, ${param(String(v0()))})`;
    case 'STARTS_WITH':
      return `starts_with(${ref}, ${param(String(v0()))})`;
  }
}

/** Column kinds whose pushed-down constants DuckDB rounds to a narrower file type (see predicateSql). */
const ROUNDED_WHEN_PUSHED: ReadonlySet<ColumnKind> = new Set(['double', 'float', 'decimal']);

function partitionSql(f: NormalizedPartitionFilter, param: (text: string) => string): string[] {
  const ref = columnRef(f.column, f.type);
  const type = sqlTypeOf(f.type);
  const typed = (v: CanonicalValue): string => `CAST(${param(parameterText(v, f.kind))} AS ${type})`;
  const out: string[] = [];
  if (f.values !== null) out.push(`${ref} IN (${f.values.map(typed).join(', ')})`);
  if (f.from !== null) out.push(`${ref} >= ${typed(f.from)}`);
  if (f.to !== null) out.push(`${ref} <= ${typed(f.to)}`);
  return out;
}
