import { chmod } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Express } from 'express';
import { DuckDbDatabase } from './adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine } from './adapters/duckdb/duckdb-export-engine.js';
import { StoreJobStore } from './adapters/local/store-job-store.js';
import { ExportRunnerLease } from './services/export-runner-lease.js';
import { AccessControl } from './auth/access-control.js';
import { AuditLog } from './auth/audit-log.js';
import { authenticateRequest } from './auth/authenticate-request.js';
import { type AuthenticatedCaller, Authenticator } from './auth/authenticator.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { ApiKeyStore } from './auth/key-store.js';
import { loadPolicy } from './auth/policy.js';
import type { Runtime } from './composition.js';
import { ConfigError } from './domain/errors.js';
import { DEFAULT_EXPORT_LIMITS } from './domain/export-request.js';
import { MASK_KEY_MAX_BYTES, MASK_KEY_MIN_BYTES, type MaskKeySource, memoizeMaskKey } from './domain/mask-key.js';
import { type AccessPolicy, apiKeyCaller, apiKeyIdOf } from './domain/policy.js';
import { type ApiServices, callerOrAnonymous } from './graphql/context.js';
import { consoleRoute } from './http/console-route.js';
import { downloadRoute } from './http/download-route.js';
import { CatalogDocumentError } from './adapters/local/local-catalog.js';
import { mayStillHaveExport } from './auth/export-access.js';
import { readinessRoute } from './http/readiness-route.js';
import { feedRoute } from './http/feed-route.js';
import type { DownloadLink, DownloadLinkIssuer, DownloadTarget } from './ports/download-links.js';
import type { ExportEngine } from './ports/export-engine.js';
import type { JobDispatcher } from './ports/job-dispatcher.js';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from './ports/object-store.js';
import { type ApiDeps, type ApiServer, type AuthRequest, createApiServer, type RouteSeams } from './server.js';
import { DatasetService } from './services/dataset-service.js';
import { HmacDownloadLinks } from './services/download-links.js';
import { ExportService } from './services/export-service.js';
import { creatorCredentialCheck, FeedService } from './services/feed-service.js';
import { DatasetSnapshotCache } from './services/dataset-snapshots.js';
import { ParquetFooterCache } from './services/parquet-footer-cache.js';
import { PipelineService } from './services/pipeline-service.js';

/**
 * The API half of the composition root, apart from the runtime (src/composition.ts) so that the ETL (and its Lambda
 * bundle) never loads the GraphQL server or the export engine. Used by `careplus serve` / `start`, the API Lambda
 * and the end-to-end tests.
 */

/** Processed-bucket key of the HMAC secret for download links when CAREPLUS_SIGNING_SECRET is unset. */
export const SIGNING_SECRET_KEY = '_system/signing-secret';
/** Processed-bucket key of the key of `hash` masks when CAREPLUS_MASK_KEY is unset (infra/lake-layout.ts maskKey). */
export const MASK_KEY_KEY = '_system/mask-key';
/** How often retention runs (`ExportService.expireDue`): results expire within this of their due time. */
export const RETENTION_SWEEP_MS = 15 * 60 * 1000;

/**
 * Authentication and the access policy, built once per process: the policy file (validated: a bad file stops the
 * start), the audit log, the API keys in the lake, JWT verification when configured, and the one `authenticate`
 * every edge (HTTP, websocket, routes, the Lambda) resolves callers with.
 */
export interface ApiAccess {
  policy: AccessPolicy;
  audit: AuditLog;
  keys: ApiKeyStore;
  access: AccessControl;
  authenticator: Authenticator;
  /** `Authorization: Bearer <API key or JWT>` → the caller; refusals are thrown as UNAUTHENTICATED (401). */
  authenticate: (request: AuthRequest) => Promise<AuthenticatedCaller>;
}

