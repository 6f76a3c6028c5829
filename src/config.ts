import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import leven from 'leven';
import { ConfigError } from './domain/errors.js';
import { MASK_KEY_MAX_BYTES, MASK_KEY_MIN_BYTES } from './domain/mask-key.js';

/**
 * Typed configuration. `loadConfig` is the only place that reads the environment; everything below
 * the composition root receives an `AppConfig`.
 */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  /** CAREPLUS_ variables of the environment that no setting reads (unknownSettings), logged when the runtime starts. */
  ignoredSettings?: { name: string; didYouMean?: string }[];
  host: string;
  port: number;
  /** Base URL used in links handed to clients (download links). */
  publicUrl: string;
  lakeDir: string;
  datasetsDir: string;
  /** The built web console (`npm run build` writes `dist/console/`; the API Lambda's bundle carries it). */
  consoleDir: string;
  /** Local folder for staging objects and DuckDB spill files. */
  cacheDir: string;
  storage: 'local' | 's3';
  s3: {
    endpoint: string | undefined;
    /**
     * Where clients reach S3 with the presigned download links: CAREPLUS_S3_PUBLIC_ENDPOINT, else `endpoint`. Differs
     * when the API reaches an S3-compatible server by a private address (a container network) that analysts cannot.
     */
    publicEndpoint: string | undefined;
    region: string;
    forcePathStyle: boolean;
    buckets: { raw: string; processed: string; exports: string };
  };
  catalog: 'local' | 'glue';
  /**
   * `tables`: `all` (default) shows every Parquet table of the database; `declared` only the datasets defined in
   * `datasetsDir` (a deployment whose role may read only those).
   */
  glue: { database: string; endpoint: string | undefined; region: string; tables: 'all' | 'declared' };
  duckdb: { memoryLimit: string; threads: number };
  ingest: { maxObjectBytes: number };
  /** Export engine: DuckDB in-process (default) or Amazon Athena over the Glue tables. */
  engine: 'duckdb' | 'athena';
  athena: { workgroup: string; endpoint: string | undefined; region: string };
  exports: {
    /** Jobs running at once; more wait in a FIFO queue. */
    concurrency: number;
    /** Largest CSV part before a new part starts, in bytes. */
    partBytes: number;
    gzipLevel: number;
    /** Results are deleted and jobs marked EXPIRED this long after they finish. */
    retentionHours: number;
    maxRows: number;
    maxScanBytes: number;
    /** Lifetime of a download link, in seconds. */
    linkTtlSeconds: number;
    /**
     * HMAC secret for local download links (at least 32 bytes). Unset: the composition root creates one in the
     * lake on first use, so links survive restarts.
     */
    signingSecret: string | undefined;
    /**
     * Who runs export jobs: `in-process`, this process's worker pool (the default); or `sqs`, the job id is sent to
     * an SQS queue and an export worker (src/lambda-export-worker.ts) runs the job.
     */
    dispatch: 'in-process' | 'sqs';
    /** The queue of `sqs` dispatch (required then); its origin is the SQS endpoint. */
    queueUrl: string | undefined;
    /**
     * How long one start of a job may run, in seconds (the export worker's time limit). A worker that receives the
     * job again while its start is younger leaves it to the worker running it; after that it takes the job over.
     */
    leaseSeconds: number;
  };
  auth: {
    /** Policy file (YAML or JSON): roles → datasets → columns, masks, row filters. */
    policyFile: string;
    /**
     * Key of `hash` masks (SHA-256 of key and text), 32 to 64 bytes: the UTF-8 bytes of CAREPLUS_MASK_KEY, or with
     * `hex:` the bytes it spells (as the lake's own key is stored). Unset: the composition root creates one in the
     * lake on first use, so every process of the deployment hashes alike.
     */
    maskKey: Uint8Array | undefined;
    jwt: { jwksUrl: string; issuer: string; audience: string; roleClaim: string; clockSkewSeconds: number } | undefined;
  };
  limits: {
    maxQueryDepth: number;
    maxQueryCost: number;
    /** Mutations and expensive fields per API key per minute. */
    ratePerMinute: number;
    requestTimeoutMs: number;
    bodyLimitBytes: number;
    /** Schema introspection for roles with `canUseGraphiql` (`CAREPLUS_INTROSPECTION`, default on). */
    introspection: boolean;
  };
  /** How the API keeps dataset listings and statistics between requests. */
  metadata: {
    /**
     * A dataset's cached listing is listed again after this many seconds even when its data version did not
     * change: the most a metadata answer lags behind writers that do not announce changes (files copied in by other
     * tools, Glue tables filled by others). Our ETL, `compact` and `register` announce theirs, which are seen at
     * the next request. 0 lists on every request.
     */
    revalidateSeconds: number;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Settings of the API's own clients (`careplus export`), not of the server. */
  client: {
    /** Base URL of the API the CLI talks to. Default: this machine's API on CAREPLUS_PORT. */
    apiUrl: string;
    /** API key the CLI sends as `Authorization: Bearer <key>`; unset sends none. */
    apiKey: string | undefined;
  };
}

