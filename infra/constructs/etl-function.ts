import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeRule } from '../nag.js';
import { coveringPrefixes } from '../lake-layout.js';
import { ServiceFunction } from './service-function.js';

export interface EtlFunctionProps {
  codeDir: string;
  layers: ILayerVersion[];
  raw: IBucket;
  /** Raw prefixes of the declared datasets; each gets an ObjectCreated notification. */
  rawPrefixes: readonly string[];
  memoryMiB: number;
  ephemeralStorageMiB: number;
  timeoutMinutes: number;
  retryAttempts: number;
  maxEventAgeHours: number;
  environment: Record<string, string>;
  logRetention: RetentionDays;
}

/** DuckDB's share of the function's memory; Node, the SDK and upload buffers use the rest. */
const DUCKDB_MEMORY_SHARE = 0.6;

/**
 * The ETL: S3 ObjectCreated on the raw datasets' prefixes invokes the function asynchronously; an event that
 * still fails after Lambda's retries (or waits too long for one) goes to the failure queue with its error.
 */
export class EtlFunction extends Construct {
  readonly handler: ServiceFunction;
  readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: EtlFunctionProps) {
    super(scope, id);
    const duckdbMemoryMiB = Math.floor(props.memoryMiB * DUCKDB_MEMORY_SHARE);
    this.handler = new ServiceFunction(this, 'Handler', {
      description: 'CarePlus ETL: raw support logs to partitioned Parquet (S3 ObjectCreated)',
      codeDir: props.codeDir,
      layers: props.layers,
      memoryMiB: props.memoryMiB,
      ephemeralStorageMiB: props.ephemeralStorageMiB,
      timeout: Duration.minutes(props.timeoutMinutes),
      environment: {
        ...props.environment,
        CAREPLUS_DUCKDB_MEMORY_LIMIT: `${duckdbMemoryMiB}MB`,
        // Lambda gives one vCPU per 1,769 MB of memory.
        CAREPLUS_DUCKDB_THREADS: String(Math.max(1, Math.round(props.memoryMiB / 1769))),
      },
      logRetention: props.logRetention,
    });

    this.failureQueue = new Queue(this, 'FailedEvents', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS keeps a message: two weeks to inspect and redrive a failed object.
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledgeRule(
      this.failureQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the ETL’s asynchronous invocations; a queue behind ' +
        'it would never be read.',
    );

    this.handler.function.configureAsyncInvoke({
      onFailure: new SqsDestination(this.failureQueue),
      retryAttempts: props.retryAttempts,
      maxEventAge: Duration.hours(props.maxEventAgeHours),
    });

    const destination = new LambdaDestination(this.handler.function);
    for (const prefix of coveringPrefixes(props.rawPrefixes)) {
      props.raw.addEventNotification(EventType.OBJECT_CREATED, destination, { prefix });
    }
  }
}
