import { Match } from 'aws-cdk-lib/assertions';
import { hiveType } from '../../src/domain/column-type.js';
import { type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

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
      'AWS::ApiGatewayV2::Route': 3,
      'AWS::ApiGatewayV2::Stage': 1,
      'AWS::Athena::WorkGroup': 1,
      'AWS::Glue::Database': 1,
      'AWS::Glue::Table': 2,
      'AWS::IAM::Policy': 4,
      'AWS::IAM::Role': 3,
      'AWS::Lambda::EventInvokeConfig': 1,
      'AWS::Lambda::Function': 3,
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Lambda::Permission': 4,
      'AWS::Logs::LogGroup': 4,
      'AWS::S3::Bucket': 4,
      'AWS::S3::BucketPolicy': 4,
      'AWS::SQS::Queue': 1,
      'AWS::SQS::QueuePolicy': 1,
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

  it('expire exports (and Athena results under them) after 7 days', () => {
    const exportsBucket =
      s.template.toJSON().Resources[(cfn(s.stack.buckets.exports.bucketName) as { Ref: string }).Ref];
    expect(exportsBucket.Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-exports', ExpirationInDays: 7, Status: 'Enabled' },
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

  it('has one Parquet table per dataset definition, columns typed from the definition, partitioned by event_date (date)', () => {
    const tables = Object.values(resources('AWS::Glue::Table')).map((t) => t.Properties);
    expect(tables.map((t) => (t['TableInput'] as { Name: string }).Name).sort()).toEqual(
      s.datasets.map((d) => d.name).sort(),
    );
    for (const def of s.datasets) {
      s.template.hasResourceProperties('AWS::Glue::Table', {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: 'careplus',
        TableInput: {
          Name: def.name,
          Description: def.description,
          TableType: 'EXTERNAL_TABLE',
          Parameters: {
            EXTERNAL: 'TRUE',
            classification: 'parquet',
            'careplus.origin': 'etl',
            'careplus.description': def.description,
          },
          // As the ETL declares it (lambda/pipeline/catalog-schema.ts), which refuses a table whose keys differ.
          PartitionKeys: [{ Name: 'event_date', Type: 'date', Comment: `Day (UTC) of ${def.partition.source}.` }],
          StorageDescriptor: {
            Location: { 'Fn::Join': ['', ['s3://', cfn(s.stack.buckets.processed.bucketName), `/${def.name}/`]] },
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: {
              SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
              Parameters: { 'serialization.format': '1' },
            },
            Compressed: false,
            StoredAsSubDirectories: false,
            Columns: def.columns.map((c) => ({
              Name: c.name,
              Type: hiveType(c.type),
              ...(c.description !== '' ? { Comment: c.description } : {}),
            })),
          },
        },
      });
    }
  });

  it('maps every declared type of support_events to its Hive type', () => {
    const table = Object.values(resources('AWS::Glue::Table'))
      .map(
        (t) =>
          t.Properties['TableInput'] as {
            Name: string;
            StorageDescriptor: { Columns: { Name: string; Type: string }[] };
          },
      )
      .find((t) => t.Name === 'support_events')!;
    expect(Object.fromEntries(table.StorageDescriptor.Columns.map((c) => [c.Name, c.Type]))).toEqual({
      event_id: 'bigint',
      ticket_id: 'string',
      activity: 'string',
      resource: 'string',
      event_time: 'timestamp',
      seriousness: 'string',
      priority: 'int',
      customer: 'string',
      reporter_email: 'string',
      product: 'string',
      service_level: 'string',
      support_section: 'string',
      workgroup: 'string',
      duration_days: 'double',
      billable_amount: 'decimal(10,2)',
    });
  });
});

describe('Athena workgroup', () => {
  it('enforces its configuration: result location in the exports bucket, SSE-S3, a 10 GiB bytes-scanned cut-off', () => {
    s.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'careplus',
      State: 'ENABLED',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        RequesterPaysEnabled: false,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', cfn(s.stack.buckets.exports.bucketName), '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      },
    });
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
          CAREPLUS_AWS_REGION: { Ref: 'AWS::Region' },
          CAREPLUS_CACHE_DIR: '/tmp/careplus',
          CAREPLUS_DATASETS_DIR: '/var/task/datasets',
          CAREPLUS_LOG_LEVEL: 'info',
          CAREPLUS_ENGINE: 'athena',
          CAREPLUS_ATHENA_WORKGROUP: 'careplus',
        }),
      },
    });
  });

  it('is an HTTP API with POST and GET /graphql and GET /healthz, proxied to the function with payload 2.0', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(resources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties['RouteKey']);
    expect(routes.sort()).toEqual(['GET /graphql', 'GET /healthz', 'POST /graphql']);
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

describe('logs', () => {
  it('every function writes to its own log group, and every log group has a retention of 30 days', () => {
    const groups = resources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(4);
    for (const g of Object.values(groups)) expect(g.Properties['RetentionInDays']).toBe(30);
    const functions = Object.values(resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(3);
    const used = functions.map((f) => (f.Properties['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref);
    expect(new Set(used).size).toBe(3);
    for (const id of used) expect(Object.keys(groups)).toContain(id);
  });
});

describe('DuckDB layer', () => {
  it('is shared by both functions and declares the runtime and architecture its binding was built for', () => {
    s.template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
    });
    const layers = Object.values(resources('AWS::Lambda::Function'))
      .map((f) => f.Properties['Layers'])
      .filter((l) => l !== undefined);
    expect(layers).toHaveLength(2);
    expect(layers[0]).toEqual(layers[1]);
  });
});
