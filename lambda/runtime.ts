import type { Runtime } from '../src/composition.js';
import { createRuntime } from '../src/composition.js';
import type { AppConfig } from '../src/config.js';
import type { Logger } from '../src/ports/logger.js';
import type { EtlDeps } from './pipeline/etl-deps.js';

/**
 * Wires the ETL's dependencies from the configuration through the one composition root (src/composition.ts, which
 * loads the AWS adapters only when configured and never the API server). The Lambda calls it once per container.
 */
export async function createEtlDeps(config: AppConfig, options: { logger?: Logger } = {}): Promise<EtlDeps> {
  return etlDepsOf(await createRuntime(config, options));
}

/** The ETL's view of an already wired runtime. */
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
