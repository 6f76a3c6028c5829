import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { CareplusStack, POLICY_FILE_IN_LAMBDA } from '../../infra/careplus-stack.js';
import { VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT } from '../../infra/constructs/export-worker.js';
import { LAKE_OBJECTS, LAKE_PREFIXES } from '../../infra/lake-layout.js';
import { parseSettings } from '../../infra/settings.js';
import { ATHENA_RESULTS_PREFIX } from '../../src/adapters/aws/athena-export-engine.js';
import { KEYS_PREFIX } from '../../src/auth/key-store.js';
import { MASK_KEY_KEY } from '../../src/composition-api.js';
import { REPO_ROOT, type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

/**
 * Template assertions for the AWS deployment (issue 7, item 1): the lake buckets, the ETL function and its
 * trigger and failure queue, the Glue catalog, the Athena workgroup, the API and log retention.
 */
let s: SynthesisedStack;
/** Resolves a token of the stack (a bucket name, an ARN) to the CloudFormation expression in the template. */
let cfn: (value: unknown) => unknown;

beforeAll(async () => {
  s = await synthesiseStack();
  cfn = (value) => s.stack.resolve(value);
});
afterAll(() => s.cleanup());

function resources(type: string): Record<string, { Properties: Record<string, unknown>; DeletionPolicy?: string }> {
  return s.template.findResources(type) as Record<
    string,
    { Properties: Record<string, unknown>; DeletionPolicy?: string }
  >;
}

describe('the stack', () => {
  it('holds exactly the expected resources, by type', () => {
    const counts: Record<string, number> = {};
    for (const r of Object.values((s.template.toJSON() as { Resources: Record<string, { Type: string }> }).Resources)) {
      counts[r.Type] = (counts[r.Type] ?? 0) + 1;
    }
    expect(counts).toEqual({
      'AWS::ApiGatewayV2::Api': 1,
      'AWS::ApiGatewayV2::Integration': 1,
      'AWS::ApiGatewayV2::Route': 7,
      'AWS::ApiGatewayV2::Stage': 1,
      'AWS::Athena::WorkGroup': 1,
      'AWS::CloudWatch::Alarm': 6,
      'AWS::Glue::Database': 1,
      'AWS::IAM::Policy': 5,
      'AWS::IAM::Role': 4,
      'AWS::KMS::Key': 1,
      'AWS::Lambda::EventInvokeConfig': 1,
      'AWS::Lambda::EventSourceMapping': 1,
      'AWS::Lambda::Function': 4,
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Lambda::Permission': 8,
      'AWS::Logs::LogGroup': 5,
      'AWS::S3::Bucket': 4,
      'AWS::S3::BucketPolicy': 4,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::TopicPolicy': 1,
      'AWS::SQS::Queue': 3,
      'AWS::SQS::QueuePolicy': 3,
      'Custom::S3BucketNotifications': 1,
    });
  });

  it('pins no account or region, so synthesis needs no AWS credentials and does no lookups', () => {
    expect(cfn(s.stack.account)).toEqual({ Ref: 'AWS::AccountId' });
    expect(cfn(s.stack.region)).toEqual({ Ref: 'AWS::Region' });
    expect(s.app.node.metadata.filter((m) => m.type === 'aws:cdk:missing-context')).toEqual([]);
  });
});

describe('lake buckets', () => {
  it('block public access, use S3-managed encryption, enforce bucket-owner objects and are retained, all four', () => {
    const buckets = resources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(4);
    for (const b of Object.values(buckets)) {
      expect(b.DeletionPolicy).toBe('Retain');
      expect(b.Properties['PublicAccessBlockConfiguration']).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(b.Properties['BucketEncryption']).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(b.Properties['OwnershipControls']).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
  });

  it('deny any request without TLS, or with TLS older than 1.2, on every bucket', () => {
    const { raw, processed, exports, accessLogs } = s.stack.buckets;
    for (const bucket of [raw, processed, exports, accessLogs]) {
      s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: cfn(bucket.bucketName),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
            }),
          ]),
        },
      });
    }
  });

  it('log server access of raw, processed and exports to the access-logs bucket, each under its own prefix', () => {
    const { raw, processed, exports, accessLogs } = s.stack.buckets;
    for (const [bucket, prefix] of [
      [raw, 'raw/'],
      [processed, 'processed/'],
      [exports, 'exports/'],
    ] as const) {
      s.template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({
          LoggingConfiguration: { DestinationBucketName: cfn(accessLogs.bucketName), LogFilePrefix: prefix },
        }),
      });
      expect(cfn(bucket.bucketName)).not.toEqual(cfn(accessLogs.bucketName));
    }
    // Delivery under a bucket policy, not an ACL, so ACLs stay disabled on the log bucket.
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: cfn(accessLogs.bucketName),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
          }),
        ]),
      },
    });
  });

  it('version raw objects and expire replaced versions after 90 days', () => {
    const raw = s.template.toJSON().Resources[(cfn(s.stack.buckets.raw.bucketName) as { Ref: string }).Ref];
    expect(raw.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(raw.Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-replaced-versions', NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: 'Enabled' },
      ],
    });
  });

  it('expire quarantined records after 30 days, and nothing else in processed', () => {
    const processed = s.template.toJSON().Resources[(cfn(s.stack.buckets.processed.bucketName) as { Ref: string }).Ref];
    expect(processed.Properties.VersioningConfiguration).toBeUndefined();
    expect(processed.Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-quarantine', Prefix: '_quarantine/', ExpirationInDays: 30, Status: 'Enabled' },
      ],
    });
  });

  it('expire export results after 7 days, Athena’s leftovers after 1, job records 30 days after their results', () => {
    const exportsBucket =
      s.template.toJSON().Resources[(cfn(s.stack.buckets.exports.bucketName) as { Ref: string }).Ref];
    expect(exportsBucket.Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-results', Prefix: 'results/', ExpirationInDays: 7, Status: 'Enabled' },
        { Id: 'expire-athena-output', Prefix: '_athena/', ExpirationInDays: 1, Status: 'Enabled' },
        { Id: 'expire-job-records', Prefix: '_jobs/', ExpirationInDays: 37, Status: 'Enabled' },
      ],
    });
  });

  it('expire access logs after 90 days', () => {
    const logs = s.template.toJSON().Resources[(cfn(s.stack.buckets.accessLogs.bucketName) as { Ref: string }).Ref];
    expect(logs.Properties.LifecycleConfiguration).toEqual({
      Rules: [{ Id: 'expire-access-logs', ExpirationInDays: 90, Status: 'Enabled' }],
    });
    expect(logs.Properties.LoggingConfiguration).toBeUndefined();
  });
});

