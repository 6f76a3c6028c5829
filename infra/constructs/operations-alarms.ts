import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OperationsAlarmsProps {
  /** Queues where failed work waits for a person (the ETL's failed events, the export worker's dead letters). */
  failureQueues: { name: string; queue: IQueue }[];
  /** The export job queue: a message this old means no worker is taking jobs. */
  jobQueue: IQueue;
  /** Seconds after which the oldest export job message counts as stuck. */
  jobQueueMaxAgeSeconds: number;
  functions: { name: string; fn: IFunction }[];
}

/**
 * What must reach a person: a message in a failure queue (it expires after 14 days otherwise, silently), export jobs
 * left waiting, and functions failing. Every alarm notifies one SNS topic (encrypted, TLS only); subscribe to it
 * (the stack outputs its ARN).
 */
export class OperationsAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      enforceSSL: true,
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });
    const action = new SnsAction(this.topic);
    const add = (alarm: Alarm): void => {
      alarm.addAlarmAction(action);
      this.alarms.push(alarm);
    };
    for (const { name, queue } of props.failureQueues) {
      add(
        new Alarm(this, `${name}Waiting`, {
          alarmDescription: `${name}: failed work is waiting for a person (it expires after 14 days)`,
          metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    add(
      new Alarm(this, 'ExportJobsWaiting', {
        alarmDescription: 'Export jobs have waited too long for a worker',
        metric: props.jobQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
        threshold: props.jobQueueMaxAgeSeconds,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    for (const { name, fn } of props.functions) {
      add(
        new Alarm(this, `${name}Errors`, {
          alarmDescription: `${name}: invocations failed`,
          metric: fn.metricErrors({ period: Duration.minutes(5) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }
}
