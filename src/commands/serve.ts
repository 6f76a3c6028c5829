import type { AppConfig } from '../config.js';
import { createRuntime, type Runtime } from '../composition.js';
import { createApi } from '../composition-api.js';
import type { ApiServer } from '../server.js';

/** Starts the API and stops it cleanly on SIGINT/SIGTERM. Resolves once listening. */
export async function serveRuntime(rt: Runtime): Promise<ApiServer> {
  const api = createApi(rt);
  await api.start();
  const shutdown = (signal: string): void => {
    rt.logger.info('shutting down', { signal });
    void api
      .stop()
      .then(() => rt.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return api;
}

export async function serve(config: AppConfig): Promise<void> {
  const rt = await createRuntime(config);
  const api = await serveRuntime(rt);
  process.stdout.write(`CarePlus API listening on ${api.graphqlUrl}\n`);
}