describe('ETL function', () => {
  const lakeEnvironment = (): Record<string, unknown> => ({
    NODE_OPTIONS: '--enable-source-maps',
    CAREPLUS_ENV: 'production',
    CAREPLUS_STORAGE: 's3',
    CAREPLUS_S3_RAW_BUCKET: cfn(s.stack.buckets.raw.bucketName),
    CAREPLUS_S3_PROCESSED_BUCKET: cfn(s.stack.buckets.processed.bucketName),
    CAREPLUS_S3_EXPORTS_BUCKET: cfn(s.stack.buckets.exports.bucketName),
    CAREPLUS_CATALOG: 'glue',
    CAREPLUS_GLUE_DATABASE: 'careplus',
    CAREPLUS_GLUE_TABLES: 'declared',
    CAREPLUS_AWS_REGION: { Ref: 'AWS::Region' },
    CAREPLUS_CACHE_DIR: '/tmp/careplus',
    CAREPLUS_DATASETS_DIR: '/var/task/datasets',
    CAREPLUS_LOG_LEVEL: 'info',
  });

  it('runs the bundle on Node.js 24, x86_64, sized for DuckDB, with the DuckDB layer and the S3 + Glue configuration', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      MemorySize: 4096,
      Timeout: 900,
      EphemeralStorage: { Size: 10240 },
      Role: cfn(s.stack.etl.handler.role.roleArn),
      Layers: [cfn(s.stack.duckdb.layer.layerVersionArn)],
      LoggingConfig: { LogGroup: cfn(s.stack.etl.handler.logGroup.logGroupName) },
      Environment: {
        Variables: Match.objectEquals({
          ...lakeEnvironment(),
          CAREPLUS_MAX_OBJECT_BYTES: String(4 * 1024 ** 3),
          // 60 % of 4096 MB for DuckDB; 4096 / 1769 MB per vCPU rounds to 2 threads.
          CAREPLUS_DUCKDB_MEMORY_LIMIT: '2457MB',
          CAREPLUS_DUCKDB_THREADS: '2',
        }),
      },
    });
  });

  it('is triggered by ObjectCreated on the raw prefix of each dataset definition, and nothing else', () => {
    const notifications = resources('Custom::S3BucketNotifications');
    expect(Object.values(notifications).map((n) => n.Properties['BucketName'])).toEqual([
      cfn(s.stack.buckets.raw.bucketName),
    ]);
    const config = Object.values(notifications)[0]!.Properties['NotificationConfiguration'];
    const functionArn = cfn(s.stack.etl.handler.function.functionArn);
    expect(config).toEqual({
      LambdaFunctionConfigurations: s.datasets
        .map((d) => d.rawPrefix)
        .sort()
        .map((prefix) => ({
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } },
          LambdaFunctionArn: functionArn,
        })),
    });
    expect(s.datasets.map((d) => d.rawPrefix).sort()).toEqual(['helpdesk_events/', 'support_events/']);
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: functionArn,
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: cfn(s.stack.buckets.raw.bucketArn),
    });
  });

  it('retries a failed event twice within 6 hours, then sends it to the failure queue', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: cfn(s.stack.etl.handler.function.functionName),
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: cfn(s.stack.etl.failureQueue.queueArn) } },
    });
  });

  it('has an encrypted, TLS-only failure queue that keeps messages for 14 days', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [cfn(s.stack.etl.failureQueue.queueUrl)],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });
});

