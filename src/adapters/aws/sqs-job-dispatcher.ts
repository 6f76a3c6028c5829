import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DispatchedJob, JobDispatcher } from '../../ports/job-dispatcher.js';
import { type AwsClientSettings, requestHandlerWithTimeouts } from './client-timeouts.js';
import { encodeExportJobMessage } from './export-job-message.js';

export interface SqsJobDispatcherOptions {
  client: SQSClient;
  /** `https://sqs.<region>.amazonaws.com/<account>/<queue>`. */
  queueUrl: string;
}

/**
 * Export jobs handed to an SQS queue: one SendMessage per job, body `{"version":1,"jobId":"..."}`
 * (export-job-message.ts). The export worker (src/lambda-export-worker.ts) consumes the queue and runs each job with
 * `ExportService.runJob`. SendMessage returning means SQS stored the message; the SDK checks the body's MD5.
 */
export class SqsJobDispatcher implements JobDispatcher {
  readonly kind = 'sqs' as const;

  constructor(private readonly options: SqsJobDispatcherOptions) {}

  async dispatch(job: DispatchedJob): Promise<void> {
    await this.options.client.send(
      new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: encodeExportJobMessage(job.id) }),
    );
  }
}

/**
 * An SQS client for a queue URL. The queue URL's origin is SQS's endpoint in its Region
 * (`https://sqs.<region>.amazonaws.com`), so it is used as the endpoint: a queue on an SQS-compatible server (a
 * test stand-in) then needs no separate setting, and the SDK does not warn that the two differ.
 */
export function createSqsClient(
  queueUrl: string,
  region: string,
  options: Pick<AwsClientSettings, 'credentials' | 'timeouts'> = {},
): SQSClient {
  return new SQSClient({
    region,
    endpoint: new URL(queueUrl).origin,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    requestHandler: requestHandlerWithTimeouts(options.timeouts),
  });
}
