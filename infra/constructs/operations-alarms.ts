import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
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
 *
 * CloudWatch publishes an alarm's notification as the service principal `cloudwatch.amazonaws.com`, so two policies
 * must let it, or every notification is dropped without an error anywhere:
 * - the topic's key: SNS encrypts the message with a data key it asks KMS for on the publisher's behalf. The
 *   AWS-managed key `alias/aws/sns` cannot do this (its key policy, which no one can change, allows only principals
 *   of the account), so the topic has its own customer-managed key whose policy lets CloudWatch use it;
 * - the topic policy: `enforceSSL` adds one, whose only statement is a Deny, and a topic policy replaces SNS's default
 *   one, so it must allow CloudWatch to publish itself.
 * Both allow CloudWatch only for alarms of this account and Region (`aws:SourceAccount`, `aws:SourceArn`), so no
 * other account's alarm can use them (the confused-deputy guard).
 */
export class OperationsAlarms extends Construct {
  readonly topic: Topic;
  /** The topic's customer-managed key. */
  readonly key: Key;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.key = new Key(this, 'TopicKey', {
      description: 'CarePlus alarm notifications: encrypts the alarm topic; CloudWatch alarms of this account use it',
      enableKeyRotation: true,
      // Retained like the lake, as keys are by default: KMS cannot bring a deleted key back. Nothing the stack keeps
      // needs it (SNS holds a message only until it is delivered): schedule its deletion by hand after a teardown.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The key policy also keeps CDK's default statement: the account (its IAM policies) administers the key.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsEncryptNotifications',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        // In a key policy, `*` is this key.
        resources: ['*'],
        conditions: fromOwnAlarms,
      }),
    );
    this.topic = new Topic(this, 'Topic', { enforceSSL: true, masterKey: this.key });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOwnAlarms,
      }),
    );
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
