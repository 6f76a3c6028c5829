import { link, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { KEY_REVOKED_MESSAGE } from '../auth/auth-errors.js';
import type { AppConfig } from '../config.js';
import {
  ReleaseExportDocument,
  type ExportRequestInput,
  GetExportDocument,
  type GetExportQuery,
  RequestExportDocument,
} from '../generated/graphql.js';
import { ApiRequestError, GraphQLClient } from '../http/graphql-client.js';
import {
  type CsvArgs,
  csvOptions,
  parseColumns,
  parseIdleTimeout,
  parseLimit,
  parseOrderBy,
  parsePartition,
  parseWhere,
  UsageError,
} from './export-args.js';
import { appendWithoutHeader, downloadResumable, type PartLayout, PermanentDownloadError } from './export-download.js';
import { DownloadBusyError, lockDownload, noHardLinks } from './download-lock.js';
import { downloadProgressText, jobProgressText, ProgressLine, RateMeter } from './export-progress.js';
import { INTERRUPTED_EXIT } from './batch-interrupt.js';

/** The options of `careplus export` as commander hands them over. */
export interface ExportCommandOptions extends CsvArgs {
  orderBy?: string;
  columns?: string;
  where?: string[];
  partition?: string;
  limit?: string;
  gzip?: boolean;
  out?: string;
  /** Replace an existing `--out` file (refused otherwise). */
  force?: boolean;
  url?: string;
  key?: string;
  /** `--idle-timeout SECONDS`: a download connection with no byte for this long is given up and resumed. */
  idleTimeout?: string;
}

type Job = GetExportQuery['export'];

/** How often the job is read while it runs, in ms. */
const POLL_MS = 500;
/**
 * How long the job is followed through an API that cannot be reached (a restart, a deploy) before giving up: the
 * job itself survives a restart (it is resumed or failed with a reason), so the command waits for the API.
 */
const FOLLOW_OUTAGE_MS = 120_000;
/** Download attempts per file in a row without a byte of progress (a dropped connection resumes with `Range`). */
const DOWNLOAD_RETRIES = 12;
/** How long Ctrl-C waits for the API to acknowledge the job's release before the command ends anyway. */
const RELEASE_TIMEOUT_MS = 5_000;
/** How often the download's progress line is drawn again while no byte comes, so that it shows the stall. */
const STALL_REDRAW_MS = 1_000;

/**
 * `careplus export <dataset>`: requests a CSV export through the API (the typed client over HTTP, so it works
 * against any deployment), shows its progress on one stderr line (rows and rows/s), then downloads every result
 * file into `--out` (default `<dataset>-<job id>.csv[.gz]`) and prints that path on stdout.
 *
 * - Several parts are joined into the one output file in order; every part after the first loses its header row
 *   (for gzip, each part is a gzip member of its own: the joined file is one valid gzip stream).
 * - An existing `--out` file is never replaced without `--force`: refused before anything is requested, and, when it
 *   appears while the export runs, the finished download stays in `<out>.part`. (The default name is the job's, so
 *   one there already holds this job's own result and is replaced.)
 * - The file is written as `<out>.part` and renamed when complete and checked (size and SHA-256 of every part).
 *   A dropped connection resumes with `Range` from the bytes on disk, up to 12 retries in a row without progress
 *   (pauses of 0.25 s doubling to 5 s, about 43 s in all: longer than a restart of the server, and than the 30 s after
 *   which a server on another machine takes over the export jobs of one that died); an expired link is no failure:
 *   the job is read again for fresh links to every part (they expire together), and the download goes on at once.
 *   A connection with no byte for 60 s (`--idle-timeout`) is given up and resumed on a new one, as a retry.
 *   A download that stops (the retries ran out, the process was killed) is kept with `<out>.part.json`, and the same
 *   command run again (it gets the same job back while its result lasts) continues it.
 * - One download into an output file at a time (`<out>.part.lock`): the same command run again while the first one
 *   still downloads (another terminal: it gets the same job) is refused, exit 1, rather than write the same partial
 *   files; the lock of a run that was killed is taken over, and its download continued.
 * - While the job runs, an API that cannot be reached (a restart) is waited for up to 2 minutes.
 * - Ctrl-C (or SIGTERM) while the job runs releases it (`releaseExport`): it is cancelled unless another request of the caller's
 *   that got the same job (another terminal, a script) still waits for it; during the download it stops and keeps
 *   the partial file with its `<out>.part.json`, which the same command run again continues.
 *
 * Returns the process exit status: 0 done, 1 the job failed or the API refused, 130 interrupted.
 */
export async function exportCommand(
  config: AppConfig,
  dataset: string,
  options: ExportCommandOptions,
): Promise<number> {
  if (options.url === undefined && config.client.apiUrl === 'http://127.0.0.1:0') {
    // The default URL is built from CAREPLUS_PORT, and 0 means "a free port, chosen when the server starts".
    throw new UsageError(
      'CAREPLUS_PORT is 0 (the server picks a free port when it starts): give the API URL the server printed with --url or CAREPLUS_API_URL',
    );
  }
  // The base URL, or the GraphQL endpoint's own as the server prints it ("GraphQL API: http://…/graphql").
  const apiUrl = (options.url ?? config.client.apiUrl).replace(/\/+$/, '').replace(/\/graphql$/, '');
  const client = new GraphQLClient({ url: `${apiUrl}/graphql`, apiKey: options.key ?? config.client.apiKey });
  // An `--out` ending in .gz asks for gzip, as DuckDB's COPY reads it: plain CSV under that name would be a trap.
  const gzip = options.gzip === true || (options.out?.toLowerCase().endsWith('.gz') ?? false);
  const csv = csvOptions(options);
  const input: ExportRequestInput = {
    dataset,
    ...(options.columns !== undefined ? { columns: parseColumns(options.columns) } : {}),
    ...(options.where !== undefined && options.where.length > 0 ? { where: options.where.map(parseWhere) } : {}),
    ...(options.partition !== undefined ? { partitions: parsePartition(options.partition) } : {}),
    ...(options.limit !== undefined ? { limit: parseLimit(options.limit) } : {}),
    ...(options.orderBy !== undefined ? { orderBy: parseOrderBy(options.orderBy) } : {}),
    ...(csv !== undefined ? { csv } : {}),
    compression: gzip ? 'GZIP' : 'NONE',
  };
  const idleTimeoutMs = options.idleTimeout !== undefined ? parseIdleTimeout(options.idleTimeout) : undefined;

  if (options.out !== undefined) await checkOut(options.out, options.force === true);
  const interrupt = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    // A second Ctrl-C does not wait for the cancellation to be acknowledged.
    if (interrupts > 1) process.exit(INTERRUPTED_EXIT);
    interrupt.abort(new Error('interrupted'));
  };
  // SIGTERM (a supervisor, `kill`) gives up as Ctrl-C does: the job is released, not left for nobody.
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const line = new ProgressLine(process.stderr);
  try {
    const requested = (await client.request(RequestExportDocument, { input })).requestExport;
    process.stderr.write(`export ${requested.id} of ${dataset}: ${requested.status.toLowerCase()}\n`);
    const job = await follow(client, requested, line, interrupt.signal);
    if (job === undefined) {
      line.done();
      // Released, not cancelled: another request of this caller's that got the same job (another terminal, a
      // script) may still wait for it, and then it runs on for that one.
      let released: { id: string; status: string };
      try {
        // Not the request's own 30 s: Ctrl-C was pressed to stop, and an API that hangs is not waited for long.
        released = (
          await client.request(
            ReleaseExportDocument,
            { id: requested.id, waiter: requested.waiter ?? '' },
            { signal: AbortSignal.timeout(RELEASE_TIMEOUT_MS) },
          )
        ).releaseExport;
      } catch (err) {
        if (!isOutage(err) && !(err instanceof Error && err.name === 'TimeoutError')) throw err;
        process.stderr.write(
          `export ${requested.id}: not released (interrupted; the API did not answer: ${err.message})\n`,
        );
        return INTERRUPTED_EXIT;
      }
      process.stderr.write(
        released.status === 'QUEUED' || released.status === 'RUNNING'
          ? `export ${released.id}: left running (interrupted; another request of yours still waits for it)\n`
          : `export ${released.id}: ${released.status.toLowerCase()} (interrupted)\n`,
      );
      return INTERRUPTED_EXIT;
    }
    if (job.status !== 'SUCCEEDED' || job.result === null) {
      const why =
        job.error !== null
          ? `: ${job.error.code}: ${job.error.message}`
          : job.status === 'CANCELLED'
            ? ' by another request while this command waited (cancelExport)'
            : '';
      process.stderr.write(`careplus: export ${job.id} ${job.status.toLowerCase()}${why}\n`);
      return 1;
    }
    const out = options.out ?? `${dataset}-${job.id}.csv${gzip ? '.gz' : ''}`;
    let unlock: () => Promise<void>;
    try {
      unlock = await lockDownload(out);
    } catch (err) {
      if (!(err instanceof DownloadBusyError)) throw err;
      line.done();
      process.stderr.write(`careplus: ${err.message}\n`);
      return 1;
    }
    try {
      await download(
        client,
        job,
        out,
        { gzip, header: csv?.header !== false, bom: csv?.bom === true },
        line,
        interrupt.signal,
        options.out === undefined || options.force === true,
        idleTimeoutMs,
      );
    } catch (err) {
      line.done();
      if (err instanceof OutAppearedError) {
        process.stderr.write(
          `careplus: ${out} was created while the export ran; the export is complete in ${out}.part (not replacing ${out}: move it, or run the same command again with --force)\n`,
        );
        return 1;
      }
      if (interrupt.signal.aborted) {
        // Kept as a killed run's is: the same command run again gets this job back and continues the download
        // where it stopped, rather than fetching again what it had (README: "where a stopped run left off").
        process.stderr.write(`download interrupted; ${out}.part is kept: run the same command again to continue it\n`);
        return INTERRUPTED_EXIT;
      }
      if (err instanceof PermanentDownloadError && err.credentialsRefused) {
        process.stderr.write(
          `careplus: ${err.message}; ${out}.part is kept: run the same command again with a valid API key or token to continue it\n`,
        );
        return 1;
      }
      if (err instanceof PermanentDownloadError && err.linkRefused) {
        process.stderr.write(
          `careplus: ${err.message}; ${out}.part is kept: run the same command again to continue it once its links are accepted\n`,
        );
        return 1;
      }
      if (err instanceof PermanentDownloadError) {
        // Nothing a next run of the same command could continue: its job has no result to give.
        await removeParts(out, job.result.files.length);
        process.stderr.write(`careplus: ${err.message} (the partial file was removed)\n`);
        return 1;
      }
      // Kept for the next run of the same command, which gets this job back and continues where this one stopped.
      process.stderr.write(`the download stopped; ${out}.part is kept: run the same command again to continue it\n`);
      throw err;
    } finally {
      await unlock();
    }
    const { rowCount, bytes, truncated } = job.result;
    process.stderr.write(
      `wrote ${out}: ${countOf(rowCount, 'row')} in ${countOf(job.result.files.length, 'part')}, ${countOf(bytes, 'byte')} as stored, checksums verified\n`,
    );
    if (truncated) {
      // A --limit over the server's cap is refused, so a cut without one is the cap's, which says nothing of itself.
      process.stderr.write(
        input.limit !== undefined
          ? `note: --limit ${input.limit} cut the result (truncated)\n`
          : `note: the server's row cap cut the result at ${rowCount.toLocaleString('en-US')} rows (truncated): narrow the export with --where or --partition for the rest\n`,
      );
    }
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (err) {
    line.done();
    if (err instanceof ApiRequestError) {
      const hint = err.code === 'UNAUTHENTICATED' ? ' (give an API key with --key or CAREPLUS_API_KEY)' : '';
      process.stderr.write(`careplus: ${err.code}: ${err.message}${hint}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/** Reads the job until it finishes, drawing its progress. Undefined when interrupted first. */
async function follow(
  client: GraphQLClient,
  first: Job,
  line: ProgressLine,
  signal: AbortSignal,
): Promise<Job | undefined> {
  let job = first;
  let status = job.status;
  // Rows per second over the last seconds, or how long no row came: not the average since the start, which kept
  // showing a rate while the job made no progress.
  const rows = new RateMeter();
  let unreachableSince: number | undefined;
  const draw = (): void => {
    // No rate before rows are counted (a filtered export counts them at the end).
    const pace = job.status === 'RUNNING' && job.progress.rowsWritten > 0 ? rows.pace() : undefined;
    line.update(jobProgressText(job.status.toLowerCase(), job.progress, pace), job.status !== status);
    status = job.status;
  };
  // Drawn again while a read has no answer (an API that hangs), so that the line says no rows came rather than keep
  // the rate it had, as the download's line does.
  const redraw = setInterval(draw, STALL_REDRAW_MS);
  try {
    for (;;) {
      if (job.status === 'RUNNING') rows.record(job.progress.rowsWritten);
      draw();
      if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
        line.done();
        return job;
      }
      if (!(await pause(POLL_MS, signal))) return undefined;
      try {
        // Ctrl-C ends a read that has no answer at once, not after the request's own 30 s timeout.
        job = (await client.request(GetExportDocument, { id: job.id }, { signal })).export;
        if (unreachableSince !== undefined) {
          line.done();
          process.stderr.write('the API answers again\n');
        }
        unreachableSince = undefined;
      } catch (err) {
        if (signal.aborted) return undefined;
        if (!isOutage(err)) throw err;
        if (unreachableSince === undefined) {
          unreachableSince = Date.now();
          line.done();
          process.stderr.write(`${err.message}; waiting for it (the job goes on)\n`);
        } else if (Date.now() - unreachableSince > FOLLOW_OUTAGE_MS) {
          throw err;
        }
      }
    }
  } finally {
    clearInterval(redraw);
  }
}

/**
 * Refuses an `--out` that cannot be written before any work is requested (the job would run for nothing): a
 * folder itself, a path whose folder does not exist, or a file that exists (unless `force`: no file is replaced
 * unasked).
 */
async function checkOut(out: string, force: boolean): Promise<void> {
  // '' named the folder's '.part' files: the download then failed only once the job had run.
  if (out === '') throw new UsageError('--out "": give the file to write');
  const existing = await stat(out).catch(() => undefined);
  if (existing?.isDirectory() === true) {
    throw new UsageError(`--out ${JSON.stringify(out)} is a folder: give the file to write`);
  }
  if (existing !== undefined && !force) {
    throw new UsageError(`--out ${JSON.stringify(out)} exists: give another file, or --force to replace it`);
  }
  const folder = dirname(resolve(out));
  const info = await stat(folder).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new UsageError(`--out ${JSON.stringify(out)}: the folder ${folder} does not exist`);
  }
  // Written as the download will write (a file beside the output), so a folder this process may not write in (its
  // permissions, a read-only mount) is refused before a job is requested and run, not after, with the false advice
  // that a partial file was kept.
  // A name of this process's own: another run of the same command writes `<out>.part.json.tmp` meanwhile.
  const probe = `${out}.probe-${process.pid}`;
  try {
    await writeFile(probe, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`--out ${JSON.stringify(out)}: cannot write in the folder ${folder} (${code})`);
  }
  await rm(probe, { force: true });
}

/** An error that says the API is down or restarting, not that it refused the request. */
function isOutage(err: unknown): err is ApiRequestError {
  return (
    err instanceof ApiRequestError &&
    (err.code === 'NETWORK_ERROR' || (err.status !== undefined && [502, 503, 504].includes(err.status)))
  );
}

/**
 * What `<out>.part.json` says of a download in progress, so that a later run of the same command (which gets the
 * same job back) continues it: the job and its files, and how many parts `<out>.part` holds whole, in how many
 * bytes (a part half appended when the process died is cut off again).
 */
interface ResumeRecord {
  v: 1;
  jobId: string;
  files: { name: string; bytes: number; sha256: string }[];
  joinedParts: number;
  joinedBytes: number;
}

async function download(
  client: GraphQLClient,
  job: Job,
  out: string,
  layout: PartLayout,
  line: ProgressLine,
  signal: AbortSignal,
  replace: boolean,
  idleTimeoutMs: number | undefined,
): Promise<void> {
  const files = job.result?.files ?? [];
  const joined = `${out}.part`;
  const record: ResumeRecord = {
    v: 1,
    jobId: job.id,
    files: files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })),
    joinedParts: 0,
    joinedBytes: 0,
  };
  const earlier = await readResumeRecord(out);
  const kept = (await stat(joined).catch(() => undefined))?.size;
  // Only what the record describes, and only while the kept file still holds the parts it says are joined.
  const resuming =
    earlier !== undefined && sameDownload(earlier, record) && kept !== undefined && kept >= earlier.joinedBytes;
  if (resuming) {
    record.joinedParts = earlier.joinedParts;
    record.joinedBytes = earlier.joinedBytes;
    if (record.joinedParts > 0) await truncate(joined, record.joinedBytes);
    const have = record.joinedParts > 0 ? record.joinedBytes : kept;
    process.stderr.write(`resuming the download of export ${job.id} kept in ${joined} (${have} bytes)\n`);
  } else {
    // The files of a download that is not continued (another job's: its result expired since) are not this one's:
    // its parts past this job's last would otherwise stay beside the output for good.
    if (earlier !== undefined) await removeParts(out, earlier.files.length);
    // A result always has a first part; an empty file still leaves a (valid, empty) output rather than none.
    await writeFile(joined, '');
  }
  await writeResumeRecord(out, record);
  // Every part's link in hand. Links are issued together and expire together, so when one has expired the job is
  // read again for all of them: keeping only the expired part's new link made every later part meet its own expired
  // link and read the whole job again (305 reads of a job of 487 parts with 10 s links).
  const links = files.map((f) => f.url);
  let done = files.slice(0, record.joinedParts).reduce((n, f) => n + f.bytes, 0);
  // The rate over the last seconds, and a stall said as one: the line is drawn again while no byte comes, where it
  // kept the last rate, drawn with the last byte, for as long as the connection gave nothing.
  const meter = new RateMeter();
  let shown = { name: '', bytes: done };
  // Only while a part is fetched: joining one to the output (a gzip part decompressed and compressed again) is no stall.
  let fetching = false;
  const draw = (): void =>
    line.update(downloadProgressText(shown.name, shown.bytes, job.result?.bytes ?? 0, meter.pace()));
  const redraw = setInterval(() => {
    if (fetching) draw();
  }, STALL_REDRAW_MS);
  redraw.unref();
  try {
    for (const [index, file] of files.entries()) {
      if (index < record.joinedParts) continue;
      shown = { name: file.name, bytes: done };
      meter.restart(done);
      fetching = true;
      const url = links[index] ?? null;
      if (url === null) throw new Error(`export ${job.id}: ${file.name} has no download link`);
      // The first part is the start of the output; later ones are fetched beside it and appended without header.
      const target = index === 0 ? joined : `${out}.part${index}`;
      await downloadResumable({ name: file.name, url, bytes: file.bytes, sha256: file.sha256 }, target, {
        signal,
        retries: DOWNLOAD_RETRIES,
        ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
        resume: resuming && index === record.joinedParts,
        freshUrl: async () => {
          // Cut short by Ctrl-C as the download is, not after the request's own 30 s.
          const fresh = (
            await client.request(GetExportDocument, { id: job.id }, { signal }).catch(permanentWhenRefused)
          ).export;
          const named = new Map((fresh.result?.files ?? []).map((f) => [f.name, f.url]));
          for (const [i, f] of files.entries()) links[i] = named.get(f.name) ?? null;
          const renewed = links[index] ?? null;
          if (renewed === null) {
            // A finished job without links: the caller's access no longer covers its result (a dataset withdrawn, a
            // column denied or newly masked, a row filter added since the request).
            const why =
              fresh.status === 'SUCCEEDED'
                ? 'has no link for you any more (your access to its data changed since the request)'
                : `is ${fresh.status.toLowerCase()}: no fresh link`;
            throw new PermanentDownloadError(`export ${job.id} ${why}; request the export again`);
          }
          return renewed;
        },
        onBytes: (bytes) => {
          shown = { name: file.name, bytes: done + bytes };
          meter.record(done + bytes);
          draw();
        },
        onRetry: (message) => {
          line.done();
          process.stderr.write(`download retried: ${message}\n`);
        },
        onFreshUrl: (resumeAt) => {
          line.done();
          const resume = resumeAt > 0 ? `; resuming at byte ${resumeAt}` : '';
          process.stderr.write(`${file.name}: the download link expired; fetched fresh links${resume}\n`);
        },
      });
      fetching = false;
      done += file.bytes;
      if (index > 0) {
        await appendWithoutHeader(target, joined, layout);
        await rm(target, { force: true });
      }
      record.joinedParts = index + 1;
      record.joinedBytes = (await stat(joined)).size;
      await writeResumeRecord(out, record);
    }
  } finally {
    clearInterval(redraw);
  }
  line.done();
  await publish(joined, out, replace);
  await rm(`${out}.part.json`, { force: true });
}

/**
 * The API's refusal of a job read for fresh links is the same on every retry (the job is gone, or the key lost its
 * access): it ends the download at once. A failure to reach the API, or the API's own error, is retried.
 */
export function permanentWhenRefused(err: unknown): never {
  if (err instanceof ApiRequestError && PERMANENT_CODES.has(err.code)) {
    throw new PermanentDownloadError(`no fresh link: ${err.message}`, {
      cause: err,
      // A revoked key's job is that key's (jobs are per caller): no other key gets it back, and its links stay
      // refused, so its partial file can never be continued.
      credentialsRefused: err.code === 'UNAUTHENTICATED' && err.message !== KEY_REVOKED_MESSAGE,
    });
  }
  throw err;
}

const PERMANENT_CODES = new Set(['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'BAD_USER_INPUT']);

/** `--out` exists now but did not when the command started: the finished download is kept beside it. */
class OutAppearedError extends Error {}

/**
 * Moves the finished download into place. Without `replace`, a hard link makes it there only if nothing is (EEXIST:
 * OutAppearedError); a file system without hard links gets a check and a rename.
 */
async function publish(joined: string, out: string, replace: boolean): Promise<void> {
  if (replace) return rename(joined, out);
  try {
    await link(joined, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutAppearedError(out);
    if (!noHardLinks(err)) throw err;
    if ((await stat(out).catch(() => undefined)) !== undefined) throw new OutAppearedError(out);
    return rename(joined, out);
  }
  await rm(joined, { force: true });
}

async function readResumeRecord(out: string): Promise<ResumeRecord | undefined> {
  try {
    const doc = JSON.parse(await readFile(`${out}.part.json`, 'utf8')) as Partial<ResumeRecord>;
    return doc.v === 1 && typeof doc.jobId === 'string' && Array.isArray(doc.files) ? (doc as ResumeRecord) : undefined;
  } catch {
    return undefined;
  }
}

async function writeResumeRecord(out: string, record: ResumeRecord): Promise<void> {
  await writeFile(`${out}.part.json.tmp`, JSON.stringify(record));
  await rename(`${out}.part.json.tmp`, `${out}.part.json`);
}

function sameDownload(a: ResumeRecord, b: ResumeRecord): boolean {
  return a.jobId === b.jobId && JSON.stringify(a.files) === JSON.stringify(b.files);
}

async function removeParts(out: string, parts: number): Promise<void> {
  await rm(`${out}.part`, { force: true });
  await rm(`${out}.part.json`, { force: true });
  for (let i = 1; i < parts; i++) await rm(`${out}.part${i}`, { force: true });
}

/** Waits `ms`; false when `signal` aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `1 row`, `124 rows`, `1,400,000 bytes`. */
function countOf(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
