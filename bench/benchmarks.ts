import { apiBenchmark } from './api.js';
import type { Benchmark } from './benchmark.js';
import { etlBenchmark } from './etl.js';

/** A benchmark whose slot is reserved but whose script is not written yet; the runner skips it and says why. */
export interface PendingBenchmark {
  pending: string;
}

export type RegistryEntry = Benchmark | PendingBenchmark;

export function isPending(entry: RegistryEntry): entry is PendingBenchmark {
  return 'pending' in entry;
}

/**
 * Every benchmark `npm run bench` knows, by the name given on the command line (`npm run bench -- etl api`), in
 * the order they run. Adding one is one line: its name and its `Benchmark` (see bench/benchmark.ts).
 */
export const BENCHMARKS: Record<string, RegistryEntry> = {
  etl: etlBenchmark,
  api: apiBenchmark,
  export: {
    pending:
      'request → job → CSV through the running API (full, and filtered + projected; plain and gzip) vs DuckDB COPY (FORMAT csv)',
  },
  memory: { pending: 'peak RSS of an export of a dataset ≥ 5× the engine memory limit, 1M vs 5M rows' },
};
