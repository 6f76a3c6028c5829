/** Limits and shapes shared by the JavaScript pre-pass over raw text (line and CSV scanners). */

/** Longest accepted record in bytes (a line, or a CSV record with its embedded newlines); longer ones are quarantined. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** Longest raw text kept in a quarantine record, in characters; the rest is cut. */
export const QUARANTINE_RAW_CHARS = 65_536;

/** A record the pre-pass rejects before DuckDB sees it, with its 1-based physical line. */
export interface ScanReject {
  line: number;
  reason: string;
  raw: string;
}

export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function rawText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.length > QUARANTINE_RAW_CHARS ? text.slice(0, QUARANTINE_RAW_CHARS) : text;
}

export function overlongReason(bytes: number): string {
  return `record is ${bytes} bytes, longer than the limit of ${MAX_RECORD_BYTES} bytes`;
}

/** Counts `\n` bytes in a buffer region. */
export function countNewlines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let i = buf.indexOf(10, start);
  while (i >= 0 && i < end) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}