type Env = Record<string, string | undefined>;

function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

class Reader {
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const v = this.env[name];
    if (v === undefined || v === '') return fallback;
    return v;
  }

  optional(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  required(name: string, why: string): string {
    const v = this.optional(name);
    if (v === undefined) throw new ConfigError(`${name} is required ${why}`);
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(`${name}="${v}" is not valid: expected one of ${allowed.join(', ')}`);
    }
    return v as T;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new ConfigError(`${name}="${raw}" is not valid: expected a whole number`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(`${name}=${raw} is out of range: expected ${min} to ${max}`);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ConfigError(`${name}="${raw}" is not valid: expected true or false`);
  }

  url(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    } catch {
      throw new ConfigError(`${name}="${raw}" is not valid: expected an http(s) URL`);
    }
    return raw.replace(/\/+$/, '');
  }
}

/** Every setting loadConfig reads (test/unit/config-settings.test.ts checks it against the names this file reads). */
export const SETTINGS: readonly string[] = [
  'CAREPLUS_API_KEY',
  'CAREPLUS_API_URL',
  'CAREPLUS_ATHENA_ENDPOINT',
  'CAREPLUS_ATHENA_WORKGROUP',
  'CAREPLUS_AWS_REGION',
  'CAREPLUS_BODY_LIMIT_BYTES',
  'CAREPLUS_CACHE_DIR',
  'CAREPLUS_CATALOG',
  'CAREPLUS_CONSOLE_DIR',
  'CAREPLUS_DATASETS_DIR',
  'CAREPLUS_DOWNLOAD_TTL_SECONDS',
  'CAREPLUS_DUCKDB_MEMORY_LIMIT',
  'CAREPLUS_DUCKDB_THREADS',
  'CAREPLUS_ENGINE',
  'CAREPLUS_ENV',
  'CAREPLUS_EXPORT_CONCURRENCY',
  'CAREPLUS_EXPORT_DISPATCH',
  'CAREPLUS_EXPORT_GZIP_LEVEL',
  'CAREPLUS_EXPORT_LEASE_SECONDS',
  'CAREPLUS_EXPORT_MAX_ROWS',
  'CAREPLUS_EXPORT_MAX_SCAN_BYTES',
  'CAREPLUS_EXPORT_PART_BYTES',
  'CAREPLUS_EXPORT_QUEUE_URL',
  'CAREPLUS_EXPORT_RETENTION_HOURS',
  'CAREPLUS_GLUE_DATABASE',
  'CAREPLUS_GLUE_ENDPOINT',
  'CAREPLUS_GLUE_TABLES',
  'CAREPLUS_HOST',
  'CAREPLUS_INTROSPECTION',
  'CAREPLUS_JWT_AUDIENCE',
  'CAREPLUS_JWT_CLOCK_SKEW_SECONDS',
  'CAREPLUS_JWT_ISSUER',
  'CAREPLUS_JWT_JWKS_URL',
  'CAREPLUS_JWT_ROLE_CLAIM',
  'CAREPLUS_LAKE_DIR',
  'CAREPLUS_LOG_LEVEL',
  'CAREPLUS_MASK_KEY',
  'CAREPLUS_MAX_OBJECT_BYTES',
  'CAREPLUS_MAX_QUERY_COST',
  'CAREPLUS_MAX_QUERY_DEPTH',
  'CAREPLUS_METADATA_REVALIDATE_SECONDS',
  'CAREPLUS_POLICY_FILE',
  'CAREPLUS_PORT',
  'CAREPLUS_PUBLIC_URL',
  'CAREPLUS_RATE_LIMIT_PER_MINUTE',
  'CAREPLUS_REQUEST_TIMEOUT_MS',
  'CAREPLUS_S3_ENDPOINT',
  'CAREPLUS_S3_EXPORTS_BUCKET',
  'CAREPLUS_S3_FORCE_PATH_STYLE',
  'CAREPLUS_S3_PROCESSED_BUCKET',
  'CAREPLUS_S3_PUBLIC_ENDPOINT',
  'CAREPLUS_S3_RAW_BUCKET',
  'CAREPLUS_SIGNING_SECRET',
  'CAREPLUS_STORAGE',
];

