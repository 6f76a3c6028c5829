/** One result file to link to. */
export interface DownloadTarget {
  jobId: string;
  /** File name within the job, e.g. `part-00000.csv`. */
  fileName: string;
  /** Key in the exports bucket. */
  key: string;
}

export interface DownloadLink {
  url: string;
  expiresAt: Date;
}

/**
 * Issues expiring download links to export results. Adapters: HMAC-signed links served by the API (local store),
 * S3 presigned GET URLs.
 */
export interface DownloadLinkIssuer {
  /** A fresh link; it expires after the configured lifetime, or earlier at `notAfter` (e.g. the result's expiry). */
  issue(target: DownloadTarget, options?: { notAfter?: Date | null }): Promise<DownloadLink>;
}
