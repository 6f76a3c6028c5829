import type { Runtime } from './composition.js';
import type { ApiServices } from './graphql/context.js';
import { createApiServer, type ApiServer } from './server.js';
import { DatasetService } from './services/dataset-service.js';
import { ParquetFooterCache } from './services/parquet-footer-cache.js';
import { PipelineService } from './services/pipeline-service.js';

/**
 * The API half of the composition root, apart from the runtime so that the ETL (and its Lambda bundle) never
 * loads the GraphQL server. Used by `careplus serve` / `start` and by the API Lambda alike.
 */
/** The API's services over a runtime: built once per process. */
export function createApiServices(rt: Runtime): ApiServices {
  const footers = new ParquetFooterCache(rt.store);
  const datasets = new DatasetService({
    catalog: rt.catalog,
    store: rt.store,
    footers,
    logger: rt.logger,
    registry: rt.registry,
    duckdb: rt.duckdb,
    stagingDir: rt.config.cacheDir,
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

export function createApi(rt: Runtime, overrides?: { port?: number }): ApiServer {
  return createApiServer(
    { ...createApiServices(rt), logger: rt.logger },
    { host: rt.config.host, port: overrides?.port ?? rt.config.port, env: rt.config.env },
  );
}
