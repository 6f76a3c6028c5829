import 'reflect-metadata';
import { createApi } from '../../src/composition-api.js';
import { createCatalog, createRuntime, type Runtime } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import type { ServerMessage, ServerRequest } from '../api-protocol.js';
import { CountingObjectStore } from '../counting-store.js';

/**
 * OUR API for the `api` benchmark: `fork('api-server.js', [lakeDir, datasetsDir])`. The product's composition
 * root and API server on a free port, production settings, with the object store wrapped in a counting decorator
 * (the catalog is rebuilt over it, so its reads count too). Answers `stats` / `reset` over IPC.
 */
async function main(): Promise<void> {
  const [lakeDir, datasetsDir] = process.argv.slice(2);
  if (lakeDir === undefined || datasetsDir === undefined) throw new Error('usage: api-server.js <lake> <datasets>');
  const config = loadConfig(
    {
      CAREPLUS_LAKE_DIR: lakeDir,
      CAREPLUS_DATASETS_DIR: datasetsDir,
      CAREPLUS_ENV: 'production',
      CAREPLUS_LOG_LEVEL: 'warn',
      CAREPLUS_PORT: '0',
    },
    lakeDir,
  );
  const base = await createRuntime(config);
  const store = new CountingObjectStore(base.store);
  const rt: Runtime = { ...base, store, catalog: await createCatalog(config, store) };
  const api = createApi(rt, { port: 0 });
  await api.start();
  const send = (m: ServerMessage): void => {
    process.send?.(m);
  };
  process.on('message', (m: ServerRequest) => {
    switch (m.type) {
      case 'stats':
        send({ type: 'stats', maxRssBytes: process.resourceUsage().maxRSS * 1024, storeCalls: store.snapshot() });
        break;
      case 'reset':
        store.reset();
        send({ type: 'reset' });
        break;
      case 'stop':
        void api
          .stop()
          .then(() => rt.close())
          .then(() => process.exit(0));
        break;
    }
  });
  send({ type: 'ready', url: api.graphqlUrl });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
