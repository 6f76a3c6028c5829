import { basename } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError } from '../../domain/errors.js';
import { runSql, sqlIdent, sqlString } from './duckdb-sql.js';
import type { SniffedFile } from './sample-file-sniffer.js';
import { readLines } from './sample-lines.js';

/**
 * The sample of text logs (`.log` files, which the ETL reads with a definition's `text.pattern`): the lines of the
 * usual shape, a timestamp first (optionally in brackets), then an optional level, then the message, split by one
 * proposed pattern into the columns `timestamp`, `level` and `message`. A log of another shape is refused, saying
 * what to write instead; a proposal never holds a pattern that the sampled lines do not match.
 */

/**
 * Most lines of a sample that may miss the pattern: a log's multi-line entries (a stack trace under its first line)
 * are lines of their own to the ETL, which quarantines each; the YAML says how many. Past half, it is not this shape.
 */
const MAX_MISSING_SHARE = 0.5;

/** Longest line the ETL reads (longer ones are quarantined): 1 MiB. */
const MAX_LINE_BYTES = 1024 * 1024;

/** Timestamp text at the start of a line: ISO-like (space or T, fraction after . or ,, Z or an offset), or d/m/Y. */
const ISO_TIMESTAMP = String.raw`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?`;
const DMY_TIMESTAMP = String.raw`\d{1,4}[/.]\d{1,2}[/.]\d{1,4}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?`;
/** Levels as logging libraries write them, longest first. */
const LEVELS = 'TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|SEVERE|CRITICAL|FATAL';

/** The pattern of a line: the timestamp layouts it allows, in brackets or not, with a level or not. */
function linePattern(timestamps: string[], brackets: boolean, level: boolean): string {
  const [open, close] = brackets ? [String.raw`\[?`, String.raw`\]?`] : ['', ''];
  return (
    `${open}(?<timestamp>${timestamps.join('|')})${close}\\s+` +
    (level ? String.raw`(?:\[?(?<level>${LEVELS})\]?:?\s+)?` : '') +
    '(?<message>.*)'
  );
}

export interface TextLogSample {
  /** The proposed `text.pattern` (JavaScript syntax, as definitions write it). */
  pattern: string;
  /** Its named groups, in order: the columns' sources. */
  groups: string[];
  /** Lines read (blank lines left out, as the ETL leaves them out). */
  lines: number;
  notes: string[];
}

/**
 * Reads up to `sampleRows` lines of the text logs, proposes a pattern that matches them, and fills `rawTable` and
 * `typedTable` (all text: the column probes type them) with one row per matching line.
 */
export async function readTextLogSample(
  connection: DuckDBConnection,
  files: SniffedFile[],
  sampleRows: number,
  tables: { raw: string; typed: string },
): Promise<TextLogSample> {
  const lines: { file: string; text: string }[] = [];
  for (const f of files) {
    if (lines.length >= sampleRows) break;
    for (const text of await readLines(f, sampleRows - lines.length)) lines.push({ file: basename(f.path), text });
  }
  const shape = new RegExp(`^${linePattern([ISO_TIMESTAMP, DMY_TIMESTAMP], true, true)}$`);
  const matched = lines.map((l) => (Buffer.byteLength(l.text) > MAX_LINE_BYTES ? null : shape.exec(l.text)));
  const misses = matched.flatMap((m, i) => (m === null ? [lines[i]!] : []));
  if (lines.length === 0 || misses.length > lines.length * MAX_MISSING_SHARE) {
    throw new BadInputError(textLogRefusal(lines.length, misses));
  }
  const hits = matched.filter((m): m is RegExpExecArray => m !== null);
  const withLevel = hits.some((m) => m.groups!.level !== undefined);
  // Only what the lines use, so that the reviewer reads a pattern of their log; it matches every line the general one did.
  const iso = new RegExp(`^(?:${ISO_TIMESTAMP})$`);
  const layouts = [
    ...(hits.some((m) => iso.test(m.groups!.timestamp!)) ? [ISO_TIMESTAMP] : []),
    ...(hits.some((m) => !iso.test(m.groups!.timestamp!)) ? [DMY_TIMESTAMP] : []),
  ];
  // Brackets only when a line has one around its timestamp (either bracket is optional in the general pattern).
  const bracketed = hits.some(
    (m) =>
      m[0].startsWith('[') || m[0].charAt(m[0].indexOf(m.groups!.timestamp!) + m.groups!.timestamp!.length) === ']',
  );
  const pattern = linePattern(layouts, bracketed, withLevel);
  const groups = withLevel ? ['timestamp', 'level', 'message'] : ['timestamp', 'message'];

  const notes: string[] = [];
  if (misses.length > 0) {
    notes.push(
      `${misses.length} of the ${lines.length} sampled log lines do not match the proposed text.pattern (e.g. ` +
        `${JSON.stringify(clip(misses[0]!.text))} in ${misses[0]!.file}); the ETL quarantines each such line ` +
        '(a line of a multi-line entry, such as a stack trace, is a record of its own).',
    );
  }
  const columns = groups.map((g) => `${sqlIdent(g)} VARCHAR`).join(', ');
  await runSql(connection, `CREATE OR REPLACE TEMP TABLE ${tables.raw} (${columns})`, 'cannot hold the log sample');
  // The ETL reads a group that matched nothing (an empty message, a line without a level) as NULL.
  const value = (v: string | undefined): string => (v === undefined || v === '' ? 'NULL' : sqlString(v));
  for (let i = 0; i < hits.length; i += 1000) {
    const values = hits
      .slice(i, i + 1000)
      .map((m) => `(${groups.map((g) => value(m.groups![g])).join(', ')})`)
      .join(', ');
    await runSql(connection, `INSERT INTO ${tables.raw} VALUES ${values}`, 'cannot hold the log sample');
  }
  await runSql(
    connection,
    `CREATE OR REPLACE TEMP TABLE ${tables.typed} AS SELECT * FROM ${tables.raw}`,
    'cannot hold the log sample',
  );
  return { pattern, groups, lines: lines.length, notes };
}

/** What to write when the lines are not of the shape a pattern can be proposed for. */
function textLogRefusal(lines: number, misses: { file: string; text: string }[]): string {
  const howTo =
    'write the definition by hand: formats: [text] and a text.pattern, a regular expression whose named groups ' +
    "(?<name>...) are the columns' sources, e.g. pattern: '(?<ts>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) " +
    "(?<level>\\w+) (?<message>.*)' with a timestamp column ts (its formats, e.g. ['%Y-%m-%d %H:%M:%S']) as the " +
    'partition source';
  if (lines === 0) return `the text logs hold no lines: nothing to infer a definition from`;
  const first = misses[0]!;
  if (first.text.trimStart().startsWith('{')) {
    return (
      `${first.file} holds JSON Lines, but the ETL reads a .log file as a text log: name it .jsonl (or .ndjson) ` +
      'to infer and ingest it as JSON Lines'
    );
  }
  return (
    `cannot propose a text.pattern: ${misses.length} of the ${lines} sampled log lines do not start with a ` +
    `timestamp (such as 2024-03-01 10:00:00 or 2024-03-01T10:00:00.123Z), e.g. ${JSON.stringify(clip(first.text))} ` +
    `in ${first.file}; ${howTo}`
  );
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
