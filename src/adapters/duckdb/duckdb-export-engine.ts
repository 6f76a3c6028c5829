import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type CsvLayout, CsvRecordScanner } from '../../domain/export-csv-layout.js';
import type { ExportJobResult, ExportResultFile } from '../../domain/export-job.js';
import type { ExportPlan, PlannedFile } from '../../domain/export-plan.js';
import { compileCsvCopy, compileExportQuery, type QueryFile } from '../../domain/export-sql.js';
import type { ExportEngine, ExportRunOptions } from '../../ports/export-engine.js';
import { ExportCancelledError, ExportFailedError } from '../../ports/export-engine.js';
import type { Logger } from '../../ports/logger.js';
import { ObjectNotFoundError, type ObjectStore } from '../../ports/object-store.js';
import { gzipMembers } from '../csv/gzip-members.js';
import {
  partFileName,
  partPutOptions,
  removeExportOutput,
  UTF8_BOM,
  writeExportManifest,
} from '../csv/export-result-files.js';
import type { DuckDbDatabase } from './duckdb-database.js';

const READ_CHUNK = 1024 * 1024;
const SCAN_CHUNK = 4 * 1024 * 1024;
/** Share of the progress fraction for the query; the rest is for writing the parts. */
const QUERY_SHARE = 0.9;

export interface DuckDbExportEngineOptions {
  /** Local folder for staged inputs and DuckDB's output; one sub-folder per job, removed when the job ends. */
  stagingDir: string;
  /**
   * Target size of one result file, before compression; parts end on record boundaries. Default 1 GiB (as
   * BigQuery's exports): a result of one part is DuckDB's file as written, copied and hashed while written; more
   * parts are cut and rewritten through Node, which costs about three times a file copy.
   */
  partSizeBytes?: number;
  /** gzip level, 1 (fastest) to 9 (smallest). Default 6, gzip's own default. */
  gzipLevel?: number;
  /** Uncompressed bytes per gzip member; members are compressed in parallel. Default 8 MiB. */
  gzipBlockBytes?: number;
  /** gzip members compressed at once. Default: the machine's parallelism. */
  gzipParallelism?: number;
  /** Objects staged at once from a remote store. Default 4. */
  stagingConcurrency?: number;
  /** How often progress is reported while a job runs, in ms. Default 250. */
  progressIntervalMs?: number;
  logger?: Logger;
}

/**
 * The embedded export engine: DuckDB reads the planned Parquet files (local paths; objects of a remote store are
 * staged first, only the pruned ones) and writes CSV with its own writer in one `COPY`. Node then cuts the output
 * into parts on record boundaries, adds a BOM and repeated headers where asked, gzips in parallel members,
 * hashes, and uploads each part; `manifest.json` goes last.
 *
 * Give the engine its own DuckDB instance: it turns `preserve_insertion_order` off for the whole instance
 * (peak memory stays flat with size; order still holds wherever the query has ORDER BY) and pins the time zone
 * to UTC, so timestamps with time zone are written in UTC.
 */
export class DuckDbExportEngine implements ExportEngine {
  readonly kind = 'duckdb' as const;
  private readonly partSizeBytes: number;
  private readonly gzipLevel: number;
  private readonly gzipBlockBytes: number;
  private readonly gzipParallelism: number;
  private readonly stagingConcurrency: number;
  private readonly progressIntervalMs: number;

  private constructor(
    private readonly db: DuckDbDatabase,
    private readonly store: ObjectStore,
    private readonly options: DuckDbExportEngineOptions,
  ) {
    this.partSizeBytes = options.partSizeBytes ?? 1024 * 1024 * 1024;
    this.gzipLevel = options.gzipLevel ?? 6;
    this.gzipBlockBytes = options.gzipBlockBytes ?? 8 * 1024 * 1024;
    this.gzipParallelism = options.gzipParallelism ?? availableParallelism();
    this.stagingConcurrency = options.stagingConcurrency ?? 4;
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
  }

  static async create(
    db: DuckDbDatabase,
    store: ObjectStore,
    options: DuckDbExportEngineOptions,
  ): Promise<DuckDbExportEngine> {
    await db.withConnection(async (connection) => {
      await connection.run('SET GLOBAL preserve_insertion_order = false');
      await connection.run("SET GLOBAL TimeZone = 'UTC'");
    });
    await mkdir(options.stagingDir, { recursive: true });
    return new DuckDbExportEngine(db, store, options);
  }

