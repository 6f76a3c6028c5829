import type { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import type { Catalog } from '../../src/ports/catalog.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import type { DatasetRegistry } from '../../src/services/dataset-registry.js';

/** What the ETL needs, wired once per process (CLI or Lambda) by `createEtlDeps` in `lambda/runtime.ts`. */
export interface EtlDeps {
  store: ObjectStore;
  catalog: Catalog;
  registry: DatasetRegistry;
  duckdb: DuckDbDatabase;
  /** Local folder for staged objects and per-run work files; each run cleans up its own sub-folder. */
  cacheDir: string;
  /** Largest raw object accepted, in bytes; also bounds its decompressed text. */
  maxObjectBytes: number;
  logger: Logger;
  /** Clock for run records and raw keys; defaults to the system clock. */
  now?: () => Date;
}
