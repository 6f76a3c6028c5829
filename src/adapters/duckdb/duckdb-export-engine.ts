import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, rmdir, stat, truncate } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CsvLayout } from '../../domain/export-csv-layout.js';
import {
  assertExportJobId,
  type ExportJobResult,
  type ExportResultFile,
  exportResultPrefix,
} from '../../domain/export-job.js';
import type { ExportPlan, PlannedFile } from '../../domain/export-plan.js';
import { compileCsvCopy, compileExportQuery, type QueryFile } from '../../domain/export-sql.js';
import { describeError } from '../../domain/errors.js';
import { type MaskKeySource, maskKeyFor } from '../../domain/mask-key.js';
import type { ExportEngine, ExportRunOptions } from '../../ports/export-engine.js';
import { ExportCancelledError, ExportFailedError } from '../../ports/export-engine.js';
import { resourceExhaustion } from '../../domain/resource-exhaustion.js';
import type { Logger } from '../../ports/logger.js';
import { ObjectNotFoundError, type ObjectStore } from '../../ports/object-store.js';
import { CsvOutputFollower } from '../csv/csv-output-follower.js';
import { gzipMembers } from '../csv/gzip-members.js';
import {
  partFileName,
  partPutOptions,
  removeExportOutput,
  UTF8_BOM,
  writeExportManifest,
} from '../csv/export-result-files.js';
import type { DuckDbDatabase } from './duckdb-database.js';
import { runPool } from '../../domain/run-pool.js';

const READ_CHUNK = 1024 * 1024;
/** Files of a local store whose ETags are checked at once before the query. */
const LOCAL_CHECK_CONCURRENCY = 64;
/** How often DuckDB's output is followed (hashed, cut into parts) while the query runs, in ms. */
const FOLLOW_INTERVAL_MS = 20;
/** When the first progress report of a query is taken, in ms (then every `progressIntervalMs`). */
const FIRST_PROGRESS_MS = 50;
/** Share of the progress fraction for the query; the rest is for writing the parts. */
const QUERY_SHARE = 0.9;
/**
 * DuckDB's errors on Parquet pages that do not decode (the Thrift page header, the compressed data), which name no
 * file: "Invalid Error: invalid TType", "Invalid Error: don't know what type: ...", "Invalid Error: TProtocolException:
 * Invalid data" (seen with bytes of a page header overwritten), and the decompressors' failures.
 */
const PAGE_DECODE_ERROR =
  /TProtocolException|TTransportException|invalid TType|don't know what type|decompress(ion)? fail|corrupt/i;

export interface DuckDbExportEngineOptions {
  /** Local folder for staged inputs and DuckDB's output; one sub-folder per job, removed when the job ends. */
  stagingDir: string;
  /**
   * Target size of one result file, before compression; parts end on record boundaries. Default 1 GiB (as
   * BigQuery's exports). Without gzip and BOM the first part is DuckDB's file as written (hashed while written, then
   * moved into place), and only later parts are copied out through Node.
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
  /** The deployment's key for `hash` masks (mask-key.ts), resolved when a job masks a column by hash. */
  maskKey?: MaskKeySource;
  logger?: Logger;
}

