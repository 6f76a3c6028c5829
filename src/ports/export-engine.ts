import type { ExportEngineKind, ExportFailureCode, ExportJobResult } from '../domain/export-job.js';
import type { ExportPlan } from '../domain/export-plan.js';

/** Progress as an engine reports it; the service adds the estimate. */
export interface EngineProgress {
  /** Rows written so far (estimated from the scan while the query runs, exact at the end). */
  rowsWritten: number;
  bytesWritten: number;
  /** 0 to 1. */
  fraction: number;
}

export interface ExportRunOptions {
  /** Aborting stops the query, removes partial output (see `ownsOutput`) and rejects with ExportCancelledError. */
  signal: AbortSignal;
  /**
   * Asked before a failed or cancelled run removes the job's output: false when the job has been restarted by
   * another run meanwhile (a process that took this one's jobs over), whose output it is now. Absent: the output is
   * removed; failing (the job store did not answer, when a takeover is most likely): it is left, as deleting another
   * run's result is worse than leaving partial files no link names.
   */
  ownsOutput?: () => Promise<boolean>;
  onProgress: (progress: EngineProgress) => void;
}

/**
 * The export engine port: runs one planned export and writes its result under `results/<job-id>/` in the exports bucket
 * (`part-00000.csv[.gz]`, ..., then `manifest.json` last). On failure or cancellation nothing of the job's
 * output is left behind. Adapters: DuckDB in-process, Amazon Athena.
 */
export interface ExportEngine {
  readonly kind: ExportEngineKind;
  run(job: ExportRunJob, plan: ExportPlan, options: ExportRunOptions): Promise<ExportJobResult>;
  /**
   * Removes what a run of this job may have left in the engine's own working space when its process died (a partial
   * CSV, staged inputs); nothing when there is none. Called when a restart ends such a job without running it again
   * (a new run clears the space itself).
   */
  discard?(jobId: string): Promise<void>;
}

/**
 * The job an engine runs, as far as engines need it (the service passes the job record). An engine that hands the
 * work to a remote service derives its idempotency tokens from these, so a call retried within one start of the job
 * never starts a second query, while a new start (after a failure, a crash or a shutdown) never inherits the
 * query of an earlier one.
 */
export interface ExportRunJob {
  id: string;
  /** Starts of the job so far, this one included (the record's `attempts`); 1 when absent. */
  attempts?: number;
  /**
   * When this start began (the record's `startedAt`, ISO 8601). A shutdown puts a running job back without counting
   * its start, so only this tells two starts with the same count apart.
   */
  startedAt?: string | null;
  /**
   * Times this start was planned again because the job's files changed as it was about to read them; 0 when absent.
   * Each is a run of its own: it must not be answered with the query of the run before it.
   */
  rebases?: number;
}

/** The run was cancelled through its signal; its partial output is gone. */
export class ExportCancelledError extends Error {
  constructor() {
    super('export cancelled');
    this.name = 'ExportCancelledError';
  }
}

/** The run failed for a reason a client may see: `message` names no key, path or SQL. */
export class ExportFailedError extends Error {
  readonly code: ExportFailureCode;
  /**
   * The engine ran out of memory or disk: with other jobs beside it in the same engine, the same job alone may
   * succeed (ExportService runs it again, alone).
   */
  readonly outOfResources: boolean;
  constructor(code: ExportFailureCode, message: string, options?: { cause?: unknown; outOfResources?: boolean }) {
    super(message, options);
    this.name = 'ExportFailedError';
    this.code = code;
    this.outOfResources = options?.outOfResources === true;
  }
}
