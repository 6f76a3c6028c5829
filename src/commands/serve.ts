import type { AppConfig } from '../config.js';
import { createRuntime, type Runtime } from '../composition.js';
import { createApi } from '../composition-api.js';
import type { ApiServer } from '../server.js';

/**
 * Starts the API and stops it cleanly on SIGINT/SIGTERM (exit 0), or when another process took over its export jobs
 * (exit 1). Resolves once listening.
 */
export async function serveRuntime(rt: Runtime): Promise<ApiServer> {
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0): void => {
    if (stopping) return;
    stopping = true;
    rt.logger.info('shutting down', { signal });
    void api
      .stop()
      .then(() => rt.close())
      .finally(() => process.exit(exitCode));
  };
  // Another process took this one's export jobs over (this one looked dead for 30 s): one process per lake runs
  // them, so this one stops, with an error for whoever supervises it.
  const api = createApi(rt, {
    onRunnerLeaseLost: () => {
      // Said whatever the log level: the whole server stops, not only its export jobs (a server whose exports
      // nobody runs would accept requests that never finish).
      process.stderr.write(
        'careplus: this server stops (exit 1): it no longer holds the export runner lease, so another process may be running its export jobs; start it again\n',
      );
      shutdown('export runner lease lost', 1);
    },
  });
  await api.start();
  const links = new URL(rt.config.publicUrl);
  if (links.hostname === '0.0.0.0' || links.hostname === '[::]') {
    // Listening on every interface is fine; links naming the wildcard address are not, for any client.
    const base = links.port === '0' ? api.url : rt.config.publicUrl;
    process.stderr.write(
      `careplus: links (downloads, feeds) name ${base}, an address no client can open: set CAREPLUS_PUBLIC_URL to the URL clients reach this server at\n`,
    );
  }
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return api;
}

export async function serve(config: AppConfig): Promise<void> {
  const rt = await createRuntime(config);
  const api = await serveRuntime(rt);
  process.stdout.write(`CarePlus API listening on ${api.graphqlUrl}\n`);
}