/**
 * The embedded export engine: DuckDB reads the planned Parquet files (local paths; objects of a remote store are
 * staged first, only the pruned ones) and writes CSV with its own writer in one `COPY`. Node then cuts the output
 * into parts on record boundaries, adds a BOM and repeated headers where asked, gzips in parallel members,
 * hashes, and stores each part; `manifest.json` goes last. Plain CSV is not rewritten: the first part is DuckDB's
 * file itself, hashed while DuckDB writes it and moved into place (a local store renames it).
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

  async discard(jobId: string): Promise<void> {
    assertExportJobId(jobId);
    await rm(join(this.options.stagingDir, jobId), { recursive: true, force: true });
  }

  async run(job: { id: string }, plan: ExportPlan, options: ExportRunOptions): Promise<ExportJobResult> {
    const { signal } = options;
    // A folder of this run's own under the job's: a run of the same job in another process on the same lake (one that
    // took this one's jobs over) has another, so neither removes the other's files.
    const jobDir = join(this.options.stagingDir, job.id);
    const dir = join(jobDir, randomBytes(6).toString('hex'));
    const log = this.options.logger?.child({ jobId: job.id, dataset: plan.table.name });
    const progress = throttled(options.onProgress, this.progressIntervalMs);
    await mkdir(join(dir, 'out'), { recursive: true });
    let inputs: StagedFile[] = [];
    let follower: CsvOutputFollower | undefined;
    const phases = new PhaseClock();
    try {
      checkAborted(signal);
      // Before staging: a key that cannot be had fails the job before any input is downloaded.
      const maskKey = await maskKeyFor(plan.request.columns, this.options.maskKey);
      inputs = await this.stageInputs(plan, join(dir, 'input'), signal);
      phases.mark('stageMs');
      checkAborted(signal);
      const out = join(dir, 'out', 'result.csv');
      const limit = plan.effectiveLimit;
      // One row past the cap tells a cut-off result from one that fits exactly, without a second query.
      const query = compileExportQuery(plan.request, plan.table, inputs, {
        limit: limit === null ? null : limit + 1,
        ...(maskKey !== undefined ? { maskKey } : {}),
        // Matching columns by name makes DuckDB read every footer before it starts; needed only when they differ.
        unionByName: plan.uniformSchema !== true,
        // Columns added after every planned file was written: typed NULLs, as Athena reads them from the catalog.
        missingColumns: plan.missingColumns ?? [],
        nanosecondColumns: plan.nanosecondColumns ?? [],
      });
      const copy = compileCsvCopy(query, out, plan.request.csv);
      const rowsEstimated = Math.min(plan.estimate.rows, limit ?? Number.POSITIVE_INFINITY);
      // DuckDB appends to its output in order: follow it while it is written, so that neither the hash of the first
      // part nor the cuts between parts take a pass over it afterwards. Without gzip and BOM the first part is the
      // head of that file as it is; otherwise every part is hashed as it is written, and hashing DuckDB's file too
      // would only take CPU from the query.
      const inPlace = plan.request.compression !== 'GZIP' && !plan.request.csv.bom;
      follower = new CsvOutputFollower(out, {
        hashHead: inPlace,
        header: plan.request.csv.header,
        partSizeBytes: this.partSizeBytes,
        maxRows: limit,
      });
      const count = await this.copy(copy, join(dir, 'out'), signal, follower, (fraction, bytes) =>
        progress({
          rowsWritten: Math.round(fraction * rowsEstimated),
          bytesWritten: bytes,
          fraction: fraction * QUERY_SHARE,
        }),
      );
      phases.mark('queryMs');
      checkAborted(signal);
      const truncated = limit !== null && count > limit;
      const size = (await stat(out)).size;
      const layout = await follower.layout(size, count, () => checkAborted(signal));
      phases.mark('layoutMs');
      const files = await this.writeParts(
        job.id,
        out,
        size,
        layout,
        plan,
        signal,
        inPlace ? follower : undefined,
        (bytesRead, bytesWritten) =>
          progress({
            rowsWritten: Math.min(count, limit ?? count),
            bytesWritten,
            fraction: QUERY_SHARE + (1 - QUERY_SHARE) * (size === 0 ? 1 : bytesRead / size),
          }),
      );
      phases.mark('partsMs');
      // The manifest marks the result complete: never write it for a job cancelled during the upload.
      checkAborted(signal);
      const result = await writeExportManifest(this.store, job.id, plan, files, truncated);
      phases.mark('manifestMs');
      log?.info('export engine finished', { rows: result.rowCount, bytes: result.bytes, ...phases.totals() });
      progress.flush({ rowsWritten: result.rowCount, bytesWritten: result.bytes, fraction: 1 });
      return result;
    } catch (err) {
      let mapped = this.mapError(err, signal, inputs, plan);
      // A file of the lake folder deleted or replaced after staging checked it (a compaction or an ingest committing
      // as DuckDB opened it) reads as a missing or broken file: the dataset changed, the job is planned again.
      if (mapped instanceof ExportFailedError && mapped.code === 'DATA_CORRUPT' && (await this.inputsChanged(inputs))) {
        mapped = new ExportFailedError(
          'DATA_CHANGED',
          `dataset "${plan.table.name}" changed after the export was requested; request it again`,
          { cause: err },
        );
      }
      if (!(mapped instanceof ExportCancelledError)) {
        // With its causes: a wrapped failure's own message (`the export result could not be stored`) is the client's;
        // the operator needs why (`ENOSPC: no space left on device`).
        log?.warn('export engine failed', { code: mapped.code, error: describeError(err) });
      }
      // Restarted by another run meanwhile: the job's prefix holds that run's output now.
      if (await (options.ownsOutput?.() ?? Promise.resolve(true)).catch(() => false)) {
        await removeExportOutput(this.store, job.id).catch((cleanupErr: unknown) =>
          log?.error('could not remove partial export output', { error: String(cleanupErr) }),
        );
      }
      throw mapped;
    } finally {
      progress.cancel();
      await follower?.close();
      await rm(dir, { recursive: true, force: true });
      // The job's folder goes with its last run (another's run keeps it).
      await rmdir(jobDir).catch(() => undefined);
    }
  }

  /**
   * Local paths of the planned files, checked against the ETags seen at planning time. The files that statistics
   * pruned (in `plan.partitionFiles`, not in `plan.files`) are neither read nor checked: as planned they held no row of
   * the result, so the result is the planned data version's whether they changed since or not (as for a file added
   * since the plan, the service's check before the run plans a job again on the dataset as it is then).
   */
  private async stageInputs(plan: ExportPlan, inputDir: string, signal: AbortSignal): Promise<StagedFile[]> {
    const location = plan.table.location.endsWith('/') ? plan.table.location : `${plan.table.location}/`;
    // Files of a local store are only checked (a stat each), not copied: many at once cost nothing.
    const first = plan.files[0];
    const localStore = first !== undefined && this.store.localPath('processed', first.key) !== undefined;
    return runPool(plan.files, localStore ? LOCAL_CHECK_CONCURRENCY : this.stagingConcurrency, async (file) => {
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
    follower: CsvOutputFollower,
    report: (fraction: number, bytes: number) => void,
  ): Promise<number> {
    return this.db.withConnection(async (connection) => {
      await connection.run('SET enable_progress_bar = true');
      await connection.run('SET enable_progress_bar_print = false');
      const interrupt = (): void => connection.interrupt();
      signal.addEventListener('abort', interrupt, { once: true });
      let running = true;
      // Progress never goes back: DuckDB says -1 (none) once the query's last pipeline is done but before its result
      // reaches us, a window that another query on the engine's threads makes long enough to be polled in; that is
      // "no news", not 0. A poll still reading the folder when the query returns is dropped, as the parts' progress
      // may have been reported by the time it resolves.
      let best = 0;
      const poll = (): void => {
        void this.pollProgress(connection, outDir).then(
          ({ fraction, bytes }) => {
            if (!running) return;
            best = Math.max(best, fraction ?? 0);
            report(best, bytes);
          },
          () => undefined,
        );
      };
      // A first report soon after the start, so a client sees the job move before a whole interval has passed.
      const first = setTimeout(poll, Math.min(FIRST_PROGRESS_MS, this.progressIntervalMs));
      const timer = setInterval(poll, this.progressIntervalMs);
      const following = (async (): Promise<void> => {
        while (running) {
          await follower.follow();
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
        }
      })();
      try {
        checkAborted(signal);
        const reader = await connection.runAndReadAll(copy.sql, copy.params);
        const first = reader.getRows()[0]?.[0];
        return Number(first ?? 0);
      } finally {
        running = false;
        clearTimeout(first);
        clearInterval(timer);
        signal.removeEventListener('abort', interrupt);
        await following.catch(() => undefined);
      }
    });
  }

  private async pollProgress(
    connection: DuckDBConnection,
    outDir: string,
  ): Promise<{ fraction: number | undefined; bytes: number }> {
    // -1 when DuckDB has no progress to tell (before the first pipeline starts, after the last one ends).
    const percentage = connection.progress.percentage;
    let bytes = 0;
    for (const name of await readdir(outDir)) {
      bytes += (await stat(join(outDir, name)).catch(() => ({ size: 0 }))).size;
    }
    return { fraction: percentage >= 0 ? Math.min(1, percentage / 100) : undefined, bytes };
  }

  /**
   * Stores the parts. Without gzip and BOM the first part is the head of DuckDB's file as it is: the later parts are
   * copied out first (the header, then their byte range), then the file is cut after the first part and handed to
   * the store, which moves it into place (local) or uploads it (S3), its hash mostly taken while DuckDB wrote it.
   * Otherwise every part is streamed through Node: BOM, repeated header, gzip members, hashed as it is stored.
   */
  private async writeParts(
    jobId: string,
    out: string,
    size: number,
    layout: CsvLayout,
    plan: ExportPlan,
    signal: AbortSignal,
    inPlace: CsvOutputFollower | undefined,
    report: (bytesRead: number, bytesWritten: number) => void,
  ): Promise<ExportResultFile[]> {
    const { csv, compression } = plan.request;
    const gzip = compression === 'GZIP';
    const header = csv.header && layout.headerEnd > 0 ? await readRange(out, 0, layout.headerEnd) : Buffer.alloc(0);
    let bytesRead = 0;
    let bytesWritten = 0;
    const files: ExportResultFile[] = new Array<ExportResultFile>(layout.parts.length);
    const store = async (index: number, write: () => Promise<{ sha256: string; bytes: number }>): Promise<void> => {
      checkAborted(signal);
      const part = layout.parts[index]!;
      const name = partFileName(index, gzip);
      try {
        const { sha256, bytes } = await write();
        files[index] = { name, key: `${exportResultPrefix(jobId)}${name}`, rowCount: part.rows, bytes, sha256 };
      } catch (err) {
        if (err instanceof ExportCancelledError || signal.aborted) throw new ExportCancelledError();
        throw new ExportFailedError('STORAGE_ERROR', 'the export result could not be stored', { cause: err });
      }
    };
    const streamed = async (index: number): Promise<{ sha256: string; bytes: number }> => {
      const part = layout.parts[index]!;
      const name = partFileName(index, gzip);
      const hash = createHash('sha256');
      let partBytes = 0;
      // gzip copies what it takes into blocks of its own, so its input is read into one reused buffer (no garbage).
      const chunks = gzip ? readReused(out, part.start, part.end) : readChunks(out, part.start, part.end);
      const raw = async function* (): AsyncGenerator<Buffer> {
        if (csv.bom) yield UTF8_BOM;
        if (index > 0 && header.length > 0) yield header;
        for await (const chunk of chunks) {
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
      const put = partPutOptions(plan.table.name, name, gzip);
      await this.store.put(
        'exports',
        `${exportResultPrefix(jobId)}${name}`,
        Readable.from(final(), { objectMode: false }),
        put,
      );
      return { sha256: hash.digest('hex'), bytes: partBytes };
    };
    if (inPlace === undefined) {
      for (let index = 0; index < layout.parts.length; index++) await store(index, () => streamed(index));
      return files;
    }
    for (let index = 1; index < layout.parts.length; index++) await store(index, () => streamed(index));
    await store(0, async () => {
      const end = layout.parts[0]!.end;
      const sha256 = await inPlace.headSha256(end);
      checkAborted(signal);
      // Past the first part: later parts (copied out above) and a row beyond the cap.
      if (end < size) await truncate(out, end);
      const name = partFileName(0, false);
      await this.store.putFile('exports', `${exportResultPrefix(jobId)}${name}`, out, {
        ...partPutOptions(plan.table.name, name, false),
        consume: true,
      });
      bytesRead += end;
      bytesWritten += end;
      report(bytesRead, bytesWritten);
      return { sha256, bytes: end };
    });
    return files;
  }

  /**
   * Whether a file DuckDB read in place (the lake folder: staging only checked its ETag) is no longer as planned.
   * Files downloaded into the run's own folder cannot change under it.
   */
  private async inputsChanged(inputs: readonly StagedFile[]): Promise<boolean> {
    const inPlace = inputs.filter((i) => i.path !== '' && this.store.localPath('processed', i.file.key) === i.path);
    const changed = await runPool(inPlace, LOCAL_CHECK_CONCURRENCY, async (i) => {
      const now = await this.store.head('processed', i.file.key).catch(() => null);
      return now !== null && now?.etag !== i.file.etag;
    });
    return changed.some((c) => c);
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
      // Only keys the request itself reads as they are (their values are in its output anyway): the partition of
      // a hidden or masked key is not named to the caller.
      const shown = new Set(plan.request.columns.filter((c) => c.mask === null).map((c) => c.name));
      const where = Object.entries(bad.file.partitionValues)
        .filter(([k]) => shown.has(k))
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
    if (resourceExhaustion(err) !== undefined) {
      return new ExportFailedError('ENGINE_ERROR', 'the query engine ran out of memory or disk space', {
        cause: err,
        outOfResources: true,
      });
    }
    if (inputs.length > 0 && PAGE_DECODE_ERROR.test(message)) {
      // A file whose footer read (so planning and staging passed) but whose pages do not: DuckDB's message then
      // names no file, so none is named here.
      return new ExportFailedError(
        'DATA_CORRUPT',
        `a data file of dataset "${plan.table.name}" is not readable Parquet`,
        {
          cause: err,
        },
      );
    }
    return new ExportFailedError('ENGINE_ERROR', 'the query engine failed', { cause: err });
  }
}

interface StagedFile extends QueryFile {
  file: PlannedFile;
}

/** Wall-clock time of the engine's phases, for the log: where a slow export spent its time. */
class PhaseClock {
  private last = performance.now();
  private readonly spent: Record<string, number> = {};

  mark(phase: string): void {
    const now = performance.now();
    this.spent[phase] = Math.round(now - this.last);
    this.last = now;
  }

  totals(): Record<string, number> {
    return { ...this.spent };
  }
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

/**
 * The bytes [start, end) of a file as views of one buffer, reused: each view is valid only until the next is asked
 * for (for a consumer that copies what it takes, as gzipMembers does).
 */
async function* readReused(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - start));
    for (let position = start; position < end;) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, end - position), position);
      if (bytesRead === 0) throw new Error(`${path} ended at byte ${position}, before ${end}`);
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readChunks(path, start, end)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