describe('Glue catalog', () => {
  it('has the careplus database', () => {
    s.template.hasResourceProperties('AWS::Glue::Database', {
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseInput: Match.objectLike({ Name: 'careplus' }),
    });
  });

  it('declares no table: the ETL creates each declared one, with its per-column parameters, and owns it', () => {
    // CloudFormation's table resource has no column parameters (PII, nullability) and would reset the ETL's
    // schema versions on every update; see infra/constructs/catalog.ts. The e2e suite export-worker-lambda checks
    // the table the ETL creates carries them.
    expect(resources('AWS::Glue::Table')).toEqual({});
    expect(s.stack.catalog.tableArns.map((a) => cfn(a))).toEqual(
      s.datasets
        .map((d) => d.name)
        .sort()
        .map((name) => cfn(s.stack.formatArn({ service: 'glue', resource: `table/careplus/${name}` }))),
    );
  });
});

describe('Athena workgroup', () => {
  it('enforces its result location in the exports bucket, SSE-S3 encryption and a 10 GiB bytes-scanned cut-off', () => {
    s.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'careplus',
      State: 'ENABLED',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        // Overrides client-side settings: no client can move the results, drop their encryption or change their owner.
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        RequesterPaysEnabled: false,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', cfn(s.stack.buckets.exports.bucketName), '/_athena/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      },
    });
  });

  it('names the prefixes the application writes: Athena results, job records, API keys, the mask key', () => {
    expect(LAKE_PREFIXES.athenaResults).toBe(ATHENA_RESULTS_PREFIX);
    expect(LAKE_PREFIXES.apiKeys).toBe(KEYS_PREFIX);
    expect(LAKE_OBJECTS.maskKey).toBe(MASK_KEY_KEY);
    expect(s.stack.workgroup.resultsPrefix).toBe(ATHENA_RESULTS_PREFIX);
  });
});