/**
 * The CAREPLUS_ variables of `source` that no setting reads, each with the setting it is closest to (at most two
 * edits away), if any: a mistyped name (CAREPLUS_PROT) would otherwise be ignored without a word, and its default
 * used. The runtime logs them as a warning (src/composition.ts).
 */
export function unknownSettings(source: Env): { name: string; didYouMean?: string }[] {
  const known = new Set(SETTINGS);
  return Object.keys(source)
    .filter((name) => name.startsWith('CAREPLUS_') && !known.has(name))
    .sort()
    .map((name) => {
      let best: { setting: string; distance: number } | undefined;
      for (const setting of SETTINGS) {
        const distance = leven(name, setting);
        if (distance <= 2 && (best === undefined || distance < best.distance)) best = { setting, distance };
      }
      return best === undefined ? { name } : { name, didYouMean: best.setting };
    });
}

const MEMORY = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/**
 * The longest CAREPLUS_EXPORT_RETENTION_HOURS accepted: a year. The AWS stack derives it from its
 * `exportRetentionDays` setting (infra/settings.ts), which is capped to match.
 */
export const MAX_EXPORT_RETENTION_HOURS = 24 * 365;

export function loadConfig(source: Env = process.env, cwd: string = process.cwd()): AppConfig {
  const r = new Reader(source);
  const lakeDir = resolve(cwd, r.string('CAREPLUS_LAKE_DIR', './lake'));
  const host = r.string('CAREPLUS_HOST', '127.0.0.1');
  const port = r.int('CAREPLUS_PORT', 4000, 0, 65535);
  const storage = r.oneOf('CAREPLUS_STORAGE', ['local', 's3'] as const, 'local');
  const catalog = r.oneOf('CAREPLUS_CATALOG', ['local', 'glue'] as const, 'local');
  const region = r.string('CAREPLUS_AWS_REGION', 'us-east-1');
  const s3Why = 'when CAREPLUS_STORAGE=s3';
  const memoryLimit = r.string('CAREPLUS_DUCKDB_MEMORY_LIMIT', '2GB');
  if (!MEMORY.test(memoryLimit)) {
    throw new ConfigError(
      `CAREPLUS_DUCKDB_MEMORY_LIMIT="${memoryLimit}" is not valid: expected a size such as 512MB or 2GB`,
    );
  }
  const s3Endpoint = r.url('CAREPLUS_S3_ENDPOINT');
  const env = r.oneOf('CAREPLUS_ENV', ['development', 'test', 'production'] as const, 'production');
  const engine = r.oneOf('CAREPLUS_ENGINE', ['duckdb', 'athena'] as const, 'duckdb');
  const signingSecret = r.optional('CAREPLUS_SIGNING_SECRET');
  if (signingSecret !== undefined && Buffer.byteLength(signingSecret) < 32) {
    throw new ConfigError('CAREPLUS_SIGNING_SECRET is too short: expected at least 32 bytes');
  }
  const maskKey = maskKeyOf(r.optional('CAREPLUS_MASK_KEY'));
  const dispatch = r.oneOf('CAREPLUS_EXPORT_DISPATCH', ['in-process', 'sqs'] as const, 'in-process');
  const jwksUrl = r.url('CAREPLUS_JWT_JWKS_URL');
  const jwtWhy = 'when CAREPLUS_JWT_JWKS_URL is set';
  return {
    env,
    ignoredSettings: unknownSettings(source),
    host,
    port,
    publicUrl: r.url('CAREPLUS_PUBLIC_URL') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    lakeDir,
    datasetsDir: resolve(cwd, r.string('CAREPLUS_DATASETS_DIR', join(projectRoot(), 'datasets'))),
    consoleDir: resolve(cwd, r.string('CAREPLUS_CONSOLE_DIR', join(projectRoot(), 'dist', 'console'))),
    cacheDir: resolve(cwd, r.string('CAREPLUS_CACHE_DIR', join(lakeDir, '.cache'))),
    storage,
    s3: {
      endpoint: s3Endpoint,
      publicEndpoint: r.url('CAREPLUS_S3_PUBLIC_ENDPOINT') ?? s3Endpoint,
      region,
      forcePathStyle: r.bool('CAREPLUS_S3_FORCE_PATH_STYLE', s3Endpoint !== undefined),
      buckets:
        storage === 's3'
          ? {
              raw: r.required('CAREPLUS_S3_RAW_BUCKET', s3Why),
              processed: r.required('CAREPLUS_S3_PROCESSED_BUCKET', s3Why),
              exports: r.required('CAREPLUS_S3_EXPORTS_BUCKET', s3Why),
            }
          : { raw: 'raw', processed: 'processed', exports: 'exports' },
    },
    catalog,
    glue: {
      database: catalog === 'glue' ? r.required('CAREPLUS_GLUE_DATABASE', 'when CAREPLUS_CATALOG=glue') : 'careplus',
      endpoint: r.url('CAREPLUS_GLUE_ENDPOINT'),
      region,
      tables: r.oneOf('CAREPLUS_GLUE_TABLES', ['all', 'declared'] as const, 'all'),
    },
    duckdb: {
      memoryLimit,
      threads: r.int('CAREPLUS_DUCKDB_THREADS', availableParallelism(), 1, 256),
    },
    ingest: { maxObjectBytes: r.int('CAREPLUS_MAX_OBJECT_BYTES', 4 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER) },
    engine,
    athena: {
      workgroup:
        engine === 'athena' ? r.required('CAREPLUS_ATHENA_WORKGROUP', 'when CAREPLUS_ENGINE=athena') : 'primary',
      endpoint: r.url('CAREPLUS_ATHENA_ENDPOINT'),
      region,
    },
    exports: {
      concurrency: r.int('CAREPLUS_EXPORT_CONCURRENCY', 2, 1, 64),
      partBytes: r.int('CAREPLUS_EXPORT_PART_BYTES', 1024 ** 3, 1024 * 1024, Number.MAX_SAFE_INTEGER),
      gzipLevel: r.int('CAREPLUS_EXPORT_GZIP_LEVEL', 6, 1, 9),
      retentionHours: r.int('CAREPLUS_EXPORT_RETENTION_HOURS', 168, 1, MAX_EXPORT_RETENTION_HOURS),
      maxRows: r.int('CAREPLUS_EXPORT_MAX_ROWS', 50_000_000, 1, Number.MAX_SAFE_INTEGER),
      maxScanBytes: r.int('CAREPLUS_EXPORT_MAX_SCAN_BYTES', 50 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
      linkTtlSeconds: r.int('CAREPLUS_DOWNLOAD_TTL_SECONDS', 3600, 10, 7 * 24 * 3600),
      signingSecret,
      dispatch,
      queueUrl:
        dispatch === 'sqs'
          ? (r.url('CAREPLUS_EXPORT_QUEUE_URL') ??
            r.required('CAREPLUS_EXPORT_QUEUE_URL', 'when CAREPLUS_EXPORT_DISPATCH=sqs'))
          : undefined,
      // 15 minutes: the longest a Lambda function runs.
      leaseSeconds: r.int('CAREPLUS_EXPORT_LEASE_SECONDS', 900, 10, 12 * 3600),
    },
    auth: {
      policyFile: resolve(cwd, r.string('CAREPLUS_POLICY_FILE', join(projectRoot(), 'policy.yaml'))),
      maskKey,
      jwt:
        jwksUrl === undefined
          ? undefined
          : {
              jwksUrl,
              issuer: r.required('CAREPLUS_JWT_ISSUER', jwtWhy),
              audience: r.required('CAREPLUS_JWT_AUDIENCE', jwtWhy),
              roleClaim: r.string('CAREPLUS_JWT_ROLE_CLAIM', 'role'),
              clockSkewSeconds: r.int('CAREPLUS_JWT_CLOCK_SKEW_SECONDS', 60, 0, 600),
            },
    },
    limits: {
      maxQueryDepth: r.int('CAREPLUS_MAX_QUERY_DEPTH', 12, 2, 100),
      maxQueryCost: r.int('CAREPLUS_MAX_QUERY_COST', 5000, 10, 10_000_000),
      ratePerMinute: r.int('CAREPLUS_RATE_LIMIT_PER_MINUTE', 60, 1, 1_000_000),
      requestTimeoutMs: r.int('CAREPLUS_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      bodyLimitBytes: r.int('CAREPLUS_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
      // On everywhere, for the roles that may use GraphiQL only (the API's introspection gate); off for every role
      // when set false. Production used to turn it off for all, which left the console's GraphQL page blank.
      introspection: r.bool('CAREPLUS_INTROSPECTION', true),
    },
    metadata: { revalidateSeconds: r.int('CAREPLUS_METADATA_REVALIDATE_SECONDS', 60, 0, 86_400) },
    logLevel: r.oneOf('CAREPLUS_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    client: {
      apiUrl: r.url('CAREPLUS_API_URL') ?? `http://127.0.0.1:${port}`,
      apiKey: r.optional('CAREPLUS_API_KEY'),
    },
  };
}

/** CAREPLUS_MASK_KEY as bytes: `hex:` and 64 to 128 hex digits, or text of 32 to 64 bytes taken as UTF-8. */
function maskKeyOf(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const hex = /^hex:((?:[0-9a-fA-F]{2})+)$/.exec(text);
  const key =
    hex !== null ? Buffer.from(hex[1]!, 'hex') : text.startsWith('hex:') ? undefined : Buffer.from(text, 'utf8');
  if (key === undefined || key.length < MASK_KEY_MIN_BYTES || key.length > MASK_KEY_MAX_BYTES) {
    throw new ConfigError(
      `CAREPLUS_MASK_KEY must be ${MASK_KEY_MIN_BYTES} to ${MASK_KEY_MAX_BYTES} bytes: text, or hex: followed by ${2 * MASK_KEY_MIN_BYTES} to ${2 * MASK_KEY_MAX_BYTES} hex digits`,
    );
  }
  return key;
}
