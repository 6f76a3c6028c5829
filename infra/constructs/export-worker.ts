import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeRule } from '../nag.js';
import { ServiceFunction } from './service-function.js';

export interface ExportWorkerProps {
  codeDir: string;
  layers: ILayerVersion[];
  memoryMiB: number;
  ephemeralStorageMiB: number;
  timeoutMinutes: number;
  maxConcurrency: number;
  maxReceiveCount: number;
  environment: Record<string, string>;
  logRetention: RetentionDays;
}

/**
 * Lambda's guidance for an SQS event source: a visibility timeout of at least six times the function's timeout, so
 * a message is not delivered again while an invocation (with the poller's own retries) may still hold it.
 */
export const VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT = 6;

/**
 * The export worker: the API sends each new export job's id to the jobs queue, and this function (an SQS event
 * source, one message per invocation, partial batch responses) runs the job to its end with the Athena engine
 * (src/lambda-export-worker.ts). A job's start may run as long as the function's timeout (its lease,
 * CAREPLUS_EXPORT_LEASE_SECONDS); a message that keeps failing (unreadable, or the job store unreachable) goes to
 * the dead-letter queue after `maxReceiveCount` deliveries. Both queues are SSE-encrypted and TLS-only.
 */
export class ExportWorker extends Construct {
  readonly handler: ServiceFunction;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ExportWorkerProps) {
    super(scope, id);
    const timeout = Duration.minutes(props.timeoutMinutes);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS keeps a message: two weeks to inspect and redrive it (the worker runs a job at most once).
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledgeRule(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the export jobs queue; a queue behind it would never be read.',
    );
    this.queue = new Queue(this, 'Jobs', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(props.timeoutMinutes * VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT),
      // SQS's default, stated: a job nobody ran within four days is better requested again.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.handler = new ServiceFunction(this, 'Handler', {
      description: 'CarePlus export worker: runs export jobs from the jobs queue (Athena)',
      codeDir: props.codeDir,
      layers: props.layers,
      memoryMiB: props.memoryMiB,
      ephemeralStorageMiB: props.ephemeralStorageMiB,
      timeout,
      environment: {
        ...props.environment,
        // A job's start outlives no invocation: after the timeout, a new delivery may take the job over.
        CAREPLUS_EXPORT_LEASE_SECONDS: String(props.timeoutMinutes * 60),
      },
      logRetention: props.logRetention,
    });
    const mapping = this.handler.function.addEventSourceMapping('JobsSource', {
      eventSourceArn: this.queue.queueArn,
      // One job per invocation: the lease is the function's timeout, and a long job never holds others back.
      batchSize: 1,
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    // Lambda checks the role may receive from the queue when it creates the mapping: the grant comes first.
    mapping.node.addDependency(this.handler.role);
  }
}
