import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientSettings {
  /** An S3-compatible endpoint (MinIO, a test server); undefined for AWS itself. */
  endpoint?: string | undefined;
  region: string;
  /** `https://host/bucket/key` rather than `https://bucket.host/key`; needed by most S3-compatible servers. */
  forcePathStyle: boolean;
  /** Static credentials (tests). Omitted: the SDK default chain (environment, profile, container or instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Checksums. Default `WHEN_SUPPORTED` (the SDK's default since 3.729): every upload carries a CRC32 and a streamed
   * body is sent `aws-chunked` with a trailing checksum. `WHEN_REQUIRED` sends checksums only where the API demands
   * them; S3-compatible servers that do not decode `aws-chunked` bodies need it.
   */
  checksums?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /**
   * How long to wait for a connection, and for a connected socket that goes silent, before the request fails (and the
   * SDK retries it). Defaults 10 s and 120 s: an endpoint that accepts connections but never answers no longer hangs
   * a command or a server's start for good.
   */
  timeouts?: { connectMs: number; idleMs: number };
}

const DEFAULT_TIMEOUTS = { connectMs: 10_000, idleMs: 120_000 };

/** The S3 client for the object store and the DuckDB staging cache. One per process; it pools connections. */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials !== undefined ? { credentials: settings.credentials } : {}),
    ...(settings.checksums !== undefined
      ? { requestChecksumCalculation: settings.checksums, responseChecksumValidation: settings.checksums }
      : {}),
    requestHandler: {
      connectionTimeout: (settings.timeouts ?? DEFAULT_TIMEOUTS).connectMs,
      requestTimeout: (settings.timeouts ?? DEFAULT_TIMEOUTS).idleMs,
      // Without it the handler only logs a warning and keeps waiting.
      throwOnRequestTimeout: true,
    },
  });
}
