import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one timed trial reports; trials run in child processes so peak RSS is the trial's own. */
export interface TrialResult {
  seconds: number;
  maxRssBytes: number;
  /** Anything the trial wants recorded (rows, bytes out, files read, ...). */
  extra?: Record<string, number | string>;
}

/**
 * Runs `node <script> <args>` as a child; the script prints one JSON TrialResult line last on stdout.
 * Wall time is measured by the child around the work itself (not process start-up).
 */
export async function trial(script: string, args: string[], env: Record<string, string> = {}): Promise<TrialResult> {
  const { stdout } = await run(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as TrialResult;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Ours / baseline throughput for the same work: baseline seconds / our seconds, to three decimals. Above 1 means
 * faster than the baseline. Zero or negative times are refused: they mean a broken trial, not an infinite speed.
 */
export function throughputRatio(oursSeconds: number, baselineSeconds: number): number {
  if (!(oursSeconds > 0) || !(baselineSeconds > 0)) {
    throw new RangeError(`times must be positive, got ours ${oursSeconds} s, baseline ${baselineSeconds} s`);
  }
  return Math.round((baselineSeconds / oursSeconds) * 1000) / 1000;
}

export interface PairedResult {
  ours: TrialResult[];
  baseline: TrialResult[];
}

/** One warm-up of each, then `pairs` alternating pairs (ours, baseline), so drift hits both alike. */
export async function paired(
  pairs: number,
  ours: () => Promise<TrialResult>,
  baseline: () => Promise<TrialResult>,
  log: (msg: string) => void = (m) => process.stderr.write(m + '\n'),
): Promise<PairedResult> {
  await ours();
  await baseline();
  const result: PairedResult = { ours: [], baseline: [] };
  for (let i = 0; i < pairs; i++) {
    const o = await ours();
    const b = await baseline();
    log(`  pair ${i + 1}/${pairs}: ours ${o.seconds.toFixed(3)} s, baseline ${b.seconds.toFixed(3)} s`);
    result.ours.push(o);
    result.baseline.push(b);
  }
  return result;
}

export function machine(): Record<string, string | number> {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export interface BenchRecord {
  name: string;
  rows: number;
  inputBytes: number;
  outputBytes: number;
  oursMedianSeconds: number;
  baselineMedianSeconds: number;
  /** ours / baseline throughput = baseline seconds / our seconds; above 1 means faster than the baseline. */
  ratio: number;
  target: number;
  /**
   * How `ratio` is held against `target`: `atLeast` (the default: a throughput ratio, higher is better) or `atMost`
   * (a growth factor such as peak memory from 1M to 5M rows, lower is better).
   */
  targetBound?: 'atLeast' | 'atMost';
  oursPeakRssBytes: number;
  baselinePeakRssBytes: number;
  baseline: string;
  /** Median throughput of each side in the benchmark's natural unit (rows/s, req/s), for the results table. */
  throughput?: { unit: string; ours: number; baseline: number };
  /** The table's ours / baseline cells as written, for a result whose measure is not a throughput (memory). */
  cells?: { ours: string; baseline: string };
  /** One line for the results table: what else matters about this result (MB/s, latency, files written). */
  summary?: string;
  details?: Record<string, unknown>;
  machine: Record<string, string | number>;
  /** 1-minute load average before and after the benchmark (the machine is shared). */
  loadAverage?: { before: number; after: number };
  /** The command that produced this result. */
  command?: string;
  date: string;
}

export function record(
  name: string,
  fields: Omit<
    BenchRecord,
    | 'name'
    | 'machine'
    | 'date'
    | 'oursMedianSeconds'
    | 'baselineMedianSeconds'
    | 'ratio'
    | 'oursPeakRssBytes'
    | 'baselinePeakRssBytes'
  >,
  result: PairedResult,
): BenchRecord {
  const oursMedianSeconds = median(result.ours.map((r) => r.seconds));
  const baselineMedianSeconds = median(result.baseline.map((r) => r.seconds));
  return {
    name,
    ...fields,
    oursMedianSeconds,
    baselineMedianSeconds,
    ratio: throughputRatio(oursMedianSeconds, baselineMedianSeconds),
    oursPeakRssBytes: Math.max(...result.ours.map((r) => r.maxRssBytes)),
    baselinePeakRssBytes: Math.max(...result.baseline.map((r) => r.maxRssBytes)),
    machine: machine(),
    date: new Date().toISOString(),
  };
}

/** Whether a result meets its target, in the direction its `targetBound` says. */
export function targetMet(r: Pick<BenchRecord, 'ratio' | 'target' | 'targetBound'>): boolean {
  return r.targetBound === 'atMost' ? r.ratio <= r.target : r.ratio >= r.target;
}

/** The target as the table shows it: `≥ 0.8×`, or `≤ 1.5×` for an upper bound. */
export function targetText(r: Pick<BenchRecord, 'target' | 'targetBound'>): string {
  return `${r.targetBound === 'atMost' ? '≤' : '≥'} ${r.target}×`;
}

export async function writeResult(dir: string, rec: BenchRecord): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${rec.name}.json`);
  await writeFile(file, JSON.stringify(rec, null, 2) + '\n');
  return file;
}

/** For trial scripts: time `fn`, then print the TrialResult line. */
export async function runTrial(fn: () => Promise<Record<string, number | string> | void>): Promise<void> {
  const start = process.hrtime.bigint();
  const extra = await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const result: TrialResult = {
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(extra ? { extra } : {}),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}
