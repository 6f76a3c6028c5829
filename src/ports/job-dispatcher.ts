import type { ExportPlan } from '../domain/export-plan.js';

/** A job just recorded QUEUED, with the plan it was validated against. */
export interface DispatchedJob {
  id: string;
  plan: ExportPlan;
}

/**
 * Who runs an export job once `requestExport` has recorded it. Adapters:
 * - in-process (src/adapters/local/in-process-job-dispatcher.ts): the ExportService's own worker pool, in the
 *   process that took the request (`careplus serve`, the embedded default);
 * - SQS (src/adapters/aws/sqs-job-dispatcher.ts): the job id goes to a queue and an export worker elsewhere (the
 *   export-worker Lambda) runs it with `ExportService.runJob`, re-planning it from the job record. The plan is not
 *   sent: the record holds everything the worker needs, and a queue may deliver the message more than once.
 */
export interface JobDispatcher {
  readonly kind: 'in-process' | 'sqs';
  /** Hands the job over; resolves once it is (durably, for a queue). Rejects when it could not be. */
  dispatch(job: DispatchedJob): Promise<void>;
}
