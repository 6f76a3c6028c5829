import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseExportJobMessage } from '../adapters/aws/export-job-message.js';
import type { Logger } from '../ports/logger.js';
import type { ExportService, RunJobOutcome } from '../services/export-service.js';

/** What the handler needs: the export service of the worker's composition and a logger. */
export interface ExportQueueDeps {
  exports: Pick<ExportService, 'runJob'>;
  logger: Logger;
}

export type ExportQueueHandler = (
  event: SQSEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<SQSBatchResponse>;

/**
 * Time kept back from the Lambda's time limit to stop a job's query, remove its output and record the failure: the
 * Athena engine waits up to 30 s for Athena to confirm the stop, so 60 s leaves as much again for the rest.
 */
export const STOP_MARGIN_MS = 60_000;

/**
 * The export worker's SQS handler (event source mapping with `ReportBatchItemFailures`): each message names one
 * export job, run to its end with `ExportService.runJob`. A message is reported as failed, so SQS delivers it again
 * after the queue's visibility timeout (and to the dead-letter queue after its receive limit), when:
 * - it is not an export-job message (it never will be: it ends in the dead-letter queue for inspection);
 * - the job is another worker's for now (`busy`: a duplicate delivery while the first one runs it);
 * - running it threw (the job store or the engine's infrastructure failed; the job is left for a retry).
 * Anything else (the job ran, whatever its outcome; it had finished or been cancelled; it no longer exists) is done.
 * Messages are handled one after the other: the worker runs one job at a time.
 */
export function createExportQueueHandler(deps: () => Promise<ExportQueueDeps>): ExportQueueHandler {
  return async (event, context) => {
    const worker = await deps();
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const timeLimitMs = context === undefined ? undefined : context.getRemainingTimeInMillis() - STOP_MARGIN_MS;
      if (!(await handleRecord(worker, record, timeLimitMs))) failures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures: failures };
  };
}

/** One message; true when it is done with (delete it), false to have it delivered again. */
async function handleRecord(
  worker: ExportQueueDeps,
  record: SQSRecord,
  timeLimitMs: number | undefined,
): Promise<boolean> {
  const log = worker.logger.child({ messageId: record.messageId });
  const jobId = parseExportJobMessage(record.body);
  if (jobId instanceof Error) {
    log.error('unreadable export-job message', { error: jobId.message });
    return false;
  }
  let outcome: RunJobOutcome;
  try {
    outcome = await worker.exports.runJob(jobId, timeLimitMs === undefined ? {} : { timeLimitMs });
  } catch (err) {
    log.error('export job could not be run; the message will be delivered again', { jobId, error: String(err) });
    return false;
  }
  switch (outcome) {
    case 'ran':
    case 'done':
      return true;
    case 'missing':
      // Its record expired with the exports bucket's lifecycle, or the message outlived the job: nothing to run.
      log.warn('export-job message for a job that does not exist', { jobId });
      return true;
    case 'busy':
      log.info('export job is running in another worker; the message will be delivered again', { jobId });
      return false;
  }
}
