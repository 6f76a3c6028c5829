import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, type BucketProps, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { JOB_HISTORY_DAYS } from '../../src/domain/export-job.js';
import { LAKE_PREFIXES } from '../lake-layout.js';
import { acknowledgeRule } from '../nag.js';
import { NotificationsHandlerRole } from './notifications-handler-role.js';

export interface LakeBucketsProps {
  exportRetentionDays: number;
  quarantineRetentionDays: number;
  rawNoncurrentVersionDays: number;
  accessLogRetentionDays: number;
}

/**
 * The three lake buckets (raw, processed, exports) and the bucket that receives their S3 server access logs.
 * Every bucket: public access blocked, TLS 1.2+ only, S3-managed encryption (SSE-S3: presigned export links then
 * need no KMS grant for the signer), owner-enforced objects, incomplete multipart uploads aborted after a day,
 * and retained when the stack is deleted, since the data outlives the deployment.
 */
export class LakeBuckets extends Construct {
  readonly raw: Bucket;
  readonly processed: Bucket;
  readonly exports: Bucket;
  readonly accessLogs: Bucket;
  /** Role of CDK's bucket-notifications handler, passed in so it carries no AWS managed policy. */
  readonly notificationsHandlerRole: NotificationsHandlerRole;

  constructor(scope: Construct, id: string, props: LakeBucketsProps) {
    super(scope, id);
    const common: BucketProps = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    };
    const abortUploads = { abortIncompleteMultipartUploadAfter: Duration.days(1) };

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogRetentionDays) }],
    });
    acknowledgeRule(
      this.accessLogs,
      'AwsSolutions-S1',
      'This bucket is the target of the lake buckets’ server access logs; logging it into itself would loop and ' +
        'another log bucket would only move the finding.',
    );

    this.notificationsHandlerRole = new NotificationsHandlerRole(this, 'NotificationsHandlerRole');

    this.raw = new Bucket(this, 'Raw', {
      ...common,
      // Reprocessing and ordering rely on object versions: an older version never overwrites a newer output.
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'raw/',
      notificationsHandlerRole: this.notificationsHandlerRole,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', ...abortUploads },
        { id: 'expire-replaced-versions', noncurrentVersionExpiration: Duration.days(props.rawNoncurrentVersionDays) },
      ],
    });

    this.processed = new Bucket(this, 'Processed', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'processed/',
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', ...abortUploads },
        {
          id: 'expire-quarantine',
          prefix: LAKE_PREFIXES.quarantine,
          expiration: Duration.days(props.quarantineRetentionDays),
        },
      ],
    });

    this.exports = new Bucket(this, 'Exports', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'exports/',
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', ...abortUploads },
        // Results go with the retention period: a job then reads EXPIRED (its expiry has passed) and has no links.
        {
          id: 'expire-results',
          prefix: LAKE_PREFIXES.exportResults,
          expiration: Duration.days(props.exportRetentionDays),
        },
        // Athena's own output is turned into the job's parts and removed by the worker at once; what a stopped worker
        // left behind goes the next day.
        { id: 'expire-athena-output', prefix: LAKE_PREFIXES.athenaResults, expiration: Duration.days(1) },
        // Job records outlive their results, so that `exports` lists a job EXPIRED for a while rather than forgetting it.
        {
          id: 'expire-job-records',
          prefix: LAKE_PREFIXES.jobRecords,
          expiration: Duration.days(props.exportRetentionDays + JOB_HISTORY_DAYS),
        },
      ],
    });
  }
}
