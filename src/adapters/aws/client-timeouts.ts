/**
 * How long an AWS client waits for a connection, and for a connected socket that goes silent, before the request
 * fails (and the SDK retries it). Without them the SDK waits for good: a Glue, Athena or SQS endpoint that accepted
 * connections and never answered (a stuck proxy, a wrong port) hung `careplus datasets` and a server's requests with
 * it, and the API Lambda's requestExport until Lambda ended the function.
 */
export interface AwsClientTimeouts {
  connectMs: number;
  idleMs: number;
}

/** 10 s to connect, 120 s of silence: the S3 client's (s3-client.ts). */
export const DEFAULT_AWS_CLIENT_TIMEOUTS: AwsClientTimeouts = { connectMs: 10_000, idleMs: 120_000 };

/** The request handler options of a client with these timeouts. */
export function requestHandlerWithTimeouts(timeouts: AwsClientTimeouts = DEFAULT_AWS_CLIENT_TIMEOUTS): {
  connectionTimeout: number;
  requestTimeout: number;
  throwOnRequestTimeout: boolean;
} {
  return {
    connectionTimeout: timeouts.connectMs,
    requestTimeout: timeouts.idleMs,
    // Without it the handler only logs a warning and keeps waiting.
    throwOnRequestTimeout: true,
  };
}

export interface AwsClientSettings {
  region: string;
  /** A custom endpoint (a test stand-in); undefined for AWS itself. */
  endpoint?: string | undefined;
  /** Static credentials (tests). Omitted: the SDK default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  timeouts?: AwsClientTimeouts;
}

/** A client's configuration from its settings: region, endpoint, credentials and these timeouts. */
export function clientConfig(settings: AwsClientSettings): {
  region: string;
  endpoint?: string;
  credentials?: AwsClientSettings['credentials'];
  requestHandler: ReturnType<typeof requestHandlerWithTimeouts>;
} {
  return {
    region: settings.region,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials !== undefined ? { credentials: settings.credentials } : {}),
    requestHandler: requestHandlerWithTimeouts(settings.timeouts),
  };
}
