import { isUtf8 } from 'node:buffer';
import {
  MAX_RECORD_BYTES,
  QUARANTINE_RAW_CHARS,
  type ScanReject,
  UTF8_BOM,
  overlongReason,
  rawText,
} from './scan-limits.js';

const NEWLINE = Buffer.from('\n');

/**
 * The JavaScript pre-pass over JSON Lines and text logs. DuckDB then reads the text one line per row, its row
 * number being the physical line, which holds only if every `\n` ends a row and nothing else does. So this
 * pass finds what would break that or what DuckDB must not see: a BOM, CR (CRLF endings or a lone CR), the
 * U+0001 byte (the column delimiter of the line reader), invalid UTF-8 and lines over MAX_RECORD_BYTES.
 *
 * Clean input (the common case) is only checked, a buffer at a time with native calls (`isUtf8`, `indexOf`).
 * With `rewrite` the scanner also emits a canonical copy: CRLF becomes LF, and each rejected line becomes an
 * empty line, so line numbers still match the source. Without `rewrite` it stops at the first defect and sets
 * `needsRewrite`; the caller then runs a rewriting pass.
 */
export class LineScanner {
  readonly rejects: ScanReject[] = [];
  /**
   * Lines with no record for DuckDB's JSON reader, ascending: blank lines (empty, or spaces and tabs) and, in the
   * copy, lines rejected here (written as empty lines). The reader skips them, so its n-th row is the n-th other line.
   */
  readonly skipped: number[] = [];
  needsRewrite = false;
  private carry: Buffer = Buffer.alloc(0);
  private line = 0;
  private atStart = true;
  private stopped = false;
  /** A line longer than the limit being skipped: its start line, first bytes and length so far. */
  private skipping: { line: number; head: Buffer; bytes: number } | undefined;

  constructor(
    private readonly format: 'jsonl' | 'text',
    private readonly rewrite: boolean,
  ) {}

