import { basename } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError } from '../../domain/errors.js';
import { firstLine, readSql, runSql, sqlIdent, sqlString } from './duckdb-sql.js';
import type { SampleFileFormat, SniffedFile } from './sample-file-sniffer.js';
import { readTextLogSample } from './text-log-sample.js';

/** The sample as DuckDB typed it: one row per record, columns unioned by name across files. */
export const TYPED_TABLE = 'infer_typed';
/** The same records as text, before any casting: what format and type probes look at. */
export const RAW_TABLE = 'infer_raw';

export interface CsvDialect {
  delimiter: string;
  quote: string;
  header: boolean;
  /**
   * False when DuckDB's sniffer could read the file only without its strict mode: line endings that change within
   * the file (a header written with LF before CRLF records), which the ETL's own CSV scanner reads as records.
   */
  strict: boolean;
  /** strptime formats DuckDB's sniffer detected; undefined when it parsed ISO 8601 or saw none. */
  timestampFormat: string | undefined;
  dateFormat: string | undefined;
}

/** Files of one format and compression, read by one DuckDB table function. */
export interface SampleGroup {
  format: SampleFileFormat;
  gzip: boolean;
  paths: string[];
  dialect: CsvDialect | undefined;
  /** Column names DuckDB sees in this group. */
  columns: string[];
  /** Read with `ignore_errors`: some lines could not be read strictly (malformed JSON, wrong field count). */
  lenient: boolean;
}

export interface SampledColumn {
  /** The column's name in DuckDB's tables (TYPED_TABLE, RAW_TABLE). */
  source: string;
  /**
   * Its name in the files, as the ETL finds it: DuckDB renames a CSV header field whose name another field has,
   * ignoring case (`Variant,variant` reads as `Variant`, `variant_1`).
   */
  header: string;
  duckdbType: string;
  nulls: number;
}

export interface Sample {
  groups: SampleGroup[];
  columns: SampledColumn[];
  /** Rows in TYPED_TABLE. */
  rows: number;
  notes: string[];
  /** The proposed `text.pattern` of text logs, whose named groups are the columns' sources. */
  textPattern: string | undefined;
}

/**
 * Reads up to `sampleRows` records per group into TYPED_TABLE (DuckDB's type inference: `sniff_csv`,
 * `read_csv`, `read_json`) and RAW_TABLE (all text). When a line cannot be read strictly, the group is read
 * again skipping such lines, as a crawler would; the ETL quarantines them later. Temp tables live on this
 * connection only; `dropSample` removes them.
 */
