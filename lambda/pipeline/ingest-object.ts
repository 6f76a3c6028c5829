import { emptyColumnWarnings } from './empty-columns.js';
import { ALREADY_FAILED, failsForGood, readFailureMemo, writeFailureMemo } from './failure-memo.js';
import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DatasetDefinition, RawFormat } from '../../src/domain/dataset-definition.js';
import { IngestError } from '../../src/domain/errors.js';
import { resourceExhaustion } from '../../src/domain/resource-exhaustion.js';
import type { RunRecord } from '../../src/domain/run-record.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectInfo } from '../../src/ports/object-store.js';
import { checkSchemaCompatibility, definitionFingerprint, tableFromDefinition } from './catalog-schema.js';
import type { EtlDeps } from './etl-deps.js';
import { LakeLock, type LockOptions } from './lake-lock.js';
import { type FastStageAttempt, canStageFast, parseSource, stageJsonlFast } from './parse-source.js';
import { decideSkip, lockWaitLogger, publishSource, staleVersion } from './publish-source.js';
import { RunRecorder, newRunRecord } from './run-records.js';
import { readPublishIntent } from './publish-intent.js';
import {
  hasPendingCleanup,
  hasPendingReruns,
  isOlderThanPublished,
  readLineage,
  updateLineage,
} from './source-lineage.js';
import { lineageKey, sourceLockName } from './lake-keys.js';
import { isGzipFile, stageText } from './stage-source.js';
import { dropStage, stageTableName } from './stage-table.js';
import { PhaseTimer } from './phase-timer.js';
import { makeWorkFolder } from '../../src/services/holder-process.js';

/** How often a failed pre-pass repeats its interrupt of the fast stage until the stage has stopped. */
const INTERRUPT_REPEAT_MS = 20;

/** One raw object to ingest, as an S3 event or `careplus ingest` names it. */
export interface IngestSource {
  /** Key in the raw bucket (decoded, not URL-encoded). */
  key: string;
  /** S3 version id from the event, when the bucket is versioned. */
  versionId?: string;
  /** S3 event sequencer: orders events for the same key. */
  sequencer?: string;
  /** Dataset name; by default the dataset whose raw prefix the key falls under. */
  dataset?: string;
}

export interface IngestOptions {
  /** Reprocess even when this version was already processed with the same definition (rewrites the same bytes). */
  force?: boolean;
  lock?: LockOptions;
  /** Diagnosis and tests: `lines` reads JSON Lines line by line instead of with DuckDB's read_json. */
  jsonReader?: 'auto' | 'lines';
  /**
   * Whether a run that finds this version of the file already processed, or failed for good before, keeps its
   * SKIPPED record. Default true. False for a scan that looks at every raw file each time (`careplus start`): a
   * record per file per start grew the run records without bound and hid the last real run in `pipeline { lastRun }`.
   * The run is still returned, SKIPPED, for the caller's summary.
   */
  recordUnchanged?: boolean;
  /**
   * Whether the run reprocesses, at its end, the sources its source's lineage lists as owed a reprocess
   * (SourceLineage.pendingReruns). Default true; false for those reprocesses themselves: finishPendingReruns works
   * through the chain (a loser's own losers) as a list, not as nested runs.
   */
  finishReruns?: boolean;
}

/** SKIPPED reasons that mean "nothing new in this file": see IngestOptions.recordUnchanged. */
const UNCHANGED_REASONS: readonly string[] = ['already_processed', ALREADY_FAILED];

/** Run records for objects under no dataset's raw prefix are filed under this name. */
export const UNKNOWN_DATASET = '_unknown';

/**
 * The per-object ETL, shared by the Lambda handler and `careplus ingest`: stage the raw object locally, parse,
 * validate, cast and normalise it inside DuckDB, quarantine bad records, de-duplicate on the event key, and
 * publish partitioned Parquet, the catalog and the run record. Never throws for a bad object: the returned run
 * record says SUCCEEDED, SKIPPED (duplicate or stale event) or FAILED with a reason. It throws only when the
 * run record itself cannot be written.
 */
