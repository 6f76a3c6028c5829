import { z } from 'zod';
import { MAX_EXPORT_RETENTION_HOURS } from '../src/config.js';
import { STOP_MARGIN_MS } from '../src/workers/export-queue-handler.js';

/** The retention periods CloudWatch Logs accepts, in days. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * The longest export retention, in days: the stack hands it to the API and the export worker as
 * CAREPLUS_EXPORT_RETENTION_HOURS (days × 24), and src/config.ts refuses more than MAX_EXPORT_RETENTION_HOURS, which
 * would stop every such function at start-up.
 */
export const MAX_EXPORT_RETENTION_DAYS = Math.floor(MAX_EXPORT_RETENTION_HOURS / 24);

/**
 * The shortest export worker timeout, in minutes. The worker stops a job STOP_MARGIN_MS before the invocation's time
 * runs out (src/workers/export-queue-handler.ts) to stop its query and record the failure; the timeout must leave a
 * job at least as long again to run, or every job would be stopped as soon as it starts.
 */
export const MIN_EXPORT_WORKER_TIMEOUT_MINUTES = Math.ceil((2 * STOP_MARGIN_MS) / 60_000);
/** Lambda's longest timeout. */
const MAX_LAMBDA_TIMEOUT_MINUTES = 15;

const exportRetentionRange =
  `must be 1 to ${MAX_EXPORT_RETENTION_DAYS} days: the API and the export worker read it as ` +
  `CAREPLUS_EXPORT_RETENTION_HOURS, at most ${MAX_EXPORT_RETENTION_HOURS} hours`;
const exportWorkerTimeoutRange =
  `must be ${MIN_EXPORT_WORKER_TIMEOUT_MINUTES} to ${MAX_LAMBDA_TIMEOUT_MINUTES} minutes: the worker stops each job ` +
  `${STOP_MARGIN_MS / 1000} s before its time runs out, so a shorter timeout leaves a job no time to run, and ` +
  `Lambda allows at most ${MAX_LAMBDA_TIMEOUT_MINUTES}`;

/**
 * Deployment settings: names, retention and sizing. Defaults suit one team's support logs; override any of them
 * with the CDK context key `careplus` (JSON), e.g. `npx cdk deploy -c careplus='{"exportRetentionDays":14}'`.
 */
const settingsSchema = z
  .object({
    /** Glue database holding one table per dataset definition. */
    glueDatabaseName: z
      .string()
      .regex(/^[a-z0-9_]{1,255}$/)
      .default('careplus'),
    athenaWorkgroupName: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,128}$/)
      .default('careplus'),
    /**
     * Days after which export files are deleted by a lifecycle rule (job records 30 days later), and after which the
     * functions show a job EXPIRED; at most MAX_EXPORT_RETENTION_DAYS.
     */
    exportRetentionDays: z
      .number()
      .int()
      .min(1, { message: exportRetentionRange })
      .max(MAX_EXPORT_RETENTION_DAYS, { message: exportRetentionRange })
      .default(7),
    /** Days after which quarantined records (`processed/_quarantine/`) are deleted. */
    quarantineRetentionDays: z.number().int().min(1).default(30),
    /** Days a replaced or deleted raw object version is kept (raw is versioned). */
    rawNoncurrentVersionDays: z.number().int().min(1).default(90),
    /** Days S3 server access logs are kept. */
    accessLogRetentionDays: z.number().int().min(1).default(90),
    /** Days Lambda and API access logs are kept; one of the values CloudWatch Logs accepts. */
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => LOG_RETENTION_DAYS.includes(d), {
        message: `log retention must be one of ${LOG_RETENTION_DAYS.join(', ')} days`,
      })
      .default(30),
    /** Athena's per-query bytes-scanned cut-off; the minimum Athena accepts is 10 MB. */
    bytesScannedCutoffPerQuery: z
      .number()
      .int()
      .min(10_000_000)
      .default(10 * 1024 ** 3),
    etl: z
      .object({
        /** MiB. DuckDB gets 60 % of it as its memory limit; the rest is Node, the SDK and buffers. */
        memoryMiB: z.number().int().min(1024).max(10240).default(4096),
        /** MiB of /tmp: the staged raw object, DuckDB's spill files and the Parquet before upload. */
        ephemeralStorageMiB: z.number().int().min(512).max(10240).default(10240),
        timeoutMinutes: z.number().int().min(1).max(15).default(15),
        /** Retries of an asynchronous S3 event before it goes to the failure queue (Lambda allows 0..2). */
        retryAttempts: z.number().int().min(0).max(2).default(2),
        /** Hours an event may wait for a retry before it goes to the failure queue (Lambda allows up to 6). */
        maxEventAgeHours: z.number().int().min(1).max(6).default(6),
        /** Largest raw object the ETL accepts, in bytes; it must fit in /tmp beside its Parquet output. */
        maxObjectBytes: z
          .number()
          .int()
          .min(1)
          .default(4 * 1024 ** 3),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        memoryMiB: z.number().int().min(512).max(10240).default(2048),
        ephemeralStorageMiB: z.number().int().min(512).max(10240).default(2048),
        /** API Gateway ends an HTTP API integration at 30 s, so the function stops just before. */
        timeoutSeconds: z.number().int().min(3).max(29).default(29),
        /** Steady requests per second across all callers (per-key limits are the API's own). */
        throttleRatePerSecond: z.number().min(1).default(50),
        throttleBurst: z.number().int().min(1).default(100),
      })
      .strict()
      .prefault({}),
    exportWorker: z
      .object({
        /** MiB. The Athena engine streams Athena's result into the CSV parts; gzip members use every vCPU. */
        memoryMiB: z.number().int().min(512).max(10240).default(2048),
        ephemeralStorageMiB: z.number().int().min(512).max(10240).default(2048),
        /**
         * One job must finish within this, less the worker's stop margin (so at least
         * MIN_EXPORT_WORKER_TIMEOUT_MINUTES; Lambda allows 15 minutes); the job's lease and the queue's visibility
         * timeout are derived from it.
         */
        timeoutMinutes: z
          .number()
          .int()
          .min(MIN_EXPORT_WORKER_TIMEOUT_MINUTES, { message: exportWorkerTimeoutRange })
          .max(MAX_LAMBDA_TIMEOUT_MINUTES, { message: exportWorkerTimeoutRange })
          .default(15),
        /** Jobs (so Athena queries) running at once; Lambda's SQS event source allows 2 to 1000. */
        maxConcurrency: z.number().int().min(2).max(1000).default(5),
        /** Deliveries of one message before it goes to the dead-letter queue. */
        maxReceiveCount: z.number().int().min(2).max(1000).default(5),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type CareplusSettings = z.output<typeof settingsSchema>;
export type CareplusSettingsInput = z.input<typeof settingsSchema>;

/** Validates settings (from the CDK context or a test); `origin` is named in the error. */
export function parseSettings(input: unknown, origin: string): CareplusSettings {
  const parsed = settingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new Error(`${origin}: ${path}: ${issue.message}`);
  }
  return parsed.data;
}
