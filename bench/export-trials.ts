import { link, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ApiLake } from './api-lake.js';
import type { BenchContext } from './benchmark.js';
import type { ExportBaselineSpec } from './export-baseline-sql.js';
import { ESTIMATE_EXPORT, EXPORT_STATE, REQUEST_EXPORT } from './export-queries.js';
import { trial, type TrialResult } from './harness.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

/** Where a trial leaves its CSV for the benchmark to check (otherwise it is removed with the trial's folder). */
export interface KeepOutput {
  /** Ours: a folder that receives the downloaded parts. Baseline: the file. */
  path: string;
}

/**
 * One timed run of OUR export: a fresh API server process (bench/trials/api-server.js, production settings, an
 * `analyst` API key, `settings` as `CAREPLUS_<NAME>=<value>` overrides) over a fresh lake whose processed bucket is
 * hard links to the prepared one (the same Parquet files, same ETags; the jobs, results and API key of the trial
 * stay in its own folder and go with it), then the client (bench/trials/export-client.js) in a process of its own.
 * A fresh server per trial, because a process's peak RSS cannot be reset: `maxRssBytes` is that server's peak over
 * its start, the pre-flight estimate, the warm-up export, the export and the download; `extra.serverRestingRssBytes`
 * its peak when ready. Before the clock, the parent asks the pre-flight estimate of the same request (see
 * `preflight`) and runs a smaller export of the same columns (see `warmUpExport`); the store counters are reset after them, so
 * `extra.*StoreCalls` are the export's own.
 */
