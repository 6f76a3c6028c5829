/** One ETL run over one source object, stored under the processed bucket's `_pipeline/runs/`. */
export type RunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';

export interface RunRecord {
  runId: string;
  dataset: string;
  sourceBucket: string;
  sourceKey: string;
  /** Object version id, or ETag when the store has no versions. */
  sourceVersion: string;
  status: RunStatus;
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  /** Rows dropped as duplicates of an event key already in the same partition. */
  rowsDuplicate: number;
  bytesRead: number;
  bytesWritten: number;
  outputKeys: string[];
  quarantineKey: string | null;
  partitions: string[];
  schemaVersion: number | null;
  /** ISO 8601. */
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  error: { reason: string; message: string } | null;
}

/** One rejected raw record, a line of the quarantine file (JSON Lines). */
export interface QuarantineRecord {
  sourceKey: string;
  /** 1-based physical line in the (decompressed) source where the record starts. */
  line: number;
  reason: string;
  raw: string;
}
