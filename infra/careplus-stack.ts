import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import { GraphqlApi } from './constructs/api.js';
import { LakeCatalog } from './constructs/catalog.js';
import { DuckdbLayer } from './constructs/duckdb-layer.js';
import { EtlFunction } from './constructs/etl-function.js';
import { LakeBuckets } from './constructs/lake-buckets.js';
import { configureNotificationsHandlerLogs } from './constructs/notifications-handler-logs.js';
import { QueryWorkgroup } from './constructs/query-workgroup.js';
import {
  grantReadRawPrefix,
  grantRegisterPartitions,
  grantRunQueries,
  grantWriteAndSignExports,
  grantWriteProcessedPrefix,
} from './grants.js';
import { LAKE_PREFIXES, processedDatasetPrefix } from './lake-layout.js';
import type { CareplusSettings } from './settings.js';

/** Folders of the built Lambda code, as `scripts/build-bundles.ts` writes them (tests pass stand-ins). */
export interface BundleDirs {
  /** `index.js` exporting `handler` (lambda/handler.ts) and `datasets/`. */
  etl: string;
  /** `index.js` exporting `handler` (src/lambda-api.ts) and `datasets/`. */
  api: string;
  /** `nodejs/node_modules/@duckdb/...`. */
  duckdbLayer: string;
}

export interface CareplusStackProps extends StackProps {
  /** The dataset definitions (datasets/*.yaml): one Glue table and one raw prefix each. */
  datasets: readonly DatasetDefinition[];
  bundles: BundleDirs;
  settings: CareplusSettings;
}

/** Where the functions find the dataset definitions: the bundle's `datasets/` folder, under /var/task. */
export const DATASETS_DIR_IN_LAMBDA = '/var/task/datasets';
/** Writable scratch space in Lambda (staged objects, DuckDB spill files). */
export const CACHE_DIR_IN_LAMBDA = '/tmp/careplus';
/** Where the API writes export jobs in the exports bucket: its root, `<job-id>/...` (DESIGN.md). */
export const EXPORT_JOBS_PREFIX = '';

/**
 * CarePlus DataStores on AWS: the lake buckets, the ETL Lambda on raw ObjectCreated, the Glue catalog, an
 * Athena workgroup, and the GraphQL API on Lambda behind an HTTP API. Every function's role is built from the
 * job-named grants in `grants.ts`.
 */
export class CareplusStack extends Stack {
  readonly buckets: LakeBuckets;
  readonly catalog: LakeCatalog;
  readonly workgroup: QueryWorkgroup;
  readonly duckdb: DuckdbLayer;
  readonly etl: EtlFunction;
  readonly api: GraphqlApi;

