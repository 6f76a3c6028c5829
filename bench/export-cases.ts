/**
 * The exports the `export` and `memory` benchmarks time: each as our API is asked for it (an `ExportRequestInput`
 * without the dataset) and as a DuckDB user would write the same file by hand (the baseline's SELECT), side by
 * side so that the two cannot drift apart unnoticed (the benchmark compares their CSV once per run).
 */

/** One predicate of `requestExport(input: { where })`, as sent over GraphQL. */
export interface WherePredicate {
  column: string;
  op: 'EQ' | 'NE' | 'LT' | 'LTE' | 'GT' | 'GTE' | 'IN' | 'BETWEEN' | 'IS_NULL' | 'IS_NOT_NULL';
  values: (string | number)[];
}

/** The request our API gets, apart from the dataset (`ExportRequestInput`). */
export interface ExportCaseRequest {
  /** Omitted: every visible column, the dataset's columns then its partition key. */
  columns?: string[];
  where?: WherePredicate[];
  compression: 'NONE' | 'GZIP';
}

/** The baseline's SELECT over the same Parquet files, written by hand. */
export interface ExportCaseBaseline {
  /** `all`: the dataset's columns then its partition key, as our default. */
  columns: 'all' | string[];
  /** SQL condition over the Parquet columns and the Hive partition key; null for none. */
  where: string | null;
  /** DuckDB's own single-stream `COMPRESSION gzip`. */
  gzip: boolean;
}

export interface ExportCase {
  /** Result name: `bench/results/<name>.json`. */
  name: string;
  /** One line for the log and the results. */
  what: string;
  /** Ours / baseline throughput to reach (issue 8). */
  target: number;
  request: ExportCaseRequest;
  baseline: ExportCaseBaseline;
  /** The partition values (inclusive, ISO dates) the request can read; null for all. Used to count files and row groups. */
  partitionRange: { from: string; to: string } | null;
}

/** Issue 8: an export through the whole API at no less than 0.8× bare DuckDB COPY. */
export const EXPORT_TARGET = 0.8;
/** Issue 8: gzip exports at no less than 1.5× DuckDB's own single-stream gzip COPY. */
export const GZIP_EXPORT_TARGET = 1.5;

/** A full export, every column, plain CSV: the case the `memory` benchmark also runs. */
export const FULL_EXPORT: ExportCase = {
  name: 'export-full',
  what: 'full export, every column, plain CSV',
  target: EXPORT_TARGET,
  request: { compression: 'NONE' },
  baseline: { columns: 'all', where: null, gzip: false },
  partitionRange: null,
};

/** The filtered case's projection, in output order: ours and the baseline's. */
const FILTERED_COLUMNS = [
  'event_id',
  'ticket_id',
  'event_time',
  'activity',
  'priority',
  'service_level',
  'customer',
  'billable_amount',
  'event_date',
];

/**
 * A quarter's worth of partitions (pruned by the `event_date` predicate before any SQL runs), two more predicates
 * DuckDB evaluates (one numeric, one IN list of text), nine of the sixteen columns, one of them PII (hashed for
 * the analyst, so the baseline hashes it too).
 */
export const FILTERED_EXPORT: ExportCase = {
  name: 'export-filtered',
  what: 'filtered (event_date in Q3 2024, priority <= 2, service_level IN 2 values), 9 of 16 columns',
  target: EXPORT_TARGET,
  request: {
    columns: FILTERED_COLUMNS,
    where: [
      { column: 'event_date', op: 'BETWEEN', values: ['2024-07-01', '2024-09-30'] },
      { column: 'priority', op: 'LTE', values: [2] },
      { column: 'service_level', op: 'IN', values: ['Gold', 'Platinum 24/7'] },
    ],
    compression: 'NONE',
  },
  baseline: {
    columns: FILTERED_COLUMNS,
    where:
      "event_date BETWEEN DATE '2024-07-01' AND DATE '2024-09-30' AND priority <= 2 AND service_level IN ('Gold', 'Platinum 24/7')",
    gzip: false,
  },
  partitionRange: { from: '2024-07-01', to: '2024-09-30' },
};

/** The full export gzipped: ours in parallel gzip members, DuckDB's in one stream. */
export const GZIP_EXPORT: ExportCase = {
  name: 'export-gzip',
  what: 'full export, every column, gzip',
  target: GZIP_EXPORT_TARGET,
  request: { compression: 'GZIP' },
  baseline: { columns: 'all', where: null, gzip: true },
  partitionRange: null,
};

export const EXPORT_CASES: readonly ExportCase[] = [FULL_EXPORT, FILTERED_EXPORT, GZIP_EXPORT];
