import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import { DatasetRegistry } from '../src/services/dataset-registry.js';
import { type ApiLake, ensureApiLake } from './api-lake.js';
import type { Benchmark, BenchContext } from './benchmark.js';
import { BenchUsageError } from './config.js';
import { type CsvDigest, digestCsv } from './csv-digest.js';
import { baselineExportSql } from './export-baseline-sql.js';
import { EXPORT_CASES, type ExportCase } from './export-cases.js';
import { runBaselineExport, runOurExport } from './export-trials.js';
import { ensureEventsFile } from './event-data.js';
import { count, mb, memory, round } from './format.js';
import { type BenchRecord, median, paired, type PairedResult, record, type TrialResult } from './harness.js';
import { parquetLayout, type ParquetLayout } from './parquet-layout.js';

/** The prepared lake of one dataset both sides export from, and what its files hold. */
export interface ExportDataset {
  lake: ApiLake;
  name: string;
  /** The dataset's folder in the processed bucket: the baseline's input. */
  dir: string;
  definition: DatasetDefinition;
  layout: ParquetLayout;
}

/**
 * The export dataset holds this many times BENCH_ROWS rows: issue 5 asks for at least five million rows, the default
 * 1,000,000 × 5. The same dataset as the `memory` benchmark's larger one, so a full run prepares it once.
 */
export const EXPORT_SCALE = 5;

/**
 * `export-full`, `export-filtered`, `export-gzip`: request → job → CSV downloaded through our running API (a server
 * process per trial, production settings, embedded DuckDB engine, an `analyst` key, HMAC download links), timed
 * from `requestExport` to the last byte of every part on the client's disk, against DuckDB's bare
 * `COPY (SELECT ...) TO ... (FORMAT csv, HEADER)` of the same rows over the same Parquet files, alternating. The
 * first (warm-up) output of each side is kept and compared once per run: the same header and records.
 */
export const exportBenchmark: Benchmark = {
  description:
    'request → job → CSV downloaded through the running API (full; filtered + projected; gzip) vs DuckDB COPY (FORMAT csv), at 5× BENCH_ROWS rows',
  async run(ctx: BenchContext): Promise<BenchRecord[]> {
    const dataset = await prepareExportDataset(ctx, ctx.config.rows * EXPORT_SCALE);
    ctx.log(
      `export: ${dataset.name}, ${count(dataset.layout.rows)} rows in ${count(dataset.layout.files)} Parquet files ` +
        `(${mb(dataset.layout.fileBytes)} MB; ${mb(dataset.layout.uncompressedBytes)} MB uncompressed), ` +
        `${dataset.layout.partitions} partitions`,
    );
    const wanted = ctx.config.exportCases;
    const unknown = wanted.filter((n) => !EXPORT_CASES.some((c) => c.name === n));
    if (unknown.length > 0) {
      throw new BenchUsageError(
        `BENCH_EXPORT_CASES: no export case ${unknown.join(', ')} (cases: ${EXPORT_CASES.map((c) => c.name).join(', ')})`,
      );
    }
    const records: BenchRecord[] = [];
    for (const c of EXPORT_CASES) {
      if (wanted.length === 0 || wanted.includes(c.name)) records.push(await runExportCase(ctx, dataset, c));
    }
    return records;
  },
};

/** The events file of `rows` ingested by our ETL into a one-dataset lake (made once, reused), and its layout. */
export async function prepareExportDataset(ctx: BenchContext, rows: number): Promise<ExportDataset> {
  const events = await ensureEventsFile(ctx.config.dataDir, rows, false, ctx.log);
  const lake = await ensureApiLake(ctx.config.root, ctx.config.dataDir, events, 1, ctx.log);
  const name = lake.datasets[0]!;
  const definition = (await DatasetRegistry.load(lake.datasetsDir)).get(name);
  const dir = join(lake.lakeDir, 'processed', name);
  return { lake, name, dir, definition, layout: await parquetLayout(dir) };
}

/** Our engine's DuckDB settings with the production defaults: what the baseline gets too. */
export function engineSettings(memoryLimit?: string): { memoryLimit: string; threads: number } {
  const defaults = loadConfig({}).duckdb;
  return { memoryLimit: memoryLimit ?? defaults.memoryLimit, threads: defaults.threads };
}

