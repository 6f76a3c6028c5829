import { Match } from 'aws-cdk-lib/assertions';
import { parseSettings } from '../../infra/settings.js';
import { loadConfig } from '../../src/config.js';
import { STOP_MARGIN_MS } from '../../src/workers/export-queue-handler.js';
import { type SynthesisedStack, synthesiseStack } from './infra-fixture.js';

/**
 * Deployment settings (CDK context `careplus`) reach the resources they size: names, retention, the Athena
 * cut-off, the functions' sizing and the API throttle. One synthesis with every setting changed from its default.
 */
let s: SynthesisedStack;

beforeAll(async () => {
  s = await synthesiseStack({
    settings: {
      glueDatabaseName: 'care_analytics',
      athenaWorkgroupName: 'care-exports',
      exportRetentionDays: 3,
      quarantineRetentionDays: 14,
      rawNoncurrentVersionDays: 10,
      accessLogRetentionDays: 400,
      logRetentionDays: 90,
      bytesScannedCutoffPerQuery: 50_000_000,
      etl: {
        memoryMiB: 8192,
        ephemeralStorageMiB: 4096,
        timeoutMinutes: 10,
        retryAttempts: 0,
        maxEventAgeHours: 1,
        maxObjectBytes: 1_000_000_000,
      },
      api: {
        memoryMiB: 1024,
        ephemeralStorageMiB: 1024,
        timeoutSeconds: 20,
        throttleRatePerSecond: 5,
        throttleBurst: 10,
      },
      exportWorker: {
        memoryMiB: 4096,
        ephemeralStorageMiB: 1024,
        timeoutMinutes: 5,
        maxConcurrency: 3,
        maxReceiveCount: 7,
      },
    },
  });
});
afterAll(() => s.cleanup());

const lifecycle = (bucket: 'raw' | 'processed' | 'exports' | 'accessLogs'): unknown => {
  const ref = s.stack.resolve(s.stack.buckets[bucket].bucketName) as { Ref: string };
  return (s.template.toJSON() as { Resources: Record<string, { Properties: Record<string, unknown> }> }).Resources[
    ref.Ref
  ]!.Properties['LifecycleConfiguration'];
};

describe('deployment settings', () => {
  it('name the Glue database and the Athena workgroup, and scope the grants to those names', () => {
    s.template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: Match.objectLike({ Name: 'care_analytics' }),
    });
    s.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'care-exports',
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 50_000_000 }),
    });
    const policies = JSON.stringify(s.template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':table/care_analytics/support_events');
    expect(policies).toContain(':workgroup/care-exports');
    expect(policies).not.toMatch(/database\/careplus|workgroup\/careplus/);
  });

  it('set the lifecycle of exports, quarantine, replaced raw versions and access logs', () => {
    expect(lifecycle('exports')).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-results', Prefix: 'results/', ExpirationInDays: 3, Status: 'Enabled' },
        { Id: 'expire-athena-output', Prefix: '_athena/', ExpirationInDays: 1, Status: 'Enabled' },
        { Id: 'expire-job-records', Prefix: '_jobs/', ExpirationInDays: 33, Status: 'Enabled' },
      ],
    });
    expect(lifecycle('processed')).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-quarantine', Prefix: '_quarantine/', ExpirationInDays: 14, Status: 'Enabled' },
      ],
    });
    expect(lifecycle('raw')).toEqual({
      Rules: [
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'expire-replaced-versions', NoncurrentVersionExpiration: { NoncurrentDays: 10 }, Status: 'Enabled' },
      ],
    });
    expect(lifecycle('accessLogs')).toEqual({
      Rules: [{ Id: 'expire-access-logs', ExpirationInDays: 400, Status: 'Enabled' }],
    });
  });

  it('give the API and the export worker the exports’ retention as the jobs’ expiry, so a job says EXPIRED when its files go', () => {
    const functions = Object.values(s.template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }[];
    const retention = functions
      .map((f) => f.Properties.Environment?.Variables?.['CAREPLUS_EXPORT_RETENTION_HOURS'])
      .filter((v) => v !== undefined);
    expect(retention).toEqual(['72', '72']);
  });

  it('set every log group’s retention', () => {
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups.map((g) => (g as { Properties: { RetentionInDays: number } }).Properties.RetentionInDays)).toEqual([
      90, 90, 90, 90, 90,
    ]);
  });

  it('size the ETL and its DuckDB memory and threads, and its retries', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: s.stack.resolve(s.stack.etl.handler.role.roleArn),
      MemorySize: 8192,
      Timeout: 600,
      EphemeralStorage: { Size: 4096 },
      Environment: {
        Variables: Match.objectLike({
          CAREPLUS_DUCKDB_MEMORY_LIMIT: '4915MB',
          CAREPLUS_DUCKDB_THREADS: '5',
          CAREPLUS_MAX_OBJECT_BYTES: '1000000000',
          CAREPLUS_GLUE_DATABASE: 'care_analytics',
        }),
      },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 3600,
    });
  });

  it('size the API function and throttle its stage', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: s.stack.resolve(s.stack.api.handler.role.roleArn),
      MemorySize: 1024,
      Timeout: 20,
      EphemeralStorage: { Size: 1024 },
      Environment: { Variables: Match.objectLike({ CAREPLUS_ATHENA_WORKGROUP: 'care-exports' }) },
    });
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
  });

  it('size the export worker, its lease, its queue’s visibility timeout and redrive, and its concurrency', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: s.stack.resolve(s.stack.exportWorker.handler.role.roleArn),
      MemorySize: 4096,
      Timeout: 300,
      EphemeralStorage: { Size: 1024 },
      Environment: {
        Variables: Match.objectLike({
          CAREPLUS_EXPORT_LEASE_SECONDS: '300',
          CAREPLUS_ATHENA_WORKGROUP: 'care-exports',
          CAREPLUS_GLUE_DATABASE: 'care_analytics',
        }),
      },
    });
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1800,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 7 }),
    });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });
});

