import type { Benchmark, BenchContext } from './benchmark.js';
import { FULL_EXPORT } from './export-cases.js';
import { baselineExportSql } from './export-baseline-sql.js';
import { engineSettings, type ExportDataset, prepareExportDataset } from './export.js';
import { runBaselineExport, runOurExport } from './export-trials.js';
import { count, mb, memory, round } from './format.js';
import { type BenchRecord, median, paired, type PairedResult, record, type TrialResult } from './harness.js';

/** Issue 8: our peak memory during an export grows by at most 1.5× from BENCH_ROWS to 5× BENCH_ROWS rows. */
export const MEMORY_TARGET = 1.5;
/** The larger dataset holds this many times BENCH_ROWS rows. */
export const MEMORY_SCALE = 5;
/** The dataset is at least this many times the engine's memory limit (issue 8). */
export const LIMIT_FRACTION = 5;
/**
 * The lowest limit the benchmark derives, per DuckDB thread: DuckDB needs about this much for the full export of
 * these files. Measured on this machine with 2 threads: the bare COPY of the 5,000,000-row dataset (daily files of
 * about 12,000 rows, one row group each) fails at 8 MiB and runs at 12 MiB, and so does our export.
 */
export const MIN_LIMIT_MIB_PER_THREAD = 6;

/**
 * `memory`: the peak RSS of our API server process during a full export (request to last byte downloaded, as the
 * `export-full` case) of a dataset at least 5× the export engine's memory limit, at BENCH_ROWS and at 5× BENCH_ROWS
 * rows, with a fresh server per trial; the baseline is DuckDB's COPY of the same file with the same memory limit,
 * in a process of its own. The ratio is our peak at the larger size over our peak at the smaller (target ≤ 1.5×).
 *
 * The limit (CAREPLUS_DUCKDB_MEMORY_LIMIT, which sizes both of the server's DuckDB instances, the export engine's
 * included) is BENCH_MEMORY_LIMIT, or the largest whole MiB at most a fifth of the larger dataset's Parquet files
 * on disk (so that it is at least 5× the limit by the strictest measure, compressed bytes), but no less than
 * MIN_LIMIT_MIB_PER_THREAD per DuckDB thread, below which DuckDB itself cannot run the export. Both datasets'
 * sizes against it are recorded: on disk, uncompressed (what the engine decodes) and as CSV.
 */
export const memoryBenchmark: Benchmark = {
  description: `peak RSS of our API server during a full export of a dataset ≥ ${LIMIT_FRACTION}× the engine memory limit, at BENCH_ROWS and ${MEMORY_SCALE}× BENCH_ROWS rows, vs DuckDB COPY`,
  async run(ctx: BenchContext): Promise<BenchRecord[]> {
    const { config, log } = ctx;
    const small = await prepareExportDataset(ctx, config.rows);
    const large = await prepareExportDataset(ctx, config.rows * MEMORY_SCALE);
    const floorMiB = MIN_LIMIT_MIB_PER_THREAD * engineSettings().threads;
    const limit =
      config.memoryLimit ?? `${Math.max(floorMiB, Math.floor(large.layout.fileBytes / LIMIT_FRACTION / 1024 ** 2))}MiB`;
    const limitBytes = sizeBytes(limit);
    log(
      `memory: export engine memory limit ${limit}; datasets of ${count(small.layout.rows)} and ` +
        `${count(large.layout.rows)} rows, ${multiples(small, limitBytes)} and ${multiples(large, limitBytes)} of it`,
    );
    const runs: { dataset: ExportDataset; result: PairedResult }[] = [];
    for (const dataset of [small, large]) {
      log(`  ${count(dataset.layout.rows)} rows:`);
      const result = await paired(
        config.pairs,
        () =>
          runOurExport(
            ctx,
            dataset.lake,
            { dataset: dataset.name, ...FULL_EXPORT.request },
            { settings: [`CAREPLUS_DUCKDB_MEMORY_LIMIT=${limit}`] },
          ),
        () =>
          runBaselineExport(ctx, {
            ...engineSettings(limit),
            fileName: 'baseline.csv',
            sql: (output) => baselineExportSql(dataset.definition, dataset.dir, FULL_EXPORT.baseline, output),
          }),
        log,
      );
      const peak = (trials: TrialResult[]): number => Math.max(...trials.map((r) => r.maxRssBytes));
      log(`    peak RSS: ours ${memory(peak(result.ours))}, baseline ${memory(peak(result.baseline))}`);
      runs.push({ dataset, result });
    }
    return [memoryRecord(runs[0]!, runs[1]!, limit, limitBytes)];
  },
};

