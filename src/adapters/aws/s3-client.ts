import { S3Client } from '@aws-sdk/client-s3';
import { type AwsClientTimeouts, requestHandlerWithTimeouts } from './client-timeouts.js';

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
  timeouts?: AwsClientTimeouts;
}

/** The S3 client for the object store and the DuckDB staging cache. One per process; it pools connections. */
export function createS3Client(settings: S3ClientSettings): S3Client {
  const client = new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials !== undefined ? { credentials: settings.credentials } : {}),
    ...(settings.checksums !== undefined
      ? { requestChecksumCalculation: settings.checksums, responseChecksumValidation: settings.checksums }
      : {}),
    requestHandler: requestHandlerWithTimeouts(settings.timeouts),
  });
  nameBucketInErrors(client, settings.endpoint ?? `AWS ${settings.region}`);
  return client;
}

/**
 * An error of a request (after the SDK's retries) says which bucket and endpoint it was about: the SDK's own messages
 * name neither ("The specified bucket does not exist", "connect ECONNREFUSED 10.0.0.5:9000"), so an operator could not
 * tell which of the three buckets or settings was wrong. Only the message changes: name, status and code stay for the
 * store's error mapping. Run records and API answers mask unexpected errors; the logs and the CLI show this.
 */
function nameBucketInErrors(client: S3Client, endpoint: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const bucket = (args.input as { Bucket?: unknown }).Bucket;
        if (err instanceof Error && typeof bucket === 'string' && !err.message.includes(`S3 bucket "${bucket}"`)) {
          err.message = `${err.message} (S3 bucket "${bucket}" at ${endpoint})`;
        }
        throw err;
      }
    },
    { step: 'initialize', name: 'careplusNameBucketInErrors' },
  );
}