export async function readSample(
  connection: DuckDBConnection,
  files: SniffedFile[],
  sampleRows: number,
): Promise<Sample> {
  const notes: string[] = [];
  const groups: SampleGroup[] = [];
  for (const f of files) {
    let g = groups.find((x) => x.format === f.format && x.gzip === f.gzip);
    if (!g) {
      g = { format: f.format, gzip: f.gzip, paths: [], dialect: undefined, columns: [], lenient: false };
      groups.push(g);
    }
    g.paths.push(f.path);
  }
  const headers = new Map<string, string>();
  let textPattern: string | undefined;
  if (groups.some((g) => g.format === 'text')) {
    // A text log's columns are the groups of its pattern, a CSV's or JSON line's its own fields: one definition
    // reads both only with a pattern whose groups the reviewer named after those fields.
    const other = files.find((f) => f.format !== 'text');
    if (other !== undefined) {
      throw new BadInputError(
        `${basename(other.path)} is ${other.format === 'csv' ? 'CSV' : 'JSON Lines'} and ` +
          `${basename(files.find((f) => f.format === 'text')!.path)} a text log (.log): infer them separately`,
      );
    }
    const text = await readTextLogSample(connection, files, sampleRows, { raw: RAW_TABLE, typed: TYPED_TABLE });
    notes.push(...text.notes);
    textPattern = text.pattern;
    for (const g of groups) g.columns = text.groups;
  } else {
    for (const g of groups) {
      if (g.format === 'csv') g.dialect = await sniffCsv(connection, g, sampleRows, notes);
      g.columns = await describeGroup(connection, g, sampleRows, notes);
      if (g.format === 'csv' && g.dialect!.header) {
        for (const path of g.paths) await csvHeaderNames(connection, g, path, headers);
      }
    }

    const create = (table: string, raw: boolean): string =>
      `CREATE OR REPLACE TEMP TABLE ${table} AS ` +
      groups
        .map(
          (g) =>
            `SELECT * FROM (SELECT * FROM ${reader(g, raw, sampleRows)} WHERE ${anyValue(g.columns)} LIMIT ${sampleRows})`,
        )
        .join(' UNION ALL BY NAME ');
    try {
      await connection.run(create(TYPED_TABLE, false));
    } catch (err) {
      // A value that does not cast beyond the sniffer's sample: skip such lines in every group still strict.
      const strict = groups.filter((g) => !g.lenient);
      if (strict.length === 0)
        throw new BadInputError(`cannot read the sample files: ${firstLine(err)}`, { cause: err });
      for (const g of strict) g.lenient = true;
      notes.push(`Some sample lines could not be read and were skipped (${firstLine(err)}).`);
      await runSql(connection, create(TYPED_TABLE, false), 'cannot read the sample files');
    }
    await runSql(connection, create(RAW_TABLE, true), 'cannot read the sample files as text');
  }

  const described = await readSql(connection, `DESCRIBE ${TYPED_TABLE}`, 'cannot describe the sample');
  const columns = described.map((r) => ({ source: String(r.column_name), duckdbType: String(r.column_type) }));
  const counts = await readSql(
    connection,
    `SELECT count(*) AS n${columns.map((c, i) => `, count(${sqlIdent(c.source)}) AS c${i}`).join('')} FROM ${TYPED_TABLE}`,
    'cannot count nulls in the sample',
  );
  const rows = Number(counts[0]!.n);
  return {
    groups,
    columns: columns.map((c, i) => ({
      ...c,
      header: headers.get(c.source) ?? c.source,
      nulls: rows - Number(counts[0]![`c${i}`]),
    })),
    rows,
    notes,
    textPattern,
  };
}

/**
 * True for a record with at least one value. DuckDB's `ignore_errors` turns a malformed JSON line into a row
 * of nulls; left in, it would make every column look nullable.
 */
function anyValue(columns: string[]): string {
  return columns.length === 0 ? 'true' : `(${columns.map((c) => `${sqlIdent(c)} IS NOT NULL`).join(' OR ')})`;
}

export async function dropSample(connection: DuckDBConnection): Promise<void> {
  await connection.run(`DROP TABLE IF EXISTS ${TYPED_TABLE}; DROP TABLE IF EXISTS ${RAW_TABLE}`);
}

async function describeGroup(
  connection: DuckDBConnection,
  g: SampleGroup,
  sampleRows: number,
  notes: string[],
): Promise<string[]> {
  const describe = (): string => `DESCRIBE SELECT * FROM ${reader(g, false, sampleRows)}`;
  let rows: Record<string, unknown>[];
  try {
    rows = (await connection.runAndReadAll(describe())).getRowObjectsJson() as Record<string, unknown>[];
  } catch (err) {
    g.lenient = true;
    notes.push(`Some ${g.format} lines could not be read and were skipped (${firstLine(err)}).`);
    rows = await readSql(connection, describe(), `cannot read the ${g.format} sample files`);
  }
  return rows.map((r) => String(r.column_name));
}

/**
 * The header fields of one CSV file as written, against DuckDB's names for them: a name DuckDB changed is added to
 * `renamed` (DuckDB's name to the header's). A header the ETL cannot map is refused: a field without a name, or two
 * fields of the same name (the ETL could not tell which holds the column's values).
 */
