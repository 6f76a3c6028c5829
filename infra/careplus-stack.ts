import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import { GraphqlApi } from './constructs/api.js';
import { LakeCatalog } from './constructs/catalog.js';
import { DuckdbLayer } from './constructs/duckdb-layer.js';
import { EtlFunction } from './constructs/etl-function.js';
import { ExportWorker } from './constructs/export-worker.js';
import { LakeBuckets } from './constructs/lake-buckets.js';
import { OperationsAlarms } from './constructs/operations-alarms.js';
import { configureNotificationsHandlerLogs } from './constructs/notifications-handler-logs.js';
import { QueryWorkgroup } from './constructs/query-workgroup.js';
import {
  grantConsumeExportJobs,
  grantCreateDeclaredTables,
  grantReadAndSignExports,
  grantReadApiKeys,
  grantReadCatalog,
  grantReadProcessedPrefix,
  grantReadRawPrefix,
  grantRegisterPartitions,
  grantRunQueries,
  grantSendExportJobs,
  grantUseMaskKey,
  grantWriteExportResults,
  grantWriteFeeds,
  grantWriteJobRecords,
  grantWriteProcessedPrefix,
} from './grants.js';
import { LAKE_OBJECTS, LAKE_PREFIXES, processedDatasetPrefix } from './lake-layout.js';
import type { CareplusSettings } from './settings.js';

/** Folders of the built Lambda code, as `scripts/build-bundles.ts` writes them (tests pass stand-ins). */
export interface BundleDirs {
  /** `index.js` exporting `handler` (lambda/handler.ts) and `datasets/`. */
  etl: string;
  /** `index.js` exporting `handler` (src/lambda-api.ts), `datasets/` and `policy.yaml`. */
  api: string;
  /** `index.js` exporting `handler` (src/lambda-export-worker.ts) and `datasets/`. */
  exportWorker: string;
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
/** The access policy in the API's bundle (scripts/build-bundles.ts copies the repository's policy.yaml there). */
export const POLICY_FILE_IN_LAMBDA = '/var/task/policy.yaml';
/** What each bundle must hold besides `index.js`, checked at synthesis so a bundle without them never deploys. */
export const BUNDLE_CONTENTS: Record<'etl' | 'api' | 'exportWorker', readonly string[]> = {
  etl: ['index.js', 'datasets'],
  api: ['index.js', 'datasets', 'policy.yaml', 'console/index.html'],
  // The worker loads no policy: a job carries its requester's grant as the API resolved it.
  exportWorker: ['index.js', 'datasets'],
};

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
  readonly exportWorker: ExportWorker;

