import { filesHiddenByCompactions } from '../../services/compaction-view.js';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { type AwsClientSettings, clientConfig } from './client-timeouts.js';
import type { AppConfig } from '../../config.js';
import {
  ATHENA_PARAMETER_MAX_LENGTH,
  ATHENA_QUERY_MAX_BYTES,
  type AthenaQuery,
  compileAthenaQuery,
} from '../../domain/athena-sql.js';
import { ConfigError, describeError } from '../../domain/errors.js';
import type { ExportJobResult } from '../../domain/export-job.js';
import { partitionValuesOf, pruneFiles } from '../../domain/export-partitions.js';
import type { ExportPlan } from '../../domain/export-plan.js';
import { type MaskKeySource, maskKeyFor } from '../../domain/mask-key.js';
import {
  type EngineProgress,
  ExportCancelledError,
  type ExportEngine,
  ExportFailedError,
  type ExportRunJob,
  type ExportRunOptions,
} from '../../ports/export-engine.js';
import type { Logger } from '../../ports/logger.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { CsvRecordEncoder } from '../csv/csv-record-encoder.js';
import { writeCsvParts } from '../csv/csv-part-writer.js';
import { removeExportOutput, writeExportManifest } from '../csv/export-result-files.js';
import { MalformedResultError, parseAthenaCsv } from './athena-result-parser.js';
import { athenaCellConverter, UnreadableCellError } from './athena-value-text.js';

/**
 * The job's own prefix in the exports bucket, `<prefix><job-id>/`: the OutputLocation the engine asks Athena for,
 * and where it records the queries of the job. Also the deployed workgroup's enforced result location (infra/).
 */
export const ATHENA_RESULTS_PREFIX = '_athena/';
/** Suffix of the record of a query a start of a job ran: `<prefix><job-id>/<query-id>.query`. */
const QUERY_RECORD = '.query';
/** Share of the progress fraction for the query; the rest is for rewriting its result into the parts. */
const QUERY_SHARE = 0.5;
const ERROR_CATEGORIES: Record<number, string> = { 1: 'SYSTEM', 2: 'USER', 3: 'OTHER' };
/**
 * Most planned files a query is restricted to by `"$path"` (see the class, "Data version"). Athena documents no
 * maximum count of execution parameters (only the console's 25), each at most 1,024 characters, and a query string of
 * at most 262,144 bytes: 1,000 files add 3 KB of placeholders to the query (about 1% of the limit) and at most 1 MiB of
 * parameters to the request (about 100 KB with this lake's keys), a margin for what the API does not document (the
 * request's size, the planning of a long IN list). A plan of more files runs unrestricted, with the check of old.
 */
export const MAX_RESTRICTED_FILES = 1_000;
/**
 * Keys whose S3 URI is the same text however it is rendered (URI-unreserved characters and `/`, `=`): Athena's
 * `"$path"` of a key with a space or a percent-escape (`region=New%20York`, how the ETL writes a text partition value)
 * may come decoded or encoded, and a restriction that does not match its own files would drop their rows without a
 * word. A plan with another key runs unrestricted, with the check of old, which fails rather than lose rows.
 */
const PLAIN_KEY = /^[A-Za-z0-9._~=/-]+$/;
/** Athena's reason for a query stopped by the workgroup's per-query data usage control. */
const SCAN_CUTOFF = /bytes scanned limit was exceeded/i;

export interface AthenaExportEngineOptions {
  client: AthenaClient;
  store: ObjectStore;
  /** The Glue database of the tables (`AppConfig.glue.database`). */
  database: string;
  workgroup: string;
  /** The real name of the bucket behind the store's `exports` bucket: Athena writes its result files there. */
  exportsBucket: string;
  /**
   * The real name of the bucket behind the store's `processed` bucket: the tables' files, whose S3 URIs
   * (`s3://<bucket>/<key>`, Athena's `"$path"`) restrict a query to the planned files.
   */
  processedBucket: string;
  /**
   * Most planned files a query is restricted to by `"$path"`; a plan of more runs unrestricted (the data-version check
   * then requires the table's files to be exactly the planned ones). Default MAX_RESTRICTED_FILES (1,000).
   */
  maxRestrictedFiles?: number;
  /**
   * Key prefix of each job's own prefix `<resultsPrefix><job-id>/`, ending in `/`: the OutputLocation asked of
   * Athena, and where the job's queries are recorded. Default `_athena/`.
   */
  resultsPrefix?: string;
  /** Target size of one result file before compression; parts end on record boundaries. Default 1 GiB. */
  partSizeBytes?: number;
  /** gzip level, 1 (fastest) to 9 (smallest). Default 6. */
  gzipLevel?: number;
  /** Uncompressed bytes per gzip member; members are compressed in parallel. Default 8 MiB. */
  gzipBlockBytes?: number;
  /** gzip members compressed at once. Default: the machine's parallelism. */
  gzipParallelism?: number;
  /** First wait between GetQueryExecution polls, in ms; it grows by half each poll up to the maximum. Default 500. */
  pollIntervalMs?: number;
  /** Longest wait between polls, in ms. Default 5000. */
  maxPollIntervalMs?: number;
  /** After StopQueryExecution, how long to wait for Athena to confirm the query ended, in ms. Default 30000. */
  stopTimeoutMs?: number;
  /** Queries started again when Athena reports a failure as retryable. Default 1. */
  retryableFailureRetries?: number;
  /**
   * Waits, in ms, before StartQueryExecution is sent again when Athena refuses it over the account's query quota
   * (TooManyRequestsException, after the SDK's own retries); the job fails ENGINE_ERROR when Athena still refuses it
   * after the last. Default 2, 4, 8, 16, 30, 30 and 30 s (2 min in all).
   */
  busyRetryMs?: readonly number[];
  /** How often progress is reported while a job runs, in ms. Default 250. */
  progressIntervalMs?: number;
  /** The deployment's key for `hash` masks (mask-key.ts), resolved when a job masks a column by hash. */
  maskKey?: MaskKeySource;
  logger?: Logger;
}