  /** Physical lines seen so far (a last line without a newline counts once `end()` has run). */
  get lines(): number {
    return this.line;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.stopped) return [];
    let data = chunk;
    if (this.atStart) {
      data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
      this.carry = Buffer.alloc(0);
      if (data.length < UTF8_BOM.length) {
        this.carry = Buffer.from(data);
        return [];
      }
      this.atStart = false;
      if (data.subarray(0, 3).equals(UTF8_BOM)) {
        if (!this.dirty()) return [];
        data = data.subarray(3);
      }
    }
    const out: Buffer[] = [];
    if (this.carry.length > 0) {
      // Finish the line left over from the last chunk on its own, so the chunk itself is never copied.
      const nl = data.indexOf(10);
      if (nl < 0) {
        this.keepPartialLine(Buffer.concat([this.carry, data]));
        return out;
      }
      const head = Buffer.concat([this.carry, data.subarray(0, nl + 1)]);
      this.carry = Buffer.alloc(0);
      this.region(head, head.length, out);
      if (this.stopped) return out;
      data = data.subarray(nl + 1);
    }
    const lastNl = data.lastIndexOf(10);
    if (lastNl < 0) {
      this.keepPartialLine(data);
      return out;
    }
    this.region(data, lastNl + 1, out);
    if (!this.stopped) this.keepPartialLine(data.subarray(lastNl + 1));
    return out;
  }

  end(): Buffer[] {
    if (this.stopped) return [];
    const out: Buffer[] = [];
    if (this.atStart) {
      this.atStart = false;
      if (this.carry.length === 0) return out;
    }
    if (this.skipping || this.carry.length > 0) {
      // The last line has no newline: finish it as if it had one.
      const data = Buffer.concat([this.carry, NEWLINE]);
      this.carry = Buffer.alloc(0);
      this.region(data, data.length, out);
    }
    return out;
  }

  /** Keeps an unfinished line for the next chunk, or starts skipping it once it is over the limit. */
  private keepPartialLine(data: Buffer): void {
    if (this.skipping) {
      this.skipping.bytes += data.length;
      this.carry = Buffer.alloc(0);
      return;
    }
    if (data.length > MAX_RECORD_BYTES) {
      if (!this.dirty()) return;
      this.skipping = {
        line: this.line + 1,
        head: Buffer.from(data.subarray(0, QUARANTINE_RAW_CHARS)),
        bytes: data.length,
      };
      this.carry = Buffer.alloc(0);
      return;
    }
    this.carry = Buffer.from(data);
  }

  /** Handles the complete lines in data[0, end): end is just past a `\n`. */
  private region(data: Buffer, end: number, out: Buffer[]): void {
    let start = 0;
    if (this.skipping) {
      const nl = data.indexOf(10);
      const s = this.skipping;
      this.skipping = undefined;
      this.line++;
      let bytes = s.bytes + nl;
      if (nl > 0 && data[nl - 1] === 13) bytes--;
      this.reject(s.line, overlongReason(bytes), rawText(s.head), out);
      start = nl + 1;
    }
    if (start >= end) return;
    const region = data.subarray(start, end);
    if (isUtf8(region) && region.indexOf(13) < 0 && region.indexOf(1) < 0) {
      let lines = 0;
      let p = start;
      let long = false;
      const blanks: number[] = [];
      while (p < end) {
        const nl = data.indexOf(10, p);
        if (nl - p > MAX_RECORD_BYTES) {
          long = true;
          break;
        }
        lines++;
        if (nl === p || ((data[p] === 32 || data[p] === 9) && isBlank(data, p, nl))) blanks.push(this.line + lines);
        p = nl + 1;
      }
      if (!long) {
        this.line += lines;
        for (const b of blanks) this.skipped.push(b);
        if (this.rewrite) out.push(region);
        return;
      }
    }
    if (!this.dirty()) return;
    let p = start;
    while (p < end) {
      const nl = data.indexOf(10, p);
      this.handleLine(data.subarray(p, nl), out);
      p = nl + 1;
    }
  }

  private handleLine(raw: Buffer, out: Buffer[]): void {
    this.line++;
    const line = raw.length > 0 && raw[raw.length - 1] === 13 ? raw.subarray(0, raw.length - 1) : raw;
    if (line.length > MAX_RECORD_BYTES) {
      this.reject(this.line, overlongReason(line.length), rawText(line.subarray(0, QUARANTINE_RAW_CHARS)), out);
    } else if (!isUtf8(line)) {
      this.reject(this.line, 'invalid UTF-8', rawText(line), out);
    } else if (line.indexOf(13) >= 0) {
      const text = line.toString('utf8');
      if (/^[ \t\r]*$/.test(text)) {
        this.skipped.push(this.line);
        out.push(NEWLINE);
        return;
      }
      if (this.format === 'text') {
        this.reject(this.line, 'carriage return inside the line', rawText(line), out);
        return;
      }
      try {
        // Outside strings CR is JSON whitespace (inside a string a raw CR is invalid): as a space it reads the same.
        JSON.parse(text);
        out.push(Buffer.from(text.replace(/\r/g, ' '), 'utf8'), NEWLINE);
      } catch {
        this.reject(this.line, 'malformed JSON', rawText(line), out);
      }
    } else if (line.indexOf(1) >= 0) {
      this.reject(
        this.line,
        this.format === 'jsonl' ? 'malformed JSON' : 'control character U+0001 in the line',
        rawText(line),
        out,
      );
    } else {
      if (isBlank(line, 0, line.length)) this.skipped.push(this.line);
      out.push(line, NEWLINE);
    }
  }

  private reject(line: number, reason: string, raw: string, out: Buffer[]): void {
    this.rejects.push({ line, reason, raw });
    this.skipped.push(line);
    // An empty line in its place keeps the following line numbers; DuckDB skips it as blank.
    out.push(NEWLINE);
  }

  /** Records that the input needs rewriting; false when this pass only checks (the caller will rewrite). */
  private dirty(): boolean {
    this.needsRewrite = true;
    if (!this.rewrite) {
      this.stopped = true;
      return false;
    }
    return true;
  }
}

/** True when buf[start, end) holds only spaces and tabs (or nothing). */
function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 32 && buf[i] !== 9) return false;
  return true;
}
