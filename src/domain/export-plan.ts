import type { NormalizedExportRequest } from './export-request.js';
import type { TableDefinition } from './table.js';

/** One Parquet file an export reads, as listed when the export was planned. */
export interface PlannedFile {
  /** Key in the processed bucket. */
  key: string;
  etag: string;
  size: number;
  /** From the Parquet footer; null when the footer could not be read. */
  rowCount: number | null;
  /** Partition values from the key, decoded. */
  partitionValues: Record<string, string>;
}

/**
 * The pre-flight figures of the files to read: from Parquet footers, after partition pruning and pruning by footer
 * statistics (export-stats-pruning.ts), none for a `where` that contradicts itself; `where` is not otherwise counted.
 */
export interface ExportEstimate {
  /**
   * Rows in the files to read (an upper bound on the rows exported), less those of files whose footer was not read:
   * unreadable files, and files rewritten since they were listed (counted in `files` and `bytesToScan`; a job is
   * planned again on them).
   */
  rows: number;
  bytesToScan: number;
  /**
   * Partitions of the files to read. A job's record, and the estimate `estimateExport` answers, hold it as the
   * requester's grant shows partitions (policy.ts partitionCountShown): null when it shows no partition key in clear.
   */
  partitions: number | null;
  files: number;
  /** Files whose footer could not be read; their rows are not in `rows`, and the export will fail on them. */
  unreadableFiles: number;
}

/** Everything an engine needs to run one export. */
export interface ExportPlan {
  table: TableDefinition;
  request: NormalizedExportRequest;
  /**
   * The files to read: those of `partitionFiles` whose footer statistics do not rule out every row; none when the
   * request's `where` contradicts itself (export-where-contradiction.ts).
   */
  files: PlannedFile[];
  /**
   * The files partition pruning kept, before pruning by statistics: what `dataVersion` fingerprints and what a check
   * that lists the table again compares with, so that a file pruned by its statistics is still seen when it changes,
   * and a new file beside it too. Athena reads these (it reads the table's folders, not a list of files).
   */
  partitionFiles: PlannedFile[];
  /** Fingerprint of `partitionFiles` (keys and ETags) and the schema version. */
  dataVersion: string;
  estimate: ExportEstimate;
  /** The row cap the engine applies: the request's limit or the configured maximum; null for none. */
  effectiveLimit: number | null;
  /**
   * True when the footers show every file with the same Parquet schema (the same columns, in order, of the same
   * types), so an engine need not reconcile the files' schemas by name. Absent or false: it must.
   */
  uniformSchema?: boolean;
  /**
   * Catalog columns that no planned file holds, by their footers (columns added after the files were written, which
   * are never rewritten): an engine reads them as NULLs of the catalog type. Absent or empty: none, or a footer could
   * not be read.
   */
  missingColumns?: string[];
  /**
   * Timestamp columns that a planned file holds with nanoseconds (export-sql.ts nanosecondTimestampColumns): an
   * engine reads them cut to the microsecond below. Absent or empty: none.
   */
  nanosecondColumns?: string[];
}