  async run(job: { id: string }, plan: ExportPlan, options: ExportRunOptions): Promise<ExportJobResult> {
    const { signal } = options;
    const dir = join(this.options.stagingDir, job.id);
    const log = this.options.logger?.child({ jobId: job.id, dataset: plan.table.name });
    const progress = throttled(options.onProgress, this.progressIntervalMs);
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'out'), { recursive: true });
    let inputs: StagedFile[] = [];
    let follower: FileHasher | undefined;
    try {
      checkAborted(signal);
      inputs = await this.stageInputs(plan, join(dir, 'input'), signal);
      checkAborted(signal);
      const out = join(dir, 'out', 'result.csv');
      const limit = plan.effectiveLimit;
      // One row past the cap tells a cut-off result from one that fits exactly, without a second query.
      const query = compileExportQuery(plan.request, plan.table, inputs, { limit: limit === null ? null : limit + 1 });
      const copy = compileCsvCopy(query, out, plan.request.csv);
      const rowsEstimated = Math.min(plan.estimate.rows, limit ?? Number.POSITIVE_INFINITY);
      // DuckDB appends to its output in order: hash it while it is written, for when it is the result as it is.
      follower = new FileHasher(out);
      const count = await this.copy(copy, join(dir, 'out'), signal, follower, (fraction, bytes) =>
        progress({
          rowsWritten: Math.round(fraction * rowsEstimated),
          bytesWritten: bytes,
          fraction: fraction * QUERY_SHARE,
        }),
      );
      checkAborted(signal);
      const truncated = limit !== null && count > limit;
      const size = (await stat(out)).size;
      const layout = await this.layout(out, size, count, truncated ? limit : null, plan, signal);
      const files = await this.writeParts(
        job.id,
        out,
        size,
        layout,
        plan,
        signal,
        follower,
        (bytesRead, bytesWritten) =>
          progress({
            rowsWritten: Math.min(count, limit ?? count),
            bytesWritten,
            fraction: QUERY_SHARE + (1 - QUERY_SHARE) * (size === 0 ? 1 : bytesRead / size),
          }),
      );
      // The manifest marks the result complete: never write it for a job cancelled during the upload.
      checkAborted(signal);
      const result = await writeExportManifest(this.store, job.id, plan, files, truncated);
      progress.flush({ rowsWritten: result.rowCount, bytesWritten: result.bytes, fraction: 1 });
      return result;
    } catch (err) {
      const mapped = this.mapError(err, signal, inputs, plan);
      if (!(mapped instanceof ExportCancelledError)) {
        log?.warn('export engine failed', {
          code: mapped.code,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      await removeExportOutput(this.store, job.id).catch((cleanupErr: unknown) =>
        log?.error('could not remove partial export output', { error: String(cleanupErr) }),
      );
      throw mapped;
    } finally {
      progress.cancel();
      await follower?.close();
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Local paths of the planned files, checked against the ETags seen at planning time. */
  private async stageInputs(plan: ExportPlan, inputDir: string, signal: AbortSignal): Promise<StagedFile[]> {
    const location = plan.table.location.endsWith('/') ? plan.table.location : `${plan.table.location}/`;
    return mapLimit(plan.files, this.stagingConcurrency, async (file) => {
      checkAborted(signal);
      const local = this.store.localPath('processed', file.key);
      let path: string;
      let etag: string | undefined;
      try {
        if (local !== undefined) {
          path = local;
          etag = (await this.store.head('processed', file.key))?.etag;
        } else {
          // Keep the key's folders below the table location: DuckDB reads partition values from them.
          path = join(inputDir, ...file.key.slice(location.length).split('/'));
          etag = (await this.store.getFile('processed', file.key, path)).etag;
        }
      } catch (err) {
        if (err instanceof ObjectNotFoundError) etag = undefined;
        else throw new ExportFailedError('STORAGE_ERROR', 'the dataset files could not be read', { cause: err });
        path = '';
      }
      if (etag !== file.etag) {
        throw new ExportFailedError(
          'DATA_CHANGED',
          `dataset "${plan.table.name}" changed after the export was requested; request it again`,
        );
      }
      return { path, partitionValues: file.partitionValues, file };
    });
  }

  /** Runs the COPY, reporting the query's progress; aborting the signal interrupts the connection. Returns rows written. */
  private async copy(
    copy: { sql: string; params: string[] },
    outDir: string,
    signal: AbortSignal,
    follower: FileHasher,
    report: (fraction: number, bytes: number) => void,
  ): Promise<number> {
    return this.db.withConnection(async (connection) => {
      await connection.run('SET enable_progress_bar = true');
      await connection.run('SET enable_progress_bar_print = false');
      const interrupt = (): void => connection.interrupt();
      signal.addEventListener('abort', interrupt, { once: true });
      const timer = setInterval(() => {
        void this.pollProgress(connection, outDir).then(
          ({ fraction, bytes }) => report(fraction, bytes),
          () => undefined,
        );
      }, this.progressIntervalMs);
      let running = true;
      const following = (async (): Promise<void> => {
        while (running) {
          await follower.advance();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      try {
        checkAborted(signal);
        const reader = await connection.runAndReadAll(copy.sql, copy.params);
        const first = reader.getRows()[0]?.[0];
        return Number(first ?? 0);
      } finally {
        running = false;
        clearInterval(timer);
        signal.removeEventListener('abort', interrupt);
        await following.catch(() => undefined);
      }
    });
  }

  private async pollProgress(
    connection: DuckDBConnection,
    outDir: string,
  ): Promise<{ fraction: number; bytes: number }> {
    const percentage = connection.progress.percentage;
    let bytes = 0;
    for (const name of await readdir(outDir)) {
      bytes += (await stat(join(outDir, name)).catch(() => ({ size: 0 }))).size;
    }
    return { fraction: percentage >= 0 ? Math.min(1, percentage / 100) : 0, bytes };
  }

  /** Where the parts start and end. Scans the CSV only when it must be cut (size or row cap). */
  private async layout(
    out: string,
    size: number,
    count: number,
    maxRows: number | null,
    plan: ExportPlan,
    signal: AbortSignal,
  ): Promise<CsvLayout> {
    if (maxRows === null && size <= this.partSizeBytes) {
      return { headerEnd: 0, parts: [{ start: 0, end: size, rows: count }], rows: count };
    }
    const scanner = new CsvRecordScanner({
      header: plan.request.csv.header,
      partSizeBytes: this.partSizeBytes,
      maxRows,
    });
    for await (const chunk of createReadStream(out, { highWaterMark: SCAN_CHUNK })) {
      checkAborted(signal);
      scanner.push(chunk as Buffer);
      if (scanner.complete) break;
    }
    const layout = scanner.finish(size);
    const expected = maxRows ?? count;
    if (layout.rows !== expected) {
      throw new Error(`CSV layout found ${layout.rows} records where DuckDB wrote ${expected}`);
    }
    return layout;
  }

  private async writeParts(
    jobId: string,
    out: string,
    size: number,
    layout: CsvLayout,
    plan: ExportPlan,
    signal: AbortSignal,
    follower: FileHasher,
    report: (bytesRead: number, bytesWritten: number) => void,
  ): Promise<ExportResultFile[]> {
    const { csv, compression } = plan.request;
    const gzip = compression === 'GZIP';
    const header = csv.header && layout.headerEnd > 0 ? await readRange(out, 0, layout.headerEnd) : Buffer.alloc(0);
    let bytesRead = 0;
    let bytesWritten = 0;
    const files: ExportResultFile[] = [];
    for (const [index, part] of layout.parts.entries()) {
      checkAborted(signal);
      const name = partFileName(index, gzip);
      const key = `${jobId}/${name}`;
      const put = partPutOptions(plan.table.name, name, gzip);
      const identity = !gzip && !csv.bom && part.start === 0 && part.end === size;
      let sha256: string;
      let bytes: number;
      try {
        if (identity) {
          // The part is DuckDB's file as it is: upload it while the hash catches up with its last bytes.
          const [, digest] = await Promise.all([this.store.putFile('exports', key, out, put), follower.finish()]);
          sha256 = digest;
          bytes = size;
          bytesRead += size;
          bytesWritten += size;
          report(bytesRead, bytesWritten);
        } else {
          const hash = createHash('sha256');
          let partBytes = 0;
          const raw = async function* (): AsyncGenerator<Buffer> {
            if (csv.bom) yield UTF8_BOM;
            if (index > 0 && header.length > 0) yield header;
            for await (const chunk of readChunks(out, part.start, part.end)) {
              bytesRead += chunk.length;
              yield chunk;
            }
          };
          const body = gzip ? gzipMembers(raw(), this.gzipLevel, this.gzipBlockBytes, this.gzipParallelism) : raw();
          const final = async function* (): AsyncGenerator<Buffer> {
            for await (const chunk of body) {
              checkAborted(signal);
              hash.update(chunk);
              partBytes += chunk.length;
              bytesWritten += chunk.length;
              report(bytesRead, bytesWritten);
              yield chunk;
            }
          };
          await this.store.put('exports', key, Readable.from(final(), { objectMode: false }), put);
          sha256 = hash.digest('hex');
          bytes = partBytes;
        }
      } catch (err) {
        if (err instanceof ExportCancelledError || signal.aborted) throw new ExportCancelledError();
        throw new ExportFailedError('STORAGE_ERROR', 'the export result could not be stored', { cause: err });
      }
      files.push({ name, key, rowCount: part.rows, bytes, sha256 });
    }
    return files;
  }

  /** A client-safe failure: DuckDB's messages name local paths and SQL, so they go to the log only. */
  private mapError(
    err: unknown,
    signal: AbortSignal,
    inputs: StagedFile[],
    plan: ExportPlan,
  ): ExportFailedError | ExportCancelledError {
    if (err instanceof ExportCancelledError) return err;
    if (signal.aborted) return new ExportCancelledError();
    if (err instanceof ExportFailedError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const bad = inputs.find((i) => i.path !== '' && message.includes(i.path));
    if (bad !== undefined) {
      const where = Object.entries(bad.file.partitionValues)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      return new ExportFailedError(
        'DATA_CORRUPT',
        `a data file of dataset "${plan.table.name}"${where === '' ? '' : ` (partition ${where})`} is not readable Parquet`,
        { cause: err },
      );
    }
    if (/No files found/i.test(message)) {
      return new ExportFailedError(
        'DATA_CHANGED',
        `dataset "${plan.table.name}" changed after the export was requested; request it again`,
        { cause: err },
      );
    }
    if (/out of memory|could not allocate|no space left/i.test(message)) {
      return new ExportFailedError('ENGINE_ERROR', 'the query engine ran out of memory or disk space', { cause: err });
    }
    return new ExportFailedError('ENGINE_ERROR', 'the query engine failed', { cause: err });
  }
}

interface StagedFile extends QueryFile {
  file: PlannedFile;
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new ExportCancelledError();
}

/** Calls `fn` at most once per interval with the latest value; `flush` reports at once, `cancel` drops what is pending. */
function throttled<T>(
  fn: (value: T) => void,
  intervalMs: number,
): ((value: T) => void) & { flush(value: T): void; cancel(): void } {
  let last = 0;
  let pending: T | undefined;
  let timer: NodeJS.Timeout | undefined;
  const emit = (value: T): void => {
    last = Date.now();
    pending = undefined;
    fn(value);
  };
  const call = (value: T): void => {
    const wait = last + intervalMs - Date.now();
    if (wait <= 0) {
      emit(value);
      return;
    }
    pending = value;
    timer ??= setTimeout(() => {
      timer = undefined;
      if (pending !== undefined) emit(pending);
    }, wait);
  };
  return Object.assign(call, {
    flush(value: T): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      emit(value);
    },
    cancel(): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  });
}

async function* readChunks(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end <= start) return;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: READ_CHUNK })) {
    yield chunk as Buffer;
  }
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readChunks(path, start, end)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * SHA-256 of a file that another writer appends to: `advance` hashes what was added since the last call,
 * `finish` the rest once the writer is done. Calls must not overlap.
 */
class FileHasher {
  private readonly hash = createHash('sha256');
  private handle: FileHandle | undefined;
  private offset = 0;
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK * 4);

  constructor(private readonly path: string) {}

  async advance(): Promise<void> {
    if (this.handle === undefined) {
      try {
        this.handle = await open(this.path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
    const size = (await this.handle.stat()).size;
    while (this.offset < size) {
      const { bytesRead } = await this.handle.read(
        this.buffer,
        0,
        Math.min(this.buffer.length, size - this.offset),
        this.offset,
      );
      if (bytesRead === 0) break;
      this.hash.update(this.buffer.subarray(0, bytesRead));
      this.offset += bytesRead;
    }
  }

  async finish(): Promise<string> {
    try {
      await this.advance();
      return this.hash.digest('hex');
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** Maps with at most `limit` calls in flight, keeping the input order; stops starting new calls after a failure. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
