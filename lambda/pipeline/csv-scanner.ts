import { isUtf8 } from 'node:buffer';
import { IngestError } from '../../src/domain/errors.js';
import {
  MAX_RECORD_BYTES,
  QUARANTINE_RAW_CHARS,
  type ScanReject,
  UTF8_BOM,
  overlongReason,
  rawText,
} from './scan-limits.js';
import { utf16ByteOrderMark } from '../../src/domain/byte-order-mark.js';

/**
 * A quoted field over several lines and MAX_RECORD_BYTES fails the object when it runs over more lines than this: a
 * stray quote paired with one far below (or none) would otherwise take every line between into one quarantined
 * record. Fewer lines (a multi-line note beside a huge field) are one record over the limit, quarantined as such.
 */
const RUNAWAY_LINES = 100;

/** Quotes never closed by the end of the file that are each rejected by their line before the file fails. */
const MAX_UNCLOSED_AT_END = 16;

export interface CsvDialect {
  /** One ASCII character. */
  delimiter: string;
  /** One ASCII character, or '' for no quoting. A quote inside a quoted field is doubled (RFC 4180). */
  quote: string;
  header: boolean;
}

/**
 * The JavaScript pre-pass over CSV. DuckDB's CSV reader splits fields fast but cannot say on which physical
 * line a record started once quoted fields hold newlines, nor give a good record's raw text. So this pass finds
 * record boundaries (a newline outside quotes ends a record; quote state is followed per RFC 4180 at each quote
 * byte only), checks each record's quoting, UTF-8 and size, and writes a canonical copy for DuckDB in which every
 * record starts with three extra fields: its first physical line, and the byte offset and length of its text in
 * the copy (for the quarantine's raw text). Record endings become LF; field contents are copied unchanged.
 *
 * The header record is parsed here and not copied. Blank lines are skipped. A record with a stray quote, a lone
 * CR outside quotes, invalid UTF-8 or over MAX_RECORD_BYTES is rejected here; DuckDB rejects wrong field counts.
 * A quote never closed by the end of the file rejects its own line only, and the lines after it are read again (it
 * cannot be a field). A quoted field over more than RUNAWAY_LINES lines and MAX_RECORD_BYTES fails the object.
 */
export class CsvScanner {
  readonly rejects: ScanReject[] = [];
  header: string[] | undefined;
  /** Data records seen (written or rejected here), not counting the header and blank lines. */
  records = 0;
  private readonly delim: number;
  private readonly quote: number;
  private readonly delimText: string;
  private carry: Buffer = Buffer.alloc(0);
  /** Where scanning resumes in `carry`. */
  private scanPos = 0;
  private inQuote = false;
  /** 1-based physical line where the current record starts, and the line at the scan position. */
  private recLine = 1;
  private curLine = 1;
  private bad: string | undefined;
  /**
   * A record over MAX_RECORD_BYTES whose bytes are no longer held: its head (for the quarantine), the bytes dropped,
   * and the last byte dropped (the carry then starts mid-record: a quote at its start opens a field only after a
   * delimiter, as anywhere else; read in other chunks, the same bytes must give the same records).
   */
  private overlong: { head: Buffer; bytes: number; lastDropped?: number } | undefined;
  /** Quotes never closed by the end of the file so far (each rejects its line; the lines after it are read again). */
  private unclosedAtEnd = 0;
  private atStart = true;
  private outOffset = 0;

  constructor(private readonly dialect: CsvDialect) {
    if (!/^[\x20-\x7e\t]$/.test(dialect.delimiter)) {
      throw new IngestError('unsupported_csv', `csv.delimiter must be one ASCII character`);
    }
    if (dialect.quote !== '' && !/^[\x20-\x7e]$/.test(dialect.quote)) {
      throw new IngestError('unsupported_csv', `csv.quote must be one ASCII character or empty`);
    }
    this.delim = dialect.delimiter.charCodeAt(0);
    this.quote = dialect.quote === '' ? -1 : dialect.quote.charCodeAt(0);
    this.delimText = dialect.delimiter;
  }

