import { CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { grantWriteOwnLogs } from '../grants.js';

/** The construct id aws-cdk-lib gives its bucket-notifications handler, a singleton per stack. */
const HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/**
 * Gives CDK's bucket-notifications handler (a custom resource Lambda that sets the raw bucket's notification
 * configuration at deploy time) a log group with retention, and lets its role write there and nowhere else.
 * Call after the notifications are added, since that creates the handler.
 */
export function configureNotificationsHandlerLogs(stack: Stack, role: IRole, retention: RetentionDays): LogGroup {
  const handler = stack.node.tryFindChild(HANDLER_ID);
  const fn = handler?.node.tryFindChild('Resource');
  if (!(fn instanceof CfnResource) || fn.cfnResourceType !== 'AWS::Lambda::Function') {
    throw new Error(`no bucket-notifications handler ${HANDLER_ID} in ${stack.stackName}: add the notifications first`);
  }
  const logGroup = new LogGroup(stack, 'BucketNotificationsHandlerLogs', {
    retention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  fn.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName, LogFormat: 'Text' });
  grantWriteOwnLogs(role, logGroup);
  return logGroup;
}