/**
 * The export engine on Amazon Athena: the request compiled to Athena SQL over the Glue table (athena-sql.ts),
 * values as execution parameters; Athena writes its CSV result in the exports bucket (see "Where Athena writes");
 * the engine streams that file through a parser into the export's CSV options (header, delimiter, quote-all,
 * null text, BOM, gzip, parts), byte for byte what the DuckDB engine writes for the same rows, then deletes
 * Athena's files. `results/<job-id>/manifest.json` goes last, as with DuckDB.
 *
 * Where Athena writes. The engine reads the result from where Athena says it wrote it (GetQueryExecution's
 * `ResultConfiguration.OutputLocation`, the full URI `s3://<bucket>/<location><query-id>.csv`), never from where
 * it asked, so it works whether or not the workgroup overrides client-side settings:
 * - A workgroup that does not enforce its configuration honours the OutputLocation the engine sends, the job's own
 *   prefix `_athena/<job-id>/`. Every start of the job empties that prefix before its query runs, so the result is
 *   written under the job's own empty prefix (issue 5): beside it there is only the record of its own query, and
 *   nothing of another job or of an earlier start.
 * - A workgroup that enforces its configuration (as deployed: infra/constructs/query-workgroup.ts) ignores that
 *   OutputLocation, and its own location, encryption and bytes-scanned cut-off apply: Athena writes
 *   `<workgroup location><query-id>.csv` (and `.csv.metadata`), side by side with other jobs' results. Athena names
 *   each result after its own query id, so results never collide, and the engine touches only the objects of the
 *   queries it ran.
 * Either way the engine records each query it starts as `_athena/<job-id>/<query-id>.query` (an empty marker) and,
 * when the start ends (success, failure or cancel), deletes every result object and its `.metadata` companion at the
 * reported location, then the records. A start that did not get that far (a crash, a lost Lambda) leaves its records:
 * the next start of the job reads them, stops a query still running and deletes its result wherever Athena put it.
 * What no start of the job cleans up (a job never started again) the exports bucket's lifecycle rule expires.
 *
 * - Idempotent starts: `ClientRequestToken` is derived from the job id, the job's start (attempt count and start
 *   time) and the retry within it, so a StartQueryExecution the SDK retries after a lost response returns the same
 *   query, never a second one; a new start of the job (after a failure, a restart or a shutdown) runs a new query.
 * - Status: GetQueryExecution polled with a growing interval; FAILED is mapped from `AthenaError` (category, type,
 *   retryable) to the job's error codes with messages that name no SQL, key or bucket (Athena's own text goes to
 *   the log only); a failure Athena calls retryable is started again once; the workgroup's bytes-scanned cut-off
 *   is LIMIT_EXCEEDED.
 * - Cancel: aborting the signal calls StopQueryExecution, waits for Athena to confirm, and removes every file of
 *   the job (Athena's, wherever it wrote them, and the parts).
 * - Progress: while the query runs Athena reports only the bytes scanned, so the fraction moves with
 *   DataScannedInBytes over the planned Parquet bytes (Athena reads only the columns it needs, so it stays low) up
 *   to one half; rows are counted while the result is rewritten, which takes the other half.
 * - Data version: the query reads the planned files only, as the DuckDB engine does: a condition on Athena's
 *   `"$path"` (the S3 URI of a row's file) restricts it to their URIs, bound as execution parameters, so that files
 *   the plan left out (those its footer statistics rule out, a half-way compaction's, see filesHiddenByCompactions,
 *   or a file added since the plan) are not read. The table's files are listed and pruned as the planner did, before
 *   the query and after it: a planned file gone or changed is DATA_CHANGED (the service plans the job again). A plan
 *   of more files than the restriction fits in Athena's limits (MAX_RESTRICTED_FILES, the query string, a
 *   parameter's length), or with a key whose URI Athena may render otherwise (PLAIN_KEY), runs unrestricted, over
 *   every file of the partitions it reads: then any difference from the partitions' planned files is DATA_CHANGED, a
 *   half-way compaction with a message saying so. A restricted query that read no byte of planned files that have
 *   some may have matched none of their URIs: the query is run again unrestricted, under that check, rather than give
 *   an empty result that only looks true.
 *
 * Differences from the DuckDB engine, by Athena's design: Athena reads the partitions registered in Glue, and
 * reads a Hive table's `timestamp` with millisecond precision, so microseconds are lost (the export shows
 * `.789000Z` where DuckDB shows `.789123Z`, and filters compare milliseconds). Athena must write its results in the
 * exports bucket (the store's only view of S3): a result reported anywhere else fails the job.
 */
