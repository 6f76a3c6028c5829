import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

/** A GraphQL error answer: the API's `extensions.code` and message, or a transport failure. */
export class ApiRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiRequestError';
  }
}

export interface GraphQLClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>` when given. */
  apiKey?: string | undefined;
  /** Per request, in ms. Default 30 s. */
  timeoutMs?: number;
}

/**
 * A small typed client for the API over HTTP: posts a codegen TypedDocumentNode (operations/*.graphql) as JSON and
 * returns its typed data, or throws ApiRequestError with the first error's code and message.
 */
export class GraphQLClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: GraphQLClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    options: { signal?: AbortSignal } = {},
  ): Promise<TData> {
    let response: Response;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.options.apiKey !== undefined ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: JSON.stringify({ query: print(document), variables }),
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      });
    } catch (err) {
      // Stopped by the caller (Ctrl-C): its reason, not a network failure.
      if (options.signal?.aborted === true) throw options.signal.reason;
      throw new ApiRequestError(
        'NETWORK_ERROR',
        `cannot reach the API at ${this.options.url}: ${reason(err)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    const text = await response.text();
    let body: { data?: TData | null; errors?: { message?: string; extensions?: { code?: string } }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      if (response.status === 404) throw notTheApi(this.options.url);
      throw new ApiRequestError('BAD_RESPONSE', `the API answered ${response.status} without JSON`, response.status, {
        cause: err,
      });
    }
    const first = body.errors?.[0];
    if (response.status === 404 && (first === undefined || first.message === 'Not found')) {
      // No route of this name (the server's answer to any unknown path): the URL is not the API's (a page of the
      // console, a path under another service).
      throw notTheApi(this.options.url);
    }
    if (first !== undefined) {
      throw new ApiRequestError(
        first.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
        first.message ?? 'Unexpected error',
        response.status,
      );
    }
    if (body.data === undefined || body.data === null) {
      throw new ApiRequestError('BAD_RESPONSE', `the API answered ${response.status} without data`, response.status);
    }
    return body.data;
  }
}

function notTheApi(url: string): ApiRequestError {
  return new ApiRequestError(
    'NOT_FOUND',
    `no GraphQL API answers at ${url} (HTTP 404): check the API URL (--url or CAREPLUS_API_URL; the base URL the server prints, such as http://127.0.0.1:4000)`,
    404,
  );
}

function reason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return cause ?? (err instanceof Error ? err.message : String(err));
}
