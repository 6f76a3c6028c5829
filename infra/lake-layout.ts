/**
 * Key prefixes of the lake (DESIGN.md, "Data layout in the lake") that IAM grants and lifecycle rules are
 * scoped to. The application writes these keys; the infrastructure only names them, so a change here must
 * match the code that writes them.
 */
export const LAKE_PREFIXES = {
  /** processed: one run record per ETL run. */
  pipelineRuns: '_pipeline/',
  /** processed: rejected records with line number and reason; expired by a lifecycle rule. */
  quarantine: '_quarantine/',
  /** exports: Athena's enforced result location (the workgroup writes `<query-id>.csv` here). */
  athenaResults: 'athena-results/',
} as const;

/** The processed prefix of one dataset's Parquet files (the Glue table location). */
export function processedDatasetPrefix(dataset: string): string {
  return `${dataset}/`;
}

/**
 * The smallest set of prefixes covering all given ones: a prefix that starts with another one is dropped.
 * S3 rejects overlapping notification filters, and a covered prefix adds nothing to a grant.
 */
export function coveringPrefixes(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort();
  const kept: string[] = [];
  for (const p of sorted) {
    if (!kept.some((k) => p.startsWith(k))) kept.push(p);
  }
  return kept;
}