async function runExportCase(ctx: BenchContext, dataset: ExportDataset, c: ExportCase): Promise<BenchRecord> {
  const { config, log } = ctx;
  const gzip = c.baseline.gzip;
  const fileName = `baseline.csv${gzip ? '.gz' : ''}`;
  const keepOurs = join(config.workDir, `${c.name}-ours`);
  const keepBaseline = join(config.workDir, `${c.name}-${fileName}`);
  // The files and row groups the request can need, from the footers, to hold the job's own plan against.
  const needed = c.partitionRange === null ? dataset.layout : await parquetLayout(dataset.dir, c.partitionRange);
  log(`${c.name}: ${c.what}`);
  // The warm-ups' outputs are kept for the check below; every other output goes with its trial.
  let oursRuns = 0;
  let baselineRuns = 0;
  const result = await paired(
    config.pairs,
    () =>
      runOurExport(
        ctx,
        dataset.lake,
        { dataset: dataset.name, ...c.request },
        oursRuns++ === 0 ? { keep: { path: keepOurs } } : {},
      ),
    () =>
      runBaselineExport(
        ctx,
        {
          ...engineSettings(),
          fileName,
          sql: (output) => baselineExportSql(dataset.definition, dataset.dir, c.baseline, output),
        },
        baselineRuns++ === 0 ? { keep: { path: keepBaseline } } : {},
      ),
    log,
  );
  const verification = await verify(ctx, c, keepOurs, keepBaseline, gzip);
  return exportRecord(c, dataset, needed, result, verification);
}

/** Compares the kept outputs: the same header and the same records, byte for byte (in any order). */
async function verify(
  ctx: BenchContext,
  c: ExportCase,
  oursDir: string,
  baselineFile: string,
  gzip: boolean,
): Promise<{ method: string; ours: CsvDigest; baseline: CsvDigest }> {
  const parts = (await readdir(oursDir)).filter((f) => f.startsWith('part-')).sort();
  const ours = await digestCsv(
    parts.map((p) => join(oursDir, p)),
    gzip,
  );
  const baseline = await digestCsv([baselineFile], gzip);
  const same =
    ours.header === baseline.header && ours.records === baseline.records && ours.multiset === baseline.multiset;
  if (!same) {
    const kept = join(ctx.config.dataDir, `mismatch-${c.name}`);
    await rm(kept, { recursive: true, force: true });
    await mkdir(kept, { recursive: true });
    await cp(oursDir, join(kept, 'ours'), { recursive: true });
    await cp(baselineFile, join(kept, baselineFile.slice(baselineFile.lastIndexOf('/') + 1)));
    throw new Error(
      `${c.name}: our CSV differs from the baseline's (kept in ${kept}): ` +
        JSON.stringify({ ours: { ...ours }, baseline: { ...baseline } }),
    );
  }
  await rm(oursDir, { recursive: true, force: true });
  await rm(baselineFile, { force: true });
  const method =
    ours.ordered === baseline.ordered
      ? 'byte-identical'
      : 'same header and records byte for byte, in another order (neither side keeps insertion order)';
  ctx.log(`  output checked: ${count(ours.records)} records, ${method}`);
  return { method, ours, baseline };
}

