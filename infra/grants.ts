import { Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
// cdk-nag's own flattening, so an acknowledgement names a finding exactly as the AwsSolutions-IAM5 rule reports it.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { coveringPrefixes } from './lake-layout.js';

/**
 * Grant methods named after the job a role does, in the manner of the Data Solutions Framework
 * (`grantRunQueries`): each one adds exactly the actions that job needs, scoped to ARNs and key prefixes.
 * No action is a wildcard. A resource carries `*` only in the shapes listed in `ALLOWED_WILDCARDS`, each with
 * the reason AWS leaves no narrower choice; the IAM test checks every statement of the template against that list,
 * and each such resource is acknowledged for cdk-nag (AwsSolutions-IAM5) with the same reason.
 */

/** A resource shape that may contain `*`, matched against the resource as cdk-nag flattens it. */
export interface AllowedWildcard {
  name: string;
  /** Matches the flattened resource, e.g. `<RawBucket1234.Arn>/support_events/*`. */
  resource: RegExp;
  /** When set, a statement using this shape may hold only these actions. */
  actions?: readonly string[];
  reason: string;
}

export const ALLOWED_WILDCARDS: readonly AllowedWildcard[] = [
  {
    name: 'objects under one key prefix',
    resource: /^<[A-Za-z0-9]+\.Arn>\/[a-z0-9_][a-z0-9_./=-]*\/\*$/,
    reason:
      'S3 authorizes object actions on object ARNs and the keys are created at run time (dated raw files, ' +
      'partitions, run records, quarantined records, API key records, feed definitions, export job records and ' +
      'results, Athena results), so ' +
      'the narrowest scope AWS offers is the key prefix of one dataset or one lake area.',
  },
  {
    name: 'the tables of one Glue database, for listing',
    resource: /^arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table\/[a-z0-9_]+\/\*$/,
    actions: ['glue:GetTables'],
    reason:
      'glue:GetTables lists a database and Glue authorizes it against table/<database>/*; every other Glue ' +
      'action here is granted on the exact table ARNs.',
  },
];

/** S3 object actions per job. ListBucket is granted on the bucket ARN, see `allowHeadNotFound`. */
const S3_READ = ['s3:GetObject'] as const;
const S3_READ_VERSIONS = ['s3:GetObject', 's3:GetObjectVersion'] as const;
const S3_WRITE = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'] as const;

// Glue actions per job: exactly the calls made, by the catalog adapter (src/adapters/aws/glue-catalog.ts) or by
// Athena for a query. Glue authorizes a table action on the catalog, the database and the table ARNs together.

/**
 * The ETL keeps its tables (CreateTable is `grantCreateDeclaredTables`'s): reads one before each change (GetTable)
 * and its partitions (GetPartitions: whether a table the definition changes incompatibly holds data), evolves it and
 * registers its partitions.
 */
const GLUE_REGISTER = [
  'glue:GetTable',
  'glue:GetPartitions',
  // A new schema version: UpdateTable archives the previous definition as a table version.
  'glue:UpdateTable',
  'glue:BatchCreatePartition',
  // A partition registered again (new files in it) takes the table's columns of now.
  'glue:BatchUpdatePartition',
  // The record of a partition a newer version of a source left without files.
  'glue:BatchDeletePartition',
] as const;
/** The API's reads of a table: its definition, its schema versions and its partitions (listing is GetTables). */
const GLUE_READ = ['glue:GetTable', 'glue:GetTableVersions', 'glue:GetPartitions'] as const;
/**
 * What Athena calls with the caller's permissions to run a SELECT in the query's database (Athena's documented set
 * for querying a table): the database, the table and its partitions. The export engine itself reads the table only
 * (GetTable).
 */
const GLUE_QUERY = [
  'glue:GetDatabase',
  'glue:GetTable',
  'glue:GetPartition',
  'glue:GetPartitions',
  'glue:BatchGetPartition',
] as const;

/** What Lambda's SQS event source polls with, on the function's role (as AWSLambdaSQSQueueExecutionRole). */
const SQS_CONSUME = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'] as const;

/** What the Athena engine calls; results are read from S3 (the location Athena reports), not GetQueryResults. */
const ATHENA_RUN = ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'] as const;

/** The ARNs of one Glue database and its tables; the catalog construct provides them. */
export interface GlueTablesScope {
  readonly catalogArn: string;
  readonly databaseArn: string;
  /** `table/<database>/*`, used for glue:GetTables only. */
  readonly allTablesArn: string;
  readonly tableArns: readonly string[];
}

/** One Athena workgroup and its enforced result location. */
export interface WorkgroupScope {
  readonly workgroupArn: string;
  readonly resultsBucket: IBucket;
  /** The key prefix of the enforced result location: non-empty, ending in `/`. */
  readonly resultsPrefix: string;
}

/**
 * What a role that runs queries may do under the workgroup's result prefix: Athena writes each result there with
 * the caller's permissions (multipart for large ones), and the caller reads it back and deletes it with its
 * `.metadata` (and the export engine's records of its queries, which it keeps under the same prefix).
 */
const QUERY_RESULTS = [
  's3:GetObject',
  's3:PutObject',
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
] as const;

/** Write to its own log group: the ARN of that group (which ends in `:*`, covering its streams). */
export function grantWriteOwnLogs(role: IRole, logGroup: ILogGroup): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
}