export async function createApiAccess(rt: Pick<Runtime, 'config' | 'store' | 'logger'>): Promise<ApiAccess> {
  const { config, logger } = rt;
  const policy = await loadPolicy(config.auth.policyFile);
  const audit = new AuditLog(logger);
  const keys = new ApiKeyStore(rt.store, { logger: logger.child({ component: 'api-keys' }) });
  const jwt = config.auth.jwt === undefined ? undefined : new JwtVerifier(config.auth.jwt, policy);
  const access = new AccessControl(policy, audit);
  const authenticator = new Authenticator({ keys, policy, audit, ...(jwt !== undefined ? { jwt } : {}) });
  return { policy, audit, keys, access, authenticator, authenticate: authenticateRequest(authenticator) };
}

/** The API's services over a runtime, with their lifecycle. */
export interface ApiComposition {
  services: Required<ApiServices>;
  /** How every edge resolves its caller (see ApiAccess.authenticate). */
  authenticate: ApiAccess['authenticate'];
  /** The download links the export service issues (S3 presigned URLs with the S3 store); the API Lambda's feeds redirect to them. */
  links: DownloadLinkIssuer;
  /**
   * HTTP routes beside GraphQL: the signed download route with the local store (none with S3: presigned URLs), the
   * feed route and the web console. Without `seams` every route request is anonymous.
   */
  routes: ((app: Express, seams?: RouteSeams) => void) | undefined;
  /**
   * Takes over export jobs a previous process left queued or running (`recover`), then runs retention at once (in
   * the background) and every RETENTION_SWEEP_MS on an unref'd timer.
   */
  start(): Promise<void>;
  /**
   * Stops retention and the export workers (running jobs go back to QUEUED for the next start) and closes the export
   * engine's DuckDB. Idempotent; also registered with `rt.onClose`.
   */
  close(): Promise<void>;
}

export interface ComposeApiOptions {
  /** Base URL of download links, read when a link is issued. Default `config.publicUrl`. */
  publicUrl?: () => string;
  /**
   * Called once this process's export jobs were taken over by another process (it took the export runner lease of
   * this one, which looked dead): the jobs here are already stopped; the process should stop too. Default: it keeps
   * serving everything but exports.
   */
  onRunnerLeaseLost?: () => void;
  /**
   * Wraps the export engine the configuration names before the export service gets it. For tests only (nothing
   * in `careplus serve`, the Lambdas or the configuration sets it): an e2e test holds a job RUNNING with it, a run
   * that waits until the test lets it go or cancels it. Default: the engine as it is.
   */
  wrapExportEngine?: (engine: ExportEngine) => ExportEngine;
}