export class AthenaExportEngine implements ExportEngine {
  readonly kind = 'athena' as const;
  private readonly client: AthenaClient;
  private readonly store: ObjectStore;
  private readonly resultsPrefix: string;
  private readonly partSizeBytes: number;
  private readonly gzipLevel: number;
  private readonly gzipBlockBytes: number;
  private readonly gzipParallelism: number;
  private readonly pollIntervalMs: number;
  private readonly maxPollIntervalMs: number;
  private readonly stopTimeoutMs: number;
  private readonly retries: number;
  private readonly busyRetryMs: readonly number[];
  private readonly progressIntervalMs: number;
  private readonly maxRestrictedFiles: number;

  constructor(private readonly options: AthenaExportEngineOptions) {
    this.client = options.client;
    this.store = options.store;
    this.resultsPrefix = options.resultsPrefix ?? ATHENA_RESULTS_PREFIX;
    if (!this.resultsPrefix.endsWith('/') || this.resultsPrefix === '/') {
      throw new RangeError(`resultsPrefix must be a key prefix ending in "/", got "${this.resultsPrefix}"`);
    }
    this.partSizeBytes = options.partSizeBytes ?? 1024 * 1024 * 1024;
    this.gzipLevel = options.gzipLevel ?? 6;
    this.gzipBlockBytes = options.gzipBlockBytes ?? 8 * 1024 * 1024;
    this.gzipParallelism = options.gzipParallelism ?? availableParallelism();
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.maxPollIntervalMs = options.maxPollIntervalMs ?? 5000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.retries = Math.max(0, options.retryableFailureRetries ?? 1);
    this.busyRetryMs = options.busyRetryMs ?? [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000];
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.maxRestrictedFiles = options.maxRestrictedFiles ?? MAX_RESTRICTED_FILES;
  }

