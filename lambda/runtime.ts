import { join } from 'node:path';
import { DuckDbDatabase } from '../src/adapters/duckdb/duckdb-database.js';
import { JsonLogger } from '../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../src/adapters/local/local-object-store.js';
import type { Runtime } from '../src/composition.js';
import type { AppConfig } from '../src/config.js';
import type { Catalog } from '../src/ports/catalog.js';
import type { Logger } from '../src/ports/logger.js';
import type { ObjectStore } from '../src/ports/object-store.js';
import { DatasetRegistry } from '../src/services/dataset-registry.js';
import type { EtlDeps } from './pipeline/etl-deps.js';

/**
 * Wires the ETL's dependencies from the configuration. The Lambda calls it once per container at module scope;
 * it imports only what the ETL needs (not the API server), and the AWS adapters only when configured, to keep
 * cold starts short.
 */
export async function createEtlDeps(config: AppConfig, options: { logger?: Logger } = {}): Promise<EtlDeps> {
  const logger = options.logger ?? new JsonLogger(config.logLevel);
  const store = await createStore(config);
  const catalog = await createCatalog(config, store);
  const registry = await DatasetRegistry.load(config.datasetsDir);
  const duckdb = await DuckDbDatabase.create({
    memoryLimit: config.duckdb.memoryLimit,
    threads: config.duckdb.threads,
    tempDirectory: join(config.cacheDir, 'duckdb-tmp'),
  });
  return {
    store,
    catalog,
    registry,
    duckdb,
    cacheDir: config.cacheDir,
    maxObjectBytes: config.ingest.maxObjectBytes,
    logger,
  };
}

/** The ETL's view of an already wired runtime (the CLI's composition root). */
export function etlDepsOf(rt: Runtime): EtlDeps {
  return {
    store: rt.store,
    catalog: rt.catalog,
    registry: rt.registry,
    duckdb: rt.duckdb,
    cacheDir: rt.config.cacheDir,
    maxObjectBytes: rt.config.ingest.maxObjectBytes,
    logger: rt.logger,
  };
}

async function createStore(config: AppConfig): Promise<ObjectStore> {
  switch (config.storage) {
    case 'local':
      return new LocalObjectStore(config.lakeDir);
    case 's3': {
      const { createS3Client } = await import('../src/adapters/aws/s3-client.js');
      const { S3ObjectStore } = await import('../src/adapters/aws/s3-object-store.js');
      const client = createS3Client({
        endpoint: config.s3.endpoint,
        region: config.s3.region,
        forcePathStyle: config.s3.forcePathStyle,
      });
      return new S3ObjectStore(client, config.s3.buckets);
    }
  }
}

async function createCatalog(config: AppConfig, store: ObjectStore): Promise<Catalog> {
  switch (config.catalog) {
    case 'local':
      return new LocalCatalog(store);
    case 'glue': {
      const { GlueClient } = await import('@aws-sdk/client-glue');
      const { GlueCatalog } = await import('../src/adapters/aws/glue-catalog.js');
      const client = new GlueClient({
        region: config.glue.region,
        ...(config.glue.endpoint !== undefined ? { endpoint: config.glue.endpoint } : {}),
      });
      return new GlueCatalog(client, config.glue.database, config.s3.buckets.processed);
    }
  }
}
