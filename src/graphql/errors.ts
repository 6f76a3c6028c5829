import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';

/**
 * The one error-mapping layer of the API (Apollo's `formatError`).
 *
 * - An AppError (raised on purpose by a service) keeps its message, which names the field or value at
 *   fault, and gets `extensions.code` from the closed set in src/domain/errors.ts.
 * - Errors Apollo raises about the request itself (unparsable query, failed validation, bad variables)
 *   keep Apollo's standard code: they describe the client's document, never our internals.
 * - Anything else becomes "Unexpected error" with code INTERNAL_SERVER_ERROR; the real message and stack are
 *   logged, and added under `extensions.details` only when the environment is development. That includes a
 *   GraphQLError thrown by a resolver: deliberate client errors are AppErrors, nothing else.
 */
const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set<string>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.BAD_REQUEST,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
]);

export const UNEXPECTED_ERROR_MESSAGE = 'Unexpected error';

export interface ErrorFormatterOptions {
  env: 'development' | 'test' | 'production';
  logger: Logger;
}

export type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

export function createErrorFormatter(options: ErrorFormatterOptions): ErrorFormatter {
  return (formatted, error) => {
    try {
      const original = unwrapResolverError(error);
      if (original instanceof AppError) return clientError(formatted, original.code, original.message);
      // An AppError raised before execution (the context function) arrives wrapped by `toRequestError`.
      if (original instanceof GraphQLError && original.originalError instanceof AppError) {
        return clientError(formatted, original.originalError.code, original.originalError.message);
      }
      if (original instanceof GraphQLError && original === error) {
        const code = original.extensions['code'];
        if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
          return clientError(formatted, code, formatted.message);
        }
      }
      const cause = original instanceof Error ? original : new Error(String(original));
      options.logger.error('unexpected error in a GraphQL request', {
        error: cause.message,
        name: cause.name,
        stack: cause.stack,
        path: formatted.path,
      });
      return {
        message: UNEXPECTED_ERROR_MESSAGE,
        ...(formatted.locations !== undefined ? { locations: formatted.locations } : {}),
        ...(formatted.path !== undefined ? { path: formatted.path } : {}),
        extensions: {
          code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode,
          ...(options.env === 'development' ? { details: { message: cause.message, stack: cause.stack } } : {}),
        },
      };
    } catch {
      // Formatting must never throw: Apollo would then send its own, unmasked output.
      return { message: UNEXPECTED_ERROR_MESSAGE, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  };
}

/** Longest error message sent: one that repeats a client's input (a 200 KB dataset name) is cut. */
export const MAX_ERROR_MESSAGE_CHARS = 500;

function clientError(formatted: GraphQLFormattedError, code: string, message: string): GraphQLFormattedError {
  return {
    message: capped(message),
    ...(formatted.locations !== undefined ? { locations: formatted.locations } : {}),
    ...(formatted.path !== undefined ? { path: formatted.path } : {}),
    extensions: { code },
  };
}

/** HTTP status for an AppError raised before execution (e.g. by the context function during authentication). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'BAD_USER_INPUT':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'LIMIT_EXCEEDED':
      return 429;
    case 'INTERNAL_SERVER_ERROR':
      return 500;
  }
}

/**
 * An AppError as a GraphQLError with its HTTP status, for code that runs outside a resolver (the context
 * function) where Apollo reads the status from `extensions.http`.
 */
export function toRequestError(error: AppError): GraphQLError {
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { code: error.code, http: { status: httpStatusOf(error.code) } },
  });
}

function capped(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE_CHARS) return message;
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(message[MAX_ERROR_MESSAGE_CHARS - 1]!)
    ? MAX_ERROR_MESSAGE_CHARS - 1
    : MAX_ERROR_MESSAGE_CHARS;
  return `${message.slice(0, end)}… (${message.length - end} more characters)`;
}
