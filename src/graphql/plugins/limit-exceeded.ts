import { HeaderMap } from '@apollo/server';
import { GraphQLError, type ASTNode } from 'graphql';
import { LimitExceededError } from '../../domain/errors.js';

/**
 * A GraphQLError for a refused operation (depth, cost, rate). Its original error is a LimitExceededError, so the one
 * error-mapping layer (src/graphql/errors.ts) answers `extensions.code: LIMIT_EXCEEDED` with this message, also
 * when Apollo wraps it as a validation error. `status` goes out as the HTTP status (Apollo reads
 * `extensions.http` and strips it from the response).
 */
export function limitExceeded(
  message: string,
  options: { nodes?: readonly ASTNode[]; status?: number; retryAfterSeconds?: number } = {},
): GraphQLError {
  const headers = new HeaderMap();
  if (options.retryAfterSeconds !== undefined) headers.set('retry-after', String(options.retryAfterSeconds));
  return new GraphQLError(message, {
    ...(options.nodes !== undefined ? { nodes: options.nodes } : {}),
    originalError: new LimitExceededError(message),
    extensions: { code: 'LIMIT_EXCEEDED', http: { status: options.status ?? 400, headers } },
  });
}