/** The ETL's input: read (any version of) raw objects under the datasets' raw prefixes. */
export function grantReadRawPrefix(role: IRole, raw: IBucket, prefixes: readonly string[]): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadRawPrefixes',
      actions: [...S3_READ_VERSIONS],
      resources: objectsUnder(role, raw, prefixes),
    }),
  );
  allowHeadNotFound(role, raw, 'ListRawBucket');
}

/** The ETL's output: write, read back and replace objects under the given processed prefixes. */
export function grantWriteProcessedPrefix(role: IRole, processed: IBucket, prefixes: readonly string[]): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'WriteProcessedPrefixes',
      actions: [...S3_WRITE],
      resources: objectsUnder(role, processed, prefixes),
    }),
  );
  allowHeadNotFound(role, processed, 'ListProcessedBucket');
}

/** Read objects under the given processed prefixes (Parquet footers, run records). */
export function grantReadProcessedPrefix(role: IRole, processed: IBucket, prefixes: readonly string[]): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadProcessedPrefixes',
      actions: [...S3_READ],
      resources: objectsUnder(role, processed, prefixes),
    }),
  );
  allowHeadNotFound(role, processed, 'ListProcessedBucket');
}

/** Register partitions and new schema versions of the declared tables of one database. */
export function grantRegisterPartitions(role: IRole, tables: GlueTablesScope): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'RegisterPartitions',
      actions: [...GLUE_REGISTER],
      resources: [tables.catalogArn, tables.databaseArn, ...tables.tableArns],
    }),
  );
}

/**
 * Create the declared tables of one database, with their per-column parameters (nullability, PII): the ETL creates
 * each table on the first object it publishes (GlueCatalog.putTable), since CloudFormation's table resource has no
 * column parameters and would reset the ETL's schema versions on every update.
 */
export function grantCreateDeclaredTables(role: IRole, tables: GlueTablesScope): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'CreateDeclaredTables',
      actions: ['glue:CreateTable'],
      resources: [tables.catalogArn, tables.databaseArn, ...tables.tableArns],
    }),
  );
}

/** Read and list the declared tables of one database: definitions, schema versions and partitions. */
export function grantReadCatalog(role: IRole, tables: GlueTablesScope): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadCatalogTables',
      actions: [...GLUE_READ],
      resources: [tables.catalogArn, tables.databaseArn, ...tables.tableArns],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ListCatalogTables',
      actions: ['glue:GetTables'],
      resources: [tables.catalogArn, tables.databaseArn, acknowledged(role, tables.allTablesArn)],
    }),
  );
}

