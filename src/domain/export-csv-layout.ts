/** A byte range of a CSV file holding whole records: `[start, end)`. */
export interface CsvPart {
  start: number;
  end: number;
  /** Data records in the range (the header is not counted). */
  rows: number;
}

export interface CsvLayout {
  /** End of the header record (exclusive); 0 without a header. */
  headerEnd: number;
  parts: CsvPart[];
  rows: number;
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Finds record boundaries in CSV as DuckDB writes it (records end in LF; a quoted field may hold LF and doubled
 * quotes) and cuts it into parts of at least `partSizeBytes`, each ending on a record boundary; with `maxRows`
 * it stops after that many data records. Feed chunks in order with `push`, then call `finish`.
 *
 * Native `indexOf` jumps from quote to quote and newline to newline, so text without quotes is scanned at
 * memchr speed rather than byte by byte in JavaScript.
 */
export class CsvRecordScanner {
  private offset = 0;
  private inQuotes = false;
  private headerEnd: number;
  private rows = 0;
  private partStart = 0;
  private partRows = 0;
  private done = false;
  private readonly parts: CsvPart[] = [];

  constructor(private readonly options: { header: boolean; partSizeBytes: number; maxRows: number | null }) {
    this.headerEnd = options.header ? -1 : 0;
  }

  /** True once `maxRows` records were seen: the rest of the input is not needed. */
  get complete(): boolean {
    return this.done;
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    let i = 0;
    // The next newline found so far: in quote-dense text (every field quoted) it lies past several quotes,
    // and searching for it again after each quote would re-read the rest of the record many times.
    let nl = -1;
    while (i < len && !this.done) {
      if (this.inQuotes) {
        const close = buf.indexOf(QUOTE, i);
        if (close < 0) break;
        // A doubled quote inside a field closes and re-opens: the parity still comes out right.
        this.inQuotes = false;
        i = close + 1;
        continue;
      }
      const open = buf.indexOf(QUOTE, i);
      const stop = open < 0 ? len : open;
      if (nl !== len && nl < i) {
        nl = buf.indexOf(NEWLINE, i);
        if (nl < 0) nl = len;
      }
      while (nl < stop && !this.done) {
        this.recordEnd(this.offset + nl + 1);
        nl = buf.indexOf(NEWLINE, nl + 1);
        if (nl < 0) nl = len;
      }
      if (open < 0) break;
      this.inQuotes = true;
      i = open + 1;
    }
    this.offset += len;
  }

  /** The layout of a file of `totalBytes` bytes (all of it pushed, unless `complete`). */
  finish(totalBytes: number): CsvLayout {
    const headerEnd = Math.max(0, this.headerEnd);
    const parts = [...this.parts];
    if (!this.done && (this.partStart < totalBytes || parts.length === 0)) {
      parts.push({ start: this.partStart, end: totalBytes, rows: this.partRows });
    }
    return { headerEnd: this.options.header && this.headerEnd < 0 ? totalBytes : headerEnd, parts, rows: this.rows };
  }

  private recordEnd(end: number): void {
    if (this.headerEnd < 0) {
      this.headerEnd = end;
      return;
    }
    this.rows += 1;
    this.partRows += 1;
    if (this.options.maxRows !== null && this.rows >= this.options.maxRows) {
      this.cut(end);
      this.done = true;
      return;
    }
    if (end - this.partStart >= this.options.partSizeBytes) this.cut(end);
  }

  private cut(end: number): void {
    this.parts.push({ start: this.partStart, end, rows: this.partRows });
    this.partStart = end;
    this.partRows = 0;
  }
}