  constructor(scope: Construct, id: string, props: CareplusStackProps) {
    super(scope, id, props);
    // Server access logs are delivered under a bucket policy (not the legacy LogDeliveryWrite ACL), so the log
    // bucket can keep ACLs disabled. Set on the stack so every synthesis (app, cdk CLI, tests) agrees.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const { settings, datasets } = props;
    if (datasets.length === 0) throw new Error('CareplusStack needs at least one dataset definition');
    const logRetention = settings.logRetentionDays as RetentionDays;

    this.buckets = new LakeBuckets(this, 'Lake', {
      exportRetentionDays: settings.exportRetentionDays,
      quarantineRetentionDays: settings.quarantineRetentionDays,
      rawNoncurrentVersionDays: settings.rawNoncurrentVersionDays,
      accessLogRetentionDays: settings.accessLogRetentionDays,
    });
    const { raw, processed, exports } = this.buckets;

    this.catalog = new LakeCatalog(this, 'Catalog', {
      databaseName: settings.glueDatabaseName,
      datasets,
      processed,
    });
    this.workgroup = new QueryWorkgroup(this, 'Queries', {
      name: settings.athenaWorkgroupName,
      resultsBucket: exports,
      resultsPrefix: LAKE_PREFIXES.athenaResults,
      bytesScannedCutoffPerQuery: settings.bytesScannedCutoffPerQuery,
    });
    this.duckdb = new DuckdbLayer(this, 'Duckdb', { codeDir: props.bundles.duckdbLayer });

    // Read by src/config.ts `loadConfig` in both functions.
    const lakeEnvironment: Record<string, string> = {
      CAREPLUS_ENV: 'production',
      CAREPLUS_STORAGE: 's3',
      CAREPLUS_S3_RAW_BUCKET: raw.bucketName,
      CAREPLUS_S3_PROCESSED_BUCKET: processed.bucketName,
      CAREPLUS_S3_EXPORTS_BUCKET: exports.bucketName,
      CAREPLUS_CATALOG: 'glue',
      CAREPLUS_GLUE_DATABASE: this.catalog.databaseName,
      CAREPLUS_AWS_REGION: Aws.REGION,
      CAREPLUS_CACHE_DIR: CACHE_DIR_IN_LAMBDA,
      CAREPLUS_DATASETS_DIR: DATASETS_DIR_IN_LAMBDA,
      CAREPLUS_LOG_LEVEL: 'info',
    };
    const datasetPrefixes = datasets.map((d) => processedDatasetPrefix(d.name));

    this.etl = new EtlFunction(this, 'Etl', {
      codeDir: props.bundles.etl,
      layers: [this.duckdb.layer],
      raw,
      rawPrefixes: datasets.map((d) => d.rawPrefix),
      memoryMiB: settings.etl.memoryMiB,
      ephemeralStorageMiB: settings.etl.ephemeralStorageMiB,
      timeoutMinutes: settings.etl.timeoutMinutes,
      retryAttempts: settings.etl.retryAttempts,
      maxEventAgeHours: settings.etl.maxEventAgeHours,
      environment: { ...lakeEnvironment, CAREPLUS_MAX_OBJECT_BYTES: String(settings.etl.maxObjectBytes) },
      logRetention,
    });
    const etlRole = this.etl.handler.role;
    grantReadRawPrefix(
      etlRole,
      raw,
      datasets.map((d) => d.rawPrefix),
    );
    grantWriteProcessedPrefix(etlRole, processed, [
      ...datasetPrefixes,
      LAKE_PREFIXES.pipelineRuns,
      LAKE_PREFIXES.quarantine,
    ]);
    grantRegisterPartitions(etlRole, this.catalog);
    configureNotificationsHandlerLogs(this, this.buckets.notificationsHandlerRole, logRetention);

    this.api = new GraphqlApi(this, 'Api', {
      codeDir: props.bundles.api,
      layers: [this.duckdb.layer],
      memoryMiB: settings.api.memoryMiB,
      ephemeralStorageMiB: settings.api.ephemeralStorageMiB,
      timeoutSeconds: settings.api.timeoutSeconds,
      throttleRatePerSecond: settings.api.throttleRatePerSecond,
      throttleBurst: settings.api.throttleBurst,
      environment: {
        ...lakeEnvironment,
        CAREPLUS_ENGINE: 'athena',
        CAREPLUS_ATHENA_WORKGROUP: this.workgroup.workgroupName,
      },
      logRetention,
    });
    const apiRole = this.api.handler.role;
    grantRunQueries(apiRole, this.workgroup, {
      tables: this.catalog,
      processed,
      prefixes: [...datasetPrefixes, LAKE_PREFIXES.pipelineRuns],
    });
    grantWriteAndSignExports(apiRole, exports, EXPORT_JOBS_PREFIX);

    new CfnOutput(this, 'ApiUrl', { value: `${this.api.url}/graphql`, description: 'GraphQL endpoint' });
    new CfnOutput(this, 'RawBucketName', { value: raw.bucketName, description: 'Upload raw logs here' });
    new CfnOutput(this, 'ProcessedBucketName', { value: processed.bucketName });
    new CfnOutput(this, 'ExportsBucketName', { value: exports.bucketName });
    new CfnOutput(this, 'GlueDatabaseName', { value: this.catalog.databaseName });
    new CfnOutput(this, 'AthenaWorkgroupName', { value: this.workgroup.workgroupName });
    new CfnOutput(this, 'EtlFailureQueueUrl', { value: this.etl.failureQueue.queueUrl });
  }
}
