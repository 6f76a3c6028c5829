/**
 * Key prefixes of the lake (DESIGN.md, "Data layout in the lake") that IAM grants and lifecycle rules are
 * scoped to. The application writes these keys; the infrastructure only names them, so a change here must
 * match the code that writes them.
 */
export const LAKE_PREFIXES = {
  /**
   * processed: the pipeline's own records, written by the ETL: runs, data versions, sources, intents, failures,
   * locks and compaction journals (lambda/pipeline/lake-keys.ts).
   */
  pipeline: '_pipeline/',
  /** processed: one run record per ETL run (src/services/pipeline-service.ts RUNS_PREFIX); read by the API. */
  pipelineRuns: '_pipeline/runs/',
  /**
   * processed: each dataset's data version, the change signal of its cached listing (src/services/data-version.ts
   * DATA_VERSION_PREFIX); read by the API.
   */
  dataVersions: '_pipeline/data-versions/',
  /**
   * processed: the journal of each partition a compaction is rewriting (src/services/compaction-view.ts
   * COMPACTIONS_PREFIX); read by the API and the export worker, whose listings leave out the files it names.
   */
  compactions: '_pipeline/compactions/',
  /**
   * processed: the files each unfinished publish of a source is about to write (src/services/compaction-view.ts
   * INTENTS_PREFIX), and each source's lineage, its commit; read by the API and the export worker, whose listings
   * leave out what an intent names and the lineage does not.
   */
  intents: '_pipeline/intents/',
  sources: '_pipeline/sources/',
  /** processed: rejected records with line number and reason; expired by a lifecycle rule. */
  quarantine: '_quarantine/',
  /** processed: API key records, hashes only (src/auth/key-store.ts KEYS_PREFIX); read by the API. */
  apiKeys: '_system/keys/',
  /**
   * processed: BI feed definitions, read tokens as hashes only (src/services/feed-service.ts FEEDS_PREFIX); written by
   * the API. Configuration, kept until deleted: not in the exports bucket, whose lifecycle rules expire export jobs.
   */
  feeds: '_system/feeds/',
  /**
   * exports: the Athena workgroup's enforced result location, `<query-id>.csv` (and `.csv.metadata`) under it; also
   * the Athena engine's ATHENA_RESULTS_PREFIX, under which it records each job's queries (`<job-id>/<query-id>.query`).
   */
  athenaResults: '_athena/',
  /** exports: export job records and their markers (src/adapters/local/store-job-store.ts). */
  jobRecords: '_jobs/',
  /** exports: each job's result, `results/<job-id>/` (parts and manifest; src/domain/export-job.ts EXPORT_RESULTS_PREFIX). */
  exportResults: 'results/',
} as const;

/** Single objects of the lake that IAM grants name exactly. */
export const LAKE_OBJECTS = {
  /**
   * processed: the key of `hash` masks (src/composition-api.ts MASK_KEY_KEY), created by the API when it first
   * previews or fingerprints a hashed column (If-None-Match, never replaced), read by every process that hashes one.
   */
  maskKey: '_system/mask-key',
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
