import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** What the `export` benchmark compares between our CSV and the baseline's. */
export interface CsvDigest {
  /** The header record, without its line end. */
  header: string;
  /** Data records (the header of each part not counted). */
  records: number;
  /** Bytes of the CSV as one file: the header once, then every part's records in order (uncompressed). */
  csvBytes: number;
  /** SHA-256 of those bytes: equal when the two files are byte for byte the same. */
  ordered: string;
  /**
   * Order-free digest of the data records: the sums (mod 2^32) of the five 32-bit words of each record's SHA-1,
   * in hex. Equal when both hold the same records byte for byte, in any order (the engine does not keep insertion
   * order unless a request sorts).
   */
  multiset: string;
}

/**
 * Digests a CSV given as its parts in order (each starting with the same header record), gzipped or not (a gzip
 * part may be several members). Records are split on line ends outside double quotes (RFC 4180, `"` escaped as
 * `""`), so a newline inside a quoted cell stays in its record.
 */
export async function digestCsv(parts: readonly string[], gzip: boolean): Promise<CsvDigest> {
  const ordered = createHash('sha256');
  const sums = new Uint32Array(5);
  let header: Buffer | undefined;
  let records = 0;
  let csvBytes = 0;
  for (const [index, path] of parts.entries()) {
    let first = true;
    const onRecord = (record: Buffer): void => {
      if (first) {
        first = false;
        if (header === undefined) {
          header = record;
        } else {
          if (!record.equals(header)) throw new Error(`${path} starts with another header than the first part`);
          return;
        }
      } else {
        records += 1;
        const words = createHash('sha1').update(record).digest();
        for (let w = 0; w < 5; w++) sums[w] = sums[w]! + words.readUInt32BE(w * 4);
      }
      ordered.update(record);
      csvBytes += record.length;
    };
    const splitter = new RecordSplitter(onRecord);
    const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) splitter.push(chunk);
      splitter.end();
    };
    if (gzip) await pipeline(createReadStream(path), createGunzip(), consume);
    else await pipeline(createReadStream(path), consume);
    if (first && index === 0) throw new Error(`${path} is empty: expected at least a header`);
  }
  return {
    header: (header ?? Buffer.alloc(0)).toString('utf8').replace(/\r?\n$/, ''),
    records,
    csvBytes,
    ordered: ordered.digest('hex'),
    multiset: [...sums].map((s) => s.toString(16).padStart(8, '0')).join(''),
  };
}

/** Cuts a byte stream into CSV records (each with its line end), tracking double quotes across chunks. */
class RecordSplitter {
  private carry: Buffer[] = [];
  private inQuotes = false;

  constructor(private readonly onRecord: (record: Buffer) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0x22) this.inQuotes = !this.inQuotes;
      else if (b === 0x0a && !this.inQuotes) {
        this.emit(chunk.subarray(start, i + 1));
        start = i + 1;
      }
    }
    if (start < chunk.length) this.carry.push(chunk.subarray(start));
  }

  end(): void {
    if (this.carry.length > 0) this.emit(Buffer.alloc(0));
  }

  private emit(tail: Buffer): void {
    const record = this.carry.length === 0 ? tail : Buffer.concat([...this.carry, tail]);
    this.carry = [];
    this.onRecord(record);
  }
}