/** Builds the API's services once per process. Nothing runs until `start()`. */
export async function composeApi(rt: Runtime, options: ComposeApiOptions = {}): Promise<ApiComposition> {
  const { config, logger } = rt;
  // First: a policy file that does not validate stops the start before anything else is built.
  const auth = await createApiAccess(rt);
  const { access, audit } = auth;
  await checkLakeMaskKey(rt);
  const footers = new ParquetFooterCache(rt.store);
  // One listing per dataset and data version for the metadata path and the export planner alike.
  const snapshots = snapshotCache(rt, footers);
  const { datasets, pipeline } = metadataServices(rt, footers, snapshots);
  const engine = await createExportEngine(rt);
  let links: Awaited<ReturnType<typeof createDownloadLinks>>;
  try {
    links = await createDownloadLinks(rt, options.publicUrl ?? (() => config.publicUrl));
  } catch (err) {
    await engine.close();
    throw err;
  }
  const exportLogger = logger.child({ component: 'exports' });
  const dispatcher = await createJobDispatcher(config);
  const exportService = createExportService(rt, {
    engine: options.wrapExportEngine?.(engine.engine) ?? engine.engine,
    links: links.issuer,
    footers,
    logger: exportLogger,
    snapshots,
    ...(dispatcher !== undefined ? { dispatcher: dispatcher.dispatcher } : {}),
  });

  const feeds = new FeedService({
    store: rt.store,
    exports: exportService,
    logger: logger.child({ component: 'feeds' }),
    publicUrl: options.publicUrl ?? (() => config.publicUrl),
    // A feed builds with its creator's grant, resolved by the same policy code as every other path, from the
    // creator as the feed recorded it (role and attributes, so row filters on `$caller.attributes.*` apply).
    grantFor: async (owner, dataset) => {
      const table = await datasets.find(dataset, datasets.createLoaders());
      const { grant } = access.requireDataset(owner, dataset, table, 'feed');
      access.requireCapability(owner, 'canExport', 'feed', dataset);
      return grant;
    },
    // ...and only while the credential it was created with stands: its API key not revoked (same key store, same
    // cache window as authentication), its JWT not expired.
    creatorValid: creatorCredentialCheck(auth.keys),
    // Administrators list and delete other callers' feeds, where their own grant allows the feed (FeedService).
    isAdmin: (caller) => access.capabilities(caller).admin,
  });
  const downloads =
    links.verifier === undefined
      ? undefined
      : downloadRoute({
          links: links.verifier,
          exports: exportService,
          store: rt.store,
          logger,
          requesterMay: async (job) => {
            // A token's caller cannot be resolved again without the token: its links hold until they expire.
            const keyId = apiKeyIdOf(job.requestedBy);
            if (keyId === undefined) return 'ok';
            const key = await auth.keys.activeKey(keyId);
            if (key === undefined) return 'revoked';
            const caller = apiKeyCaller(keyId, key);
            const table = await datasets.find(job.dataset, datasets.createLoaders());
            return mayStillHaveExport(access, caller, job, table) ? 'ok' : 'withdrawn';
          },
        });
  // A declared dataset's name: with CAREPLUS_GLUE_TABLES=declared only those reach Glue.
  const probeTable = rt.registry.list()[0]?.name ?? 'careplus_readiness_probe';
  const readiness = readinessRoute({
    logger,
    checks: [
      { name: 'storage', probe: async () => void (await rt.store.list('processed', '_system/', { maxKeys: 1 })) },
      {
        name: 'catalog',
        probe: async () => {
          try {
            await rt.catalog.getTable(probeTable);
          } catch (err) {
            // A damaged table document is one table's problem, and the catalog did answer.
            if (!(err instanceof CatalogDocumentError)) throw err;
          }
        },
      },
    ],
  });
  const routes = (app: Express, seams?: RouteSeams): void => {
    const authenticate = seams?.authenticate ?? (() => Promise.resolve(null));
    readiness(app);
    downloads?.(app);
    feedRoute({ feeds, store: rt.store, logger, authenticate, anonymous: callerOrAnonymous(null) })(app);
    consoleRoute({
      dir: config.consoleDir,
      logger,
      authenticate,
      mayUseGraphiql: (caller) => caller !== null && access.can(caller, 'canUseGraphiql'),
    })(app);
  };

  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  const sweep = (): Promise<void> => {
    // One sweep at a time: a slow store must not stack them up.
    sweeping ??= exportService
      .expireDue()
      .then((expired) => {
        if (expired.length > 0) exportLogger.info('export results expired', { jobs: expired.length });
      })
      .catch((err: unknown) => exportLogger.warn('export retention sweep failed', { error: String(err) }))
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };

  let runnerLease: ExportRunnerLease | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
      try {
        await exportService.close();
        await sweeping;
        // After the running jobs went back to QUEUED: the next process may take them from here.
        await runnerLease?.release();
      } finally {
        dispatcher?.close();
        await engine.close();
      }
    })());
  rt.onClose(close);

  return {
    services: { datasets, pipeline, exports: exportService, feeds, access, audit },
    authenticate: auth.authenticate,
    links: links.issuer,
    routes,
    async start() {
      // Feed definitions kept where earlier versions put them move first, so no feed is missing once requests come.
      // A failure leaves them where they were (nothing lost): the next start tries again.
      await feeds
        .migrateLegacyFeeds()
        .catch((err: unknown) => logger.error('feed definitions could not be moved', { error: String(err) }));
      // With a queue, export workers run the jobs (and SQS redelivers what a stopped worker left): an API process
      // that recovered them would run other processes' jobs here.
      if (dispatcher === undefined) {
        // One process per lake runs (and recovers) export jobs: a second one is refused here, naming the first.
        runnerLease ??= await ExportRunnerLease.acquire(rt.store, exportLogger, {
          onLost: () =>
            void exportService
              .abandon()
              .catch((err: unknown) => exportLogger.error('export jobs could not be stopped', { error: String(err) }))
              .finally(() => options.onRunnerLeaseLost?.()),
        });
        const { requeued, failed } = await exportService.recover();
        if (requeued.length > 0 || failed.length > 0) {
          exportLogger.info('export jobs recovered after a restart', { requeued, failed });
        }
      }
      // Retention runs in the background: start-up does not wait for a walk over every job.
      void sweep();
      if (closing === undefined && sweepTimer === undefined) {
        sweepTimer = setInterval(() => void sweep(), RETENTION_SWEEP_MS);
        // Retention must never keep a process alive that has nothing else to do.
        sweepTimer.unref();
      }
    },
    close,
  };
}

