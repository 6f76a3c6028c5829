import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

/** A GraphQL error as the API sends it. */
export interface GraphQLResponseError {
  message: string;
  path?: (string | number)[];
  locations?: { line: number; column: number }[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResult<TData> {
  status: number;
  data: TData | null | undefined;
  errors: GraphQLResponseError[] | undefined;
}

/**
 * A tiny typed client for tests: posts a codegen TypedDocumentNode as JSON over real HTTP and returns the
 * typed data with the errors and HTTP status. It sends `apollo-require-preflight` like a non-browser client.
 */
export class GraphQLTestClient {
  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: TVariables extends Record<string, never> ? [] | [TVariables] : [TVariables]
  ): Promise<GraphQLResult<TData>> {
    return this.raw<TData>(print(document), variables);
  }

  /** Sends query text that is not in operations/ (hostile or malformed documents). */
  async raw<TData = unknown>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<TData>> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...this.headers },
      body: JSON.stringify({ query, ...(variables !== undefined ? { variables } : {}) }),
    });
    const text = await response.text();
    let body: { data?: TData | null; errors?: GraphQLResponseError[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`non-JSON response ${response.status}: ${text.slice(0, 200)}`);
    }
    return { status: response.status, data: body.data, errors: body.errors };
  }
}
