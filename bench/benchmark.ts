import type { BenchConfig } from './config.js';
import type { BenchRecord } from './harness.js';

/** What a benchmark gets from the runner. */
export interface BenchContext {
  config: BenchConfig;
  /** Compiled trial scripts (`dist/bench/trials`), run as child processes. */
  trialsDir: string;
  log: (message: string) => void;
}

/** One path of the product timed against its baseline; may write several results (e.g. plain and gzipped input). */
export interface Benchmark {
  /** What it compares, for `npm run bench -- --list` and the log. */
  description: string;
  run(ctx: BenchContext): Promise<BenchRecord[]>;
}
