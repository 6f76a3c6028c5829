/** The GraphQL operations of the `export` and `memory` benchmarks' client (bench/trials/export-client.ts). */

export const REQUEST_EXPORT = `mutation BenchRequestExport($input: ExportRequestInput!) {
  requestExport(input: $input) {
    id
    status
    estimate { rows bytesToScan partitions files unreadableFiles }
  }
}`;

/** The pre-flight estimate of the same request: what a client asks first, and what warms the server's footer cache. */
export const ESTIMATE_EXPORT = `query BenchEstimateExport($name: String!, $input: ExportEstimateInput) {
  dataset(name: $name) {
    estimateExport(input: $input) { rows bytesToScan partitions files unreadableFiles }
  }
}`;

/** A job's state and links, polled by the benchmark's warm-up export before the clock. */
export const EXPORT_STATE = `query BenchExportState($id: ID!) {
  export(id: $id) {
    status
    error { code message }
    result { files { name url } }
  }
}`;

/** Every update of the job until it finishes; the final one carries the download links. */
export const EXPORT_UPDATED = `subscription BenchExportUpdated($id: ID!) {
  exportUpdated(id: $id) {
    id
    status
    progress { rowsWritten bytesWritten fraction }
    error { code message }
    result { rowCount bytes truncated files { name rowCount bytes url } }
  }
}`;

export interface RequestedExport {
  id: string;
  status: string;
  estimate: {
    rows: number | null;
    bytesToScan: number | null;
    partitions: number;
    files: number;
    unreadableFiles: number;
  };
}

export interface ExportUpdate {
  id: string;
  status: string;
  progress: { rowsWritten: number; bytesWritten: number; fraction: number };
  error: { code: string; message: string } | null;
  result: {
    rowCount: number;
    bytes: number;
    truncated: boolean;
    files: { name: string; rowCount: number; bytes: number; url: string | null }[];
  } | null;
}