export async function runOurExport(
  ctx: BenchContext,
  lake: ApiLake,
  request: Record<string, unknown>,
  options: { settings?: string[]; keep?: KeepOutput } = {},
): Promise<TrialResult> {
  await mkdir(ctx.config.workDir, { recursive: true });
  const dir = await mkdtemp(join(ctx.config.workDir, 'export-ours-'));
  try {
    const lakeDir = join(dir, 'lake');
    await linkTree(join(lake.lakeDir, 'processed'), join(lakeDir, 'processed'));
    const server = await startServerProcess(join(ctx.trialsDir, 'api-server.js'), [
      lakeDir,
      lake.datasetsDir,
      ...(options.settings ?? []),
    ]);
    let t: TrialResult;
    let stats: Awaited<ReturnType<typeof server.stats>>;
    let resting: number;
    let estimate: { seconds: number; files: number; partitions: number };
    let warmUp: number;
    try {
      resting = (await server.stats()).maxRssBytes;
      estimate = await preflight(server, request);
      warmUp = await warmUpExport(server, request);
      await server.reset();
      // The API key goes to the client in a file (0600), never on a command line.
      const headersFile = join(dir, 'headers.json');
      await writeFile(headersFile, JSON.stringify(server.headers), { mode: 0o600 });
      const requestFile = join(dir, 'request.json');
      await writeFile(requestFile, JSON.stringify(request));
      const out = join(dir, 'out');
      t = await trial(join(ctx.trialsDir, 'export-client.js'), [server.url, headersFile, requestFile, out]);
      stats = await server.stats();
      if (options.keep !== undefined) {
        await rm(options.keep.path, { recursive: true, force: true });
        await rename(out, options.keep.path);
      }
    } finally {
      await server.stop();
    }
    return {
      seconds: t.seconds,
      // The server's peak, not the client's.
      maxRssBytes: stats.maxRssBytes,
      extra: {
        ...t.extra,
        clientPeakRssBytes: t.maxRssBytes,
        serverRestingRssBytes: resting,
        preflightSeconds: estimate.seconds,
        preflightFiles: estimate.files,
        preflightPartitions: estimate.partitions,
        warmUpExportSeconds: warmUp,
        processedStoreCalls: stats.storeCalls['processed.total'] ?? 0,
        exportsStoreCalls: stats.storeCalls['exports.total'] ?? 0,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `dataset.estimateExport` of the request, before the clock: what a client asks before exporting, and what makes
 * the fresh server a running one (the planner's Parquet footer cache filled, as in a server that has served this
 * dataset before). Its time, a cold one, is recorded apart.
 */
async function preflight(
  server: ServerProcess,
  request: Record<string, unknown>,
): Promise<{ seconds: number; files: number; partitions: number }> {
  const { dataset, compression: _compression, csv: _csv, idempotencyKey: _key, ...input } = request;
  const start = performance.now();
  const { dataset: answer } = await graphql<{
    dataset: { estimateExport: { files: number; partitions: number } } | null;
  }>(server, 'estimateExport', ESTIMATE_EXPORT, { name: dataset, input });
  if (answer === null) throw new Error(`estimateExport: no dataset ${JSON.stringify(dataset)}`);
  const estimate = answer.estimateExport;
  return { seconds: (performance.now() - start) / 1000, files: estimate.files, partitions: estimate.partitions };
}

/** One GraphQL request to the trial's server, before the clock; any error fails the trial with the answer. */
async function graphql<T>(
  server: ServerProcess,
  what: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { ...server.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await res.json()) as { data?: T; errors?: unknown[] };
  if (answer.errors !== undefined || answer.data === undefined || answer.data === null) {
    throw new Error(`${what} answered ${res.status}: ${JSON.stringify(answer).slice(0, 2000)}`);
  }
  return answer.data;
}

/**
 * One export of the first `WARM_UP_ROWS` rows of the same columns, requested, followed and downloaded
 * `WARM_UP_DOWNLOADS` times before the clock: what makes the fresh server a running one for the export path too (the
 * mutation, the job store, the engine's DuckDB instance and the download route have each served, the route with
 * enough bytes for V8 to have compiled its streaming code, as in any server that has served exports since it
 * started). A different request from the timed one (its `limit`), so the timed request is never answered by this
 * job. Returns its time, a cold one, recorded apart.
 *
 * Until the seventeenth session the warm-up export was of one row: a fresh server then streamed the timed result
 * through code V8 had not compiled yet (a fresh Node server sent its first 24 MB to a warm client in 380-520 ms, its
 * second in 170 ms, on a loaded machine; bench/RESULTS.md).
 */
const WARM_UP_ROWS = 100_000;
const WARM_UP_DOWNLOADS = 4;

async function warmUpExport(server: ServerProcess, request: Record<string, unknown>): Promise<number> {
  const start = performance.now();
  const { idempotencyKey: _key, ...input } = request;
  const { requestExport } = await graphql<{ requestExport: { id: string } }>(server, 'warm-up export', REQUEST_EXPORT, {
    input: { ...input, limit: WARM_UP_ROWS },
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { export: job } = await graphql<{
      export: { status: string; error: unknown; result: { files: { name: string; url: string | null }[] } | null };
    }>(server, 'warm-up export', EXPORT_STATE, { id: requestExport.id });
    if (job.status === 'SUCCEEDED' && job.result !== null) {
      for (let round = 0; round < WARM_UP_DOWNLOADS; round++) {
        for (const file of job.result.files) {
          if (file.url === null) throw new Error(`warm-up export: ${file.name} has no download link`);
          const res = await fetch(file.url);
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`warm-up export: download of ${file.name} answered ${res.status}`);
        }
      }
      return (performance.now() - start) / 1000;
    }
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
      throw new Error(`warm-up export ended ${job.status}: ${JSON.stringify(job.error)}`);
    }
    if (Date.now() > deadline) throw new Error('warm-up export: no result after 120 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * One timed run of the BASELINE: bench/trials/export-duckdb.js running `spec.sql(output)` with the given settings,
 * its output (`spec.fileName`) and spill folder in a trial folder of its own, removed afterwards; `keep` moves the
 * output there first.
 */
export async function runBaselineExport(
  ctx: BenchContext,
  spec: Pick<ExportBaselineSpec, 'memoryLimit' | 'threads'> & { fileName: string; sql: (output: string) => string },
  options: { keep?: KeepOutput } = {},
): Promise<TrialResult> {
  await mkdir(ctx.config.workDir, { recursive: true });
  const dir = await mkdtemp(join(ctx.config.workDir, 'export-duckdb-'));
  try {
    const output = join(dir, spec.fileName);
    const full: ExportBaselineSpec = {
      sql: spec.sql(output),
      output,
      memoryLimit: spec.memoryLimit,
      threads: spec.threads,
      tempDirectory: join(dir, 'duckdb-tmp'),
    };
    const specFile = join(dir, 'spec.json');
    await writeFile(specFile, JSON.stringify(full));
    const t = await trial(join(ctx.trialsDir, 'export-duckdb.js'), [specFile]);
    if (options.keep !== undefined) {
      await rm(options.keep.path, { recursive: true, force: true });
      await rename(output, options.keep.path);
    }
    return t;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Recreates the folder tree of `from` at `to` with every file hard-linked (an instant copy on one file system). */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { recursive: true, withFileTypes: true })) {
    const target = join(to, relative(from, join(entry.parentPath, entry.name)));
    if (entry.isDirectory()) await mkdir(target, { recursive: true });
    else if (entry.isFile()) {
      await mkdir(join(target, '..'), { recursive: true });
      await link(join(entry.parentPath, entry.name), target);
    }
  }
}
