import type { ExportJobRecord } from '../domain/export-job.js';

/** A job in its requester's listing: see JobStore.listRequesterEntries. */
export interface RequesterEntry {
  id: string;
  order: string;
}

/** What an idempotency key is bound to: the first job made with it and the hash of the request that made it. */
export interface IdempotencyBinding {
  jobId: string;
  requestHash: string;
}

/**
 * Durable export job records. `create` is the one place that guarantees "one job per fingerprint": concurrent
 * creates for the same requester and fingerprint (in one process or several) yield one job.
 */
export interface JobStore {
  /**
   * Stores `job` unless the requester already has a job with the same fingerprint that `reusable` accepts;
   * then that job is returned with `created: false`.
   */
  create(
    job: ExportJobRecord,
    reusable: (existing: ExportJobRecord) => boolean,
  ): Promise<{ job: ExportJobRecord; created: boolean }>;
  get(id: string): Promise<ExportJobRecord | undefined>;
  /**
   * Read, change, write one record, atomically against every other update of it, in this process or another: a
   * record changed between the read and the write is read again and `change` applied again (so it may run more
   * than once). A `change` that returns the record it was given writes nothing. Throws when the job does not exist.
   */
  update(id: string, change: (job: ExportJobRecord) => ExportJobRecord): Promise<ExportJobRecord>;
  /** Every job of a requester, newest first. */
  listByRequester(requestedBy: string): Promise<ExportJobRecord[]>;
  /**
   * The jobs of a requester as its listing names them, newest first, without reading their records: each job's id
   * and its place in that order (`order`, the text the listing sorts by: the inverted creation time, then the id), so
   * that a page of them costs one read per job on it.
   */
  listRequesterEntries(requestedBy: string): Promise<RequesterEntry[]>;
  /**
   * Takes a job out of its requester's listing (the record stays, readable by id): for a job a refused request made
   * and never sent, which the requester never saw.
   */
  unlist(job: ExportJobRecord): Promise<void>;
  /**
   * Deletes a finished job for good, long after its result expired: its record, its place in its requester's listing,
   * its idempotency key when the key still names it, and its start and cancel markers. (A fingerprint claim naming it
   * may stay: a claim whose job is gone is no job to reuse.)
   */
  forget(job: ExportJobRecord): Promise<void>;
  /** Every job, in no particular order: for recovery at start-up and for retention. */
  listAll(): AsyncIterable<ExportJobRecord>;
  /** The latest job a requester made with this fingerprint. */
  findByFingerprint(requestedBy: string, fingerprint: string): Promise<ExportJobRecord | undefined>;
  findByIdempotencyKey(requestedBy: string, key: string): Promise<IdempotencyBinding | undefined>;
  /** Binds a key to a job unless it is bound already; returns the binding that holds (the first one). */
  bindIdempotencyKey(requestedBy: string, key: string, binding: IdempotencyBinding): Promise<IdempotencyBinding>;
  /**
   * Binds a key to `binding`'s job in place of job `from` (which ended without a result), only while the key is
   * still bound to `from` (or to nothing): once across processes, so concurrent retries agree on one new job. Returns
   * the binding that holds.
   */
  rebindIdempotencyKey(
    requestedBy: string,
    key: string,
    from: string,
    binding: IdempotencyBinding,
  ): Promise<IdempotencyBinding>;
  /**
   * Claims start number `attempt` of a job for one worker, once across processes (record updates are
   * last-writer-wins, so two workers that both read QUEUED need this to agree on one start). Returns whether this
   * call made the claim, and when the claim that holds was made.
   */
  claimStart(id: string, attempt: number, at: string): Promise<{ claimed: boolean; claimedAt: string }>;
  /**
   * Records that a job's requester asked to cancel it, once; never overwritten by a record update, so a worker in
   * another process sees it even if its own progress write raced the CANCELLED status.
   */
  requestCancel(id: string, at: string): Promise<void>;
  cancelRequested(id: string): Promise<boolean>;
}