/**
 * The export worker's half of the composition root (src/lambda-export-worker.ts): the export service with the
 * configured engine over the runtime's store and catalog, for `ExportService.runJob`. No policy, authentication or
 * GraphQL: a job carries the caller's grant as resolved when it was requested. `close()` stops a running job
 * (it goes back to QUEUED) and closes the engine; it is also registered with `rt.onClose`.
 */
export async function composeExportWorker(rt: Runtime): Promise<{ exports: ExportService; close(): Promise<void> }> {
  await checkLakeMaskKey(rt);
  const engine = await createExportEngine(rt);
  let links: Awaited<ReturnType<typeof createDownloadLinks>>;
  try {
    links = await createDownloadLinks(rt, () => rt.config.publicUrl);
  } catch (err) {
    await engine.close();
    throw err;
  }
  const exports = createExportService(rt, {
    engine: engine.engine,
    links: links.issuer,
    footers: new ParquetFooterCache(rt.store),
    logger: rt.logger.child({ component: 'export-worker' }),
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      try {
        await exports.close();
      } finally {
        await engine.close();
      }
    })());
  rt.onClose(close);
  return { exports, close };
}

/** The export service as every process builds it from the configuration; `parts` are the adapters it runs on. */
function createExportService(
  rt: Runtime,
  parts: {
    engine: ExportEngine;
    links: DownloadLinkIssuer;
    footers: ParquetFooterCache;
    logger: Runtime['logger'];
    snapshots?: DatasetSnapshotCache;
    dispatcher?: JobDispatcher;
  },
): ExportService {
  const { config } = rt;
  return new ExportService(
    {
      catalog: rt.catalog,
      store: rt.store,
      jobs: new StoreJobStore(rt.store),
      engine: parts.engine,
      links: parts.links,
      footers: parts.footers,
      logger: parts.logger,
      maskKey: maskKeySource(rt),
      ...(parts.snapshots !== undefined ? { snapshots: parts.snapshots } : {}),
      ...(parts.dispatcher !== undefined ? { dispatcher: parts.dispatcher } : {}),
    },
    {
      concurrency: config.exports.concurrency,
      limits: {
        maxRows: config.exports.maxRows,
        maxScanBytes: config.exports.maxScanBytes,
        maxPredicates: DEFAULT_EXPORT_LIMITS.maxPredicates,
        maxValues: DEFAULT_EXPORT_LIMITS.maxValues,
        // Athena's limit on an execution parameter; DuckDB binds a value of any length, and a feed or a scheduled
        // request with a longer one that worked must go on working there.
        maxTextLength: parts.engine.kind === 'athena' ? DEFAULT_EXPORT_LIMITS.maxTextLength : Number.MAX_SAFE_INTEGER,
      },
      retentionMs: config.exports.retentionHours * 3600 * 1000,
      leaseMs: config.exports.leaseSeconds * 1000,
    },
  );
}

/**
 * The job dispatcher the configuration names: undefined for `in-process` (the export service's own pool); for `sqs`,
 * the SQS dispatcher with its client (`close` releases the client's connections).
 */
