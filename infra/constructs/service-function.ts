import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, type ILayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { grantWriteOwnLogs } from '../grants.js';

/**
 * The Lambda runtime and architecture of both functions; the DuckDB layer ships the matching native binding.
 * Node.js 24, not 20: Lambda deprecated nodejs20.x on 2026-04-30 and stops creating such functions on
 * 2027-02-01. The bundles target Node 20 syntax (the project's engine) and DuckDB's binding is N-API, so both
 * run unchanged on 24.
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;
export const FUNCTION_ARCHITECTURE = Architecture.X86_64;

export interface ServiceFunctionProps {
  description: string;
  /** A folder holding a built bundle: `index.js` exporting `handler` (see scripts/build-bundles.ts). */
  codeDir: string;
  layers: ILayerVersion[];
  memoryMiB: number;
  ephemeralStorageMiB: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetention: RetentionDays;
}

/**
 * A Node.js Lambda function with its own role and log group. The role starts empty (no
 * AWSLambdaBasicExecutionRole, whose log permissions cover every log group): it may write its own log group
 * only, and each job adds its grant from `grants.ts`.
 */
export class ServiceFunction extends Construct {
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly function: LambdaFunction;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs: ${props.description}`,
    });
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      // Logs expire by retention anyway; the data lives in the buckets, which are retained.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    grantWriteOwnLogs(this.role, this.logGroup);
    this.function = new LambdaFunction(this, 'Function', {
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: FUNCTION_ARCHITECTURE,
      code: Code.fromAsset(props.codeDir),
      handler: 'index.handler',
      role: this.role,
      logGroup: this.logGroup,
      layers: props.layers,
      memorySize: props.memoryMiB,
      ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB),
      timeout: props.timeout,
      environment: {
        // The bundles ship source maps, so stack traces in the logs name the TypeScript lines.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    });
  }
}