/**
 * Run queries in one workgroup. Athena acts with the caller's permissions, so the job also needs: the tables'
 * catalog entries as Athena reads them for a query (`GLUE_QUERY`) and their data (`grantReadProcessedPrefix`), passed
 * in here so the caller cannot forget them, and the workgroup's enforced result location, exactly its prefix, where
 * Athena writes and the caller reads back and deletes.
 */
export function grantRunQueries(
  role: IRole,
  workgroup: WorkgroupScope,
  reads: { tables: GlueTablesScope; processed: IBucket; prefixes: readonly string[] },
): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'RunQueriesInWorkgroup',
      actions: [...ATHENA_RUN],
      resources: [workgroup.workgroupArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'QueryResults',
      actions: [...QUERY_RESULTS],
      resources: objectsUnder(role, workgroup.resultsBucket, [workgroup.resultsPrefix]),
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'LocateQueryBuckets',
      // Athena checks the Region of the buckets it reads and writes.
      actions: ['s3:GetBucketLocation'],
      resources: [workgroup.resultsBucket.bucketArn, reads.processed.bucketArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ListQueryResultUploads',
      actions: ['s3:ListBucketMultipartUploads'],
      resources: [workgroup.resultsBucket.bucketArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadQueriedTables',
      actions: [...GLUE_QUERY],
      resources: [reads.tables.catalogArn, reads.tables.databaseArn, ...reads.tables.tableArns],
    }),
  );
  grantReadProcessedPrefix(role, reads.processed, reads.prefixes);
}

/** Authenticate callers: read API key records (hashes only) under the keys' prefix of the processed bucket. */
export function grantReadApiKeys(role: IRole, processed: IBucket, prefix: string): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadApiKeys',
      actions: [...S3_READ],
      resources: objectsUnder(role, processed, [prefix]),
    }),
  );
  allowHeadNotFound(role, processed, 'ListProcessedBucket');
}

/**
 * Mask values by hash: read the deployment's mask key, one processed object named exactly, and with `create` make it
 * on first use. Only a create is allowed (a PUT with `If-None-Match`, S3's `s3:if-none-match` condition key, as the
 * application writes it): no role can replace the key, which would change every hashed value.
 */
export function grantUseMaskKey(role: IRole, processed: IBucket, key: string, options: { create: boolean }): void {
  const resources = [processed.arnForObjects(key)];
  role.addToPrincipalPolicy(new PolicyStatement({ sid: 'ReadMaskKey', actions: ['s3:GetObject'], resources }));
  allowHeadNotFound(role, processed, 'ListProcessedBucket');
  if (!options.create) return;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'CreateMaskKey',
      actions: ['s3:PutObject'],
      resources,
      conditions: { Null: { 's3:if-none-match': 'false' } },
    }),
  );
}

/**
 * Record export jobs: create, update, read back and delete job records and their markers (fingerprint and
 * idempotency claims, start claims, cancel requests) under one prefix of the exports bucket.
 */
export function grantWriteJobRecords(role: IRole, exportsBucket: IBucket, prefix: string): void {
  grantWriteRecords(role, exportsBucket, 'WriteJobRecords', prefix);
  allowHeadNotFound(role, exportsBucket, 'ListExportsBucket');
}

/**
 * Create, rotate, list and delete BI feed definitions (`createFeed`, `rotateFeedToken`, `deleteFeed`, and reading
 * them to serve `/feeds/<name>.csv`) under one prefix of the processed bucket (listing uses the processed bucket's
 * ListBucket grant of `grantReadApiKeys`). The only processed keys a role other than the ETL's writes.
 */
export function grantWriteFeeds(role: IRole, processed: IBucket, prefix: string): void {
  grantWriteRecords(role, processed, 'WriteFeeds', prefix);
  allowHeadNotFound(role, processed, 'ListProcessedBucket');
}

