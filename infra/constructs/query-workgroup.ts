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
 * The Athena workgroup the export engine runs in. Its configuration is enforced, so a client cannot move the
 * results elsewhere, drop their encryption or lift the bytes-scanned cut-off.
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
