import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBenchConfig } from '../config.js';
import { EXPORT_CASES } from '../export-cases.js';
import { EXPORT_SCALE, prepareExportDataset } from '../export.js';
import { trial } from '../harness.js';
import { startServerProcess } from '../server-process.js';

/**
 * CPU profile of our API server over repeated exports of one `export` case: `node dist/bench/tools/profile-export.js
 * <case> [exports=10]` (same BENCH_* settings as the benchmark; `BENCH_PROFILE_LOG=info` shows the engine's phase
 * log lines). Starts the server with `--cpu-prof` on the prepared export lake, runs the benchmark's client
 * `exports` times (each a new job: the request differs by its `limit`), stops it, and leaves
 * bench/data/profiles/export-<case>.cpuprofile for `cpuprofile-top.js`. Not a measurement of speed: the profiler
 * slows the server, and jobs run on a lake that keeps their results.
 */
async function main(): Promise<void> {
  const config = loadBenchConfig(process.env, []);
  const [caseName = 'export-filtered', times = '10'] = process.argv.slice(2);
  const c = EXPORT_CASES.find((x) => x.name === caseName);
  if (c === undefined) throw new Error(`no export case ${caseName}`);
  const log = (m: string): void => {
    process.stderr.write(`${m}\n`);
  };
  const dataset = await prepareExportDataset(
    { config, trialsDir: join(__dirname, '..', 'trials'), log },
    config.rows * EXPORT_SCALE,
  );
  const dir = join(config.dataDir, 'profiles');
  await mkdir(dir, { recursive: true });
  const trials = join(__dirname, '..', 'trials');
  const name = `${caseName}.cpuprofile`;
  const level = process.env['BENCH_PROFILE_LOG'] ?? 'warn';
  const server = await startServerProcess(
    join(trials, 'api-server.js'),
    [dataset.lake.lakeDir, dataset.lake.datasetsDir, `CAREPLUS_LOG_LEVEL=${level}`],
    { execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', name] },
  );
  try {
    const headersFile = join(dir, 'export-headers.json');
    await writeFile(headersFile, JSON.stringify(server.headers), { mode: 0o600 });
    for (let i = 0; i < Number(times); i++) {
      const requestFile = join(dir, 'export-request.json');
      // A limit above the result's size changes the request, not the rows: every run is a new job.
      await writeFile(requestFile, JSON.stringify({ dataset: dataset.name, ...c.request, limit: 40_000_000 + i }));
      const t = await trial(join(trials, 'export-client.js'), [server.url, headersFile, requestFile, join(dir, 'out')]);
      log(`export ${i + 1}: ${t.seconds.toFixed(3)} s ${JSON.stringify(t.extra)}`);
    }
  } finally {
    await server.stop();
  }
  log(`profile: ${join(dir, name)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
