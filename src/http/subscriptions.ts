import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type FormattedExecutionResult,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  parse,
  specifiedRules,
  validate,
  type ValidationRule,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import { AppError, type ErrorCode, LimitExceededError } from '../domain/errors.js';
import type { ApiContext, Caller } from '../graphql/context.js';
import type { ErrorFormatter } from '../graphql/errors.js';
import { limitExceeded } from '../graphql/plugins/limit-exceeded.js';
import { analyzeOperation, DEFAULT_COST_MODEL } from '../graphql/plugins/query-analysis.js';
import type { TokenBucketRateLimiter } from '../graphql/plugins/rate-limiter.js';
import { withoutSuggestion } from '../graphql/plugins/strip-suggestions.plugin.js';
import { MAX_QUERY_TOKENS } from '../graphql/plugins/hardening.js';
import type { Logger } from '../ports/logger.js';

export interface SubscriptionServerOptions {
  schema: GraphQLSchema;
  /** The API's one error formatter (src/graphql/errors.ts): websocket errors are masked as HTTP ones are. */
  formatError: ErrorFormatter;
  logger: Logger;
  /** Builds the per-operation context for a connection's caller. */
  context: (caller: Caller) => ApiContext;
  /** The server's caller resolution, the same as for HTTP requests: a caller, or a thrown refusal. */
  authenticate: (request: { headers: IncomingHttpHeaders }) => Promise<Caller>;
  production: boolean;
  /** Development keeps graphql-js's "Did you mean ...?" hints; elsewhere they are removed, as over HTTP. */
  development: boolean;
  /** The API's own validation rules (the depth limit), run after graphql-js's specified rules. */
  validationRules: readonly ValidationRule[];
  /** config.limits.maxQueryCost, by the same cost model as HTTP operations. */
  maxCost: number;
  /** The per-key limiter HTTP requests draw on: each subscription takes at least one token. */
  rateLimiter: TokenBucketRateLimiter;
  /** Told about a refused subscription (cost, rate), to audit it. */
  onRefused?: (caller: Caller, reason: string) => void;
}

/** Websocket close codes for an AppError refusing a connection (graphql-ws uses 44xx for client faults). */
const CLOSE_CODES: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: CloseCode.Unauthorized,
  FORBIDDEN: CloseCode.Forbidden,
  LIMIT_EXCEEDED: 4429,
};

/**
 * GraphQL subscriptions over websockets (graphql-ws, subprotocol `graphql-transport-ws`) on the API's server.
 *
 * - The caller is resolved once per connection, in `connection_init`, by the same `authenticate` as HTTP requests:
 *   it sees the upgrade request's headers, with `authorization` from `connectionParams.authorization` when given.
 *   A refusal closes the socket with 4401 (UNAUTHENTICATED) or 4403 (FORBIDDEN) and the error's message.
 * - Only subscription operations are served here; queries and mutations go over HTTP. The HTTP limits apply here
 *   too: the parser's token cap, the depth rule, the cost limit, and the caller's rate budget (each subscription
 *   takes at least one token).
 * - Parse, validation and variable errors carry Apollo's request codes; everything else goes through the same
 *   error formatter as HTTP, so an internal error is "Unexpected error" here too.
 */