describe('GraphQL API', () => {
  it('runs on Lambda configured for S3, Glue and the Athena engine in the workgroup', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      MemorySize: 2048,
      Timeout: 29,
      EphemeralStorage: { Size: 2048 },
      Role: cfn(s.stack.api.handler.role.roleArn),
      LoggingConfig: { LogGroup: cfn(s.stack.api.handler.logGroup.logGroupName) },
      Environment: {
        Variables: Match.objectEquals({
          NODE_OPTIONS: '--enable-source-maps',
          CAREPLUS_ENV: 'production',
          CAREPLUS_STORAGE: 's3',
          CAREPLUS_S3_RAW_BUCKET: cfn(s.stack.buckets.raw.bucketName),
          CAREPLUS_S3_PROCESSED_BUCKET: cfn(s.stack.buckets.processed.bucketName),
          CAREPLUS_S3_EXPORTS_BUCKET: cfn(s.stack.buckets.exports.bucketName),
          CAREPLUS_CATALOG: 'glue',
          CAREPLUS_GLUE_DATABASE: 'careplus',
          CAREPLUS_GLUE_TABLES: 'declared',
          CAREPLUS_AWS_REGION: { Ref: 'AWS::Region' },
          CAREPLUS_CACHE_DIR: '/tmp/careplus',
          CAREPLUS_DATASETS_DIR: '/var/task/datasets',
          CAREPLUS_LOG_LEVEL: 'info',
          CAREPLUS_ENGINE: 'athena',
          CAREPLUS_ATHENA_WORKGROUP: 'careplus',
          CAREPLUS_EXPORT_RETENTION_HOURS: '168',
          // The API refuses what the workgroup would cut off (10 GiB).
          CAREPLUS_EXPORT_MAX_SCAN_BYTES: String(10 * 1024 ** 3),
          CAREPLUS_EXPORT_DISPATCH: 'sqs',
          CAREPLUS_EXPORT_QUEUE_URL: cfn(s.stack.exportWorker.queue.queueUrl),
          CAREPLUS_POLICY_FILE: '/var/task/policy.yaml',
          // Feed URLs name the API's own endpoint.
          CAREPLUS_PUBLIC_URL: cfn(s.stack.api.httpApi.apiEndpoint),
          CAREPLUS_CONSOLE_DIR: '/var/task/console',
        }),
      },
    });
  });

  it('ships the repository’s policy.yaml and the console in its code asset, where CAREPLUS_POLICY_FILE and CAREPLUS_CONSOLE_DIR point', () => {
    expect(POLICY_FILE_IN_LAMBDA).toBe('/var/task/policy.yaml');
    const fn = Object.values(resources('AWS::Lambda::Function')).find(
      (f) => JSON.stringify(f.Properties['Role']) === JSON.stringify(cfn(s.stack.api.handler.role.roleArn)),
    )!;
    const hash = (fn.Properties['Code'] as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const asset = join(s.app.outdir, `asset.${hash}`);
    expect(readdirSync(asset).sort()).toEqual(['console', 'datasets', 'index.js', 'policy.yaml']);
    expect(readdirSync(join(asset, 'console'))).toContain('index.html');
    expect(readFileSync(join(asset, 'policy.yaml'))).toEqual(readFileSync(join(REPO_ROOT, 'policy.yaml')));
  });

  it('refuses to synthesise with an API bundle that has no policy.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'careplus-bundles-'));
    try {
      const bundles = { ...s.bundles, api: join(dir, 'api') };
      mkdirSync(join(bundles.api, 'datasets'), { recursive: true });
      writeFileSync(join(bundles.api, 'index.js'), 'exports.handler = async () => ({});\n');
      expect(
        () =>
          new CareplusStack(new App(), 'NoPolicy', {
            datasets: s.datasets,
            bundles,
            settings: parseSettings({}, 'test'),
          }),
      ).toThrow(`the api bundle at ${bundles.api} has no policy.yaml: build it with \`npm run synth\``);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is an HTTP API with POST and GET /graphql, GET and HEAD /feeds/{file}, GET /console and GET /healthz, proxied to the function with payload 2.0', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(resources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties['RouteKey']);
    expect(routes.sort()).toEqual([
      'GET /console',
      'GET /console/{proxy+}',
      'GET /feeds/{file}',
      'GET /graphql',
      'GET /healthz',
      'HEAD /feeds/{file}',
      'POST /graphql',
    ]);
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: cfn(s.stack.api.handler.function.functionArn),
      PayloadFormatVersion: '2.0',
    });
  });

  it('throttles its one stage at 50 requests per second with bursts of 100, and logs access as JSON without headers', () => {
    const stages = Object.values(resources('AWS::ApiGatewayV2::Stage')).map((r) => r.Properties);
    expect(stages).toHaveLength(1);
    const stage = stages[0]!;
    expect(stage['StageName']).toBe('$default');
    expect(stage['AutoDeploy']).toBe(true);
    expect(stage['DefaultRouteSettings']).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const access = stage['AccessLogSettings'] as { DestinationArn: unknown; Format: string };
    expect(access.DestinationArn).toEqual(cfn(s.stack.api.accessLogs.logGroupArn));
    expect(Object.keys(JSON.parse(access.Format) as object)).toEqual([
      'requestId',
      'requestTime',
      'sourceIp',
      'method',
      'path',
      'routeKey',
      'status',
      'responseLength',
      'responseLatencyMs',
      'integrationLatencyMs',
      'integrationError',
    ]);
    expect(access.Format).not.toMatch(/header|authorization/i);
  });

  it('outputs the GraphQL endpoint URL', () => {
    s.template.hasOutput('ApiUrl', {
      Value: { 'Fn::Join': ['', [cfn(s.stack.api.httpApi.apiEndpoint), '/graphql']] },
    });
  });
});