/**
 * The environment each function's configuration is read from (src/config.ts `loadConfig`, at start-up): CloudFormation
 * references (bucket names, the queue URL, the Region) stand in as plain values of the right shape.
 */
function functionEnvironments(stack: SynthesisedStack): Record<string, string>[] {
  const functions = Object.values(stack.template.findResources('AWS::Lambda::Function')) as {
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  }[];
  return functions
    .map((f) => f.Properties.Environment?.Variables ?? {})
    .filter((vars) => vars['CAREPLUS_ENV'] !== undefined)
    .map((vars) =>
      Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [
          name,
          typeof value === 'string' ? value : name.endsWith('_URL') ? 'https://stand-in.example' : 'stand-in',
        ]),
      ),
    );
}

describe('settings the functions read back at start-up', () => {
  it('refuse an export retention the functions would refuse, naming the setting and its range', () => {
    // CAREPLUS_EXPORT_RETENTION_HOURS is days × 24, and src/config.ts takes at most 8760 hours (a year).
    expect(() => parseSettings({ exportRetentionDays: 366 }, 'ctx')).toThrow(
      'ctx: exportRetentionDays: must be 1 to 365 days: the API and the export worker read it as ' +
        'CAREPLUS_EXPORT_RETENTION_HOURS, at most 8760 hours',
    );
    expect(() => parseSettings({ exportRetentionDays: 0 }, 'ctx')).toThrow(
      'ctx: exportRetentionDays: must be 1 to 365',
    );
    expect(parseSettings({ exportRetentionDays: 365 }, 'ctx').exportRetentionDays).toBe(365);
  });

  it('refuse an export worker timeout that leaves a job no time after the worker’s stop margin', () => {
    expect(STOP_MARGIN_MS).toBe(60_000);
    const message =
      'ctx: exportWorker.timeoutMinutes: must be 2 to 15 minutes: the worker stops each job 60 s before its time ' +
      'runs out, so a shorter timeout leaves a job no time to run, and Lambda allows at most 15';
    expect(() => parseSettings({ exportWorker: { timeoutMinutes: 1 } }, 'ctx')).toThrow(message);
    expect(() => parseSettings({ exportWorker: { timeoutMinutes: 16 } }, 'ctx')).toThrow(message);
    // The shortest timeout leaves a job at least as long as the margin.
    const shortest = parseSettings({ exportWorker: { timeoutMinutes: 2 } }, 'ctx').exportWorker.timeoutMinutes;
    expect(shortest * 60_000 - STOP_MARGIN_MS).toBeGreaterThanOrEqual(STOP_MARGIN_MS);
  });

  for (const [bound, settings] of [
    [
      'largest',
      {
        exportRetentionDays: 365,
        bytesScannedCutoffPerQuery: Number.MAX_SAFE_INTEGER,
        etl: { memoryMiB: 10240, maxObjectBytes: Number.MAX_SAFE_INTEGER },
        exportWorker: { timeoutMinutes: 15 },
      },
    ],
    [
      'smallest',
      {
        exportRetentionDays: 1,
        bytesScannedCutoffPerQuery: 10_000_000,
        etl: { memoryMiB: 1024, maxObjectBytes: 1 },
        exportWorker: { timeoutMinutes: 2 },
      },
    ],
  ] as const) {
    it(`give the functions an environment src/config.ts accepts, with every setting it reads at its ${bound} value`, async () => {
      const stack = await synthesiseStack({ settings });
      try {
        const environments = functionEnvironments(stack);
        // The ETL, the API and the export worker.
        expect(environments).toHaveLength(3);
        const read = { maxObjectBytes: 0, retention: 0, lease: 0 };
        for (const env of environments) {
          const config = loadConfig(env, '/');
          if (env['CAREPLUS_MAX_OBJECT_BYTES'] !== undefined) {
            expect(config.ingest.maxObjectBytes).toBe(settings.etl.maxObjectBytes);
            read.maxObjectBytes += 1;
          }
          if (env['CAREPLUS_EXPORT_RETENTION_HOURS'] !== undefined) {
            expect(config.exports.retentionHours).toBe(settings.exportRetentionDays * 24);
            expect(config.exports.maxScanBytes).toBe(settings.bytesScannedCutoffPerQuery);
            read.retention += 1;
          }
          if (env['CAREPLUS_EXPORT_LEASE_SECONDS'] !== undefined) {
            expect(config.exports.leaseSeconds).toBe(settings.exportWorker.timeoutMinutes * 60);
            read.lease += 1;
          }
        }
        // The ETL reads the object limit; the API and the worker the retention and the cut-off; the worker its lease.
        expect(read).toEqual({ maxObjectBytes: 1, retention: 2, lease: 1 });
      } finally {
        stack.cleanup();
      }
    });
  }
});
