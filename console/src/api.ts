import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { session } from './session.js';

/** The GraphQL endpoint: same origin as the console. */
export const GRAPHQL_URL = '/graphql';

/** An error answer of the API: its `extensions.code` and message, shown to the user as they are. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called when the API refuses the key (UNAUTHENTICATED): the app signs out and shows the login form. */
let onUnauthenticated: (message: string) => void = () => undefined;
export function setUnauthenticatedHandler(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

const printed = new WeakMap<object, string>();

interface GraphQLAnswer<TData> {
  data?: TData | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/**
 * Runs one typed operation (a codegen TypedDocumentNode from operations/console.graphql) and returns its data, or
 * throws ApiError with the first error's code and message.
 */
export async function gql<TData, TVariables>(
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  signal?: AbortSignal,
): Promise<TData> {
  let query = printed.get(document);
  if (query === undefined) {
    query = print(document);
    printed.set(document, query);
  }
  const key = session.key();
  let response: Response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(key !== null ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      ...(signal !== undefined ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted === true) throw err;
    throw new ApiError('NETWORK_ERROR', 'Cannot reach the API. Check your connection and try again.');
  }
  let answer: GraphQLAnswer<TData>;
  try {
    answer = (await response.json()) as GraphQLAnswer<TData>;
  } catch {
    throw new ApiError('BAD_RESPONSE', `The API answered ${response.status} without a GraphQL result.`);
  }
  const first = answer.errors?.[0];
  if (first !== undefined) {
    const code = first.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    if (code === 'UNAUTHENTICATED') onUnauthenticated(first.message);
    throw new ApiError(code, first.message);
  }
  if (answer.data === undefined || answer.data === null) throw new ApiError('BAD_RESPONSE', 'The API sent no data.');
  return answer.data;
}
