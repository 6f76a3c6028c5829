import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { type CsvLayout, CsvRecordScanner } from '../../domain/export-csv-layout.js';

export interface CsvOutputFollowerOptions {
  /** Hash the head of the file: its first part is the file as it is (no gzip, no BOM). */
  hashHead: boolean;
  /** The file starts with a header record. */
  header: boolean;
  /** A part ends at the first record end at or past this many bytes from its start. */
  partSizeBytes: number;
  /** The row cap: the writer may write one row more, which no part takes. Null for none. */
  maxRows: number | null;
  /** Bytes read at a time. Default 4 MiB. */
  chunkBytes?: number;
}

/**
 * Follows a CSV file while another writer (DuckDB's COPY) appends to it, so that nothing needs a second pass over it
 * afterwards: `follow` hashes its head, up to the part size (where the first part ends at the earliest), and, once
 * the file is seen to need cutting (it outgrew the part size, or a row cap may cut it), finds its record boundaries.
 * Bytes both need are read once. When the writer is done, `layout` finishes the cuts and `headSha256` the hash of the
 * first part. Calls must not overlap.
 */
export class CsvOutputFollower {
  private handle: FileHandle | undefined;
  private readonly buffer: Buffer;
  private hash: Hash | undefined;
  private hashed = 0;
  private scanner: CsvRecordScanner | undefined;
  private scanned = 0;

  constructor(
    private readonly path: string,
    private readonly options: CsvOutputFollowerOptions,
  ) {
    if (options.hashHead) this.hash = createHash('sha256');
    this.buffer = Buffer.allocUnsafe(options.chunkBytes ?? 4 * 1024 * 1024);
  }

  /** Takes in what the writer added since the last call. */
  async follow(): Promise<void> {
    const size = await this.size();
    if (size !== undefined) await this.advance(size, () => undefined);
  }

  /**
   * Where the parts start and end, once the writer is done: the file is `size` bytes with `rows` data records (the
   * writer's count, one past the cap when it was cut). Throws when the records found disagree with the count.
   */
  async layout(size: number, rows: number, checkAborted: () => void): Promise<CsvLayout> {
    const { maxRows, partSizeBytes } = this.options;
    const expected = maxRows === null ? rows : Math.min(rows, maxRows);
    if (this.scanner === undefined && expected === rows && size <= partSizeBytes) {
      return { headerEnd: 0, parts: [{ start: 0, end: size, rows }], rows };
    }
    this.scanner ??= this.newScanner();
    await this.advance(size, checkAborted);
    const layout = this.scanner.finish(size);
    if (layout.rows !== expected) {
      throw new Error(`CSV layout found ${layout.rows} records where the writer wrote ${expected}`);
    }
    return layout;
  }

  /** The SHA-256 of the first `end` bytes, once the writer is done (hashed again from the start if it went past). */
  async headSha256(end: number): Promise<string> {
    if (this.hash === undefined || this.hashed > end) {
      this.hash = createHash('sha256');
      this.hashed = 0;
    }
    const hash = this.hash;
    while (this.hashed < end) {
      const length = await this.read(this.hashed, Math.min(this.buffer.length, end - this.hashed));
      if (length === 0) throw new Error(`the file ended at ${this.hashed} bytes, before ${end}`);
      hash.update(this.buffer.subarray(0, length));
      this.hashed += length;
    }
    this.hash = undefined;
    return hash.digest('hex');
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private newScanner(): CsvRecordScanner {
    const { header, partSizeBytes, maxRows } = this.options;
    return new CsvRecordScanner({ header, partSizeBytes, maxRows });
  }

  /** Hashes and scans up to `size` bytes, reading once what both need. */
  private async advance(size: number, checkAborted: () => void): Promise<void> {
    if (this.scanner === undefined && (this.options.maxRows !== null || size > this.options.partSizeBytes)) {
      this.scanner = this.newScanner();
    }
    const hashTo = this.hash === undefined ? 0 : Math.min(size, this.options.partSizeBytes);
    const scanning = (): boolean => this.scanner !== undefined && !this.scanner.complete && this.scanned < size;
    const hashing = (): boolean => this.hash !== undefined && this.hashed < hashTo;
    while (hashing() || scanning()) {
      checkAborted();
      // Read from whichever is behind, and stop a read where the other one stands, so that both advance together.
      const from = Math.min(hashing() ? this.hashed : Number.POSITIVE_INFINITY, scanning() ? this.scanned : size);
      const ends = [size, ...[hashTo, this.hashed, this.scanned].filter((at) => at > from)];
      const length = await this.read(from, Math.min(from + this.buffer.length, ...ends) - from);
      if (length === 0) return;
      const chunk = this.buffer.subarray(0, length);
      if (hashing() && this.hashed === from) {
        this.hash!.update(chunk);
        this.hashed += length;
      }
      if (scanning() && this.scanned === from) {
        this.scanner!.push(chunk);
        this.scanned += length;
      }
    }
  }

  private async size(): Promise<number | undefined> {
    const handle = await this.open();
    return handle === undefined ? undefined : (await handle.stat()).size;
  }

  private async read(position: number, length: number): Promise<number> {
    const handle = await this.open();
    if (handle === undefined) return 0;
    const { bytesRead } = await handle.read(this.buffer, 0, length, position);
    return bytesRead;
  }

  private async open(): Promise<FileHandle | undefined> {
    if (this.handle === undefined) {
      try {
        this.handle = await open(this.path, 'r');
      } catch (err) {
        // The writer has not created it yet.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    }
    return this.handle;
  }
}