describe('export worker', () => {
  it('runs the worker bundle on Node.js 24 with the DuckDB layer, configured for S3, Glue and Athena, its lease its timeout', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      MemorySize: 2048,
      Timeout: 900,
      EphemeralStorage: { Size: 2048 },
      Role: cfn(s.stack.exportWorker.handler.role.roleArn),
      Layers: [cfn(s.stack.duckdb.layer.layerVersionArn)],
      LoggingConfig: { LogGroup: cfn(s.stack.exportWorker.handler.logGroup.logGroupName) },
      Environment: {
        Variables: Match.objectEquals({
          NODE_OPTIONS: '--enable-source-maps',
          CAREPLUS_ENV: 'production',
          CAREPLUS_STORAGE: 's3',
          CAREPLUS_S3_RAW_BUCKET: cfn(s.stack.buckets.raw.bucketName),
          CAREPLUS_S3_PROCESSED_BUCKET: cfn(s.stack.buckets.processed.bucketName),
          CAREPLUS_S3_EXPORTS_BUCKET: cfn(s.stack.buckets.exports.bucketName),
          CAREPLUS_CATALOG: 'glue',
          CAREPLUS_GLUE_DATABASE: 'careplus',
          CAREPLUS_GLUE_TABLES: 'declared',
          CAREPLUS_AWS_REGION: { Ref: 'AWS::Region' },
          CAREPLUS_CACHE_DIR: '/tmp/careplus',
          CAREPLUS_DATASETS_DIR: '/var/task/datasets',
          CAREPLUS_LOG_LEVEL: 'info',
          CAREPLUS_ENGINE: 'athena',
          CAREPLUS_ATHENA_WORKGROUP: 'careplus',
          CAREPLUS_EXPORT_RETENTION_HOURS: '168',
          // The API refuses what the workgroup would cut off (10 GiB).
          CAREPLUS_EXPORT_MAX_SCAN_BYTES: String(10 * 1024 ** 3),
          CAREPLUS_DUCKDB_MEMORY_LIMIT: '256MB',
          CAREPLUS_DUCKDB_THREADS: '1',
          CAREPLUS_EXPORT_LEASE_SECONDS: '900',
        }),
      },
    });
  });

  it('consumes the jobs queue one message at a time, reporting failures per message, at most 5 at once', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: cfn(s.stack.exportWorker.queue.queueArn),
      FunctionName: cfn(s.stack.exportWorker.handler.function.functionName),
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('has an encrypted, TLS-only jobs queue whose visibility timeout outlasts the function, with a dead-letter queue', () => {
    expect(VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT).toBeGreaterThanOrEqual(1);
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      // Six times the function's 900 s, as Lambda advises for SQS event sources; never less than the timeout.
      VisibilityTimeout: 5400,
      MessageRetentionPeriod: 4 * 24 * 3600,
      RedrivePolicy: { deadLetterTargetArn: cfn(s.stack.exportWorker.deadLetterQueue.queueArn), maxReceiveCount: 5 },
    });
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    for (const queue of [s.stack.exportWorker.queue, s.stack.exportWorker.deadLetterQueue]) {
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [cfn(queue.queueUrl)],
        PolicyDocument: {
          Statement: [
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ],
        },
      });
    }
  });

  it('outputs the jobs queue and its dead-letter queue', () => {
    s.template.hasOutput('ExportJobsQueueUrl', { Value: cfn(s.stack.exportWorker.queue.queueUrl) });
    s.template.hasOutput(
      'ExportDeadLetterQueueUrl',
      Match.objectLike({
        Value: cfn(s.stack.exportWorker.deadLetterQueue.queueUrl),
      }),
    );
  });
});