export async function ingestObject(
  deps: EtlDeps,
  source: IngestSource,
  options: IngestOptions = {},
): Promise<RunRecord> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const runId = randomUUID();
  const phases = new PhaseTimer();
  const log = deps.logger.child({ runId, sourceKey: source.key });
  const def = source.dataset !== undefined ? deps.registry.find(source.dataset) : deps.registry.forRawKey(source.key);
  const recorder = new RunRecorder(
    deps.store,
    newRunRecord({ runId, dataset: def?.name ?? UNKNOWN_DATASET, sourceKey: source.key, startedAt }),
  );
  const finish = async (update: Partial<RunRecord>): Promise<RunRecord> => {
    const finishedAt = now();
    const run = await writeFinalRecord(
      recorder,
      {
        ...update,
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
      },
      log,
    );
    log.info('ingest finished', {
      dataset: run.dataset,
      status: run.status,
      rowsRead: run.rowsRead,
      rowsWritten: run.rowsWritten,
      rowsRejected: run.rowsRejected,
      rowsDuplicate: run.rowsDuplicate,
      durationMs: run.durationMs,
      phasesMs: phases.durations,
      ...(run.error ? { reason: run.error.reason } : {}),
    });
    return run;
  };
  if (!def) {
    const message =
      source.dataset !== undefined
        ? `unknown dataset "${source.dataset}"`
        : `no dataset definition has a raw prefix that "${source.key}" falls under`;
    return finish({ status: 'FAILED', error: { reason: 'unknown_dataset', message } });
  }

  const dataset = def.name;
  // What a failure for good is remembered by (the object's ETag and the definition), once the run knows them.
  const seen: { etag?: string; fingerprint?: string } = {};
  /** The record of a run that threw: its reason, remembered when it fails for good. */
  const failureOf = async (err: unknown): Promise<Partial<RunRecord>> => {
    if (err instanceof IngestError) {
      if (failsForGood(err.reason) && seen.etag !== undefined && seen.fingerprint !== undefined) {
        const memo = {
          sourceKey: source.key,
          etag: seen.etag,
          fingerprint: seen.fingerprint,
          reason: err.reason,
          message: err.message,
          runId,
          failedAt: now().toISOString(),
        };
        // Only saves the next run the same failure: a memo not written is no error of the run's.
        await writeFailureMemo(deps.store, dataset, memo).catch((memoErr: unknown) =>
          log.warn('could not remember the failure', { error: String(memoErr) }),
        );
      }
      return { status: 'FAILED', error: { reason: err.reason, message: err.message } };
    }
    // Unexpected errors may carry paths or SQL: the record gets a neutral message, the log the details.
    log.error('ingest failed unexpectedly', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    const resource = resourceFailure(err);
    if (resource !== undefined) return { status: 'FAILED', error: resource };
    return {
      status: 'FAILED',
      error: { reason: 'internal', message: `unexpected error; see the ETL log for run ${runId}` },
    };
  };
  const finishOrForget = async (outcome: Partial<RunRecord>): Promise<RunRecord> => {
    if (
      options.recordUnchanged === false &&
      outcome.status === 'SKIPPED' &&
      UNCHANGED_REASONS.includes(outcome.error?.reason ?? '')
    ) {
      // Nothing new in the file: its RUNNING record goes. One that cannot be removed is ended SKIPPED as usual: left
      // RUNNING it would read `abandoned` later and fail the dataset's status.
      try {
        await deps.store.delete('processed', recorder.key);
      } catch (err) {
        log.warn('could not remove the record of a run that found nothing new', { error: String(err) });
        return await finish(outcome);
      }
      const finishedAt = now();
      return {
        ...recorder.current,
        ...outcome,
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
      };
    }
    return await finish(outcome);
  };
  await recorder.write();
  const workDir = join(deps.cacheDir, 'etl-runs', runId);
  try {
    let outcome: Partial<RunRecord>;
    const progress: RunProgress = { publishing: false };
    try {
      outcome = await runIngest(deps, def, source, options, recorder, workDir, log, phases, seen, progress);
    } catch (err) {
      if (leavesDeadPublish(err, progress)) {
        await finishDeadPublishes(deps, def, source.key, runId, workDir, log, phases, err, options.lock).catch(
          (cleanupErr: unknown) =>
            log.error('could not remove what an unfinished publish of the source left', { error: String(cleanupErr) }),
        );
      }
      outcome = await failureOf(err);
    }
    const run = await finishOrForget(outcome);
    // After this run's own record: the losers are runs of their own, each with its record.
    if (progress.rerunsPending === true && options.finishReruns !== false) {
      await finishPendingReruns(deps, def.name, source.key, options, log);
    }
    return run;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * A failure for want of disk or memory, said as such (it was `internal: unexpected error`): the machine's state, not
 * the file's, so it is tried again like `internal` (not remembered). Undefined for any other error.
 */
export function resourceFailure(err: unknown): { reason: string; message: string } | undefined {
  switch (resourceExhaustion(err)) {
    case 'disk':
      return {
        reason: 'no_space',
        message: 'the disk is full (the lake or the cache folder): free space, then ingest the file again',
      };
    case 'memory':
      return {
        reason: 'out_of_memory',
        message:
          'the engine ran out of memory: raise CAREPLUS_DUCKDB_MEMORY_LIMIT or give the cache folder room to spill, then ingest the file again',
      };
    default:
      return undefined;
  }
}

/**
 * For batch callers (`careplus ingest`, `start`): ingestObject, but a run whose record the store could not take
 * (a full disk) comes back as a FAILED run to report, rather than as an error that ends the batch with a stack trace.
 * The Lambda handler calls ingestObject itself: its error fails the event, which Lambda retries.
 */
export async function ingestObjectReported(
  deps: EtlDeps,
  source: IngestSource,
  options: IngestOptions = {},
): Promise<RunRecord> {
  try {
    return await ingestObject(deps, source, options);
  } catch (err) {
    if (err instanceof RunRecordError) {
      return { ...err.run, status: 'FAILED', error: { reason: 'record_not_written', message: err.message } };
    }
    const resource = resourceFailure(err);
    if (resource === undefined) throw err;
    return unrecordedFailure(deps, source, {
      reason: resource.reason,
      message: `${resource.message} (no run record could be written)`,
    });
  }
}

/** A FAILED run to report that no record in the store holds (the store could not take one). */
export function unrecordedFailure(
  deps: Pick<EtlDeps, 'now'>,
  source: Pick<IngestSource, 'key' | 'dataset'>,
  error: { reason: string; message: string },
): RunRecord {
  const at = (deps.now ?? (() => new Date()))();
  const run = newRunRecord({
    runId: randomUUID(),
    dataset: source.dataset ?? UNKNOWN_DATASET,
    sourceKey: source.key,
    startedAt: at,
  });
  return { ...run, status: 'FAILED', finishedAt: at.toISOString(), durationMs: 0, error };
}

/** Attempts at the final run record before giving up: a store that failed (a full disk) may come back. */
const FINAL_RECORD_ATTEMPTS = 5;

/**
 * The run's final record, tried again for a while when the store fails (pauses of 0.5 s doubling, about 7.5 s in
 * all): a run whose final record is never written stays RUNNING and is shown as `abandoned` 20 minutes later, which
 * hides what happened. Throws RunRecordError when every attempt failed.
 */
async function writeFinalRecord(recorder: RunRecorder, update: Partial<RunRecord>, log: Logger): Promise<RunRecord> {
  let lastError: unknown;
  for (let attempt = 0; attempt < FINAL_RECORD_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    try {
      const run = await recorder.write(update);
      if (attempt > 0) log.info('final run record written after the store recovered', { attempts: attempt + 1 });
      return run;
    } catch (err) {
      lastError = err;
      log.warn('could not write the final run record; trying again', { attempt: attempt + 1, error: String(err) });
    }
  }
  throw new RunRecordError({ ...recorder.current, ...update }, lastError);
}

/** The run ended, but its record could not be written (the record in the store still says RUNNING). */
export class RunRecordError extends Error {
  constructor(
    readonly run: RunRecord,
    cause: unknown,
  ) {
    const why = resourceFailure(cause)?.message ?? (cause instanceof Error ? cause.message : String(cause));
    super(`the run ended ${run.status}, but its record could not be written: ${why}`, { cause });
    this.name = 'RunRecordError';
  }
}

/** What runIngest got to, for its caller to finish a dead publish's clean-up when the run fails before publishing. */
interface RunProgress {
  /** Whether earlier runs of the source left files to remove (undefined until read). */
  cleanupPending?: boolean;
  /** Set once publishSource is called: it finishes such clean-ups itself, also when it refuses the version. */
  publishing: boolean;
  /** Whether the source's lineage was seen naming losers to reprocess (SourceLineage.pendingReruns). */
  rerunsPending?: boolean;
}

/**
 * Reasons a re-run of a loser may end with and be worth trying again by the next run of the winner: the moment's,
 * not the file's (`not_found`: the loser's object is gone, and with it what it could give back).
 */
const RERUN_AGAIN: ReadonlySet<string> = new Set([
  'lock_timeout',
  'lock_lost',
  'internal',
  'no_space',
  'out_of_memory',
]);

/**
 * Reprocesses the sources that dropped rows as this one's where its keys may have shrunk (SourceLineage.pendingReruns),
 * each as `careplus ingest --force` would (its own run, record and locks), so that the rows no source holds any more
 * come back from the loser's copy; then, the same way, the sources a reprocessed one owes a reprocess in turn (its
 * newer version, or definition, was published by it), each source once. Never throws: what is left stays listed in
 * the lineages, for the next run of their source or the next compaction. Called after an ingest of the source, and
 * by compaction for every source that has any.
 */
export async function finishPendingReruns(
  deps: EtlDeps,
  dataset: string,
  sourceKey: string,
  options: Pick<IngestOptions, 'lock'>,
  log: Logger,
): Promise<void> {
  const queue = [sourceKey];
  const seen = new Set<string>();
  try {
    for (let winner = queue.shift(); winner !== undefined; winner = queue.shift()) {
      if (seen.has(winner)) continue;
      seen.add(winner);
      queue.push(...(await rerunLosersOf(deps, dataset, winner, options, log)));
    }
  } catch (err) {
    log.error('could not reprocess the sources that had dropped rows as another’s; the next run tries again', {
      sourceKey,
      error: String(err),
    });
  }
}

/**
 * One source's pending reruns (see finishPendingReruns); returns the losers reprocessed. Then, under the source's lock
 * (its own runs write its lineage whole), takes out of its lineage those whose run ended, unless for a reason of the
 * moment, and only while the lineage is still of the publish that listed them (a newer one keeps the list it wrote).
 */
async function rerunLosersOf(
  deps: EtlDeps,
  dataset: string,
  sourceKey: string,
  options: Pick<IngestOptions, 'lock'>,
  log: Logger,
): Promise<string[]> {
  const lineage = await readLineage(deps.store, dataset, sourceKey);
  if (lineage === undefined || !hasPendingReruns(lineage)) return [];
  const done = new Set<string>();
  for (const loser of lineage.pendingReruns!) {
    const rerun = await ingestObjectReported(
      deps,
      { key: loser, dataset },
      { force: true, finishReruns: false, ...(options.lock !== undefined ? { lock: options.lock } : {}) },
    );
    log.info('reprocessed a source that had dropped rows as another’s', {
      sourceKey,
      loser,
      status: rerun.status,
      rowsWritten: rerun.rowsWritten,
      ...(rerun.error ? { reason: rerun.error.reason } : {}),
    });
    if (rerun.status !== 'FAILED' || !RERUN_AGAIN.has(rerun.error?.reason ?? '')) done.add(loser);
  }
  if (done.size > 0) {
    const lock = await LakeLock.acquire(deps.store, dataset, [sourceLockName(sourceKey)], {
      ...options.lock,
      onWait: lockWaitLogger(log, dataset),
    });
    try {
      await updateLineage(deps.store, lineageKey(dataset, sourceKey), (current) => {
        if (current.runId !== lineage.runId || !(current.pendingReruns ?? []).some((k) => done.has(k))) {
          return undefined;
        }
        const { pendingReruns, ...rest } = current;
        const left = pendingReruns!.filter((k) => !done.has(k));
        return left.length > 0 ? { ...rest, pendingReruns: left } : rest;
      });
    } finally {
      await lock.release();
    }
  }
  return [...done];
}

/**
 * Whether a failed run must still remove what a dead publish of its source left: a version that fails for its bytes
 * or the definition (empty, truncated, too large, a broken header, ...), or an object deleted since, publishes
 * nothing, but a dead publish's intent, or an older version's files still to delete, must still go: else they stay
 * beside the published version, their rows counted twice, until a good version comes (or for good, once the object
 * is gone). A run that reached publishSource has had it finish them.
 */
function leavesDeadPublish(err: unknown, progress: RunProgress): err is IngestError {
  return (
    err instanceof IngestError &&
    !progress.publishing &&
    progress.cleanupPending !== false &&
    (failsForGood(err.reason) || err.reason === 'too_large' || err.reason === 'not_found')
  );
}

/**
 * For a run that fails before publishing: finishes, under the locks, what earlier runs of the source left (see
 * publishSource with a refusal), when there is anything. Nothing of this run's is published.
 */
async function finishDeadPublishes(
  deps: EtlDeps,
  def: DatasetDefinition,
  sourceKey: string,
  runId: string,
  workDir: string,
  log: Logger,
  phases: PhaseTimer,
  refusal: IngestError,
  lock: LockOptions | undefined,
): Promise<void> {
  const [published, unfinished] = await Promise.all([
    readLineage(deps.store, def.name, sourceKey),
    readPublishIntent(deps.store, def.name, sourceKey),
  ]);
  if (unfinished === undefined && (published === undefined || !hasPendingCleanup(published))) return;
  await makeWorkFolder(workDir);
  await deps.duckdb.withConnection(async (conn) => {
    await publishSource({
      store: deps.store,
      catalog: deps.catalog,
      duckdb: deps.duckdb,
      conn,
      def,
      table: tableFromDefinition(def),
      logger: log,
      workDir,
      runId,
      now: deps.now ?? (() => new Date()),
      sourceKey,
      // No version of this run's is published: these only decide a skip, which the refusal makes moot.
      version: '',
      sequencer: undefined,
      lastModified: new Date(0),
      fingerprint: definitionFingerprint(def),
      stage: { name: stageTableName(runId), partitions: [], inTable: false },
      rowsValid: 0,
      quarantinePath: undefined,
      refusal,
      force: false,
      lock,
      phases,
    }).catch((err: unknown) => {
      if (err !== refusal) throw err;
    });
  });
}

async function runIngest(
  deps: EtlDeps,
  def: DatasetDefinition,
  source: IngestSource,
  options: IngestOptions,
  recorder: RunRecorder,
  workDir: string,
  log: EtlDeps['logger'],
  phases: PhaseTimer,
  seen: { etag?: string; fingerprint?: string },
  progress: RunProgress,
): Promise<Partial<RunRecord>> {
  const { store } = deps;
  const now = deps.now ?? (() => new Date());
  const head = await store.head('raw', source.key);
  if (!head) throw new IngestError('not_found', 'the raw object does not exist (deleted before it was processed?)');
  await recorder.write({ bytesRead: head.size, ...(source.versionId ? { sourceVersion: source.versionId } : {}) });
  if (head.size > deps.maxObjectBytes) {
    throw new IngestError(
      'too_large',
      `the object is ${head.size} bytes, over the limit of ${deps.maxObjectBytes} bytes`,
    );
  }
  if (source.versionId !== undefined && head.versionId !== undefined && head.versionId !== source.versionId) {
    return skipped(
      'superseded',
      `the event is for version ${source.versionId}, but the object is now at version ${head.versionId}; its own event ingests it`,
    );
  }
  const format = pickFormat(def, source.key);
  const fingerprint = definitionFingerprint(def);
  seen.etag = head.etag;
  seen.fingerprint = fingerprint;
  const incoming = { sequencer: source.sequencer, lastModified: head.lastModified, fingerprint };

  // Cheap checks before any work: a known version already published, or an older one arriving late. Not while an
  // older version's files are still to remove (a run died after publishing), nor while a dead publish's files are
  // (its intent): the run goes on to publishSource, which finishes that clean-up under the partitions' locks before
  // it skips.
  const [published, unfinished, failed] = await Promise.all([
    readLineage(store, def.name, source.key),
    readPublishIntent(store, def.name, source.key),
    readFailureMemo(store, def.name, source.key),
  ]);
  const knownVersion = source.versionId ?? head.versionId;
  const force = options.force ?? false;
  // A publish of this source that died before its commit left files its intent names: they go first too, even when
  // this version is the one published (a re-run of it after a newer one failed half-way).
  const cleanupPending = (published !== undefined && hasPendingCleanup(published)) || unfinished !== undefined;
  progress.cleanupPending = cleanupPending;
  if (hasPendingReruns(published)) progress.rerunsPending = true;
  if (!force && !cleanupPending && failed?.etag === head.etag && failed.fingerprint === fingerprint) {
    return skipped(
      ALREADY_FAILED,
      `this version failed before (${failed.reason}: ${failed.message}); change the file or the definition, or force a new try`,
    );
  }
  if (published && !cleanupPending) {
    const early =
      knownVersion !== undefined
        ? await decideSkip(store, published, { ...incoming, version: knownVersion }, force)
        : isOlderThanPublished(incoming, published)
          ? staleVersion(published)
          : undefined;
    if (early) return skipped(early.reason, early.message);
  }
  const { table } = await checkSchemaCompatibility(deps.catalog, def);

  await makeWorkFolder(workDir);
  const { path: rawPath, info } = await phases.time('download', () =>
    stageRaw(deps, source.key, head, workDir, source.versionId),
  );
  // When the version is the content hash and this key was published before, the hash may say "already processed"
  // (unless forced): then the pre-pass runs alone first. Otherwise JSON Lines are staged by DuckDB while the pre-pass
  // hashes and scans the same file (DuckDB works on its own threads, the pre-pass on this one); the pre-pass decides
  // afterwards whether that stage stands (see parseSource). A gzipped file is read by both from the .gz: DuckDB
  // inflates it for itself, and the pre-pass writes no inflated copy unless it finds something to clean.
  const overlap = canStageFast(format, options) && !(published && knownVersion === undefined && !force);
  const gzip = overlap && (await isGzipFile(rawPath));

  return deps.duckdb.withConnection(async (conn) => {
    const stageTable = stageTableName(recorder.current.runId);
    try {
      let staging = overlap;
      const stop = new AbortController();
      // An S3 version id names the version; otherwise it is the content hash, which the pre-pass computes.
      const versionId = source.versionId ?? info.versionId;
      const prepassRun = phases
        .time('prepass', () =>
          stageText(rawPath, workDir, format, def.csv, deps.maxObjectBytes, {
            keepGzip: canStageFast(format, options),
            hash: versionId === undefined,
          }),
        )
        .catch((err: unknown) => {
          // A failed pre-pass fails the object (a gzip that inflates over the limit, a truncated one): stop the
          // stage rather than let it read on. The stage checks the signal between its statements; an interrupt
          // reaches only a statement that is running, so it is repeated until the stage has stopped.
          stop.abort();
          const interrupt = (): void => {
            if (!staging) return;
            conn.interrupt();
            setTimeout(interrupt, INTERRUPT_REPEAT_MS);
          };
          interrupt();
          throw err;
        });
      const stageRun = overlap
        ? phases
            .time('stage', () => stageJsonlFast(conn, def, rawPath, stageTable, workDir, log, gzip, stop.signal))
            .finally(() => (staging = false))
        : undefined;
      // Both settle before anything else uses the connection, even when the pre-pass fails (a too-large object).
      const [prepass, fast] = await Promise.allSettled([prepassRun, stageRun]);
      if (prepass.status === 'rejected') throw prepass.reason;
      const staged = prepass.value;
      const fastStage: FastStageAttempt | undefined =
        overlap && fast.status === 'fulfilled' && fast.value !== undefined
          ? { textPath: rawPath, outcome: fast.value }
          : undefined;
      const version = versionId ?? `sha256:${staged.contentSha256}`;
      await recorder.write({ sourceVersion: version });
      if (published && knownVersion === undefined && !cleanupPending) {
        // The version is the content hash, known only now.
        const skip = await decideSkip(store, published, { ...incoming, version }, force);
        if (skip) return skipped(skip.reason, skip.message);
      }

      const parsed = await phases.time('parse', () =>
        parseSource(conn, def, format, staged, source.key, workDir, log, {
          jsonReader: options.jsonReader ?? 'auto',
          stageTable,
          ...(fastStage ? { fastStage } : {}),
        }),
      );
      if (parsed.rowsRead === 0) {
        throw new IngestError(
          'empty_file',
          head.size === 0
            ? 'the object is empty (0 bytes)'
            : staged.textBytes === 0
              ? 'the gzip stream holds no data'
              : 'the object has no records',
        );
      }
      let refusal: IngestError | undefined;
      if (parsed.rowsValid === 0) {
        // Not one good record (a wrong or binary file under the dataset's name): publishing it would replace the
        // source's published rows with none. It fails as an empty file does, and what was published stays; the
        // publish step still finishes what dead runs of the source left, then refuses it.
        const first = parsed.quarantinePath === undefined ? undefined : await firstRejection(parsed.quarantinePath);
        await recorder.write({ rowsRead: parsed.rowsRead, rowsRejected: parsed.rowsRejected });
        refusal = new IngestError(
          'no_valid_records',
          `none of its ${parsed.rowsRead} record(s) is valid` +
            (first === undefined ? '' : ` (the first, line ${first.line}: ${first.reason})`) +
            '; nothing was published from it',
        );
      }
      // Advice only: a failure to work it out is logged, never the run's.
      const warnings =
        refusal === undefined
          ? await emptyColumnWarnings(conn, def, format, staged, parsed.stage, parsed.rowsValid).catch(
              (err: unknown) => {
                log.warn('could not check the run for columns its source lacks', { error: String(err) });
                return [];
              },
            )
          : [];
      progress.publishing = true;
      const outcome = await publishSource({
        store,
        catalog: deps.catalog,
        duckdb: deps.duckdb,
        conn,
        def,
        table,
        logger: log,
        workDir,
        runId: recorder.current.runId,
        now,
        sourceKey: source.key,
        version,
        sequencer: source.sequencer,
        lastModified: info.lastModified,
        fingerprint,
        stage: parsed.stage,
        rowsValid: parsed.rowsValid,
        quarantinePath: parsed.quarantinePath,
        ...(refusal !== undefined ? { refusal } : {}),
        force,
        lock: options.lock,
        phases,
      });
      if (outcome.rerunsPending) progress.rerunsPending = true;
      if (outcome.kind === 'skipped') return skipped(outcome.reason, outcome.message);
      return {
        status: 'SUCCEEDED',
        rowsRead: parsed.rowsRead,
        rowsWritten: outcome.rowsWritten,
        rowsRejected: parsed.rowsRejected,
        rowsDuplicate: parsed.rowsDuplicate + outcome.rowsDuplicate,
        bytesWritten: outcome.bytesWritten,
        outputKeys: outcome.outputKeys,
        quarantineKey: outcome.quarantineKey,
        partitions: outcome.partitions,
        schemaVersion: outcome.schemaVersion,
        error: null,
        ...(warnings.length > 0 ? { warnings } : {}),
      } satisfies Partial<RunRecord>;
    } finally {
      await dropStage(conn, stageTable);
    }
  });
}

/**
 * The first record of a quarantine file (JSON lines of sourceKey, line, reason, raw, in line order), read from its
 * head only: a rejected record may be megabytes long. Undefined when the head does not hold it whole.
 */
async function firstRejection(path: string): Promise<{ line: number; reason: string } | undefined> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const m = /"line":(\d+),"reason":("(?:[^"\\]|\\.)*")/.exec(head.subarray(0, bytesRead).toString('utf8'));
    return m === null ? undefined : { line: Number(m[1]), reason: JSON.parse(m[2]!) as string };
  } finally {
    await file.close();
  }
}

