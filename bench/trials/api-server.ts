import 'reflect-metadata';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createCatalog, createRuntime, type Runtime } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import type { ServerMessage, ServerRequest } from '../api-protocol.js';
import { CountingObjectStore } from '../counting-store.js';
import { BENCH_MASK_KEY } from '../export-baseline-sql.js';

/**
 * OUR API for the `api` benchmark: `fork('api-server.js', [lakeDir, datasetsDir, ...settings])`. The product's composition
 * root and API server on a free port, production settings, with the object store wrapped in a counting decorator
 * (the catalog is rebuilt over it, so its reads count too). Answers `stats` / `reset` over IPC. Callers must
 * authenticate: the server makes an API key of BENCH_ROLE in the benchmark lake and hands the header to the parent.
 * Optional `CAREPLUS_<NAME>=<value>` arguments after the folders override settings (the `export` and `memory`
 * benchmarks set the export engine's memory limit this way); they are applied last.
 */
/** A BI tool's usual role: every dataset and column, statistics included (PII hashed, which metadata never shows). */
const BENCH_ROLE = 'analyst';

async function main(): Promise<void> {
  const [lakeDir, datasetsDir, ...settings] = process.argv.slice(2);
  if (lakeDir === undefined || datasetsDir === undefined) {
    throw new Error('usage: api-server.js <lake> <datasets> [CAREPLUS_<NAME>=<value> ...]');
  }
  const overrides = settings.map((arg) => {
    const m = /^(CAREPLUS_[A-Z0-9_]+)=(.*)$/s.exec(arg);
    if (m === null) throw new Error(`api-server.js: expected CAREPLUS_<NAME>=<value>, got ${JSON.stringify(arg)}`);
    return [m[1]!, m[2]!] as const;
  });
  const config = loadConfig(
    {
      CAREPLUS_LAKE_DIR: lakeDir,
      CAREPLUS_DATASETS_DIR: datasetsDir,
      CAREPLUS_ENV: 'production',
      CAREPLUS_LOG_LEVEL: 'warn',
      CAREPLUS_PORT: '0',
      // The per-key rate limiter still runs on every request; its budget is raised out of reach because the
      // benchmark measures how many requests the server can answer, not the throttle (default 60 per minute).
      CAREPLUS_RATE_LIMIT_PER_MINUTE: '1000000',
      // The key the export baseline hashes PII with (each trial's lake would otherwise get a key of its own).
      CAREPLUS_MASK_KEY: BENCH_MASK_KEY,
      ...Object.fromEntries(overrides),
    },
    lakeDir,
  );
  const base = await createRuntime(config);
  const store = new CountingObjectStore(base.store);
  const rt: Runtime = { ...base, store, catalog: await createCatalog(config, store) };
  const { plaintext } = await new ApiKeyStore(base.store).create({ name: 'api benchmark', role: BENCH_ROLE });
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
  send({ type: 'ready', url: api.graphqlUrl, authorization: `Bearer ${plaintext}` });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