  constructor(scope: Construct, id: string, props: CareplusStackProps) {
    super(scope, id, props);
    // Server access logs are delivered under a bucket policy (not the legacy LogDeliveryWrite ACL), so the log
    // bucket can keep ACLs disabled. Set on the stack so every synthesis (app, cdk CLI, tests) agrees.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const { settings, datasets } = props;
    if (datasets.length === 0) throw new Error('CareplusStack needs at least one dataset definition');
    checkBundles(props.bundles);
    const logRetention = settings.logRetentionDays as RetentionDays;

    this.buckets = new LakeBuckets(this, 'Lake', {
      exportRetentionDays: settings.exportRetentionDays,
      quarantineRetentionDays: settings.quarantineRetentionDays,
      rawNoncurrentVersionDays: settings.rawNoncurrentVersionDays,
      accessLogRetentionDays: settings.accessLogRetentionDays,
    });
    const { raw, processed, exports } = this.buckets;

    this.catalog = new LakeCatalog(this, 'Catalog', { databaseName: settings.glueDatabaseName, datasets });
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
      // The roles may read only the declared datasets' tables (see grants.ts): other tables of the database are not
      // this deployment's, and asking Glue for one is AccessDenied rather than "not found".
      CAREPLUS_GLUE_TABLES: 'declared',
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
      LAKE_PREFIXES.pipeline,
      LAKE_PREFIXES.quarantine,
    ]);
    grantCreateDeclaredTables(etlRole, this.catalog);
    grantRegisterPartitions(etlRole, this.catalog);
    configureNotificationsHandlerLogs(this, this.buckets.notificationsHandlerRole, logRetention);

    const exportEngineEnvironment = {
      CAREPLUS_ENGINE: 'athena',
      CAREPLUS_ATHENA_WORKGROUP: this.workgroup.workgroupName,
      // A job's expiry (written by the worker, read by the API, which then says EXPIRED) is the exports bucket's
      // lifecycle period: S3 deletes a result at the first midnight UTC after that period from its writing.
      CAREPLUS_EXPORT_RETENTION_HOURS: String(settings.exportRetentionDays * 24),
      // The API refuses (LIMIT_EXCEEDED, from the estimate) what the workgroup would cut off after scanning and
      // billing its cut-off: one limit for both.
      CAREPLUS_EXPORT_MAX_SCAN_BYTES: String(settings.bytesScannedCutoffPerQuery),
    };

    this.exportWorker = new ExportWorker(this, 'ExportWorker', {
      codeDir: props.bundles.exportWorker,
      layers: [this.duckdb.layer],
      memoryMiB: settings.exportWorker.memoryMiB,
      ephemeralStorageMiB: settings.exportWorker.ephemeralStorageMiB,
      timeoutMinutes: settings.exportWorker.timeoutMinutes,
      maxConcurrency: settings.exportWorker.maxConcurrency,
      maxReceiveCount: settings.exportWorker.maxReceiveCount,
      environment: {
        ...lakeEnvironment,
        ...exportEngineEnvironment,
        // The runtime opens DuckDB for every process; the Athena engine does not use it.
        CAREPLUS_DUCKDB_MEMORY_LIMIT: '256MB',
        CAREPLUS_DUCKDB_THREADS: '1',
      },
      logRetention,
    });
    const workerRole = this.exportWorker.handler.role;
    grantConsumeExportJobs(workerRole, this.exportWorker.queue);
    // The tables' files, and the compaction journals and publish intents (with the sources' lineages) their listings
    // honour (src/services/compaction-view.ts).
    grantRunQueries(workerRole, this.workgroup, {
      tables: this.catalog,
      processed,
      prefixes: [...datasetPrefixes, LAKE_PREFIXES.compactions, LAKE_PREFIXES.intents, LAKE_PREFIXES.sources],
    });
    // Read only: the API creates the key when it fingerprints the first request that hashes a column, before any
    // worker runs one.
    grantUseMaskKey(workerRole, processed, LAKE_OBJECTS.maskKey, { create: false });
    grantWriteExportResults(workerRole, exports, {
      results: LAKE_PREFIXES.exportResults,
      jobRecords: LAKE_PREFIXES.jobRecords,
    });

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
        // Recorded on each job; the API itself runs no query (the export worker does).
        ...exportEngineEnvironment,
        CAREPLUS_EXPORT_DISPATCH: 'sqs',
        CAREPLUS_EXPORT_QUEUE_URL: this.exportWorker.queue.queueUrl,
        CAREPLUS_POLICY_FILE: POLICY_FILE_IN_LAMBDA,
      },
      logRetention,
    });
    // Every store prefix the API reads or writes, and nothing else: the declared tables and their data (metadata,
    // statistics, previews, export planning), run records (pipeline status), data versions (whether a cached
    // listing is current), compaction journals and publish intents with the sources' lineages (which files a listing
    // leaves out), not the ETL's other records
    // under `_pipeline/`, API keys (authentication), the mask key
    // (previews of hashed columns and the fingerprint of export requests that hash one; created there), job records
    // (requestExport, cancelExport), BI feed definitions (processed `_system/feeds/`: created, rotated and deleted
    // through GraphQL, read to serve `/feeds/<name>.csv`), the results it signs links for, and the jobs queue.
    const apiRole = this.api.handler.role;
    grantReadCatalog(apiRole, this.catalog);
    grantReadProcessedPrefix(apiRole, processed, [
      ...datasetPrefixes,
      LAKE_PREFIXES.pipelineRuns,
      LAKE_PREFIXES.dataVersions,
      LAKE_PREFIXES.compactions,
      LAKE_PREFIXES.intents,
      LAKE_PREFIXES.sources,
    ]);
    grantReadApiKeys(apiRole, processed, LAKE_PREFIXES.apiKeys);
    grantUseMaskKey(apiRole, processed, LAKE_OBJECTS.maskKey, { create: true });
    grantWriteJobRecords(apiRole, exports, LAKE_PREFIXES.jobRecords);
    grantWriteFeeds(apiRole, processed, LAKE_PREFIXES.feeds);
    grantReadAndSignExports(apiRole, exports, LAKE_PREFIXES.exportResults);
    grantSendExportJobs(apiRole, this.exportWorker.queue);

    new CfnOutput(this, 'ApiUrl', { value: `${this.api.url}/graphql`, description: 'GraphQL endpoint' });
    new CfnOutput(this, 'RawBucketName', { value: raw.bucketName, description: 'Upload raw logs here' });
    new CfnOutput(this, 'ProcessedBucketName', { value: processed.bucketName });
    new CfnOutput(this, 'ExportsBucketName', { value: exports.bucketName });
    new CfnOutput(this, 'GlueDatabaseName', { value: this.catalog.databaseName });
    new CfnOutput(this, 'AthenaWorkgroupName', { value: this.workgroup.workgroupName });
    new CfnOutput(this, 'EtlFailureQueueUrl', { value: this.etl.failureQueue.queueUrl });
    new CfnOutput(this, 'ExportJobsQueueUrl', { value: this.exportWorker.queue.queueUrl });
    new CfnOutput(this, 'ExportDeadLetterQueueUrl', {
      value: this.exportWorker.deadLetterQueue.queueUrl,
      description: 'Export-job messages the worker could not handle; redrive them once fixed',
    });
    new CfnOutput(this, 'ExportDeadLetterQueueArn', {
      value: this.exportWorker.deadLetterQueue.queueArn,
      description: 'For `aws sqs start-message-move-task --source-arn` (redrive)',
    });
    new CfnOutput(this, 'EtlFunctionName', {
      value: this.etl.handler.function.functionName,
      description: 'For `aws lambda invoke` with a saved event from the ETL failure queue',
    });

    const alarms = new OperationsAlarms(this, 'Alarms', {
      failureQueues: [
        { name: 'EtlFailedEvents', queue: this.etl.failureQueue },
        { name: 'ExportDeadLetters', queue: this.exportWorker.deadLetterQueue },
      ],
      jobQueue: this.exportWorker.queue,
      // Longer than one job may run: older means no worker is taking jobs.
      jobQueueMaxAgeSeconds: settings.exportWorker.timeoutMinutes * 60 * 2,
      functions: [
        { name: 'Etl', fn: this.etl.handler.function },
        { name: 'ExportWorker', fn: this.exportWorker.handler.function },
        { name: 'Api', fn: this.api.handler.function },
      ],
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: alarms.topic.topicArn,
      description: 'Subscribe to be told of failed ETL events, export dead letters, waiting jobs and function errors',
    });
  }
}

/** Refuses bundles that lack what their function reads at run time (see BUNDLE_CONTENTS). */
function checkBundles(bundles: BundleDirs): void {
  for (const [name, contents] of Object.entries(BUNDLE_CONTENTS) as [
    keyof typeof BUNDLE_CONTENTS,
    readonly string[],
  ][]) {
    for (const entry of contents) {
      if (!existsSync(join(bundles[name], entry))) {
        throw new Error(`the ${name} bundle at ${bundles[name]} has no ${entry}: build it with \`npm run synth\``);
      }
    }
  }
}
