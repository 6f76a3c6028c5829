import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Benchmark settings. `loadBenchConfig` is the one place in bench/ that reads the environment (like
 * src/config.ts for the product); benchmarks and trial scripts receive these values as arguments.
 */
export interface BenchConfig {
  /** Events in the generated input (`BENCH_ROWS`, default 1,000,000). */
  rows: number;
  /** Timed pairs after the warm-up (`BENCH_PAIRS`, default 3). */
  pairs: number;
  /** Benchmarks named on the command line; empty means all. */
  names: string[];
  /** Seconds of load per API trial (`BENCH_API_SECONDS`, default 10). */
  apiSeconds: number;
  /** Concurrent connections of the API load generator (`BENCH_API_CONNECTIONS`, default 16). */
  apiConnections: number;
  /**
   * The export engine's DuckDB memory limit in the `memory` benchmark (`BENCH_MEMORY_LIMIT`, a DuckDB size such as
   * `8MiB`). Unset: derived from the data (see bench/memory.ts), so that the dataset is at least 5× the limit.
   */
  memoryLimit: string | undefined;
  /**
   * The `export` cases to run (`BENCH_EXPORT_CASES`, comma-separated names such as `export-filtered`); empty means
   * all of them.
   */
  exportCases: string[];
  /** The project root (the folder with package.json). */
  root: string;
  /** Generated inputs and prepared lakes, written once and reused (gitignored). */
  dataDir: string;
  /**
   * Per-trial scratch folders, removed after each trial: `bench/data/work/run-<pid>`, one per run, so that runs at
   * the same time (the machine is shared) never remove each other's files.
   */
  workDir: string;
  /** `<name>.json` per benchmark result. */
  resultsDir: string;
  /** The results document whose table is regenerated after every run. */
  resultsDoc: string;
}

export const BENCH_DEFAULTS = { rows: 1_000_000, pairs: 3, apiSeconds: 10, apiConnections: 16 } as const;

type Env = Record<string, string | undefined>;

/** A bad setting or argument: reported as its message alone, without a stack. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export function loadBenchConfig(env: Env = process.env, argv: string[] = process.argv.slice(2)): BenchConfig {
  const root = projectRoot(__dirname);
  const dataDir = join(root, 'bench', 'data');
  return {
    rows: positiveInt(env, 'BENCH_ROWS', BENCH_DEFAULTS.rows),
    pairs: positiveInt(env, 'BENCH_PAIRS', BENCH_DEFAULTS.pairs),
    names: argv.filter((a) => a !== '--'),
    apiSeconds: positiveInt(env, 'BENCH_API_SECONDS', BENCH_DEFAULTS.apiSeconds),
    apiConnections: positiveInt(env, 'BENCH_API_CONNECTIONS', BENCH_DEFAULTS.apiConnections),
    memoryLimit: memorySize(env, 'BENCH_MEMORY_LIMIT'),
    exportCases: (env['BENCH_EXPORT_CASES'] ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
    root,
    dataDir,
    workDir: join(dataDir, 'work', `run-${process.pid}`),
    resultsDir: join(root, 'bench', 'results'),
    resultsDoc: join(root, 'bench', 'RESULTS.md'),
  };
}

/** The command that reproduces a run with these settings. */
export function benchCommand(
  config: Pick<BenchConfig, 'rows' | 'pairs' | 'names'> & { memoryLimit?: string; exportCases?: string[] },
): string {
  const env = [`BENCH_ROWS=${config.rows}`];
  if (config.pairs !== BENCH_DEFAULTS.pairs) env.push(`BENCH_PAIRS=${config.pairs}`);
  if (config.exportCases !== undefined && config.exportCases.length > 0) {
    env.push(`BENCH_EXPORT_CASES=${config.exportCases.join(',')}`);
  }
  if (config.memoryLimit !== undefined) env.push(`BENCH_MEMORY_LIMIT=${config.memoryLimit}`);
  const names = config.names.length > 0 ? ` -- ${config.names.join(' ')}` : '';
  return `${env.join(' ')} npm run bench${names}`;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Underscores allowed so that 1_000_000 reads as written in the docs.
  const text = raw.replace(/_/g, '');
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new BenchUsageError(`${name}="${raw}" is not valid: expected a whole number of at least 1`);
  }
  return Number(text);
}

/** A DuckDB memory size (`8MiB`, `512MB`, `2GB`), or undefined when unset. */
function memorySize(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(raw)) {
    throw new BenchUsageError(`${name}="${raw}" is not valid: expected a size such as 8MiB or 512MB`);
  }
  return raw;
}

/** Walks up from the compiled (dist/bench) or source (bench) folder to the folder holding package.json. */
function projectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}
