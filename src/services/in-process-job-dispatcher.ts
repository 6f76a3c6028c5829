import type { DispatchedJob, JobDispatcher } from '../ports/job-dispatcher.js';

/**
 * Jobs run in the process that accepted them: the ExportService's worker pool (a FIFO queue with a concurrency
 * limit). The service builds this dispatcher over its own queue when no other is configured.
 */
export class InProcessJobDispatcher implements JobDispatcher {
  readonly kind = 'in-process' as const;

  constructor(private readonly enqueue: (job: DispatchedJob) => void) {}

  dispatch(job: DispatchedJob): Promise<void> {
    this.enqueue(job);
    return Promise.resolve();
  }
}