  push(chunk: Buffer): Buffer[] {
    let data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    if (this.atStart) {
      if (data.length < UTF8_BOM.length) {
        this.carry = Buffer.from(data);
        return [];
      }
      this.atStart = false;
      if (data.subarray(0, 3).equals(UTF8_BOM)) data = data.subarray(3);
      else refuseUtf16(data);
    }
    return this.scan(data);
  }

  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.atStart) {
      this.atStart = false;
      if (this.carry.length > 0 && this.carry.equals(UTF8_BOM.subarray(0, this.carry.length))) {
        this.carry = Buffer.alloc(0);
      }
    }
    for (;;) {
      if (this.carry.length > 0 || this.overlong) {
        // A last record without a newline: finish it as if it had one.
        out.push(...this.scan(Buffer.concat([this.carry, Buffer.from('\n')])));
      }
      if (!this.inQuote) return out;
      // The newline appended above was counted as a line inside the quote.
      this.curLine -= 1;
      // Drop the newline appended above and the record's own line ending.
      let end = Math.max(0, this.carry.length - 1);
      if (end > 0 && this.carry[end - 1] === 10) end--;
      if (end > 0 && this.carry[end - 1] === 13) end--;
      if (this.dialect.header && this.header === undefined) {
        throw new IngestError('bad_header', `the CSV header on line ${this.recLine} has an unterminated quoted field`);
      }
      if (this.overlong) {
        if (this.spansRunaway()) this.runaway(this.overlong.bytes + end);
        // One line over the limit, the last: nothing after it to lose.
        this.records++;
        this.rejects.push({
          line: this.recLine,
          reason: 'unterminated quoted field',
          raw: rawText(this.overlong.head),
        });
        this.overlong = undefined;
        this.inQuote = false;
        this.carry = Buffer.alloc(0);
        return out;
      }
      // A quote opened and never closed is no multi-line field: its first line is rejected and the lines after it
      // are read again as records of their own (a stray quote used to take the rest of the file with it). Each time
      // reads the rest again: past a few, the file is more broken than a stray quote, and it fails rather than take
      // time growing with the square of its size.
      this.unclosedAtEnd += 1;
      if (this.unclosedAtEnd > MAX_UNCLOSED_AT_END) {
        throw new IngestError(
          'unterminated_quote',
          `more than ${MAX_UNCLOSED_AT_END} quoted fields are never closed (the last on line ${this.recLine}): fix ` +
            'the quotes and ingest the file again',
        );
      }
      const { first, next } = splitFirstLine(this.carry.subarray(0, end));
      this.records++;
      this.rejects.push({
        line: this.recLine,
        reason: 'unterminated quoted field',
        raw: rawText(first.subarray(0, QUARANTINE_RAW_CHARS)),
      });
      const rest = next === undefined ? Buffer.alloc(0) : Buffer.from(this.carry.subarray(next, end));
      this.inQuote = false;
      this.bad = undefined;
      this.carry = Buffer.alloc(0);
      this.scanPos = 0;
      this.recLine += 1;
      this.curLine = this.recLine;
      if (rest.length === 0) return out;
      out.push(...this.scan(rest));
    }
  }

  private scan(data: Buffer): Buffer[] {
    const out = new OutBuffer(data.length + 4096);
    const lastNl = data.lastIndexOf(10);
    const utf8Ok = lastNl >= 0 && isUtf8(data.subarray(0, lastNl + 1));
    let pos = this.scanPos;
    let recStart = 0;
    const next = (byte: number, from: number): number => {
      if (byte < 0) return Infinity;
      const i = data.indexOf(byte, from);
      return i < 0 ? Infinity : i;
    };
    let nNl = next(10, pos);
    let nQ = next(this.quote, pos);
    let nCr = next(13, pos);
    for (;;) {
      const q = Math.min(nNl, nQ, nCr);
      if (q === Infinity) {
        pos = data.length;
        break;
      }
      const b = data[q]!;
      if (b === 10) {
        if (this.inQuote) {
          this.curLine++;
        } else {
          const end = q > recStart && data[q - 1] === 13 ? q - 1 : q;
          this.endRecord(data, recStart, end, utf8Ok, out);
          this.curLine++;
          recStart = q + 1;
          this.recLine = this.curLine;
        }
        pos = q + 1;
        nNl = next(10, pos);
        continue;
      }
      if (b === 13) {
        if (!this.inQuote) {
          if (q + 1 >= data.length) {
            pos = q;
            break;
          }
          if (data[q + 1] !== 10) this.bad ??= 'carriage return outside a quoted field';
        }
        pos = q + 1;
        nCr = next(13, pos);
        continue;
      }
      // A quote byte.
      if (!this.inQuote) {
        const before = q > recStart ? data[q - 1] : this.overlong?.lastDropped;
        const fieldStart = before === undefined || before === this.delim;
        if (fieldStart) this.inQuote = true;
        else this.bad ??= 'quote character inside an unquoted field';
        pos = q + 1;
      } else {
        if (q + 1 >= data.length) {
          pos = q;
          break;
        }
        const after = data[q + 1]!;
        if (after === this.quote) {
          pos = q + 2;
        } else {
          this.inQuote = false;
          if (after !== this.delim && after !== 10 && after !== 13) {
            this.bad ??= 'unexpected character after a closing quote';
          }
          pos = q + 1;
        }
      }
      nQ = next(this.quote, pos);
      if (nCr < pos) nCr = next(13, pos);
      if (nNl < pos) nNl = next(10, pos);
    }
    let rest = data.subarray(recStart);
    let resume = pos - recStart;
    const pending = this.overlong ? this.overlong.bytes + rest.length : rest.length;
    if (pending > MAX_RECORD_BYTES) {
      // Keep scanning the record to find its end, but stop holding its bytes.
      this.overlong ??= { head: Buffer.from(rest.subarray(0, QUARANTINE_RAW_CHARS)), bytes: 0 };
      this.overlong.bytes += resume;
      if (resume > 0) this.overlong.lastDropped = rest[resume - 1];
      rest = rest.subarray(resume);
      resume = 0;
    }
    this.carry = Buffer.from(rest);
    this.scanPos = resume;
    return out.length > 0 ? [out.take()] : [];
  }

  /**
   * Writes or rejects the record `data[start, end)`. A broken record over several lines is rejected whole: its inner
   * lines may be the text of a quoted field, and reading them as records could publish rows the file never had.
   */
  private endRecord(data: Buffer, start: number, end: number, utf8Ok: boolean, out: OutBuffer): void {
    const bad = this.bad;
    this.bad = undefined;
    const overlong = this.overlong;
    this.overlong = undefined;
    const bytes = overlong ? undefined : data.subarray(start, end);
    const size = overlong ? overlong.bytes + (end - start) : bytes!.length;
    if (size > MAX_RECORD_BYTES && this.spansRunaway()) this.runaway(size);
    if (overlong) {
      this.records++;
      this.rejects.push({ line: this.recLine, reason: overlongReason(size), raw: rawText(overlong.head) });
      return;
    }
    if (end === start && bad === undefined) return;
    const record = bytes!;
    if (this.dialect.header && this.header === undefined) {
      if (bad !== undefined || (!utf8Ok && !isUtf8(record))) {
        throw new IngestError(
          'bad_header',
          `the CSV header on line ${this.recLine} is not readable: ${bad ?? 'invalid UTF-8'}`,
        );
      }
      this.header = splitCsvRecord(record.toString('utf8'), this.dialect.delimiter, this.dialect.quote);
      return;
    }
    this.records++;
    if (bad !== undefined) {
      this.rejects.push({ line: this.recLine, reason: bad, raw: rawText(record.subarray(0, QUARANTINE_RAW_CHARS)) });
    } else if (record.length > MAX_RECORD_BYTES) {
      this.rejects.push({
        line: this.recLine,
        reason: overlongReason(record.length),
        raw: rawText(record.subarray(0, QUARANTINE_RAW_CHARS)),
      });
    } else if (!utf8Ok && !isUtf8(record)) {
      this.rejects.push({ line: this.recLine, reason: 'invalid UTF-8', raw: rawText(record) });
    } else {
      this.writeRecord(record, out);
    }
  }

  /** Whether the record in hand runs over more than RUNAWAY_LINES lines (it is over the size limit too). */
  private spansRunaway(): boolean {
    return this.curLine - this.recLine + 1 > RUNAWAY_LINES;
  }

  /**
   * A quoted field running over more than RUNAWAY_LINES lines and MAX_RECORD_BYTES: most likely a stray quote paired
   * with one far below (or none). Quarantined as one record, every line between would be lost while the run
   * succeeded, and its bytes are no longer held to read them again: the object fails instead and the published
   * version stays. Which of the two happened does not depend on how the file was read in chunks.
   */
  private runaway(size: number): never {
    throw new IngestError(
      'unterminated_quote',
      `line ${this.recLine} opens a quoted field that runs over ${this.curLine - this.recLine + 1} lines and ` +
        `${size} bytes, over the ${MAX_RECORD_BYTES}-byte record limit: a stray quote? fix it and ingest the file again`,
    );
  }

  /** Writes `<line>,<start>,<length>,<record>\n`, start being the record's offset in the canonical copy. */
  private writeRecord(bytes: Buffer, out: OutBuffer): void {
    const d = this.delimText;
    const head = `${this.recLine}${d}`;
    const tail = `${d}${bytes.length}${d}`;
    // The start offset counts its own digits: grow the digit count until it is consistent.
    let digits = String(this.outOffset).length;
    let start = this.outOffset + head.length + digits + tail.length;
    while (String(start).length !== digits) {
      digits = String(start).length;
      start = this.outOffset + head.length + digits + tail.length;
    }
    const prefix = `${head}${start}${tail}`;
    out.writeAscii(prefix);
    out.writeBytes(bytes);
    out.writeAscii('\n');
    this.outOffset += prefix.length + bytes.length + 1;
  }
}