/** Read, write and (by default) delete the records under one prefix of a bucket. */
function grantWriteRecords(
  role: IRole,
  bucket: IBucket,
  sid: string,
  prefix: string,
  actions: readonly string[] = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({ sid, actions: [...actions], resources: objectsUnder(role, bucket, [prefix]) }),
  );
}

/**
 * Read export results and sign download links for them (a presigned GET is authorized by the signer's s3:GetObject),
 * and delete the result of a job its requester cancels as it ends (`cancelExport`), under the results' prefix of the
 * exports bucket only: Athena's raw results (`_athena/`) are never the API's to read. No write: results are the
 * export worker's.
 */
export function grantReadAndSignExports(role: IRole, exportsBucket: IBucket, prefix: string): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ReadAndSignExports',
      actions: [...S3_READ, 's3:DeleteObject'],
      resources: objectsUnder(role, exportsBucket, [prefix]),
    }),
  );
  allowHeadNotFound(role, exportsBucket, 'ListExportsBucket');
}

/**
 * Run export jobs: write the result parts and manifest under the results' prefix (and remove partial output on
 * cancel or failure), and update the job records. Athena's own output (`_athena/`) is `grantRunQueries`'s.
 */
export function grantWriteExportResults(
  role: IRole,
  exportsBucket: IBucket,
  prefixes: { results: string; jobRecords: string },
): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'WriteExportResults',
      actions: [...S3_WRITE],
      resources: objectsUnder(role, exportsBucket, [prefixes.results]),
    }),
  );
  // Job records are updated, never deleted, by the worker (only a request's rollback deletes one, in the API).
  grantWriteRecords(role, exportsBucket, 'UpdateJobRecords', prefixes.jobRecords, ['s3:GetObject', 's3:PutObject']);
  allowHeadNotFound(role, exportsBucket, 'ListExportsBucket');
}

/** Hand export jobs to the export worker: send messages to one queue. */
export function grantSendExportJobs(role: IRole, queue: IQueue): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({ sid: 'SendExportJobs', actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
  );
}

/** The export worker's input: what Lambda's SQS event source needs to receive and delete one queue's messages. */
export function grantConsumeExportJobs(role: IRole, queue: IQueue): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({ sid: 'ConsumeExportJobs', actions: [...SQS_CONSUME], resources: [queue.queueArn] }),
  );
}

/**
 * s3:ListBucket on the bucket ARN, without a prefix condition: S3 answers HeadObject/GetObject on a missing key
 * with 404 only when the caller may list the bucket (403 otherwise), and `ObjectStore.head` relies on the 404.
 * It reveals key names, never contents. The statement id is per bucket, so granting twice adds it once.
 */
function allowHeadNotFound(role: IRole, bucket: IBucket, sid: string): void {
  role.addToPrincipalPolicy(new PolicyStatement({ sid, actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
}

/** `<bucket>/<prefix>*` for each covering prefix; each one acknowledged for cdk-nag with the documented reason. */
function objectsUnder(role: IRole, bucket: IBucket, prefixes: readonly string[]): string[] {
  if (prefixes.length === 0) throw new Error('a prefix-scoped grant needs at least one prefix');
  return coveringPrefixes(prefixes).map((prefix) => {
    if (!/^[a-z0-9_][a-z0-9_./=-]*\/$/.test(prefix)) {
      throw new Error(`grant prefix "${prefix}" must be non-empty, end in "/" and use a-z, 0-9, _ . / = -`);
    }
    return acknowledged(role, bucket.arnForObjects(`${prefix}*`));
  });
}

/**
 * Acknowledges the AwsSolutions-IAM5 finding for one wildcard resource, with the reason of the
 * `ALLOWED_WILDCARDS` entry it matches; a resource matching none is a programming error.
 */
function acknowledged(role: IRole, resource: string): string {
  const flat = flattenCfnReference(Stack.of(role).resolve(resource));
  const allowed = ALLOWED_WILDCARDS.find((w) => w.resource.test(flat));
  if (allowed === undefined) throw new Error(`resource ${flat} is not an allowed wildcard shape`);
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: allowed.reason });
  return resource;
}
