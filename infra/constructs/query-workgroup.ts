import { Aws, Stack } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { WorkgroupScope } from '../grants.js';

export interface QueryWorkgroupProps {
  name: string;
  resultsBucket: IBucket;
  /** Non-empty, ending in `/`. */
  resultsPrefix: string;
  bytesScannedCutoffPerQuery: number;
}

/**
 * The Athena workgroup the export engine runs in: engine version 3, a per-query bytes-scanned cut-off, and results in
 * `s3://<exports>/<resultsPrefix>` encrypted with SSE-S3 in a bucket of this account. The configuration is enforced
 * ("Override client-side settings"), so no client of the workgroup can move the results elsewhere, drop their
 * encryption or name another bucket owner: Athena ignores a client's ResultConfiguration and writes every result as
 * `<resultsPrefix><query-id>.csv` (with `.csv.metadata`).
 *
 * The export engine works with that (src/adapters/aws/athena-export-engine.ts): it asks for its job's own prefix
 * `_athena/<job-id>/`, which only a workgroup that does not enforce would honour, reads each result from where
 * GetQueryExecution says Athena wrote it, and deletes it and its metadata afterwards. Results are named by query id,
 * so they never collide; the engine records each query under `_athena/<job-id>/`, so a new start of a job finds
 * and removes what an interrupted start left. The worker's role reads, writes and deletes objects under the result
 * prefix (grantRunQueries); the exports bucket's lifecycle rule expires anything left there.
 */
export class QueryWorkgroup extends Construct implements WorkgroupScope {
  readonly workgroupName: string;
  readonly workgroupArn: string;
  readonly resultsBucket: IBucket;
  readonly resultsPrefix: string;
  readonly resultsLocation: string;

  constructor(scope: Construct, id: string, props: QueryWorkgroupProps) {
    super(scope, id);
    this.workgroupName = props.name;
    this.resultsBucket = props.resultsBucket;
    this.resultsPrefix = props.resultsPrefix;
    this.resultsLocation = `s3://${props.resultsBucket.bucketName}/${props.resultsPrefix}`;
    const workgroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: props.name,
      description: 'CarePlus DataStores exports (Athena engine)',
      state: 'ENABLED',
      // Lets `cdk destroy` delete the workgroup although it has a query history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // The result location, its encryption and bucket owner below apply to every query, whatever the client asks.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
        requesterPaysEnabled: false,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: this.resultsLocation,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
          expectedBucketOwner: Aws.ACCOUNT_ID,
        },
      },
    });
    this.workgroupArn = Stack.of(this).formatArn({ service: 'athena', resource: `workgroup/${workgroup.name}` });
  }
}
