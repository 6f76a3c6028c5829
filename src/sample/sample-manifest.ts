/** What the sample generator wrote, so tests and `npm start` know the exact counts to expect after ingest. */

export type SampleFormat = 'csv' | 'jsonl';

export type SampleDefectKind =
  'malformed-json' | 'missing-field' | 'bad-timestamp' | 'non-numeric-priority' | 'empty-file';

export interface SampleDefect {
  /**
   * 1-based physical line in the (decompressed) file; in CSV the header is line 1, so the first record is
   * line 2. 0 for a defect of the file as a whole (`empty-file`).
   */
  line: number;
  kind: SampleDefectKind;
}

export interface SampleFile {
  /** Raw-bucket key: `support_events/<yyyy>/<mm>/<dd>/events-<yyyymmdd>.csv` or `.jsonl.gz`. */
  key: string;
  format: SampleFormat;
  compression: 'none' | 'gzip';
  /** Data lines in the file (the CSV header not counted), defective ones included. */
  records: number;
  defects: SampleDefect[];
}

export interface SampleManifest {
  files: SampleFile[];
  totalRecords: number;
  /** Records an ingest must write: total minus the defective ones. */
  goodRecords: number;
  /** Records an ingest must quarantine: one per listed line defect (an empty file has no record). */
  defectRecords: number;
}
