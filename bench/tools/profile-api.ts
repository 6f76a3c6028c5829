import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureApiLake } from '../api-lake.js';
import { API_DATASETS } from '../api.js';
import { loadBenchConfig } from '../config.js';
import { ensureEventsFile } from '../event-data.js';
import { trial } from '../harness.js';
import { startServerProcess } from '../server-process.js';

/**
 * CPU profile of our API server under the `api` benchmark's load: `node dist/bench/tools/profile-api.js` (same
 * BENCH_* settings as the benchmark). Starts the server with `--cpu-prof`, sends one warm-up request and one load
 * trial, stops it, and leaves the .cpuprofile in bench/data/profiles/ for `cpuprofile-top.js`.
 */
async function main(): Promise<void> {
  const config = loadBenchConfig();
  const log = (m: string): void => {
    process.stderr.write(`${m}\n`);
  };
  const events = await ensureEventsFile(config.dataDir, config.rows, false, log);
  const lake = await ensureApiLake(config.root, config.dataDir, events, API_DATASETS, log);
  const dir = join(config.dataDir, 'profiles');
  await mkdir(dir, { recursive: true });
  const trials = join(__dirname, '..', 'trials');
  const server = await startServerProcess(join(trials, 'api-server.js'), [lake.lakeDir, lake.datasetsDir], {
    execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', 'api-server.cpuprofile'],
  });
  try {
    const headersFile = join(dir, 'api-headers.json');
    await writeFile(headersFile, JSON.stringify(server.headers), { mode: 0o600 });
    const load = await trial(join(trials, 'api-load.js'), [
      server.url,
      String(config.apiConnections),
      String(config.apiSeconds),
      headersFile,
    ]);
    log(`load: ${JSON.stringify(load.extra)}`);
  } finally {
    await server.stop();
  }
  log(`profile: ${join(dir, 'api-server.cpuprofile')}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