  async run(job: ExportRunJob, plan: ExportPlan, options: ExportRunOptions): Promise<ExportJobResult> {
    const { signal } = options;
    const log = this.options.logger?.child({ jobId: job.id, dataset: plan.table.name, engine: 'athena' });
    const progress = new ProgressReporter(options.onProgress, this.progressIntervalMs);
    // The queries of this start, for the cleanup at its end.
    const queries: StartedQueries = new Map();
    let resultKey: string | null = null;
    try {
      checkAborted(signal);
      // An earlier start of this job may have left Athena's files, or a query still running, behind.
      await this.removeResults(job.id, new Map(), log);
      // Pruning (by partition, or by the files' statistics) left nothing to read: the result is the header alone, and
      // Athena is not asked (nor billed). The check still holds the job to the files it was planned on.
      const compiled = plan.files.length > 0 ? await this.compile(plan) : null;
      if (compiled !== null && !compiled.restricted) {
        log?.warn(
          'athena query not restricted to the planned files (too many for the query limits, or a key not plain)',
          {
            files: plan.files.length,
          },
        );
      }
      let restricted = compiled?.restricted ?? true;
      await this.checkDataVersion(plan, restricted);
      if (compiled !== null) {
        let done = await this.query(job, plan, compiled.query, signal, progress, queries, log);
        if (restricted && done.scannedBytes === 0 && plan.estimate.bytesToScan > 0) {
          // Athena skips the files a "$path" list does not name unread. Having read nothing, it either matched none
          // of the planned files' URIs (a table or partition location it names otherwise than s3://<bucket>/<key>),
          // whose empty result would look like a true one, or it ruled every row group out by statistics without
          // counting the bytes. Only the unrestricted query tells them apart: run it, held to the old check.
          log?.warn('athena read none of the planned files by "$path"; running the query unrestricted', {
            files: plan.files.length,
            firstPath: `s3://${this.options.processedBucket}/${plan.files[0]!.key}`,
          });
          restricted = false;
          await this.checkDataVersion(plan, restricted);
          checkAborted(signal);
          const unrestricted = (await this.compile(plan, { restrict: false })).query;
          done = await this.query(job, plan, unrestricted, signal, progress, queries, log, 'unrestricted');
        }
        resultKey = done.resultKey;
        await this.checkDataVersion(plan, restricted);
      }
      checkAborted(signal);
      const result = await this.writeResult(job.id, resultKey, plan, signal, progress);
      progress.flush({ rowsWritten: result.rowCount, bytesWritten: result.bytes, fraction: 1 });
      return result;
    } catch (err) {
      const mapped = mapError(err, signal);
      if (!(mapped instanceof ExportCancelledError)) {
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
      await this.removeResults(job.id, queries, log).catch((cleanupErr: unknown) =>
        log?.error("could not remove Athena's result files", { error: String(cleanupErr) }),
      );
    }
  }

  /**
   * The plan's query, restricted to the planned files by `"$path"` when the restriction fits Athena's limits (at most
   * `maxRestrictedFiles` files, each URI a parameter of at most 1,024 bytes, the query at most 262,144 bytes) and every
   * key is plain (PLAIN_KEY).
   * Otherwise the query of old, over every file of the partitions it reads (`restricted: false`), and the check of old.
   */
  private async compile(
    plan: ExportPlan,
    { restrict = true }: { restrict?: boolean } = {},
  ): Promise<{ query: AthenaQuery; restricted: boolean }> {
    const limit = plan.effectiveLimit;
    const maskKey = await maskKeyFor(plan.request.columns, this.options.maskKey);
    const options = {
      database: this.options.database,
      // One row past the cap tells a cut-off result from one that fits exactly, without a second query.
      limit: limit === null ? null : limit + 1,
      ...(maskKey !== undefined ? { maskKey } : {}),
    };
    if (restrict && plan.files.length <= this.maxRestrictedFiles && plan.files.every((f) => PLAIN_KEY.test(f.key))) {
      const paths = plan.files.map((f) => `s3://${this.options.processedBucket}/${f.key}`);
      const query = compileAthenaQuery(plan.request, plan.table, { ...options, paths });
      const fits =
        Buffer.byteLength(query.sql, 'utf8') <= ATHENA_QUERY_MAX_BYTES &&
        // The URIs are the last parameters; a client value over the limit fails either query alike.
        query.parameters
          .slice(query.parameters.length - paths.length)
          .every((p) => Buffer.byteLength(p, 'utf8') <= ATHENA_PARAMETER_MAX_LENGTH);
      if (fits) return { query, restricted: true };
    }
    return { query: compileAthenaQuery(plan.request, plan.table, options), restricted: false };
  }

  /** Runs the query to its end; returns the key of Athena's CSV result in the exports bucket and the bytes it read. */
  private async query(
    job: ExportRunJob,
    plan: ExportPlan,
    compiled: AthenaQuery,
    signal: AbortSignal,
    progress: ProgressReporter,
    queries: StartedQueries,
    log: Logger | undefined,
    variant?: 'unrestricted',
  ): Promise<{ resultKey: string; scannedBytes: number | undefined }> {
    // Honoured by a workgroup that does not enforce its configuration, ignored by one that does (see the class).
    const outputLocation = `s3://${this.options.exportsBucket}/${this.jobPrefix(job.id)}`;
    for (let retry = 0; ; retry++) {
      let id: string | undefined;
      for (let busy = 0; id === undefined; busy++) {
        try {
          const started = await this.client.send(
            new StartQueryExecutionCommand({
              QueryString: compiled.sql,
              // Athena refuses an empty list: omit it when the query has no parameter.
              ...(compiled.parameters.length > 0 ? { ExecutionParameters: compiled.parameters } : {}),
              ClientRequestToken: athenaRequestToken(job, retry, variant),
              WorkGroup: this.options.workgroup,
              QueryExecutionContext: { Database: this.options.database },
              ResultConfiguration: { OutputLocation: outputLocation },
            }),
          );
          if (started.QueryExecutionId === undefined) {
            throw new Error('StartQueryExecution returned no QueryExecutionId');
          }
          id = started.QueryExecutionId;
        } catch (err) {
          const refused = (err as { name?: string }).name === 'TooManyRequestsException';
          const wait = refused ? this.busyRetryMs[busy] : undefined;
          if (wait !== undefined) {
            // Over the account's query quota: nothing started, so the same token is sent again after a wait (a
            // burst of jobs must not fail for what a minute's wait resolves).
            log?.warn('athena refused the query over its quota; trying again', { inMs: wait });
            await sleep(wait, signal);
            checkAborted(signal);
            continue;
          }
          throw new ExportFailedError(
            'ENGINE_ERROR',
            refused
              ? 'the query engine is running too many queries; request the export again later'
              : 'the query engine did not accept the export query',
            { cause: err },
          );
        }
      }
      log?.info('athena query started', { queryExecutionId: id, retry });
      queries.set(id, { resultKey: null, ended: false });
      await this.recordQuery(job.id, id);
      const execution = await this.waitFor(id, plan, signal, progress, queries);
      const status = execution.Status;
      switch (status?.State) {
        case 'SUCCEEDED':
          return {
            resultKey: this.resultKeyOf(execution),
            scannedBytes: execution.Statistics?.DataScannedInBytes,
          };
        case 'CANCELLED': {
          if (signal.aborted) throw new ExportCancelledError();
          log?.warn('athena query was cancelled outside the export', { reason: status.StateChangeReason });
          if (SCAN_CUTOFF.test(status.StateChangeReason ?? '')) throw scanCutoffError();
          throw new ExportFailedError('ENGINE_ERROR', 'the query was cancelled in the query engine');
        }
        default: {
          const failure = failureOf(execution, plan);
          log?.warn('athena query failed', {
            queryExecutionId: id,
            errorCategory: status?.AthenaError?.ErrorCategory,
            errorType: status?.AthenaError?.ErrorType,
            retryable: status?.AthenaError?.Retryable,
            reason: status?.StateChangeReason,
          });
          if (failure.retryable && retry < this.retries) continue;
          throw failure.error;
        }
      }
    }
  }

  /** Polls until the query ends, reporting progress; on abort stops it and throws ExportCancelledError. */
  private async waitFor(
    id: string,
    plan: ExportPlan,
    signal: AbortSignal,
    progress: ProgressReporter,
    queries: StartedQueries,
  ): Promise<QueryExecution> {
    let wait = this.pollIntervalMs;
    for (;;) {
      if (signal.aborted) {
        queries.set(id, { resultKey: queries.get(id)?.resultKey ?? null, ended: await this.stop(id) });
        throw new ExportCancelledError();
      }
      const execution = await this.describe(id);
      const state = execution.Status?.State;
      queries.set(id, {
        resultKey: this.exportsKeyOf(execution.ResultConfiguration?.OutputLocation),
        ended: state !== 'QUEUED' && state !== 'RUNNING',
      });
      const scanned = execution.Statistics?.DataScannedInBytes ?? 0;
      const planned = Math.max(1, plan.estimate.bytesToScan);
      progress.report({ rowsWritten: 0, bytesWritten: 0, fraction: QUERY_SHARE * Math.min(1, scanned / planned) });
      if (state !== 'QUEUED' && state !== 'RUNNING') return execution;
      await sleep(wait, signal);
      wait = Math.min(this.maxPollIntervalMs, Math.ceil(wait * 1.5));
    }
  }

  private async describe(id: string): Promise<QueryExecution> {
    try {
      const out = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      if (out.QueryExecution === undefined) throw new Error('GetQueryExecution returned no QueryExecution');
      return out.QueryExecution;
    } catch (err) {
      throw new ExportFailedError('ENGINE_ERROR', 'the query engine could not be reached', { cause: err });
    }
  }

  /**
   * StopQueryExecution, then waits (bounded) until Athena says the query ended, so no result lands after cleanup.
   * True when Athena confirmed the end.
   */
  private async stop(id: string): Promise<boolean> {
    const log = this.options.logger;
    try {
      await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      const deadline = Date.now() + this.stopTimeoutMs;
      let wait = this.pollIntervalMs;
      while (Date.now() < deadline) {
        const state = (await this.describe(id)).Status?.State;
        if (state !== 'QUEUED' && state !== 'RUNNING') return true;
        await sleep(wait);
        wait = Math.min(this.maxPollIntervalMs, Math.ceil(wait * 1.5));
      }
      log?.warn('athena query still running after StopQueryExecution', { queryExecutionId: id });
    } catch (err) {
      log?.error('could not stop an athena query', { queryExecutionId: id, error: describeError(err) });
    }
    return false;
  }

  /** The key of the result file in the exports bucket, from where Athena says it wrote it. */
  private resultKeyOf(execution: QueryExecution): string {
    const location = execution.ResultConfiguration?.OutputLocation;
    const key = this.exportsKeyOf(location);
    if (key === null) {
      this.options.logger?.error('athena wrote its result outside the exports bucket', { outputLocation: location });
      throw new ExportFailedError('ENGINE_ERROR', 'the query engine wrote its result outside the exports store');
    }
    return key;
  }

  /** The key in the exports bucket of an `s3://` URI Athena reported; null when it is elsewhere or absent. */
  private exportsKeyOf(location: string | undefined): string | null {
    const bucketPrefix = `s3://${this.options.exportsBucket}/`;
    if (location === undefined || !location.startsWith(bucketPrefix) || location.length === bucketPrefix.length) {
      return null;
    }
    return location.slice(bucketPrefix.length);
  }

  /** The job's own prefix in the exports bucket: the OutputLocation asked for, and the queries' records. */
  private jobPrefix(jobId: string): string {
    return `${this.resultsPrefix}${jobId}/`;
  }

  /**
   * Records a query of the job before waiting for it, so that a later start of the job finds it (and its result,
   * wherever the workgroup put it) should this start end without its cleanup.
   */
  private async recordQuery(jobId: string, id: string): Promise<void> {
    try {
      await this.store.put('exports', `${this.jobPrefix(jobId)}${id}${QUERY_RECORD}`, new Uint8Array(0));
    } catch (err) {
      throw new ExportFailedError('STORAGE_ERROR', 'the export could not record its query', { cause: err });
    }
  }

  /** Streams Athena's CSV into the export's parts, then writes the manifest. */
  private async writeResult(
    jobId: string,
    resultKey: string | null,
    plan: ExportPlan,
    signal: AbortSignal,
    progress: ProgressReporter,
  ): Promise<ExportJobResult> {
    const { request } = plan;
    const encoder = new CsvRecordEncoder(request.csv);
    const columns = request.columns;
    const convert = columns.map((c) => athenaCellConverter(c.mask === null ? c.kind : 'text'));
    const header = request.csv.header
      ? Buffer.from(encoder.encode(columns.map((c) => c.name)), 'utf8')
      : Buffer.alloc(0);
    const totalBytes = resultKey === null ? 0 : ((await this.store.head('exports', resultKey))?.size ?? 0);
    let bytesRead = 0;
    const store = this.store;
    const counted = async function* (key: string): AsyncGenerator<Buffer> {
      let stream: AsyncIterable<Buffer>;
      try {
        stream = (await store.getStream('exports', key)) as AsyncIterable<Buffer>;
      } catch (err) {
        throw new ExportFailedError('STORAGE_ERROR', "the query engine's result could not be read", { cause: err });
      }
      for await (const chunk of stream) {
        bytesRead += chunk.length;
        yield chunk;
      }
    };
    const records = async function* (): AsyncGenerator<Buffer> {
      if (resultKey === null) return;
      let first = true;
      try {
        for await (const fields of parseAthenaCsv(counted(resultKey))) {
          if (fields.length !== columns.length) {
            throw new MalformedResultError(`a record has ${fields.length} fields where ${columns.length} were asked`);
          }
          // Athena's header names the columns as it folded them; the export writes the catalog's names.
          if (first) {
            first = false;
            continue;
          }
          const cells = fields.map((f, i) => (f === null ? null : convert[i]!(f)));
          yield Buffer.from(encoder.encode(cells), 'utf8');
        }
      } catch (err) {
        if (err instanceof MalformedResultError || err instanceof UnreadableCellError) {
          throw new ExportFailedError('ENGINE_ERROR', 'the query engine returned a result the export cannot read', {
            cause: err,
          });
        }
        if (err instanceof ExportFailedError) throw err;
        throw new ExportFailedError('STORAGE_ERROR', "the query engine's result could not be read", { cause: err });
      }
      if (first) throw new ExportFailedError('ENGINE_ERROR', 'the query engine returned a result without a header');
    };
    const written = await writeCsvParts({
      store: this.store,
      jobId,
      tableName: plan.table.name,
      header,
      records: records(),
      bom: request.csv.bom,
      compression: request.compression,
      partSizeBytes: this.partSizeBytes,
      maxRows: plan.effectiveLimit,
      gzipLevel: this.gzipLevel,
      gzipBlockBytes: this.gzipBlockBytes,
      gzipParallelism: this.gzipParallelism,
      signal,
      onProgress: (rowsWritten, bytesWritten) =>
        progress.report({
          rowsWritten,
          bytesWritten,
          fraction: QUERY_SHARE + (1 - QUERY_SHARE) * (totalBytes === 0 ? 1 : Math.min(1, bytesRead / totalBytes)),
        }),
    });
    // The manifest marks the result complete: never write it for a job cancelled during the upload.
    checkAborted(signal);
    return writeExportManifest(this.store, jobId, plan, written.files, written.truncated);
  }

  /**
   * The job promises the data version it was planned on. A query restricted to the planned files (`restricted`) reads
   * nothing else, so each of them must still be there with the ETag it had, and any other file of the listing is left
   * alone: a file statistics pruned (it held no row of the result as planned), a half-way compaction's merged files
   * beside their inputs or its inputs not yet deleted after its commit (filesHiddenByCompactions), and a file added
   * since the plan, none of which the DuckDB engine reads either (a new run of the job is planned anew). An
   * unrestricted query reads every file of the partitions it reads, so there the listing, pruned by partition as the
   * planner did, must be exactly the plan's `partitionFiles`, and a compaction half-way is named in the refusal.
   */
  private async checkDataVersion(plan: ExportPlan, restricted: boolean): Promise<void> {
    const prefix = plan.table.location.endsWith('/') ? plan.table.location : `${plan.table.location}/`;
    const listed: { key: string; values: Record<string, string>; etag: string }[] = [];
    try {
      for await (const object of this.store.listAll('processed', prefix)) {
        if (!object.key.endsWith('.parquet')) continue;
        const values = partitionValuesOf(prefix, object.key);
        if (values !== undefined) listed.push({ key: object.key, values, etag: object.etag });
      }
      // Every file, a half-way compaction's too (no filesHiddenByCompactions here): unrestricted, Athena reads the
      // whole folder, so a compaction's merged files beside their inputs must fail the check (DATA_CHANGED) rather
      // than pass it and export the rows twice.
    } catch (err) {
      throw new ExportFailedError('STORAGE_ERROR', 'the dataset files could not be listed', { cause: err });
    }
    const now = new Map(pruneFiles(listed, plan.table, plan.request).map((f) => [f.key, f.etag]));
    // Restricted, the files read must be as planned; unrestricted, every file of the partitions read.
    const same = restricted
      ? plan.files.every((f) => now.get(f.key) === f.etag)
      : now.size === plan.partitionFiles.length && plan.partitionFiles.every((f) => now.get(f.key) === f.etag);
    if (!same && !restricted && (await this.compactionHalfWay(plan, now))) {
      // Planned again, it would fail the same way until the compaction is finished: say what to do.
      throw new ExportFailedError(
        'DATA_CHANGED',
        `a compaction of dataset "${plan.table.name}" is half-way (running, or stopped): Athena would read its rows twice; request the export again once it is done (run careplus compact for the dataset again to finish a stopped one)`,
      );
    }
    if (!same) {
      throw new ExportFailedError(
        'DATA_CHANGED',
        `dataset "${plan.table.name}" changed after the export was requested; request it again`,
      );
    }
  }

  /** Whether a file of the check's listing is one a half-way compaction's journal names (compaction-view.ts). */
  private async compactionHalfWay(plan: ExportPlan, listed: ReadonlyMap<string, string>): Promise<boolean> {
    try {
      const hidden = await filesHiddenByCompactions(this.store, plan.table.name);
      return [...listed.keys()].some((key) => hidden.has(key));
    } catch {
      // Only to word the refusal: a journal that cannot be read leaves the plain message.
      return false;
    }
  }

  /**
   * Deletes Athena's files of the job's queries: those of this start (`queries`) and those an earlier start recorded
   * under the job's prefix. A query not known to have ended is described first, and stopped if it still runs, so no
   * result lands after its deletion; each result object and its `.metadata` go from where Athena reported them, then
   * everything under the job's prefix. A query Athena cannot describe keeps its record, for the next start to retry.
   */
  private async removeResults(jobId: string, queries: StartedQueries, log: Logger | undefined): Promise<void> {
    const prefix = this.jobPrefix(jobId);
    const recorded = new Map<string, QueryFiles>(queries);
    for await (const object of this.store.listAll('exports', prefix)) {
      const name = object.key.slice(prefix.length);
      if (!name.endsWith(QUERY_RECORD) || name.includes('/')) continue;
      const id = name.slice(0, -QUERY_RECORD.length);
      if (!recorded.has(id)) recorded.set(id, { resultKey: null, ended: false });
    }
    const unresolved = new Set<string>();
    for (const [id, known] of recorded) {
      let files = known;
      if (!files.ended || files.resultKey === null) {
        try {
          const execution = await this.describe(id);
          const state = execution.Status?.State;
          const ended = (state !== 'QUEUED' && state !== 'RUNNING') || (await this.stop(id));
          files = { resultKey: this.exportsKeyOf(execution.ResultConfiguration?.OutputLocation), ended };
        } catch (err) {
          log?.warn('could not find where an athena query of the job wrote', {
            queryExecutionId: id,
            error: describeError(err),
          });
          unresolved.add(id);
          continue;
        }
      }
      // Still running after StopQueryExecution: it may yet write, so the next start must look again.
      if (!files.ended) unresolved.add(id);
      if (files.resultKey !== null) {
        await this.store.delete('exports', files.resultKey);
        await this.store.delete('exports', `${files.resultKey}.metadata`);
      }
    }
    for await (const object of this.store.listAll('exports', prefix)) {
      const name = object.key.slice(prefix.length);
      if (name.endsWith(QUERY_RECORD) && unresolved.has(name.slice(0, -QUERY_RECORD.length))) continue;
      await this.store.delete('exports', object.key);
    }
  }
}

/** What the engine knows of a query's files: the result's key in the exports bucket, and whether it has ended. */
interface QueryFiles {
  resultKey: string | null;
  ended: boolean;
}

/** The queries of one start of a job, by QueryExecutionId. */
type StartedQueries = Map<string, QueryFiles>;

/**
 * Builds the engine from the configuration: Athena in `athena.region` (or at `athena.endpoint`), the workgroup,
 * the Glue database of `glue.database`, results in the exports bucket, parts and gzip as configured. Athena only
 * reads Glue tables and writes to S3, so it needs the S3 store and the Glue catalog.
 */
export function createAthenaExportEngine(
  config: AppConfig,
  store: ObjectStore,
  options: { logger?: Logger; client?: AthenaClient; maskKey?: MaskKeySource } = {},
): AthenaExportEngine {
  if (config.storage !== 's3' || store.kind !== 's3') {
    throw new ConfigError('CAREPLUS_ENGINE=athena needs CAREPLUS_STORAGE=s3: Athena reads and writes Amazon S3');
  }
  if (config.catalog !== 'glue') {
    throw new ConfigError('CAREPLUS_ENGINE=athena needs CAREPLUS_CATALOG=glue: Athena queries the Glue tables');
  }
  const client =
    options.client ?? createAthenaClient({ region: config.athena.region, endpoint: config.athena.endpoint });
  return new AthenaExportEngine({
    client,
    store,
    database: config.glue.database,
    workgroup: config.athena.workgroup,
    exportsBucket: config.s3.buckets.exports,
    processedBucket: config.s3.buckets.processed,
    partSizeBytes: config.exports.partBytes,
    gzipLevel: config.exports.gzipLevel,
    ...(options.maskKey !== undefined ? { maskKey: options.maskKey } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
}

/**
 * The ClientRequestToken of a query: derived from the job's id, its start (count and start time), the re-planned run
 * within that start (when there is one), the retry within that run and the unrestricted second query (when there is
 * one), so a StartQueryExecution repeated after a lost response returns the first query, and any other start, retry
 * or second query gets a query of its own. 71 characters; Athena takes 32 to 128.
 */
export function athenaRequestToken(job: ExportRunJob, retry: number, variant?: 'unrestricted'): string {
  // A re-based run (ExportRunJob.rebases) is named only when there is one, so tokens of other runs stay as they were;
  // so is the unrestricted query a run makes after a restricted one that read nothing.
  const rebased = (job.rebases ?? 0) > 0 ? `\nrebase ${job.rebases}` : '';
  const second = variant === undefined ? '' : `\n${variant}`;
  const start = `${job.id}\n${job.attempts ?? 1}\n${job.startedAt ?? ''}\n${retry}${rebased}${second}`;
  return `export-${createHash('sha256').update(start, 'utf8').digest('hex')}`;
}

/** A failed query as a job error, from Athena's error category and type; Athena's message goes to the log only. */
function failureOf(execution: QueryExecution, plan: ExportPlan): { error: ExportFailedError; retryable: boolean } {
  const status = execution.Status;
  const error = status?.AthenaError;
  const reason = `${status?.StateChangeReason ?? ''} ${error?.ErrorMessage ?? ''}`;
  const retryable = error?.Retryable === true;
  if (SCAN_CUTOFF.test(reason)) return { error: scanCutoffError(), retryable: false };
  const category = ERROR_CATEGORIES[error?.ErrorCategory ?? 0] ?? 'UNKNOWN';
  const type = error?.ErrorType;
  const what = `Athena error category ${category}${type === undefined ? '' : `, type ${type}`}`;
  const again = retryable ? '; requesting the export again may succeed' : '';
  if (type === 1001 || type === 1002) {
    return {
      error: new ExportFailedError(
        'DATA_CORRUPT',
        `a data file of dataset "${plan.table.name}" could not be read by the query engine (${what})`,
      ),
      retryable,
    };
  }
  if (type === 401 || type === 402) {
    return {
      error: new ExportFailedError('STORAGE_ERROR', `the query engine could not write its result (${what})${again}`),
      retryable,
    };
  }
  if (type !== undefined && type >= 0 && type <= 8) {
    return {
      error: new ExportFailedError('ENGINE_ERROR', `the query engine ran out of resources (${what})${again}`),
      retryable,
    };
  }
  if (type === 206 || type === 210) {
    return { error: new ExportFailedError('ENGINE_ERROR', `the query timed out (${what})${again}`), retryable };
  }
  return { error: new ExportFailedError('ENGINE_ERROR', `the query engine failed (${what})${again}`), retryable };
}

function scanCutoffError(): ExportFailedError {
  return new ExportFailedError(
    'LIMIT_EXCEEDED',
    "the export would scan more data than the query engine allows for one query (the workgroup's bytes-scanned cut-off): narrow it with partitions or where",
  );
}

function mapError(err: unknown, signal: AbortSignal): ExportFailedError | ExportCancelledError {
  if (err instanceof ExportCancelledError) return err;
  if (signal.aborted) return new ExportCancelledError();
  if (err instanceof ExportFailedError) return err;
  return new ExportFailedError('ENGINE_ERROR', 'the query engine failed', { cause: err });
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new ExportCancelledError();
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Progress at most once per interval, never going backwards; `flush` reports at once. */
class ProgressReporter {
  private last = 0;
  private fraction = 0;

  constructor(
    private readonly emit: (progress: EngineProgress) => void,
    private readonly intervalMs: number,
  ) {}

  report(progress: EngineProgress): void {
    this.fraction = Math.max(this.fraction, progress.fraction);
    if (Date.now() - this.last < this.intervalMs) return;
    this.flush(progress);
  }

  flush(progress: EngineProgress): void {
    this.fraction = Math.max(this.fraction, progress.fraction);
    this.last = Date.now();
    this.emit({ ...progress, fraction: this.fraction });
  }
}

/** The export engine's Athena client, with the timeouts every AWS client of this project has (client-timeouts.ts). */
export function createAthenaClient(settings: AwsClientSettings): AthenaClient {
  return new AthenaClient(clientConfig(settings));
}