function exportRecord(
  c: ExportCase,
  dataset: ExportDataset,
  needed: ParquetLayout,
  result: PairedResult,
  verification: { method: string; ours: CsvDigest; baseline: CsvDigest },
): BenchRecord {
  const x = (trials: TrialResult[], key: string): number => median(trials.map((r) => Number(r.extra?.[key] ?? NaN)));
  const last = result.ours[result.ours.length - 1]?.extra ?? {};
  const rows = verification.ours.records;
  const csvBytes = verification.ours.csvBytes;
  const oursSeconds = median(result.ours.map((r) => r.seconds));
  const baselineSeconds = median(result.baseline.map((r) => r.seconds));
  const csvMBps = (s: number): number => round(csvBytes / 1e6 / s, 1);
  const read = {
    files: Number(last['estimateFiles']),
    partitions: Number(last['estimatePartitions']),
    bytes: Number(last['estimateBytesToScan']),
  };
  return record(
    c.name,
    {
      rows,
      inputBytes: read.bytes,
      outputBytes: Number(last['bytes']),
      target: c.target,
      baseline:
        `DuckDB COPY (SELECT ...) TO ... (FORMAT csv, HEADER${c.baseline.gzip ? ', COMPRESSION gzip' : ''}) of the same ` +
        `rows and columns (PII hashed, formulas neutralised, ISO timestamps, as ours) over the same Parquet files, ` +
        `same DuckDB settings, in a process of its own`,
      throughput: {
        unit: 'rows/s',
        ours: Math.round(rows / oursSeconds),
        baseline: Math.round(rows / baselineSeconds),
      },
      summary:
        `${mb(csvBytes)} MB of CSV${c.baseline.gzip ? ` (ours ${mb(Number(last['bytes']))} MB gzipped)` : ''} in ` +
        `${last['parts']} part(s): ours ${csvMBps(oursSeconds)} MB/s, baseline ${csvMBps(baselineSeconds)} MB/s; ` +
        `first progress after ${round(x(result.ours, 'firstProgressSeconds'), 2)} s (SUCCEEDED after ` +
        `${round(x(result.ours, 'succeededSeconds'), 2)} s, download ${round(x(result.ours, 'downloadSeconds'), 2)} s); ` +
        `read ${read.files} of ${dataset.layout.files} files, ${read.partitions} of ${dataset.layout.partitions} ` +
        `partitions, ${needed.rowGroups} of ${dataset.layout.rowGroups} row groups; output ${verification.method.startsWith('byte') ? 'byte-identical' : 'same records'}`,
      details: {
        case: c.what,
        request: c.request,
        csvBytes,
        oursMBpsOfCsv: csvMBps(oursSeconds),
        baselineMBpsOfCsv: csvMBps(baselineSeconds),
        parts: Number(last['parts']),
        oursSeconds: result.ours.map((r) => round(r.seconds, 3)),
        baselineSeconds: result.baseline.map((r) => round(r.seconds, 3)),
        oursMedianPhasesSeconds: {
          requestAnswered: round(x(result.ours, 'requestSeconds'), 3),
          firstUpdate: round(x(result.ours, 'firstUpdateSeconds'), 3),
          running: round(x(result.ours, 'runningSeconds'), 3),
          firstProgress: round(x(result.ours, 'firstProgressSeconds'), 3),
          succeeded: round(x(result.ours, 'succeededSeconds'), 3),
          download: round(x(result.ours, 'downloadSeconds'), 3),
        },
        preflight: {
          how:
            'dataset.estimateExport of the same request, asked by the benchmark before the clock on each fresh server ' +
            "(a client's pre-flight; it fills the planner's footer cache, so the timed export runs on a server that has " +
            'served this dataset before); its time is cold, not in the ratio',
          medianSeconds: round(x(result.ours, 'preflightSeconds'), 3),
          files: x(result.ours, 'preflightFiles'),
          partitions: x(result.ours, 'preflightPartitions'),
        },
        firstProgressHow:
          'exportUpdated over graphql-ws (connection opened before the clock): the first update with rowsWritten, bytesWritten or fraction above 0, from the requestExport call',
        updatesPerExport: x(result.ours, 'updates'),
        oursPeakRssPerTrial: result.ours.map((r) => memory(r.maxRssBytes)),
        oursServerRestingRss: memory(x(result.ours, 'serverRestingRssBytes')),
        baselinePeakRssPerTrial: result.baseline.map((r) => memory(r.maxRssBytes)),
        baselineRestingRss: memory(x(result.baseline, 'restingRssBytes')),
        peakRssHow:
          'ours: a fresh API server process per trial, its peak over start, export and download (maxRSS); baseline: the DuckDB process',
        storeCallsPerExport: {
          processed: x(result.ours, 'processedStoreCalls'),
          exports: x(result.ours, 'exportsStoreCalls'),
        },
        read: {
          how:
            "files, partitions, bytes: the job's own plan (ExportJob.estimate, the files our engine hands DuckDB after " +
            'partition pruning); row groups and totals: the Parquet footers (DuckDB parquet_metadata). Row groups read ' +
            'are those of the files read, an upper bound: DuckDB may skip more inside them by min/max statistics',
          files: read.files,
          partitions: read.partitions,
          bytesToScan: read.bytes,
          rowGroups: needed.rowGroups,
          filesInRange: needed.files,
          prunedAsExpected: read.files === needed.files && read.partitions === needed.partitions,
          totalFiles: dataset.layout.files,
          totalPartitions: dataset.layout.partitions,
          totalRowGroups: dataset.layout.rowGroups,
          totalFileBytes: dataset.layout.fileBytes,
        },
        verification: {
          how: 'the warm-up output of each side, parsed into records (RFC 4180 quoting) and compared: header, count, and an order-free digest of every record byte for byte',
          result: verification.method,
          records: verification.ours.records,
          oursCsvBytes: verification.ours.csvBytes,
          baselineCsvBytes: verification.baseline.csvBytes,
          header: verification.ours.header,
        },
        engineSettings: engineSettings(),
      },
    },
    result,
  );
}
