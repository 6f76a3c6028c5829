import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { BenchContext } from './benchmark.js';
import { BENCHMARKS, isPending } from './benchmarks.js';
import { benchCommand, BenchUsageError, loadBenchConfig } from './config.js';
import { count, rate } from './format.js';
import { type BenchRecord, targetMet, targetText, writeResult } from './harness.js';
import { renderResultsTable, spliceResults } from './results-table.js';

/**
 * `npm run bench [-- <name>...]`: runs the named benchmarks (all by default) in registry order, writes
 * bench/results/<name>.json for each result, prints a table, and regenerates the table section of
 * bench/RESULTS.md from every results file. Results below their target do not fail the run: they are reported. A
 * benchmark that throws (a wrong output, a failed export) writes no result; the others still run, and the run
 * exits 1.
 */
async function main(): Promise<void> {
  const config = loadBenchConfig();
  const log = (message: string): void => {
    process.stderr.write(`${message}\n`);
  };
  if (config.names.includes('--list')) {
    for (const [name, entry] of Object.entries(BENCHMARKS)) {
      log(`${name.padEnd(8)} ${isPending(entry) ? `(not written yet) ${entry.pending}` : entry.description}`);
    }
    return;
  }
  if (config.names.includes('--regenerate')) {
    // After editing the notes, or to re-render: the table from the results files as they are, nothing run.
    await regenerateResultsDoc(config.resultsDir, config.resultsDoc);
    log(`updated ${config.resultsDoc}`);
    return;
  }
  const unknown = config.names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    throw new BenchUsageError(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  const names = config.names.length > 0 ? config.names : Object.keys(BENCHMARKS);
  const command = benchCommand(config);
  const ctx: BenchContext = { config, trialsDir: join(__dirname, 'trials'), log };
  await removeStaleWorkDirs(dirname(config.workDir));
  await rm(config.workDir, { recursive: true, force: true });
  log(`${command}: ${count(config.rows)} rows, ${config.pairs} pairs after a warm-up; load ${loadText()}`);
  if (loadavg()[0]! > 2) log('note: the 1-minute load average is above 2; expect drift in absolute times');

  const records: BenchRecord[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  for (const name of names) {
    const entry = BENCHMARKS[name]!;
    if (isPending(entry)) {
      log(`${name}: skipped, not written yet (${entry.pending})`);
      skipped.push(name);
      continue;
    }
    log(`${name}: ${entry.description}`);
    const before = loadavg()[0]!;
    let results: BenchRecord[];
    try {
      results = await entry.run(ctx);
    } catch (err) {
      // One broken path must not cost the others their results, nor the table its update; the run still fails.
      log(`${name}: FAILED, no result written: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      failed.push(name);
      continue;
    }
    const after = loadavg()[0]!;
    for (const r of results) {
      const stamped: BenchRecord = { ...r, command, loadAverage: { before, after } };
      records.push(stamped);
      log(`  wrote ${await writeResult(config.resultsDir, stamped)}`);
    }
  }
  await rm(config.workDir, { recursive: true, force: true });

  printTable(records);
  await regenerateResultsDoc(config.resultsDir, config.resultsDoc);
  log(`updated ${config.resultsDoc}`);
  if (skipped.length > 0 && config.names.length > 0) process.exitCode = 2;
  if (failed.length > 0) {
    log(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

function printTable(records: BenchRecord[]): void {
  const rows = records.map((r) => ({
    benchmark: r.name,
    rows: r.rows,
    ours:
      r.cells?.ours ??
      (r.throughput ? `${rate(r.throughput.ours)} ${r.throughput.unit}` : `${r.oursMedianSeconds.toFixed(3)} s`),
    baseline:
      r.cells?.baseline ??
      (r.throughput
        ? `${rate(r.throughput.baseline)} ${r.throughput.unit}`
        : `${r.baselineMedianSeconds.toFixed(3)} s`),
    ratio: r.ratio,
    target: targetText(r),
    met: targetMet(r) ? 'yes' : 'NO',
    'ours peak RSS MiB': Math.round(r.oursPeakRssBytes / 1024 ** 2),
    'baseline peak RSS MiB': Math.round(r.baselinePeakRssBytes / 1024 ** 2),
  }));
  console.table(rows);
}

/** Rebuilds the generated table of the results document from every results file, keeping the rest of it. */
async function regenerateResultsDoc(resultsDir: string, docPath: string): Promise<void> {
  const files = (await readdir(resultsDir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  const records: BenchRecord[] = [];
  for (const f of files) records.push(JSON.parse(await readFile(join(resultsDir, f), 'utf8')) as BenchRecord);
  const doc = await readFile(docPath, 'utf8').catch(() => '# Benchmark results\n');
  await writeFile(docPath, spliceResults(doc, renderResultsTable(records)));
}

/** Removes the `run-<pid>` scratch folders of runs whose process is gone (a run that crashed or was killed). */
async function removeStaleWorkDirs(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = /^run-(\d+)$/.exec(name);
    if (m !== null && !isRunning(Number(m[1]))) await rm(join(parent, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function loadText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

main().catch((err: unknown) => {
  const text =
    err instanceof BenchUsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`${text}\n`);
  process.exit(1);
});