async function createJobDispatcher(
  config: Runtime['config'],
): Promise<{ dispatcher: JobDispatcher; close(): void } | undefined> {
  switch (config.exports.dispatch) {
    case 'in-process':
      return undefined;
    case 'sqs': {
      const queueUrl = config.exports.queueUrl;
      if (queueUrl === undefined)
        throw new ConfigError('CAREPLUS_EXPORT_QUEUE_URL is required when CAREPLUS_EXPORT_DISPATCH=sqs');
      const { SqsJobDispatcher, createSqsClient } = await import('./adapters/aws/sqs-job-dispatcher.js');
      const client = createSqsClient(queueUrl, config.s3.region);
      return { dispatcher: new SqsJobDispatcher({ client, queueUrl }), close: () => client.destroy() };
    }
  }
}

/**
 * The API's metadata services (datasets, pipeline) over a runtime, without the export path: cheap, no export
 * engine, no background work. For `careplus datasets`. Access control is the caller's to add (createApiAccess).
 */
export function createApiServices(rt: Runtime): Pick<ApiServices, 'datasets' | 'pipeline'> {
  const footers = new ParquetFooterCache(rt.store);
  return metadataServices(rt, footers);
}

/**
 * The HTTP API over a runtime: services composed and export recovery started in `start()`, all of it stopped in
 * `stop()`. When the configured public URL has port 0 (a port picked at start), download links use the address
 * the server got. Callers are authenticated by API key or JWT (ApiAccess.authenticate); `overrides.authenticate`
 * replaces that for tests that need other callers.
 */
export function createApi(
  rt: Runtime,
  overrides?: { port?: number; authenticate?: ApiDeps['authenticate']; onRunnerLeaseLost?: () => void },
): ApiServer {
  const config = rt.config;
  let composed: ApiComposition | undefined;
  let server: ApiServer | undefined;
  const listening = (): ApiServer => {
    if (server === undefined) throw new Error('the API server is not started');
    return server;
  };
  const publicUrl = (): string =>
    new URL(config.publicUrl).port === '0' && server !== undefined ? server.url : config.publicUrl;
  return {
    get url() {
      return listening().url;
    },
    get graphqlUrl() {
      return listening().graphqlUrl;
    },
    async start() {
      composed = await composeApi(rt, {
        publicUrl,
        ...(overrides?.onRunnerLeaseLost !== undefined ? { onRunnerLeaseLost: overrides.onRunnerLeaseLost } : {}),
      });
      server = createApiServer(
        {
          ...composed.services,
          logger: rt.logger,
          ...(composed.routes !== undefined ? { routes: composed.routes } : {}),
          authenticate: overrides?.authenticate ?? composed.authenticate,
        },
        { host: config.host, port: overrides?.port ?? config.port, env: config.env, limits: config.limits },
      );
      try {
        await composed.start();
        await server.start();
      } catch (err) {
        await composed.close();
        throw err;
      }
    },
    async stop() {
      try {
        // Running export jobs go back to QUEUED first, while the websockets are open: a subscriber is told so, not
        // left with the last progress of a run that stopped.
        await composed?.services.exports.close();
        await server?.stop();
      } finally {
        await composed?.close();
      }
    },
  };
}

/** Per-dataset listings and statistics kept across requests under their data version (src/services/dataset-snapshots.ts). */
function snapshotCache(rt: Runtime, footers: ParquetFooterCache): DatasetSnapshotCache {
  return new DatasetSnapshotCache(
    { store: rt.store, catalog: rt.catalog, footers, logger: rt.logger },
    { revalidateMs: rt.config.metadata.revalidateSeconds * 1000 },
  );
}

function metadataServices(
  rt: Runtime,
  footers: ParquetFooterCache,
  snapshots: DatasetSnapshotCache = snapshotCache(rt, footers),
): { datasets: DatasetService; pipeline: PipelineService } {
  const datasets = new DatasetService({
    catalog: rt.catalog,
    store: rt.store,
    footers,
    logger: rt.logger,
    registry: rt.registry,
    duckdb: rt.duckdb,
    stagingDir: rt.config.cacheDir,
    snapshotCache: snapshots,
    maskKey: maskKeySource(rt),
  });
  const pipeline = new PipelineService({
    store: rt.store,
    catalog: rt.catalog,
    datasets,
    logger: rt.logger,
    registry: rt.registry,
  });
  return { datasets, pipeline };
}

