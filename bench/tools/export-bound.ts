import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';
import { ensureApiLake } from '../api-lake.js';
import { loadBenchConfig } from '../config.js';
import { ensureEventsFile } from '../event-data.js';
import { baselineExportSql } from '../export-baseline-sql.js';
import { FULL_EXPORT } from '../export-cases.js';
import { engineSettings, EXPORT_SCALE } from '../export.js';
import { mb } from '../format.js';

/**
 * The CPU floor of the `export-full` path on this machine: `node dist/bench/tools/export-bound.js` (same BENCH_*
 * settings as the benchmark; the export dataset must exist, which a run of `npm run bench -- export` makes).
 * The baseline's COPY keeps every core busy, so anything our path does besides the same COPY adds CPU time that the
 * cores must find somewhere. Measured here, each alone and with its CPU time (user + system) taken by the process
 * doing it:
 * - the baseline COPY itself (the same statement the benchmark times), wall and CPU;
 * - SHA-256 of its output (our result carries one);
 * - the download of that file over loopback HTTP: a server streaming it in 1 MiB reads (as our download route
 *   does) and a client writing it to disk in 4 MiB writes (as the benchmark's client does), each in a process of its
 *   own.
 * The floor assumes perfect overlap of all of it on every core: wall ≥ (COPY + hash + serve + receive CPU) / cores,
 * so the best ratio any implementation of our path can reach here is COPY wall / that floor.
 */
async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') return serve(args[0]!);
  if (mode === 'fetch') return fetchTo(args[0]!, args[1]!);

  const config = loadBenchConfig();
  const log = (m: string): void => {
    process.stderr.write(`${m}\n`);
  };
  const events = await ensureEventsFile(config.dataDir, config.rows * EXPORT_SCALE, false, log);
  const lake = await ensureApiLake(config.root, config.dataDir, events, 1, log);
  const name = lake.datasets[0]!;
  const definition = (await DatasetRegistry.load(lake.datasetsDir)).get(name);
  const work = join(config.workDir, `export-bound-${process.pid}`);
  await mkdir(work, { recursive: true });
  try {
    const output = join(work, 'baseline.csv');
    const sql = baselineExportSql(definition, join(lake.lakeDir, 'processed', name), FULL_EXPORT.baseline, output);
    const settings = engineSettings();
    const db = await DuckDbDatabase.create({ ...settings, tempDirectory: join(work, 'duckdb-tmp') });
    let copy: Measured;
    try {
      await db.withConnection(async (c) => {
        await c.run('SET GLOBAL preserve_insertion_order = false');
        await c.run("SET GLOBAL TimeZone = 'UTC'");
      });
      copy = await measured(() => db.withConnection((c) => c.run(sql)).then(() => undefined));
    } finally {
      db.close();
    }
    const bytes = (await stat(output)).size;
    const hash = await measured(() => sha256(output));
    const download = await downloadCost(output, join(work, 'downloaded.csv'));
    const cores = availableParallelism();
    const totalCpu = copy.cpu + hash.cpu + download.serverCpu + download.clientCpu;
    const floor = totalCpu / cores;
    const lines = [
      `export-full floor, ${events.rows.toLocaleString('en-US')} rows, ${mb(bytes)} MB of CSV, ${cores} cores`,
      `  baseline COPY:       wall ${s(copy.wall)}, CPU ${s(copy.cpu)}`,
      `  sha256 of the CSV:   wall ${s(hash.wall)}, CPU ${s(hash.cpu)}`,
      `  loopback download:   wall ${s(download.wall)}, server CPU ${s(download.serverCpu)}, client CPU ${s(download.clientCpu)}`,
      `  all CPU:             ${s(totalCpu)} → wall at least ${s(floor)} on ${cores} cores`,
      `  best ratio possible: ${(copy.wall / floor).toFixed(2)}× (COPY wall / floor)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Measured {
  wall: number;
  cpu: number;
}

async function measured(fn: () => Promise<void>): Promise<Measured> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 };
}

async function sha256(path: string): Promise<void> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  hash.digest('hex');
}

/** Serves `path` once over loopback HTTP in a child; another child downloads it. Each reports its own CPU. */
async function downloadCost(
  path: string,
  target: string,
): Promise<{ wall: number; serverCpu: number; clientCpu: number }> {
  const server = fork(__filename, ['serve', path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
  const serverDone = new Promise<number>((resolve) => server.once('message', (m: { cpu: number }) => resolve(m.cpu)));
  const start = performance.now();
  const client = fork(__filename, ['fetch', `http://127.0.0.1:${port}/`, target], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const clientCpu = await new Promise<number>((resolve) =>
    client.once('message', (m: { cpu: number }) => resolve(m.cpu)),
  );
  const wall = (performance.now() - start) / 1000;
  const serverCpu = await serverDone;
  server.kill();
  return { wall, serverCpu, clientCpu };
}

function serve(path: string): void {
  const http = createServer((_req, res) => {
    const cpu = process.cpuUsage();
    void stat(path).then(async ({ size }) => {
      res.writeHead(200, { 'content-length': size, 'content-type': 'text/csv' });
      await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res);
      const used = process.cpuUsage(cpu);
      process.send?.({ cpu: (used.user + used.system) / 1e6 });
    });
  });
  http.listen(0, '127.0.0.1', () => process.send?.({ port: (http.address() as AddressInfo).port }));
}

async function fetchTo(url: string, target: string): Promise<void> {
  const cpu = process.cpuUsage();
  const res = await new Promise<IncomingMessage>((resolve, reject) => get(url, resolve).on('error', reject));
  await pipeline(res, createWriteStream(target, { highWaterMark: 4 * 1024 * 1024 }));
  const used = process.cpuUsage(cpu);
  process.send?.({ cpu: (used.user + used.system) / 1e6 });
  process.disconnect?.();
}

function s(seconds: number): string {
  return `${seconds.toFixed(2)} s`;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
