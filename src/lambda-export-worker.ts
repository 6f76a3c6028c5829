import 'reflect-metadata';
import { JsonLogger } from './adapters/local/json-logger.js';
import { createRuntime } from './composition.js';
import { composeExportWorker } from './composition-api.js';
import { type AppConfig, loadConfig } from './config.js';
import type { Logger } from './ports/logger.js';
import {
  createExportQueueHandler,
  type ExportQueueDeps,
  type ExportQueueHandler,
} from './workers/export-queue-handler.js';

/**
 * The export worker on AWS Lambda: consumes the export queue (SQS event source, one message per invocation,
 * partial batch responses) and runs each job to its end with the configured engine (Athena on AWS), from the same
 * composition root as the API (src/composition.ts, composeExportWorker). Configuration is read once per container,
 * at init; the runtime and the export service are built by the first invocation and reused. A failed start is
 * retried by the next invocation instead of failing the container for its lifetime. `close` releases what was
 * built (Lambda never calls it; tests do).
 */
export function createExportWorker(
  config: AppConfig,
  options: { logger?: Logger } = {},
): { handler: ExportQueueHandler; close(): Promise<void> } {
  const logger = options.logger ?? new JsonLogger(config.logLevel).child({ component: 'export-worker' });
  let built: Promise<{ deps: ExportQueueDeps; close(): Promise<void> }> | undefined;
  const build = async (): Promise<{ deps: ExportQueueDeps; close(): Promise<void> }> => {
    const runtime = await createRuntime(config, { logger });
    try {
      const { exports } = await composeExportWorker(runtime);
      return { deps: { exports, logger }, close: () => runtime.close() };
    } catch (err) {
      await runtime.close();
      throw err;
    }
  };
  const handler = createExportQueueHandler(async () => {
    built ??= build().catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    return (await built).deps;
  });
  const close = async (): Promise<void> => {
    const done = await built?.catch(() => undefined);
    built = undefined;
    await done?.close();
  };
  return { handler, close };
}

/** The Lambda entry point. */
export const handler: ExportQueueHandler = createExportWorker(loadConfig()).handler;