describe('logs', () => {
  it('every function writes to its own log group, and every log group has a retention of 30 days', () => {
    const groups = resources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(5);
    for (const g of Object.values(groups)) expect(g.Properties['RetentionInDays']).toBe(30);
    const functions = Object.values(resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(4);
    const used = functions.map((f) => (f.Properties['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref);
    expect(new Set(used).size).toBe(4);
    for (const id of used) expect(Object.keys(groups)).toContain(id);
  });
});

describe('DuckDB layer', () => {
  it('is shared by the three functions and declares the runtime and architecture its binding was built for', () => {
    s.template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
    });
    const layers = Object.values(resources('AWS::Lambda::Function'))
      .map((f) => f.Properties['Layers'])
      .filter((l) => l !== undefined);
    expect(layers).toHaveLength(3);
    expect(new Set(layers.map((l) => JSON.stringify(l))).size).toBe(1);
  });
});

describe('operations alarms', () => {
  it('tell one encrypted, TLS-only topic of failed ETL events, export dead letters, waiting jobs and function errors', () => {
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm')).map(
      (r) => (r as { Properties: Record<string, unknown> }).Properties,
    );
    const summary = alarms
      .map(
        (a) =>
          `${String(a['Namespace'])} ${String(a['MetricName'])} ${String(a['ComparisonOperator'])} ${String(a['Threshold'])}`,
      )
      .sort();
    expect(summary).toEqual([
      'AWS/Lambda Errors GreaterThanOrEqualToThreshold 1',
      'AWS/Lambda Errors GreaterThanOrEqualToThreshold 1',
      'AWS/Lambda Errors GreaterThanOrEqualToThreshold 1',
      'AWS/SQS ApproximateAgeOfOldestMessage GreaterThanThreshold 1800',
      'AWS/SQS ApproximateNumberOfMessagesVisible GreaterThanOrEqualToThreshold 1',
      'AWS/SQS ApproximateNumberOfMessagesVisible GreaterThanOrEqualToThreshold 1',
    ]);
    const [topicId] = Object.keys(s.template.findResources('AWS::SNS::Topic'));
    for (const a of alarms) expect(a['AlarmActions']).toEqual([{ Ref: topicId }]);
    // TLS only: the topic policy denies publishing without it.
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    s.template.hasOutput('AlarmTopicArn', {});
    s.template.hasOutput('ExportDeadLetterQueueArn', {});
    s.template.hasOutput('EtlFunctionName', {});
  });

  it('let CloudWatch alarms of this account and Region, and nobody else, encrypt with the topic’s key and publish to it', () => {
    // CloudWatch publishes as the service principal: without both allows every notification is dropped silently.
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:*',
            ],
          ],
        },
      },
    };
    const topics = resources('AWS::SNS::Topic');
    const [topicId] = Object.keys(topics);
    const keys = resources('AWS::KMS::Key');
    const [keyId] = Object.keys(keys);
    // The topic's own key, not the AWS-managed alias/aws/sns, whose key policy cannot let CloudWatch use it.
    expect(topics[topicId!]!.Properties['KmsMasterKeyId']).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const key = keys[keyId!]! as {
      Properties: Record<string, unknown>;
      DeletionPolicy?: string;
      UpdateReplacePolicy?: string;
    };
    expect(key.Properties['EnableKeyRotation']).toBe(true);
    // Retained like the buckets.
    expect([key.DeletionPolicy, key.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    const keyPolicy = key.Properties['KeyPolicy'] as { Statement: Record<string, unknown>[] };
    const cloudWatchKeyUse = keyPolicy.Statement.filter(
      (st) => JSON.stringify(st['Principal']) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(cloudWatchKeyUse).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: fromOwnAlarms,
      }),
    ]);
    // Besides CloudWatch's use, only the account itself (its IAM policies) may use or administer the key.
    expect(keyPolicy.Statement.filter((st) => !cloudWatchKeyUse.includes(st))).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: {
          AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] },
        },
      }),
    ]);
    // The topic policy replaces SNS's default one: it must allow CloudWatch to publish, and only over TLS.
    const topicPolicies = Object.values(resources('AWS::SNS::TopicPolicy'));
    expect(topicPolicies).toHaveLength(1);
    expect(topicPolicies[0]!.Properties['Topics']).toEqual([{ Ref: topicId }]);
    const statements = (topicPolicies[0]!.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] })
      .Statement;
    expect(statements.filter((st) => st['Effect'] === 'Allow')).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: fromOwnAlarms,
      }),
    ]);
    expect(statements.filter((st) => st['Effect'] === 'Deny')).toEqual([
      expect.objectContaining({ Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
  });
});