async function csvHeaderNames(
  connection: DuckDBConnection,
  g: SampleGroup,
  path: string,
  renamed: Map<string, string>,
): Promise<void> {
  const file = basename(path);
  const single = { ...g, paths: [path] };
  const what = `cannot read the CSV header of ${file}`;
  const duckdbNames = (await readSql(connection, `DESCRIBE SELECT * FROM ${reader(single, false, 1)}`, what)).map((r) =>
    String(r.column_name),
  );
  const compression = `compression = '${g.gzip ? 'gzip' : 'uncompressed'}'`;
  let fields: (string | null)[];
  try {
    const result = await connection.runAndReadAll(
      `SELECT * FROM read_csv(${sqlString(path)}, ${compression}, header = false, all_varchar = true, ` +
        `delim = ${sqlString(g.dialect!.delimiter)}, ignore_errors = true${strictMode(g.dialect!)}) LIMIT 1`,
    );
    fields = (result.getRows()[0] ?? []).map((v) => (v === null ? null : String(v)));
  } catch (err) {
    throw new BadInputError(`${what}: ${firstLine(err)}`, { cause: err });
  }
  if (fields.length !== duckdbNames.length) return;
  for (const [i, field] of fields.entries()) {
    if (field === null || field.trim() === '') {
      throw new BadInputError(
        `the CSV header of ${file} has no name for field ${i + 1}: name it (the ETL finds columns by their header names)`,
      );
    }
    const again = fields.indexOf(field, i + 1);
    if (again >= 0) {
      throw new BadInputError(
        `the CSV header of ${file} names fields ${i + 1} and ${again + 1} both ${JSON.stringify(field)}: rename one ` +
          "(the ETL cannot tell which holds a column's values)",
      );
    }
    if (duckdbNames[i] !== field && !renamed.has(duckdbNames[i]!)) renamed.set(duckdbNames[i]!, field);
  }
}

/** The DuckDB table function call that reads a group's files, typed by DuckDB or as text. */
function reader(g: SampleGroup, raw: boolean, sampleRows: number): string {
  const list = `[${g.paths.map(sqlString).join(', ')}]`;
  const common = `compression = '${g.gzip ? 'gzip' : 'uncompressed'}'${g.lenient ? ', ignore_errors = true' : ''}`;
  if (g.format === 'csv') {
    const dialect = g.dialect!;
    return (
      `read_csv(${list}, union_by_name = true, ${common}, ${raw ? 'all_varchar = true' : `sample_size = ${sampleRows}`}` +
      `, delim = ${sqlString(dialect.delimiter)}, header = ${dialect.header}${strictMode(dialect)})`
    );
  }
  // JSON has no all-varchar switch: naming every key as VARCHAR reads scalars as their text, objects as JSON.
  const types = raw
    ? `columns = {${g.columns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}`
    : `sample_size = ${sampleRows}`;
  return `read_json(${list}, format = 'newline_delimited', union_by_name = true, ${common}, ${types})`;
}

/** The read_csv option of a dialect DuckDB reads only without its strict mode. */
function strictMode(dialect: CsvDialect): string {
  return dialect.strict ? '' : ', strict_mode = false';
}

async function sniffCsv(
  connection: DuckDBConnection,
  g: SampleGroup,
  sampleRows: number,
  notes: string[],
): Promise<CsvDialect> {
  const path = g.paths[0]!;
  const sniff = (strict: boolean): string =>
    `SELECT Delimiter, Quote, HasHeader, DateFormat, TimestampFormat
       FROM sniff_csv(${sqlString(path)}, compression = '${g.gzip ? 'gzip' : 'uncompressed'}', sample_size = ${sampleRows},
                      ignore_errors = true${strict ? '' : ', strict_mode = false'})`;
  let strict = true;
  let rows: Record<string, unknown>[];
  try {
    rows = (await connection.runAndReadAll(sniff(true))).getRowObjectsJson() as Record<string, unknown>[];
  } catch {
    // DuckDB's strict sniffer gives up on line endings that change within the file (LF and CRLF), which the ETL
    // reads; without strict mode it finds the dialect.
    rows = await readSql(connection, sniff(false), `cannot sniff the CSV dialect of ${path}`);
    strict = false;
    notes.push(
      `${basename(path)} was read without DuckDB's strict CSV mode (its line endings or quoting vary within the file).`,
    );
  }
  const r = rows[0] ?? {};
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' && v !== '' && v !== '(empty)' ? v : undefined;
  return {
    delimiter: text(r.Delimiter) ?? ',',
    quote: text(r.Quote) ?? '"',
    header: r.HasHeader !== false,
    strict,
    timestampFormat: text(r.TimestampFormat),
    dateFormat: text(r.DateFormat),
  };
}