async function createExportEngine(rt: Runtime): Promise<{ engine: ExportEngine; close(): Promise<void> }> {
  const { config } = rt;
  switch (config.engine) {
    case 'duckdb': {
      // Its own instance: the engine changes instance-wide settings (insertion order, time zone) that the API's
      // metadata queries must not see.
      const db = await DuckDbDatabase.create({
        memoryLimit: config.duckdb.memoryLimit,
        threads: config.duckdb.threads,
        tempDirectory: join(config.cacheDir, 'duckdb-export-tmp'),
      });
      try {
        const engine = await DuckDbExportEngine.create(db, rt.store, {
          stagingDir: join(config.cacheDir, 'export-staging'),
          partSizeBytes: config.exports.partBytes,
          gzipLevel: config.exports.gzipLevel,
          maskKey: maskKeySource(rt),
          logger: rt.logger.child({ component: 'export-engine' }),
        });
        return { engine, close: () => Promise.resolve(db.close()) };
      } catch (err) {
        db.close();
        throw err;
      }
    }
    case 'athena': {
      if (config.storage !== 's3' || config.catalog !== 'glue') {
        throw new ConfigError(
          'CAREPLUS_ENGINE=athena needs CAREPLUS_STORAGE=s3 and CAREPLUS_CATALOG=glue: Athena reads the Glue tables and writes to the exports bucket',
        );
      }
      const { createAthenaClient, createAthenaExportEngine } = await import('./adapters/aws/athena-export-engine.js');
      const client = createAthenaClient({ region: config.athena.region, endpoint: config.athena.endpoint });
      const engine = createAthenaExportEngine(config, rt.store, {
        client,
        maskKey: maskKeySource(rt),
        logger: rt.logger.child({ component: 'export-engine' }),
      });
      return { engine, close: () => Promise.resolve(client.destroy()) };
    }
  }
}

/**
 * Download links: S3 presigned URLs with the S3 store; otherwise HMAC-signed links to the API's download route,
 * signed with CAREPLUS_SIGNING_SECRET or the lake's own secret.
 */
async function createDownloadLinks(
  rt: Runtime,
  publicUrl: () => string,
): Promise<{ issuer: DownloadLinkIssuer; verifier: HmacDownloadLinks | undefined }> {
  const { config } = rt;
  const ttlSeconds = config.exports.linkTtlSeconds;
  if (config.storage === 's3') {
    const { createS3Client } = await import('./adapters/aws/s3-client.js');
    const { S3DownloadLinks } = await import('./adapters/aws/s3-download-links.js');
    // Presigning is local: this client only names the host the links point at, which the signature covers.
    const client = createS3Client({
      endpoint: config.s3.publicEndpoint,
      region: config.s3.region,
      forcePathStyle: config.s3.forcePathStyle,
    });
    return {
      issuer: new S3DownloadLinks(client, { bucket: config.s3.buckets.exports, ttlSeconds }),
      verifier: undefined,
    };
  }
  const secret =
    config.exports.signingSecret !== undefined
      ? Buffer.from(config.exports.signingSecret, 'utf8')
      : await ensureSigningSecret(rt.store);
  return {
    issuer: new HmacLinksAtBaseUrl(secret, publicUrl, ttlSeconds),
    // Verification does not depend on the base URL.
    verifier: new HmacDownloadLinks({ secret, baseUrl: config.publicUrl, ttlSeconds }),
  };
}

/** A secret the lake keeps for every process of a deployment, and what to do when it is malformed. */
interface LakeSecret {
  key: string;
  what: string;
  /** The operator's ways out, and what each costs. */
  remedy: string;
  /** Shortest accepted, in bytes. */
  minBytes: number;
  /** Longest accepted, in bytes; none when unset. */
  maxBytes?: number;
}

const SIGNING_SECRET: LakeSecret = {
  key: SIGNING_SECRET_KEY,
  what: 'download-link secret',
  remedy: 'delete it to create a new one (links issued so far stop working), or set CAREPLUS_SIGNING_SECRET',
  minBytes: 32,
};

