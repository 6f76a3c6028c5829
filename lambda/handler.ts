import { loadConfig } from '../src/config.js';
import { createEtlDeps } from './runtime.js';
import { createS3EventHandler } from './s3-event-handler.js';

/**
 * The ETL Lambda. Configuration, SDK clients and DuckDB are created once per container, at module scope (during
 * the init phase), and reused by every invocation; a configuration error fails the first invocation with its message.
 */
const config = loadConfig();
const deps = createEtlDeps(config);
// Reported by the first invocation that awaits it, not as an unhandled rejection at init.
deps.catch(() => undefined);

export const handler = createS3EventHandler(() => deps, { rawBucket: config.s3.buckets.raw });
