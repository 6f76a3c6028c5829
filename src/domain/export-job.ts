import type { EffectiveGrant } from './export-grant.js';
import type { ExportEstimate } from './export-plan.js';
import type { NormalizedExportRequest } from './export-request.js';

export const EXPORT_JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const;
export type ExportJobStatus = (typeof EXPORT_JOB_STATUSES)[number];

/** Statuses after which a job never changes again, except SUCCEEDED → EXPIRED by retention. */
export const FINISHED_STATUSES: readonly ExportJobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'];

export function isFinished(status: ExportJobStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

/**
 * A job's status as of `now`: a SUCCEEDED job whose result is past its expiry is EXPIRED, whether or not a
 * retention sweep has rewritten its record yet (on AWS the exports bucket's lifecycle deletes the files and no sweep
 * runs; embedded, the sweep runs every few minutes).
 */
export function statusAt(job: { status: ExportJobStatus; expiresAt: string | null }, now: Date): ExportJobStatus {
  if (job.status === 'SUCCEEDED' && job.expiresAt !== null && Date.parse(job.expiresAt) <= now.getTime()) {
    return 'EXPIRED';
  }
  return job.status;
}

/**
 * Why a job failed: a closed set, shown to clients with a message that never contains a key, a path or SQL.
 * - DATA_CORRUPT: a Parquet file of the dataset cannot be read.
 * - DATA_CHANGED: the dataset or a requested column is gone since the request, or its files kept changing as the
 *   export read them (a job whose files changed once is planned again on them); request the export again.
 * - INTERRUPTED: the API restarted while the job ran, too often to try again.
 * - ENGINE_ERROR: the query engine failed (out of memory or disk, an engine fault).
 * - STORAGE_ERROR: the result could not be written to the exports store.
 * - LIMIT_EXCEEDED: the engine refused to go on past one of its own limits (Athena: the workgroup's
 *   bytes-scanned cut-off per query); narrower partitions or filters may fit.
 * - INTERNAL: anything else.
 */
export const EXPORT_FAILURE_CODES = [
  'DATA_CORRUPT',
  'DATA_CHANGED',
  'INTERRUPTED',
  'ENGINE_ERROR',
  'STORAGE_ERROR',
  'LIMIT_EXCEEDED',
  'INTERNAL',
] as const;
export type ExportFailureCode = (typeof EXPORT_FAILURE_CODES)[number];

/**
 * Days a job that ended is kept after the retention period, so that `exports` lists it (EXPIRED, FAILED, ...) for a
 * while rather than forgetting it at once: the embedded retention sweep and the AWS lifecycle rule of `_jobs/` alike.
 */
export const JOB_HISTORY_DAYS = 30;

/**
 * Exports-bucket prefix of every job's result (its parts and `manifest.json`): `results/<job-id>/`. One fixed prefix,
 * so that the deployment can grant and expire results apart from job records (`_jobs/`) and Athena's output.
 */
export const EXPORT_RESULTS_PREFIX = 'results/';

/** What a job id may be: one safe path segment (ids name keys and folders). */
const EXPORT_JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Whether `id` can be an export job's id. */
export function isExportJobId(id: string): boolean {
  return EXPORT_JOB_ID.test(id);
}

/** Throws unless `id` can be an export job's id (before it names a key or a folder). */
export function assertExportJobId(id: string): void {
  if (!isExportJobId(id)) throw new Error(`not a valid export job id: ${JSON.stringify(id)}`);
}

/** Where a job's result files go: `results/<job-id>/`. */
export function exportResultPrefix(jobId: string): string {
  return `${EXPORT_RESULTS_PREFIX}${jobId}/`;
}

/**
 * Every prefix a job's result may be under, for removal: its own, and `<job-id>/` at the bucket's root, where earlier
 * versions kept results (their job records still name those keys).
 */
export function exportResultPrefixes(jobId: string): string[] {
  return [exportResultPrefix(jobId), `${jobId}/`];
}

export type ExportEngineKind = 'duckdb' | 'athena';

/** Whoever asks for exports; jobs belong to their requester and nobody else sees them. */
export interface ExportCaller {
  /** Stable identity, e.g. the API key's id or the token subject. */
  id: string;
  /** The caller's attributes; a token's `exp` among them caps the download links it is given (credentialExpiresAt). */
  attributes?: Readonly<Record<string, unknown>> | undefined;
}

export interface ExportJobProgress {
  /** Exact once the engine finished writing; an estimate while it runs. */
  rowsWritten: number;
  /** From the pre-flight estimate, capped by the limit. */
  rowsEstimated: number;
  bytesWritten: number;
  /** 0 to 1. */
  fraction: number;
}

export interface ExportResultFile {
  /** File name in the result, e.g. `part-00000.csv.gz`. */
  name: string;
  /** Key in the exports bucket: `results/<job-id>/<name>` (`<job-id>/<name>` for jobs of earlier versions). */
  key: string;
  rowCount: number;
  bytes: number;
  /** SHA-256 hex of the file's bytes as stored (compressed when gzip). */
  sha256: string;
}

export interface ExportJobResult {
  rowCount: number;
  bytes: number;
  /** SHA-256 hex of the checksum listing: one `<sha256>  <name>\n` line per file, in order (`sha256sum -c` format). */
  sha256: string;
  /** True when a limit (the request's or the configured maximum) cut rows off. */
  truncated: boolean;
  files: ExportResultFile[];
  manifestKey: string;
}

/** The stored job: the storage record, not a GraphQL type. Times are ISO 8601. */
export interface ExportJobRecord {
  recordVersion: 1;
  id: string;
  status: ExportJobStatus;
  engine: ExportEngineKind;
  dataset: string;
  request: NormalizedExportRequest;
  /** Hash of the normalised request without its idempotency key. */
  requestHash: string;
  fingerprint: string;
  dataVersion: string;
  requestedBy: string;
  idempotencyKey: string | null;
  /** The grant the request was normalised under; kept to re-plan after a restart. */
  grant: EffectiveGrant | null;
  estimate: ExportEstimate;
  effectiveLimit: number | null;
  progress: ExportJobProgress;
  /** Times the job was started; a restart during a run counts. */
  attempts: number;
  /**
   * The requests that wait for the job while it is unfinished, by waiter id (`requestExport` hands each its own; a
   * keyed request's is derived from its key, so its repeats are one): `releaseExport` cancels the job only when the
   * last of them lets it go. Absent in records written before waiters were kept: any release cancels such a job.
   */
  waiting?: string[];
  /**
   * With a queue dispatcher: when the job's message was handed to the queue (after `createdAt`, by the process that
   * recorded it). Absent while it was not, or was not recorded as sent (that process ended between the two writes, or
   * wrote the record before this field existed): a read of the job a minute after it was recorded sends it again.
   */
  sentAt?: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** When retention deletes the result (SUCCEEDED jobs). */
  expiresAt: string | null;
  error: { code: ExportFailureCode; message: string } | null;
  result: ExportJobResult | null;
}

/** A result file as a client sees it: with a fresh download link while the job is SUCCEEDED. */
export interface ExportFileView {
  name: string;
  rowCount: number;
  bytes: number;
  sha256: string;
  url: string | null;
  urlExpiresAt: Date | null;
}

export interface ExportResultView {
  rowCount: number;
  bytes: number;
  sha256: string;
  truncated: boolean;
  files: ExportFileView[];
}

/** What the service hands the API layer: the job without internals (keys, grant, fingerprints). */
export interface ExportJobView {
  id: string;
  status: ExportJobStatus;
  engine: ExportEngineKind;
  dataset: string;
  request: NormalizedExportRequest;
  progress: ExportJobProgress;
  estimate: ExportEstimate;
  requestedBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  expiresAt: Date | null;
  error: { code: ExportFailureCode; message: string } | null;
  result: ExportResultView | null;
}