const MASK_KEY: LakeSecret = {
  key: MASK_KEY_KEY,
  what: 'mask key',
  remedy:
    'set CAREPLUS_MASK_KEY=hex:<the key it held> to keep the hashes given so far, or delete it to create a new one (every value masked by hash changes)',
  minBytes: MASK_KEY_MIN_BYTES,
  maxBytes: MASK_KEY_MAX_BYTES,
};

/**
 * The lake's download-link secret: read from processed `_system/signing-secret`, or created there once (32 random
 * bytes, hex) with If-None-Match, so that processes starting together agree on one secret and links survive
 * restarts.
 */
export function ensureSigningSecret(store: ObjectStore): Promise<Uint8Array> {
  return ensureLakeSecret(store, SIGNING_SECRET);
}

/** The lake's key for `hash` masks (processed `_system/mask-key`), created once as the signing secret is. */
export function ensureMaskKey(store: ObjectStore): Promise<Uint8Array> {
  return ensureLakeSecret(store, MASK_KEY);
}

async function ensureLakeSecret(store: ObjectStore, secret: LakeSecret): Promise<Uint8Array> {
  const existing = await readLakeSecret(store, secret);
  if (existing !== undefined) {
    // A secret a local lake kept from before secrets were written 0600: readable by its owner only from now on.
    const path = store.localPath('processed', secret.key);
    if (path !== undefined) await chmod(path, 0o600).catch(() => undefined);
    return existing;
  }
  const fresh = randomBytes(32);
  try {
    await store.put('processed', secret.key, fresh.toString('hex'), {
      contentType: 'text/plain',
      ifNoneMatch: true,
      secret: true,
    });
    return fresh;
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
    const winner = await readLakeSecret(store, secret);
    if (winner === undefined) throw new Error(`the ${secret.what} vanished while it was created`, { cause: err });
    return winner;
  }
}

async function readLakeSecret(store: ObjectStore, secret: LakeSecret): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = Buffer.from(await store.getBytes('processed', secret.key))
      .toString('utf8')
      .trim();
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  const max = secret.maxBytes ?? Infinity;
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text) || text.length < 2 * secret.minBytes || text.length > 2 * max) {
    const digits = `${2 * secret.minBytes}${max === Infinity ? ' or more' : ` to ${2 * max}`}`;
    throw new ConfigError(
      `the ${secret.what} in the lake (processed ${secret.key}) is malformed (expected ${digits} hex digits): ${secret.remedy}`,
    );
  }
  return Buffer.from(text, 'hex');
}

const maskKeys = new WeakMap<Runtime, MaskKeySource>();

/**
 * At start-up, without creating anything: a mask key the lake already holds must be well formed (a ConfigError
 * stops the start, as a malformed signing secret does), rather than fail the first masked preview or export.
 */
async function checkLakeMaskKey(rt: Runtime): Promise<void> {
  if (rt.config.auth.maskKey === undefined) await readLakeSecret(rt.store, MASK_KEY);
}

/** The runtime's mask key: CAREPLUS_MASK_KEY, or the lake's own; resolved on first use, once per runtime. */
function maskKeySource(rt: Runtime): MaskKeySource {
  let source = maskKeys.get(rt);
  if (source === undefined) {
    const configured = rt.config.auth.maskKey;
    source = memoizeMaskKey(() => (configured !== undefined ? Promise.resolve(configured) : ensureMaskKey(rt.store)));
    maskKeys.set(rt, source);
  }
  return source;
}

/** HMAC links whose base URL is read at issue time: with port 0 the address is known only once listening. */
class HmacLinksAtBaseUrl implements DownloadLinkIssuer {
  private current: { baseUrl: string; links: HmacDownloadLinks } | undefined;

  constructor(
    private readonly secret: Uint8Array,
    private readonly baseUrl: () => string,
    private readonly ttlSeconds: number,
  ) {}

  issue(target: DownloadTarget, options?: { notAfter?: Date | null }): Promise<DownloadLink> {
    const baseUrl = this.baseUrl();
    if (this.current?.baseUrl !== baseUrl) {
      this.current = {
        baseUrl,
        links: new HmacDownloadLinks({ secret: this.secret, baseUrl, ttlSeconds: this.ttlSeconds }),
      };
    }
    return this.current.links.issue(target, options);
  }
}
