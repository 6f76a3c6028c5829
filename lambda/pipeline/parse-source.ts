import { writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetDefinition, RawFormat } from '../../src/domain/dataset-definition.js';
import { IngestError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/ports/logger.js';
import { splitCsvRecord } from './csv-scanner.js';
import { type ScanReject, overlongReason, rawText } from './scan-limits.js';
import type { StagedText } from './stage-source.js';
import {
  csvReader,
  jsonlReader,
  parsedTableSql,
  sqlString,
  textReader,
  validTableSql,
  validViewSql,
  countsSql,
} from './transform-sql.js';

/** Counts and products of parsing one source inside DuckDB; the `valid` temp table holds the good rows. */
export interface ParsedSource {
  /** Non-blank records in the source (good, rejected and duplicate). */
  rowsRead: number;
  rowsRejected: number;
  /** Good rows dropped because an earlier line of the same object has the same event key in the partition. */
  rowsDuplicate: number;
  /** Rows in `valid`. */
  rowsValid: number;
  /** Partition values (`yyyy-mm-dd`) of the good rows, sorted. */
  partitions: string[];
  /** Local quarantine file (QuarantineRecord lines, by line), when something was rejected. */
  quarantinePath: string | undefined;
}

const REJECTS_TABLE = 'csv_rejects';

/**
 * Parses, validates, casts and de-duplicates one staged source in DuckDB on `conn`, leaving the good rows in the
 * temp table `valid` and writing the quarantine file. Rejected records from the JavaScript pre-pass and from
 * DuckDB are merged into one quarantine ordered by line.
 */
export async function parseSource(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  format: RawFormat,
  staged: StagedText,
  sourceKey: string,
  workDir: string,
  logger: Logger,
): Promise<ParsedSource> {
  await conn.run(`SET SESSION TimeZone = 'UTC'`);
  let fieldCount = 0;
  let reader: string;
  switch (format) {
    case 'jsonl':
      reader = jsonlReader(staged.textPath, def);
      break;
    case 'text':
      reader = textReader(staged.textPath, def);
      break;
    case 'csv': {
      const header = staged.csv?.header;
      if (def.csv.header && header === undefined) {
        // Nothing but blank lines: not even a header.
        return { rowsRead: 0, rowsRejected: 0, rowsDuplicate: 0, rowsValid: 0, partitions: [], quarantinePath: undefined };
      }
      const fieldIndex = header ? mapHeader(def, header) : def.columns.map((_, i) => i);
      fieldCount = header ? header.length : def.columns.length;
      reader = csvReader(staged.textPath, def, fieldIndex, fieldCount, REJECTS_TABLE);
      break;
    }
  }
  await conn.run(parsedTableSql(reader, def));
  // One pass for the counts, the partitions of the good rows and whether any event key repeats among them.
  const counts = (await conn.runAndReadAll(countsSql(def))).getRowObjectsJS()[0]!;
  const parsedRows = Number(counts['n']);
  const parsedRejected = Number(counts['bad']);
  const good = parsedRows - parsedRejected;
  const distinctKeys = Number(counts['keys']);
  const partitions = (counts['parts'] as string[] | null) ?? [];
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
      await conn.runAndReadAll(`SELECT _line, _reason, _start, _len FROM parsed WHERE _reason IS NOT NULL ORDER BY _line`)
    ).getRowObjectsJS();
    const raws = await readRanges(
      staged.textPath,
      rows.map((r) => ({ start: Number(r['_start']), length: Number(r['_len']) })),
    );
    rows.forEach((r, i) => jsRejects.push({ line: Number(r['_line']), reason: String(r['_reason']), raw: raws[i]! }));
    duckRejects = 0;
  }

  let quarantinePath: string | undefined;
  if (rowsRejected > 0) {
    quarantinePath = join(workDir, 'quarantine.jsonl');
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
  }

  // Duplicates within the object are rare: de-duplicate (a window over all good rows) only when there are some.
  await conn.run(good === distinctKeys ? validViewSql() : validTableSql(def));
  return {
    rowsRead,
    rowsRejected,
    rowsDuplicate: good - distinctKeys,
    rowsValid: distinctKeys,
    partitions,
    quarantinePath,
  };
}

/**
 * Maps each declared column to its CSV header field: exact name first, then ignoring case and surrounding
 * spaces. A missing nullable column reads as NULL; a missing required column fails the object.
 */
function mapHeader(def: DatasetDefinition, header: string[]): (number | undefined)[] {
  const loose = header.map((h) => h.trim().toLowerCase());
  return def.columns.map((c) => {
    let idx = header.indexOf(c.source);
    if (idx < 0) idx = loose.indexOf(c.source.trim().toLowerCase());
    if (idx >= 0) return idx;
    if (!c.nullable) {
      throw new IngestError(
        'incompatible_schema',
        `column "${c.name}" is required, but the CSV header has no field "${c.source}"`,
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