export function serveSubscriptions(
  wsServer: WebSocketServer,
  options: SubscriptionServerOptions,
): { dispose(): Promise<void> } {
  const { schema, formatError, logger } = options;
  const callers = new WeakMap<object, Caller>();
  const rules = [...specifiedRules, ...options.validationRules];
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((e) => {
      const formatted = formatError(e.toJSON(), e);
      return options.development ? formatted : { ...formatted, message: withoutSuggestion(formatted.message) };
    });

  const disposable = useServer<Record<string, unknown>>(
    {
      schema,
      isProd: options.production,
      onConnect: async (ctx) => {
        try {
          const caller = await options.authenticate(upgradeRequest(ctx.extra.request, ctx.connectionParams));
          callers.set(ctx, caller);
          return true;
        } catch (err) {
          const app = appErrorOf(err);
          if (app === undefined) {
            logger.error('websocket authentication failed unexpectedly', { error: String(err) });
            ctx.extra.socket.close(CloseCode.InternalServerError, 'Internal server error');
          } else {
            ctx.extra.socket.close(CLOSE_CODES[app.code] ?? CloseCode.BadRequest, closeReason(app.message));
          }
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const caller = callers.get(ctx);
        // onConnect admits only authenticated connections; this is the second lock.
        if (caller === undefined) {
          return [new GraphQLError('Missing or invalid credentials', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: MAX_QUERY_TOKENS });
        } catch (err) {
          if (err instanceof GraphQLError) return [withCode(err, 'GRAPHQL_PARSE_FAILED')];
          throw err;
        }
        const invalid = validate(schema, document, rules);
        // A limit's refusal (the depth rule) comes alone and keeps its code, as over HTTP.
        const refusal = invalid.find((e) => e.originalError instanceof LimitExceededError);
        if (refusal !== undefined) return [refusal];
        if (invalid.length > 0) return invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        const operation = getOperationAST(document, payload.operationName);
        if (operation === null || operation === undefined) {
          return [new GraphQLError('Unable to identify the operation', { extensions: { code: 'BAD_REQUEST' } })];
        }
        if (operation.operation !== 'subscription') {
          return [
            new GraphQLError('Only subscriptions are served over the websocket: send queries and mutations over HTTP', {
              nodes: operation,
              extensions: { code: 'BAD_REQUEST' },
            }),
          ];
        }
        const variables = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
        if (variables.errors !== undefined) return variables.errors.map((e) => withCode(e, 'BAD_USER_INPUT'));
        const analysis = analyzeOperation(
          schema,
          document,
          { operationName: payload.operationName ?? null, variables: payload.variables ?? undefined },
          DEFAULT_COST_MODEL,
        );
        const cost = analysis?.cost ?? 0;
        if (cost > options.maxCost) {
          options.onRefused?.(caller, `subscription cost ${cost} over the limit of ${options.maxCost}`);
          return [limitExceeded(`the subscription's estimated cost ${cost} is over the limit of ${options.maxCost}`)];
        }
        const tokens = Math.max(1, analysis?.rateTokens ?? 0);
        const decision = options.rateLimiter.take(caller.id, tokens);
        if (!decision.allowed) {
          options.onRefused?.(caller, `rate limit: ${tokens} token(s) for a subscription`);
          return [
            limitExceeded(
              `rate limit exceeded for mutations and expensive fields: retry in ${decision.retryAfterSeconds} s`,
            ),
          ];
        }
        return {
          schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
        };
      },
      context: (ctx) => {
        const caller = callers.get(ctx);
        if (caller === undefined) throw new Error('a websocket operation without an authenticated caller');
        return options.context(caller);
      },
      onNext: (_ctx, _id, _payload, _args, result): FormattedExecutionResult | void => {
        if (result.errors === undefined) return undefined;
        return { ...result, errors: format(result.errors) };
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
    },
    wsServer,
  );
  return { dispose: async () => await disposable.dispose() };
}

/** The request `authenticate` sees for a websocket: the upgrade request's headers, `authorization` from the params. */
function upgradeRequest(
  request: IncomingMessage,
  params: Readonly<Record<string, unknown>> | undefined,
): { headers: IncomingHttpHeaders } {
  const headers: IncomingHttpHeaders = { ...request.headers };
  for (const [name, value] of Object.entries(params ?? {})) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string') headers.authorization = value;
  }
  return { headers };
}

function appErrorOf(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof GraphQLError && err.originalError instanceof AppError) return err.originalError;
  return undefined;
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.nodes !== undefined ? { nodes: error.nodes } : {}),
    ...(error.source !== undefined ? { source: error.source } : {}),
    ...(error.positions !== undefined ? { positions: error.positions } : {}),
    extensions: { ...error.extensions, code },
  });
}

/** A websocket close reason is at most 123 bytes of UTF-8. */
function closeReason(message: string): string {
  let reason = message;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}
