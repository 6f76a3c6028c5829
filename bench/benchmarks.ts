import { apiBenchmark } from './api.js';
import type { Benchmark } from './benchmark.js';
import { etlBenchmark } from './etl.js';
import { exportBenchmark } from './export.js';
import { memoryBenchmark } from './memory.js';

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
  export: exportBenchmark,
  memory: memoryBenchmark,
};
