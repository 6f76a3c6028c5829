import { open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetDefinition, RawFormat } from '../../src/domain/dataset-definition.js';
import { IngestError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/ports/logger.js';
import { splitCsvRecord } from './csv-scanner.js';
import { type ScanReject, overlongReason, rawText } from './scan-limits.js';
import { type StagedText, inflatedText } from './stage-source.js';
import { sampleFallsInOnePartition } from './partition-sample.js';
import { type StageCheck, type StageTable, checkFastStage, dropStage, readStagePartitions } from './stage-table.js';
import {
  FAST_STAGE_BAD_ROW,
  countsSql,
  csvReader,
  fastStageFileSql,
  fastStageSql,
  fixJsonRejectsSql,
  jsonlFastReader,
  jsonlReader,
  parsedTableSql,
  sqlString,
  stageFileRepeatedKeysSql,
  stageFilePartitionsSql,
  stageFromParsedSql,
  stageTableFromFileSql,
  textReader,
  typedRowsSql,
} from './transform-sql.js';

/** Counts and products of parsing one source inside DuckDB; the stage table holds the good rows. */
export interface ParsedSource {
  /** Non-blank records in the source (good, rejected and duplicate). */
  rowsRead: number;
  rowsRejected: number;
  /** Good rows dropped because an earlier line of the same object has the same event key in the partition. */
  rowsDuplicate: number;
  /** Rows in the stage table. */
  rowsValid: number;
  /** Partition values (`yyyy-mm-dd`) of the good rows, sorted. */
  partitions: string[];
  /** Local quarantine file (QuarantineRecord lines, by line), when something was rejected. */
  quarantinePath: string | undefined;
  /** The good rows, de-duplicated within the object, sorted for writing. */
  stage: StageTable;
}

/**
 * How a fast stage went: `staged` (the caller still checks it against the pre-pass), `bad_row` (a record is bad: the
 * careful path needs line numbers), or `failed` (DuckDB could not take the input; the careful path says why).
 */
export type FastStageOutcome =
  { kind: 'staged'; check: StageCheck; file?: string } | { kind: 'bad_row' } | { kind: 'failed' };

/** A fast stage made while the pre-pass ran (see ingest-object.ts), and the text it read. */
export interface FastStageAttempt {
  textPath: string;
  outcome: FastStageOutcome;
}

const REJECTS_TABLE = 'csv_rejects';
/** The fast stage's partition file in the run's work folder (see `fastStageFileSql`). */
const STAGE_FILE = 'stage.parquet';

export interface ParseOptions {
  /** `lines` forces the line-by-line JSON reader (read_csv + from_json) instead of DuckDB's read_json. */
  jsonReader?: 'auto' | 'lines';
  /** Name of the stage table to create (a regular table: the caller drops it). */
  stageTable: string;
  /** A fast stage already made on `stageTable` (JSON Lines only). */
  fastStage?: FastStageAttempt;
}

/** Whether JSON Lines of this run may take the fast stage (DuckDB's read_json straight into the stage table). */
export function canStageFast(format: RawFormat, options: { jsonReader?: 'auto' | 'lines' }): boolean {
  return format === 'jsonl' && options.jsonReader !== 'lines';
}

/**
 * The fast path for JSON Lines: one statement reads (`read_json`, no line numbers, in parallel), validates, casts
 * and sorts the records into the stage table, stopping at the first bad one. It stands when every record made a
 * row and no event key repeats, which the caller checks (`acceptFastStage`); else the careful path parses again
 * with line numbers and reasons. Never throws: a DuckDB error is logged and reported as `failed`.
 */
export async function stageJsonlFast(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  textPath: string,
  table: string,
  workDir: string,
  logger: Logger,
  gzip = false,
  signal?: AbortSignal,
): Promise<FastStageOutcome> {
  try {
    await conn.run(`SET SESSION TimeZone = 'UTC'`);
    await dropStage(conn, table);
    const typedRows = typedRowsSql(jsonlFastReader(textPath, def, undefined, false, gzip), def);
    const oneDay = await sampleFallsInOnePartition(conn, def, textPath, gzip, workDir);
    // The caller stops the stage when the pre-pass fails; an interrupt sent between statements would be lost.
    if (signal?.aborted) return { kind: 'failed' };
    if (oneDay) {
      const file = join(workDir, STAGE_FILE);
      await conn.run(fastStageFileSql(typedRows, def, file));
      const partitions = (await conn.runAndReadAll(stageFilePartitionsSql(def, file)))
        .getRowObjectsJS()
        .map((r) => ({ partition: String(r['p']), rows: Number(r['n']), range: undefined }));
      if (partitions.length === 1) {
        const rows = partitions[0]!.rows;
        const repeats = (await conn.runAndReadAll(stageFileRepeatedKeysSql(def, file))).getRowObjectsJS()[0]!;
        logger.debug('fast stage', { into: 'partition file' });
        return { kind: 'staged', check: { rows, keys: rows - Number(repeats['repeats']), partitions }, file };
      }
      // The sample misled (or no row was good): the rows go into the stage table after all, in the file's order.
      await conn.run(stageTableFromFileSql(def, table, file));
      await rm(file, { force: true });
      logger.debug('fast stage', { into: 'stage table', from: 'partition file', partitions: partitions.length });
    } else {
      await conn.run(fastStageSql(typedRows, def, table));
      logger.debug('fast stage', { into: 'stage table' });
    }
    return { kind: 'staged', check: await checkFastStage(conn, def, table) };
  } catch (err) {
    if (String(err).includes(FAST_STAGE_BAD_ROW)) return { kind: 'bad_row' };
    // Interrupted by the caller: the pre-pass failed the object, there is no careful way to take.
    if (String(err).includes('INTERRUPT')) return { kind: 'failed' };
    logger.warn('fast JSON stage failed; parsing the careful way', { error: String(err) });
    return { kind: 'failed' };
  }
}

/** The fast stage holds exactly the good rows: one per record the pre-pass counted, event keys unique. */
function acceptFastStage(
  outcome: FastStageOutcome,
  staged: StagedText,
): outcome is { kind: 'staged'; check: StageCheck } {
  const lines = staged.lines;
  if (outcome.kind !== 'staged' || lines === undefined) return false;
  const { check } = outcome;
  return check.rows === lines.total - lines.skipped.length && check.keys === check.rows;
}

/**
 * Parses, validates, casts and de-duplicates one staged source in DuckDB on `conn`, leaving the good rows in the
 * stage table `options.stageTable` and writing the quarantine file. Rejected records from the JavaScript pre-pass and
 * from DuckDB are merged into one quarantine ordered by line.
 */

export async function parseSource(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  format: RawFormat,
  given: StagedText,
  sourceKey: string,
  workDir: string,
  logger: Logger,
  options: ParseOptions,
): Promise<ParsedSource> {
  await conn.run(`SET SESSION TimeZone = 'UTC'`);
  let staged = given;
  let fastFailed = false;
  if (canStageFast(format, options)) {
    const fast =
      options.fastStage?.textPath === staged.textPath
        ? options.fastStage.outcome
        : await stageJsonlFast(conn, def, staged.textPath, options.stageTable, workDir, logger, staged.textGzip);
    if (acceptFastStage(fast, staged)) {
      const rowsValid = fast.check.rows;
      return {
        rowsRead: rowsValid + staged.rejects.length,
        rowsRejected: staged.rejects.length,
        rowsDuplicate: 0,
        rowsValid,
        partitions: fast.check.partitions.map((p) => p.partition),
        quarantinePath: await writeQuarantine(conn, staged.rejects, 0, sourceKey, workDir),
        stage: fast.file
          ? { name: options.stageTable, partitions: fast.check.partitions, file: fast.file, inTable: false }
          : { name: options.stageTable, partitions: fast.check.partitions, inTable: true },
      };
    }
    // A bad or repeated record: line numbers are needed.
    fastFailed = fast.kind !== 'failed';
    // A stage file not taken would only hold disk space while the careful path runs.
    await rm(join(workDir, STAGE_FILE), { force: true });
  }
  await dropStage(conn, options.stageTable);
  // The careful path numbers lines on plain text: a .gz the fast stage read directly is inflated now.
  staged = await inflatedText(staged, workDir, format, def.csv);
  let counts: Record<string, unknown>;
  let fieldCount = 0;
  if (format === 'csv') {
    const header = staged.csv?.header;
    if (def.csv.header && header === undefined) {
      // Nothing but blank lines: not even a header.
      return {
        rowsRead: 0,
        rowsRejected: 0,
        rowsDuplicate: 0,
        rowsValid: 0,
        partitions: [],
        quarantinePath: undefined,
        stage: { name: options.stageTable, partitions: [], inTable: true },
      };
    }
    const fieldIndex = header ? mapHeader(def, header) : def.columns.map((_, i) => i);
    fieldCount = header ? header.length : def.columns.length;
    counts = await parseWith(conn, def, csvReader(staged.textPath, def, fieldIndex, fieldCount, REJECTS_TABLE));
  } else {
    // After a fast stage that found a bad or repeated row, line numbers are needed: skip the unnumbered pass.
    counts = await parseLines(conn, def, format, staged, workDir, logger, options, fastFailed);
  }
  const parsedRows = Number(counts['n']);
  const parsedRejected = Number(counts['bad']);
  const good = parsedRows - parsedRejected;
  const distinctKeys = Number(counts['keys']);
  const structural = format === 'csv' ? await csvStructuralRejects(conn, staged.textPath, def, fieldCount) : [];
  const rowsRead = parsedRows + staged.rejects.length + structural.length;
  const rowsRejected = parsedRejected + staged.rejects.length + structural.length;
  if (format === 'csv' && staged.csv && rowsRead !== staged.csv.records) {
    logger.warn('csv record count differs between the pre-pass and DuckDB', {
      prePass: staged.csv.records,
      duckdb: rowsRead,
    });
  }

  // Rejects that have their raw text in JavaScript; line formats keep theirs in DuckDB (`parsed._raw`).
  const jsRejects: ScanReject[] = [...staged.rejects, ...structural];
  let duckRejects = parsedRejected;
  if (format === 'csv' && parsedRejected > 0) {
    // CSV rows carry no text in DuckDB: read each rejected record back from the canonical copy.
    const rows = (
      await conn.runAndReadAll(
        `SELECT _line, _reason, _start, _len FROM parsed WHERE _reason IS NOT NULL ORDER BY _line`,
      )
    ).getRowObjectsJS();
    const raws = await readRanges(
      staged.textPath,
      rows.map((r) => ({ start: Number(r['_start']), length: Number(r['_len']) })),
    );
    rows.forEach((r, i) => jsRejects.push({ line: Number(r['_line']), reason: String(r['_reason']), raw: raws[i]! }));
    duckRejects = 0;
  }

  const quarantinePath = await writeQuarantine(conn, jsRejects, duckRejects, sourceKey, workDir);

  // Duplicates within the object are rare: de-duplicate (a window over all good rows) only when there are some.
  await conn.run(stageFromParsedSql(def, options.stageTable, good !== distinctKeys));
  // The stage has the rows now: free what parsing held.
  await conn.run('DROP TABLE parsed');
  const stage: StageTable = {
    name: options.stageTable,
    partitions: await readStagePartitions(conn, options.stageTable),
    inTable: true,
  };
  return {
    rowsRead,
    rowsRejected,
    rowsDuplicate: good - distinctKeys,
    rowsValid: distinctKeys,
    partitions: stage.partitions.map((p) => p.partition),
    quarantinePath,
    stage,
  };
}

/**
 * Writes the quarantine file (QuarantineRecord lines ordered by line) from the records rejected in JavaScript and,
 * when `duckRejects` > 0, the rejected rows of `parsed`. Undefined when nothing was rejected.
 */
async function writeQuarantine(
  conn: DuckDBConnection,
  jsRejects: ScanReject[],
  duckRejects: number,
  sourceKey: string,
  workDir: string,
): Promise<string | undefined> {
  if (jsRejects.length === 0 && duckRejects === 0) return undefined;
  const quarantinePath = join(workDir, 'quarantine.jsonl');
  const jsPath = join(workDir, 'js-rejects.jsonl');
  await writeFile(jsPath, jsRejects.map((r) => JSON.stringify(r)).join('\n') + (jsRejects.length > 0 ? '\n' : ''));
  const fromJs = `SELECT line, reason, raw FROM read_json(${sqlString(jsPath)}, format = 'newline_delimited',
      columns = {'line': 'BIGINT', 'reason': 'VARCHAR', 'raw': 'VARCHAR'})`;
  const fromDuck = `SELECT _line AS line, _reason AS reason, _raw AS raw FROM parsed WHERE _reason IS NOT NULL`;
  const all = jsRejects.length === 0 ? fromDuck : duckRejects === 0 ? fromJs : `${fromDuck} UNION ALL ${fromJs}`;
  await conn.run(
    `COPY (SELECT ${sqlString(sourceKey)} AS sourceKey, line, reason, raw FROM (${all}) ORDER BY line)
      TO ${sqlString(quarantinePath)} (FORMAT json)`,
  );
  return quarantinePath;
}

/** Creates `parsed` from a reader and returns the counts (rows, rejected, distinct keys, partitions). */
async function parseWith(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  reader: string,
): Promise<Record<string, unknown>> {
  await conn.run('DROP TABLE IF EXISTS parsed');
  await conn.run(parsedTableSql(reader, def));
  return (await conn.runAndReadAll(countsSql(def))).getRowObjectsJS()[0]!;
}

/**
 * JSON Lines and text logs. Numbering rows (`row_number() OVER ()`) makes DuckDB scan on one thread, and only
 * rejected rows and repeated event keys need a line number. So the first pass reads without numbers, in
 * parallel; only when it finds a rejected row or a repeated key does a second pass read the text again, numbered.
 */
async function parseLines(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  format: 'jsonl' | 'text',
  staged: StagedText,
  workDir: string,
  logger: Logger,
  options: ParseOptions,
  numberedFirst: boolean,
): Promise<Record<string, unknown>> {
  const lines = staged.lines;
  const fast = format === 'jsonl' && options.jsonReader !== 'lines' && lines !== undefined;
  const skips = fast ? await writeSkips(lines.skipped, workDir) : undefined;
  const reader = (numbered: boolean): string =>
    format === 'text'
      ? textReader(staged.textPath, def, numbered)
      : fast
        ? jsonlFastReader(staged.textPath, def, skips, numbered)
        : jsonlReader(staged.textPath, def, numbered);
  const byLines = (): Promise<Record<string, unknown>> => parseWith(conn, def, jsonlReader(staged.textPath, def, true));
  /**
   * A pass of DuckDB's JSON reader; undefined when it refused the text despite `ignore_errors` (a record printed over
   * several lines: "Malformed JSON ... unexpected end of data"), which the line reader reads line by line.
   */
  const read = async (numbered: boolean): Promise<Record<string, unknown> | undefined> => {
    try {
      return await parseWith(conn, def, reader(numbered));
    } catch (err) {
      if (!fast || !isJsonReaderRefusal(err)) throw err;
      logger.warn('fast JSON reader refused the text; reading line by line', { error: String(err) });
      return undefined;
    }
  };
  let counts = await read(numberedFirst);
  if (counts === undefined) return byLines();
  if (fast) {
    const expected = lines.total - lines.skipped.length;
    if (Number(counts['n']) !== expected) {
      // DuckDB's JSON reader split the text differently from the pre-pass: its row numbers would be wrong lines.
      logger.warn('fast JSON reader disagreed with the pre-pass; reading line by line', {
        expected,
        rows: Number(counts['n']),
      });
      return byLines();
    }
  }
  if (!numberedFirst) {
    const needLines = Number(counts['bad']) > 0 || Number(counts['keys']) < Number(counts['n']) - Number(counts['bad']);
    if (!needLines) return counts;
    counts = await read(true);
    if (counts === undefined) return byLines();
  }
  if (fast && Number(counts['bad']) > 0) {
    for (const sql of fixJsonRejectsSql(staged.textPath)) await conn.run(sql);
  }
  return counts;
}

/** DuckDB's JSON reader gave up on the text (an error about the input, not the engine's state or resources). */
function isJsonReaderRefusal(err: unknown): boolean {
  // Not `instanceof Error` alone: errors from the native module may come from another realm (as under jest).
  return /\bInvalid Input Error: Malformed JSON\b/.test(err instanceof Error ? err.message : String(err));
}

/**
 * Maps each declared column to its CSV header field: exact name first, then ignoring case and surrounding
 * spaces. A missing nullable column reads as NULL; a missing required column fails the object, and so does a
 * field the header names twice: which of the two holds the column's values is a guess.
 */
function mapHeader(def: DatasetDefinition, header: string[]): (number | undefined)[] {
  const loose = header.map((h) => h.trim().toLowerCase());
  return def.columns.map((c) => {
    let fields = header;
    let wanted = c.source;
    if (!fields.includes(wanted)) [fields, wanted] = [loose, c.source.trim().toLowerCase()];
    const idx = fields.indexOf(wanted);
    if (idx >= 0) {
      const again = fields.indexOf(wanted, idx + 1);
      if (again >= 0) {
        throw new IngestError(
          'incompatible_schema',
          `column "${c.name}": the CSV header has fields ${idx + 1} and ${again + 1} both named ` +
            `${JSON.stringify(c.source)}${fields === loose ? ' (ignoring case)' : ''}, so which one holds its values ` +
            'is not known',
        );
      }
      return idx;
    }
    if (!c.nullable) {
      // A header read as one field is most likely split by another character (a .tsv under a `,` definition); one
      // that names no column at all is most likely a record (a file without its header, a later piece of a split).
      const names = (wanted: string): boolean => header.includes(wanted) || loose.includes(wanted.trim().toLowerCase());
      // A single field that is a column's name is a header of one column, split right.
      const hint =
        header.length === 1 && def.columns.length > 1 && !def.columns.some((col) => names(col.source))
          ? `; the header was read as one field (${JSON.stringify(header[0]!.slice(0, 80))}): is csv.delimiter ${JSON.stringify(def.csv.delimiter)} the file's?`
          : def.columns.some((col) => names(col.source))
            ? ''
            : `; no field of the first line names a column of the definition (it reads ${JSON.stringify(header.join(def.csv.delimiter).slice(0, 80))}): ` +
              'is it a record of a file without a header? (csv.header: false reads fields by position)';
      throw new IngestError(
        'incompatible_schema',
        `column "${c.name}" is required, but the CSV header has no field "${c.source}"${hint}`,
      );
    }
    return undefined;
  });
}

/** Records DuckDB's CSV reader refused (wrong field count), with reasons and raw text from the canonical copy. */
async function csvStructuralRejects(
  conn: DuckDBConnection,
  textPath: string,
  def: DatasetDefinition,
  fieldCount: number,
): Promise<ScanReject[]> {
  const rows = (
    await conn.runAndReadAll(`SELECT csv_line, error_type::VARCHAR AS error_type FROM ${REJECTS_TABLE}`)
  ).getRowObjectsJS();
  const d = def.csv.delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const prefix = new RegExp(`^[\\r\\n]*(\\d+)${d}(\\d+)${d}(\\d+)${d}`);
  const seen = new Map<number, { start: number; length: number; type: string }>();
  for (const r of rows) {
    const m = prefix.exec(String(r['csv_line'] ?? ''));
    if (!m) throw new IngestError('internal', 'a CSV record rejected by DuckDB has no line prefix');
    const line = Number(m[1]);
    if (!seen.has(line)) seen.set(line, { start: Number(m[2]), length: Number(m[3]), type: String(r['error_type']) });
  }
  const entries = [...seen.entries()].sort((a, b) => a[0] - b[0]);
  const raws = await readRanges(
    textPath,
    entries.map(([, e]) => e),
  );
  return entries.map(([line, e], i) => {
    const raw = raws[i]!;
    let reason: string;
    switch (e.type) {
      case 'MISSING COLUMNS':
      case 'TOO MANY COLUMNS':
        reason = `expected ${fieldCount} fields, found ${splitCsvRecord(raw, def.csv.delimiter, def.csv.quote).length}`;
        break;
      case 'LINE SIZE OVER MAXIMUM':
        reason = overlongReason(e.length);
        break;
      case 'INVALID UNICODE':
        reason = 'invalid UTF-8';
        break;
      case 'UNQUOTED VALUE':
        reason = 'quote character inside an unquoted field';
        break;
      default:
        reason = `unreadable CSV record (${e.type.toLowerCase()})`;
    }
    return { line, reason, raw };
  });
}

/**
 * Writes the fast JSON reader's line offsets: the i-th skipped line (0-based) at physical line s shifts every
 * later row by i+1, from row s - i on. Undefined when no line was skipped.
 */
async function writeSkips(skipped: number[], workDir: string): Promise<string | undefined> {
  if (skipped.length === 0) return undefined;
  const from = new Map<number, number>();
  skipped.forEach((line, i) => from.set(line - i, i + 1));
  const path = join(workDir, 'skips.csv');
  await writeFile(path, [...from].map(([f, add]) => `${f},${add}\n`).join(''));
  return path;
}

/** Reads byte ranges of a file as UTF-8 text (cut to the quarantine limit). */
async function readRanges(path: string, ranges: { start: number; length: number }[]): Promise<string[]> {
  if (ranges.length === 0) return [];
  const fh = await open(path, 'r');
  try {
    const out: string[] = [];
    for (const r of ranges) {
      const buf = Buffer.alloc(r.length);
      await fh.read(buf, 0, r.length, r.start);
      out.push(rawText(buf));
    }
    return out;
  } finally {
    await fh.close();
  }
}
