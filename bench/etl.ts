import { join } from 'node:path';
import type { Benchmark, BenchContext } from './benchmark.js';
import { ensureEventsFile, type EventsFile } from './event-data.js';
import { count, mb, round } from './format.js';
import { type BenchRecord, median, paired, record, trial, type TrialResult } from './harness.js';

/** Issue 3: the ETL at no less than half the throughput of DuckDB's own read_json → Parquet. */
export const ETL_TARGET = 0.5;

/**
 * `etl-jsonl` and `etl-jsonl-gz`: raw JSON Lines → published Parquet through our pipeline (`ingestObject` on a
 * local lake) against DuckDB `read_json → COPY (FORMAT parquet)` with the same columns, compression and row
 * groups, each in its own child process, alternating. The input spans 419 days (one partition file each);
 * `etl-jsonl-day` and `etl-jsonl-day-gz` do the same for one day's log (one partition), the shape of a daily batch.
 */
export const etlBenchmark: Benchmark = {
  description:
    'raw JSON Lines (419 days and one day, plain and gzipped) → partitioned Parquet: ingestObject vs DuckDB read_json → COPY',
  async run(ctx: BenchContext): Promise<BenchRecord[]> {
    const records: BenchRecord[] = [];
    for (const shape of ['history', 'day'] as const) {
      for (const gzip of [false, true]) {
        const input = await ensureEventsFile(ctx.config.dataDir, ctx.config.rows, gzip, ctx.log, shape);
        records.push(await runEtl(ctx, input));
      }
    }
    return records;
  },
};

async function runEtl(ctx: BenchContext, input: EventsFile): Promise<BenchRecord> {
  const name = `etl-jsonl${input.shape === 'day' ? '-day' : ''}${input.gzip ? '-gz' : ''}`;
  const args = [input.path, ctx.config.workDir, String(input.rows)];
  ctx.log(`${name}: ${input.rows.toLocaleString('en-US')} rows, ${mb(input.fileBytes)} MB on disk`);
  // The partitioned DuckDB reference runs right after each of our trials, so it sees the same drift; the
  // warm-up's reference is dropped like the warm-up itself.
  const reference: TrialResult[] = [];
  const result = await paired(
    ctx.config.pairs,
    async () => {
      const ours = await trial(join(ctx.trialsDir, 'etl-ours.js'), args);
      reference.push(await trial(join(ctx.trialsDir, 'etl-duckdb.js'), [...args, 'partitioned']));
      return ours;
    },
    () => trial(join(ctx.trialsDir, 'etl-duckdb.js'), [...args, 'single']),
    ctx.log,
  );
  const referenceTrials = reference.slice(1);
  const referenceSeconds = median(referenceTrials.map((r) => r.seconds));
  const oursSeconds = median(result.ours.map((r) => r.seconds));
  const baselineSeconds = median(result.baseline.map((r) => r.seconds));
  const textMBps = (s: number): number => round(input.textBytes / 1e6 / s, 1);
  const ours = extras(result.ours);
  const baseline = extras(result.baseline);
  const phases = Object.fromEntries(
    Object.keys(ours)
      .filter((k) => k.startsWith('phase_'))
      .map((k) => [k, median(result.ours.map((r) => Number(r.extra?.[k] ?? 0)))]),
  );
  return record(
    name,
    {
      rows: input.rows,
      inputBytes: input.fileBytes,
      outputBytes: Number(ours['outputBytes'] ?? 0),
      target: ETL_TARGET,
      baseline: `DuckDB read_json(columns) → COPY (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)${
        input.gzip ? ' from the .gz' : ''
      }, one file`,
      throughput: {
        unit: 'rows/s',
        ours: Math.round(input.rows / oursSeconds),
        baseline: Math.round(input.rows / baselineSeconds),
      },
      summary:
        `${input.shape === 'day' ? "one day's log, " : ''}` +
        `${mb(input.textBytes)} MB of JSON${input.gzip ? ` (${mb(input.fileBytes)} MB gzipped)` : ''}: ` +
        `ours ${textMBps(oursSeconds)} MB/s into ${ours['outputFiles']} partition file(s), ` +
        `baseline ${textMBps(baselineSeconds)} MB/s into 1 file; DuckDB PARTITION_BY (same layout as ours) ` +
        `${count(input.rows / referenceSeconds)} rows/s, ours at ${round(referenceSeconds / oursSeconds, 2)}× of it`,
      details: {
        textBytes: input.textBytes,
        shape: input.shape,
        oursMBpsOfJson: textMBps(oursSeconds),
        baselineMBpsOfJson: textMBps(baselineSeconds),
        oursMBpsOfInputFile: round(input.fileBytes / 1e6 / oursSeconds, 1),
        baselineMBpsOfInputFile: round(input.fileBytes / 1e6 / baselineSeconds, 1),
        oursOutputFiles: Number(ours['outputFiles'] ?? 0),
        baselineOutputBytes: Number(baseline['outputBytes'] ?? 0),
        oursMedianPhasesMs: phases,
        partitionedReference: {
          what: 'DuckDB read_json → COPY (same options, PARTITION_BY the partition column): our output layout',
          medianSeconds: round(referenceSeconds, 3),
          rowsPerSecond: Math.round(input.rows / referenceSeconds),
          oursRatio: round(referenceSeconds / oursSeconds, 3),
          outputFiles: Number(extras(referenceTrials)['outputFiles'] ?? 0),
          peakRssBytes: Math.max(...referenceTrials.map((r) => r.maxRssBytes)),
          seconds: referenceTrials.map((r) => round(r.seconds, 3)),
        },
        oursSeconds: result.ours.map((r) => round(r.seconds, 3)),
        baselineSeconds: result.baseline.map((r) => round(r.seconds, 3)),
      },
    },
    result,
  );
}

function extras(trials: TrialResult[]): Record<string, number | string> {
  return trials[trials.length - 1]?.extra ?? {};
}
