import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { type ExportResultFile, exportResultPrefix } from '../../domain/export-job.js';
import type { ExportCompression } from '../../domain/export-request.js';
import { ExportCancelledError, ExportFailedError } from '../../ports/export-engine.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { partFileName, partPutOptions, UTF8_BOM } from './export-result-files.js';
import { gzipMembers } from './gzip-members.js';

/** Records are handed to the upload in batches of about this size, not one by one. */
const BATCH_BYTES = 256 * 1024;

export interface CsvPartWriterOptions {
  store: ObjectStore;
  jobId: string;
  /** Names the download (`<table>-part-00000.csv`). */
  tableName: string;
  /** The encoded header record, or an empty buffer for none. */
  header: Buffer;
  /** Encoded data records (each with its LF), in output order. */
  records: AsyncIterable<Buffer>;
  bom: boolean;
  compression: ExportCompression;
  /** A part ends at the first record end at or past this many bytes (before BOM, repeated header and gzip). */
  partSizeBytes: number;
  /** Rows to write at most; a further record marks the result truncated. Null for no cap. */
  maxRows: number | null;
  gzipLevel: number;
  gzipBlockBytes: number;
  gzipParallelism: number;
  signal: AbortSignal;
  /** Rows and stored bytes so far, after every batch. */
  onProgress?: (rowsWritten: number, bytesWritten: number) => void;
}

export interface CsvPartsWritten {
  files: ExportResultFile[];
  rows: number;
  /** True when `maxRows` stopped the writer before the records ended. */
  truncated: boolean;
}

/**
 * Streams CSV records into the result parts of an export, `results/<job-id>/part-00000.csv[.gz]`, ..., cut exactly where
 * the DuckDB engine cuts its output: part 0 holds the header and ends at the first record end at or past
 * `partSizeBytes` bytes from the start of the CSV; every later part starts with the header again (not counted
 * toward its size) and ends the same way; each part starts with the BOM when asked, and is gzipped as a series of
 * members when asked. No part is left empty except the only one. Each part is hashed as it is uploaded; nothing is
 * held in memory beyond a batch and the gzip members in flight.
 *
 * Aborting the signal stops the upload and rejects with ExportCancelledError; a store failure is STORAGE_ERROR.
 * Parts already uploaded stay: the caller removes the job's output on failure.
 */
export async function writeCsvParts(options: CsvPartWriterOptions): Promise<CsvPartsWritten> {
  const { header, signal, maxRows } = options;
  const gzip = options.compression === 'GZIP';
  const records = options.records[Symbol.asyncIterator]();
  let next: IteratorResult<Buffer> | undefined;
  let rows = 0;
  let bytesWritten = 0;
  const files: ExportResultFile[] = [];
  const capped = (): boolean => maxRows !== null && rows >= maxRows;
  // A failure of the record source (a parse or engine error) surfaces through the upload; keep it apart.
  let sourceFailure: { error: unknown } | undefined;
  const advance = async (): Promise<IteratorResult<Buffer>> => {
    try {
      return await records.next();
    } catch (err) {
      sourceFailure = { error: err };
      throw err;
    }
  };
  try {
    next = await records.next();
    for (let index = 0; index === 0 || (!next.done && !capped()); index++) {
      checkAborted(signal);
      const name = partFileName(index, gzip);
      const key = `${exportResultPrefix(options.jobId)}${name}`;
      let partRows = 0;
      // Part sizes are measured as the DuckDB engine measures them: in CSV bytes, the first part's header included.
      let partBytes = index === 0 ? header.length : 0;
      const raw = async function* (): AsyncGenerator<Buffer> {
        if (options.bom) yield UTF8_BOM;
        if (header.length > 0) yield header;
        let batch: Buffer[] = [];
        let batchBytes = 0;
        while (!next!.done && !capped()) {
          const record = next!.value;
          batch.push(record);
          batchBytes += record.length;
          partBytes += record.length;
          rows += 1;
          partRows += 1;
          next = await advance();
          if (batchBytes >= BATCH_BYTES) {
            yield Buffer.concat(batch, batchBytes);
            batch = [];
            batchBytes = 0;
          }
          if (partBytes >= options.partSizeBytes) break;
        }
        if (batchBytes > 0) yield Buffer.concat(batch, batchBytes);
      };
      const body = gzip
        ? gzipMembers(raw(), options.gzipLevel, options.gzipBlockBytes, options.gzipParallelism)
        : raw();
      const hash = createHash('sha256');
      let stored = 0;
      const counted = async function* (): AsyncGenerator<Buffer> {
        for await (const chunk of body) {
          checkAborted(signal);
          hash.update(chunk);
          stored += chunk.length;
          bytesWritten += chunk.length;
          options.onProgress?.(rows, bytesWritten);
          yield chunk;
        }
      };
      try {
        await options.store.put(
          'exports',
          key,
          Readable.from(counted(), { objectMode: false }),
          partPutOptions(options.tableName, name, gzip),
        );
      } catch (err) {
        if (err instanceof ExportCancelledError || signal.aborted) throw new ExportCancelledError();
        if (sourceFailure !== undefined) throw sourceFailure.error;
        throw new ExportFailedError('STORAGE_ERROR', 'the export result could not be stored', { cause: err });
      }
      files.push({ name, key, rowCount: partRows, bytes: stored, sha256: hash.digest('hex') });
    }
    return { files, rows, truncated: capped() && next !== undefined && !next.done };
  } finally {
    // Stop the source (and whatever stream feeds it) when the writer ends early: cap, cancel or failure.
    if (next === undefined || !next.done) await records.return?.().catch(() => undefined);
  }
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new ExportCancelledError();
}
