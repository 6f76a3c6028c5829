import { join } from 'node:path';
import { type AppConfig, loadConfig } from '../../src/config.js';

/**
 * The configuration tests start an API (or a runtime) with: the lake and the cache under `root`, loopback on a free
 * port, the `test` environment, quiet logs, a small DuckDB (512 MB, 2 threads); `overrides` last (e.g. a part size,
 * a rate budget, a policy file).
 */
export function testConfig(root: string, overrides: Record<string, string> = {}): AppConfig {
  return loadConfig(
    {
      CAREPLUS_LAKE_DIR: join(root, 'lake'),
      CAREPLUS_CACHE_DIR: join(root, 'cache'),
      CAREPLUS_HOST: '127.0.0.1',
      CAREPLUS_PORT: '0',
      CAREPLUS_ENV: 'test',
      CAREPLUS_LOG_LEVEL: 'silent',
      CAREPLUS_DUCKDB_MEMORY_LIMIT: '512MB',
      CAREPLUS_DUCKDB_THREADS: '2',
      ...overrides,
    },
    root,
  );
}
