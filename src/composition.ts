import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { AppConfig } from './config.js';
import { DuckDbDatabase } from './adapters/duckdb/duckdb-database.js';
import { JsonLogger } from './adapters/local/json-logger.js';
import { LocalCatalog } from './adapters/local/local-catalog.js';
import { LocalObjectStore } from './adapters/local/local-object-store.js';
import type { Catalog } from './ports/catalog.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import { ConfigError } from './domain/errors.js';
import { DatasetRegistry } from './services/dataset-registry.js';
import { holderIsGone, WORK_FOLDER_OWNER } from './services/holder-process.js';

/**
 * The composition root: the one place that chooses adapters from the configuration and wires services.
 * The CLI, the API server and the Lambda handlers all start here.
 */
export interface Runtime {
  config: AppConfig;
  logger: Logger;
  store: ObjectStore;
  catalog: Catalog;
  registry: DatasetRegistry;
  duckdb: DuckDbDatabase;
  /**
   * Registers work for `close()`, run before the runtime's own resources go, last registered first. The API half
   * (src/composition-api.ts) registers its export workers here, so every owner of a runtime stops them.
   */
  onClose(closer: () => Promise<void> | void): void;
  /** Runs the registered closers, then closes DuckDB. Safe to call more than once. */
  close(): Promise<void>;
}

export async function createStore(config: AppConfig): Promise<ObjectStore> {
  switch (config.storage) {
    case 'local':
      return new LocalObjectStore(config.lakeDir);
    case 's3': {
      const { createS3Client } = await import('./adapters/aws/s3-client.js');
      const { S3ObjectStore } = await import('./adapters/aws/s3-object-store.js');
      return new S3ObjectStore(
        createS3Client({
          endpoint: config.s3.endpoint,
          region: config.s3.region,
          forcePathStyle: config.s3.forcePathStyle,
        }),
        config.s3.buckets,
      );
    }
  }
}

/** `declared`: the names of the defined datasets, which `CAREPLUS_GLUE_TABLES=declared` limits a Glue catalog to. */
export async function createCatalog(
  config: AppConfig,
  store: ObjectStore,
  declared: readonly string[] = [],
  logger?: Logger,
): Promise<Catalog> {
  switch (config.catalog) {
    case 'local':
      return new LocalCatalog(store, undefined, logger);
    case 'glue': {
      const { createGlueClient, GlueCatalog } = await import('./adapters/aws/glue-catalog.js');
      const client = createGlueClient({ region: config.glue.region, endpoint: config.glue.endpoint });
      return new GlueCatalog(client, config.glue.database, config.s3.buckets.processed, {
        ...(config.glue.tables === 'declared' ? { onlyTables: new Set(declared) } : {}),
      });
    }
  }
}

/**
 * Age (unchanged inode) after which a local store's staged write is taken for abandoned: a day, because a streamed
 * put changes its file only when bytes arrive, and a slow export may write nothing for a long while.
 */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;

/** The cache's folders of per-run work folders (lambda/pipeline: ingest-object.ts, compact.ts). */
const WORK_FOLDERS = ['etl-runs', 'compact-runs'];

/**
 * Removes run work folders whose run was killed (a run that ends removes its own): at once when the folder names a
 * process of this machine that is gone (makeWorkFolder), else once untouched for `olderThanMs` (no run lasts that
 * long, and a live one writes into its folder as it goes). Returns how many went.
 */
export async function sweepWorkFolders(cacheDir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const parent of WORK_FOLDERS.map((f) => join(cacheDir, f))) {
    let entries: string[];
    try {
      entries = await readdir(parent);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const entry of entries) {
      const path = join(parent, entry);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (now - info.mtimeMs < olderThanMs && !(await ownerGone(path))) continue;
      await rm(path, { recursive: true, force: true });
      removed += 1;
    }
  }
  return removed;
}

/**
 * A folder setting that names a file (or lies below one) stops the process with a ConfigError naming the variable;
 * otherwise each command failed later on the first write below it, with the system's ENOTDIR and no variable named.
 * A folder that does not exist yet is fine: it is made when first written.
 */
async function assertFolder(path: string, variable: string): Promise<void> {
  for (let p = resolve(path); ; p = dirname(p)) {
    const info = await stat(p).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (info?.isDirectory() === true) return;
    if (info !== undefined) {
      throw new ConfigError(
        p === resolve(path)
          ? `${variable}="${path}" is a file, not a folder`
          : `${variable}="${path}" is not a folder: ${p} is a file`,
      );
    }
    if (dirname(p) === p) return;
  }
}

/** Whether a work folder's owner file names a process of this machine that is gone. */
async function ownerGone(folder: string): Promise<boolean> {
  try {
    return holderIsGone(JSON.parse(await readFile(join(folder, WORK_FOLDER_OWNER), 'utf8')) as unknown);
  } catch {
    return false;
  }
}

/** The process's DuckDB for the ETL and the API's metadata: the configured limits, spilling under the cache folder. */
export function createDuckDb(config: AppConfig): Promise<DuckDbDatabase> {
  return DuckDbDatabase.create({
    memoryLimit: config.duckdb.memoryLimit,
    threads: config.duckdb.threads,
    tempDirectory: join(config.cacheDir, 'duckdb-tmp'),
  });
}

export async function createRuntime(config: AppConfig, options?: { logger?: Logger }): Promise<Runtime> {
  const logger = options?.logger ?? new JsonLogger(config.logLevel);
  for (const { name, didYouMean } of config.ignoredSettings ?? []) {
    logger.warn(`unknown setting ${name} ignored${didYouMean === undefined ? '' : ` (did you mean ${didYouMean}?)`}`);
  }
  if (config.storage === 'local') await assertFolder(config.lakeDir, 'CAREPLUS_LAKE_DIR');
  await assertFolder(config.cacheDir, 'CAREPLUS_CACHE_DIR');
  const store = await createStore(config);
  const registry = await DatasetRegistry.load(config.datasetsDir);
  const catalog = await createCatalog(
    config,
    store,
    registry.list().map((d) => d.name),
    logger,
  );
  if (store instanceof LocalObjectStore) {
    // Staged writes of a process that died mid-put.
    void store.sweepStaging(STALE_STAGING_MS).then(
      (removed) => {
        if (removed > 0) logger.info('removed abandoned staged writes', { removed });
      },
      (err: unknown) => logger.warn('could not sweep staged writes', { error: String(err) }),
    );
  }
  // Work folders of ETL runs and compactions that were killed (a finished one removes its own).
  void sweepWorkFolders(config.cacheDir, STALE_STAGING_MS).then(
    (removed) => {
      if (removed > 0) logger.info('removed work folders of runs that stopped', { removed });
    },
    (err: unknown) => logger.warn('could not sweep work folders', { error: String(err) }),
  );
  const duckdb = await createDuckDb(config);
  const closers: (() => Promise<void> | void)[] = [];
  let closing: Promise<void> | undefined;
  const closeAll = async (): Promise<void> => {
    // One failing closer must not keep the others (or DuckDB) open; the first failure is reported.
    let failure: unknown;
    for (const closer of [...closers].reverse()) {
      try {
        await closer();
      } catch (err) {
        failure ??= err;
      }
    }
    duckdb.close();
    if (failure !== undefined) throw failure;
  };
  return {
    config,
    logger,
    store,
    catalog,
    registry,
    duckdb,
    onClose: (closer) => {
      closers.push(closer);
    },
    close: () => (closing ??= closeAll()),
  };
}