function memoryRecord(
  small: { dataset: ExportDataset; result: PairedResult },
  large: { dataset: ExportDataset; result: PairedResult },
  limit: string,
  limitBytes: number,
): BenchRecord {
  const peak = (trials: TrialResult[]): number => Math.max(...trials.map((r) => r.maxRssBytes));
  const x = (trials: TrialResult[], key: string): number => median(trials.map((r) => Number(r.extra?.[key] ?? NaN)));
  const ours = { small: peak(small.result.ours), large: peak(large.result.ours) };
  const base = { small: peak(small.result.baseline), large: peak(large.result.baseline) };
  const growth = (p: { small: number; large: number }): number => round(p.large / p.small, 3);
  const side = (run: { dataset: ExportDataset; result: PairedResult }) => {
    const l = run.dataset.layout;
    return {
      rows: l.rows,
      parquetFileBytes: l.fileBytes,
      parquetUncompressedBytes: l.uncompressedBytes,
      csvBytes: x(run.result.ours, 'bytes'),
      timesTheLimit: {
        parquetOnDisk: round(l.fileBytes / limitBytes, 1),
        uncompressed: round(l.uncompressedBytes / limitBytes, 1),
        csv: round(x(run.result.ours, 'bytes') / limitBytes, 1),
      },
      parts: x(run.result.ours, 'parts'),
      oursPeakRssPerTrial: run.result.ours.map((r) => memory(r.maxRssBytes)),
      oursServerRestingRss: memory(x(run.result.ours, 'serverRestingRssBytes')),
      baselinePeakRssPerTrial: run.result.baseline.map((r) => memory(r.maxRssBytes)),
      baselineRestingRss: memory(x(run.result.baseline, 'restingRssBytes')),
      oursSeconds: run.result.ours.map((r) => round(r.seconds, 3)),
      baselineSeconds: run.result.baseline.map((r) => round(r.seconds, 3)),
    };
  };
  const s = side(small);
  const l = side(large);
  const rec = record(
    'memory',
    {
      rows: large.dataset.layout.rows,
      inputBytes: large.dataset.layout.fileBytes,
      outputBytes: l.csvBytes,
      target: MEMORY_TARGET,
      targetBound: 'atMost',
      baseline: `DuckDB COPY (FORMAT csv, HEADER) of the same full export with the same memory limit (${limit}), in a process of its own`,
      cells: {
        ours: `${memory(ours.small)} → ${memory(ours.large)}`,
        baseline: `${memory(base.small)} → ${memory(base.large)}`,
      },
      summary:
        `peak RSS from ${count(s.rows)} to ${count(l.rows)} rows (full export, request to last byte) with the ` +
        `export engine's memory limit at ${limit}; datasets ${mb(s.parquetFileBytes)} → ${mb(l.parquetFileBytes)} MB ` +
        `of Parquet on disk (${s.timesTheLimit.parquetOnDisk}× → ${l.timesTheLimit.parquetOnDisk}× the limit; ` +
        `uncompressed ${mb(s.parquetUncompressedBytes)} → ${mb(l.parquetUncompressedBytes)} MB, ` +
        `${s.timesTheLimit.uncompressed}× → ${l.timesTheLimit.uncompressed}×; CSV ${mb(s.csvBytes)} → ` +
        `${mb(l.csvBytes)} MB, ${s.timesTheLimit.csv}× → ${l.timesTheLimit.csv}×); ours ${growth(ours)}× (server at ` +
        `rest ${s.oursServerRestingRss}), DuckDB alone ${growth(base)}×`,
      details: {
        memoryLimit: limit,
        memoryLimitBytes: limitBytes,
        memoryLimitHow:
          'CAREPLUS_DUCKDB_MEMORY_LIMIT on our server (it sizes both DuckDB instances, the export engine and the metadata one); memory_limit on the baseline. ' +
          `Default: the largest whole MiB at most a fifth of the larger dataset's Parquet on disk, at least ${MIN_LIMIT_MIB_PER_THREAD} MiB per DuckDB thread`,
        ratioHow:
          'our peak RSS at the larger size / at the smaller (max over the timed trials of each); target at most 1.5',
        oursGrowth: growth(ours),
        baselineGrowth: growth(base),
        oursOverBaseline: { small: round(ours.small / base.small, 2), large: round(ours.large / base.large, 2) },
        small: s,
        large: l,
        peakRssHow:
          'ours: a fresh API server process per trial, its peak over start, export and download (maxRSS); baseline: the DuckDB process',
        engineSettings: engineSettings(limit),
      },
    },
    large.result,
  );
  return { ...rec, ratio: growth(ours) };
}

function multiples(d: ExportDataset, limitBytes: number): string {
  return `${round(d.layout.fileBytes / limitBytes, 1)}× on disk (${round(d.layout.uncompressedBytes / limitBytes, 1)}× uncompressed)`;
}

/** Bytes of a DuckDB size: KB/MB/GB/TB count in 1000s, KiB/MiB/GiB/TiB in 1024s. */
export function sizeBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])(i?)B$/i.exec(text.trim());
  if (m === null) throw new Error(`not a size: ${text}`);
  const power = 'KMGT'.indexOf(m[2]!.toUpperCase()) + 1;
  return Math.round(Number(m[1]) * (m[3] === '' ? 1000 : 1024) ** power);
}