function skipped(reason: string, message: string): Partial<RunRecord> {
  return { status: 'SKIPPED', error: { reason, message } };
}

/**
 * A key ending in `/` names a folder, not a raw file: the S3 console's "Create folder" writes such an empty object.
 * Neither the Lambda handler nor the scan of the raw bucket ingests one.
 */
export function isFolderMarker(key: string): boolean {
  return key.endsWith('/');
}

/**
 * The format from the file name: the extension before an optional `.gz` picks one of the dataset's formats;
 * an unknown extension gets the first. A known extension the dataset does not accept fails the object.
 */
export function pickFormat(def: DatasetDefinition, key: string): RawFormat {
  const name = basename(key).toLowerCase().replace(/\.gz$/, '');
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  // .txt is left out on purpose: CSV exports and logs both use it; it gets the dataset's first format.
  const byExt: Record<string, RawFormat> = {
    csv: 'csv',
    tsv: 'csv',
    jsonl: 'jsonl',
    ndjson: 'jsonl',
    json: 'jsonl',
    log: 'text',
  };
  const format = byExt[ext];
  if (format === undefined) return def.formats[0]!;
  if (!def.formats.includes(format)) {
    throw new IngestError(
      'unsupported_format',
      `a .${ext} file is ${format}, which dataset "${def.name}" does not accept (formats: ${def.formats.join(', ')})`,
    );
  }
  return format;
}

/** The raw object as a local file: read in place on a local store, else downloaded into the run's folder. */
async function stageRaw(
  deps: EtlDeps,
  key: string,
  head: ObjectInfo,
  workDir: string,
  versionId: string | undefined,
): Promise<{ path: string; info: ObjectInfo }> {
  const local = deps.store.localPath('raw', key);
  if (local !== undefined) return { path: local, info: head };
  const path = join(workDir, 'raw');
  // The version the event names, not whatever is current by now: a newer upload is its own event's to ingest.
  const info = await deps.store.getFile('raw', key, path, versionId !== undefined ? { versionId } : undefined);
  return { path, info };
}
