import { type IManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

const BASIC_EXECUTION = ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

/**
 * The role of CDK's bucket-notifications handler. aws-cdk-lib attaches AWSLambdaBasicExecutionRole to whatever
 * role the handler gets; that managed policy may write every log group in the account. This role declines it
 * (its log permission is a grant on the handler's own log group, see notifications-handler-logs.ts) and refuses
 * any other managed policy outright.
 */
export class NotificationsHandlerRole extends Role {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Runs: CDK bucket-notifications handler that connects raw ObjectCreated events to the ETL',
    });
  }

  override addManagedPolicy(policy: IManagedPolicy): void {
    if (policy.managedPolicyArn.endsWith(BASIC_EXECUTION)) return;
    throw new Error(`the notifications handler role takes no managed policy, got ${policy.managedPolicyArn}`);
  }
}