/**
 * Fails a text that starts with a UTF-16 byte order mark (what spreadsheets save as "Unicode text"). Read as UTF-8,
 * its CR LF is CR NUL LF NUL: the header was refused for "carriage return outside a quoted field", which hides why.
 */
function refuseUtf16(data: Buffer): void {
  const order = utf16ByteOrderMark(data);
  if (order === undefined) return;
  throw new IngestError(
    'unsupported_encoding',
    `the file is UTF-16 (it starts with the byte order mark ${order}): CSV is read as UTF-8; save it as UTF-8 and ` +
      'ingest it again',
  );
}

/** A record's first physical line (without its line ending), and where its next line starts, if it has one. */
function splitFirstLine(bytes: Buffer): { first: Buffer; next: number | undefined } {
  const newline = bytes.indexOf(10);
  if (newline < 0) return { first: bytes, next: undefined };
  return {
    first: bytes.subarray(0, newline > 0 && bytes[newline - 1] === 13 ? newline - 1 : newline),
    next: newline + 1,
  };
}

/** Splits one CSV record into fields (RFC 4180 quoting; a doubled quote inside quotes is one quote). */
export function splitCsvRecord(text: string, delimiter: string, quote: string): string[] {
  const fields: string[] = [];
  let field = '';
  let inQuote = false;
  let atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuote) {
      if (ch === quote) {
        if (text[i + 1] === quote) {
          field += quote;
          i++;
        } else {
          inQuote = false;
        }
      } else {
        field += ch;
      }
      continue;
    }
    if (ch === delimiter) {
      fields.push(field);
      field = '';
      atFieldStart = true;
      continue;
    }
    if (quote !== '' && ch === quote && atFieldStart) {
      inQuote = true;
      atFieldStart = false;
      continue;
    }
    field += ch;
    atFieldStart = false;
  }
  fields.push(field);
  return fields;
}

/** A growable output buffer: one allocation per scanned chunk instead of one per record. */
class OutBuffer {
  private buf: Buffer;
  length = 0;

  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + extra));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  writeAscii(text: string): void {
    this.ensure(text.length);
    this.length += this.buf.write(text, this.length, 'latin1');
  }

  writeBytes(bytes: Buffer): void {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }

  take(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
