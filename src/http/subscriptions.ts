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
import { CloseCode, type Context } from 'graphql-ws';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import { UNAUTHENTICATED_MESSAGE } from '../auth/auth-errors.js';
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
 * - The caller is resolved in `connection_init` by the same `authenticate` as HTTP requests: it sees the upgrade
 *   request's headers, with `authorization` from `connectionParams.authorization` when given. A refusal closes the
 *   socket with 4401 (UNAUTHENTICATED) or 4403 (FORBIDDEN) and the error's message.
 * - The credential is not trusted for the socket's lifetime (keep-alive can hold a socket open indefinitely): it is
 *   resolved again, by the same `authenticate` and so with the same revocation window as HTTP (the key store's
 *   cache), before every new subscription and before every event of a running one is delivered; a JWT socket is
 *   also re-checked when the token's `exp` passes (then every second while the verifier's clock skew still accepts
 *   it). A refusal closes the socket as in `connection_init` (4401 for a revoked key or an expired token), which
 *   ends every subscription on it; the refused operation or event is not sent. Checking per event rather than on a
 *   timer is the simple option that needs no tuning: nothing leaves after the credential stops working, and an idle
 *   stream sends nothing anyway.
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
  /** Per connection (graphql-ws context): the credentials it authenticated with, and its caller as of the last check. */
  const connections = new WeakMap<object, Connection>();
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
        const request = upgradeRequest(ctx.extra.request, ctx.connectionParams);
        try {
          const caller = await options.authenticate(request);
          const connection: Connection = { request, caller, closed: false, expiry: undefined, checkedAt: Date.now() };
          connections.set(ctx, connection);
          // A socket that went away meanwhile has had its onClose already: no expiry timer for it.
          if (ctx.extra.socket.readyState === ctx.extra.socket.OPEN) scheduleExpiryCheck(ctx, connection);
          return true;
        } catch (err) {
          refuse(ctx, err);
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
        // onConnect admits only authenticated connections, and the credential is checked again for each operation.
        const caller = await reauthenticate(ctx);
        if (caller === undefined) return [unauthenticated()];
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
        const connection = connections.get(ctx);
        if (connection === undefined || connection.closed) {
          throw new Error('a websocket operation without an authenticated caller');
        }
        return options.context(connection.caller);
      },
      onNext: async (ctx, _id, _payload, _args, result): Promise<FormattedExecutionResult | void> => {
        // The event is delivered only while the credential still works; otherwise the socket is closed (which ends
        // the stream) and nothing of the event is sent (the socket no longer sends once closing, this is the backstop).
        if ((await reauthenticate(ctx)) === undefined) return { errors: [unauthenticated().toJSON()] };
        if (result.errors === undefined) return undefined;
        return { ...result, errors: format(result.errors) };
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onClose: (ctx) => {
        const connection = connections.get(ctx);
        if (connection === undefined) return;
        connection.closed = true;
        clearTimeout(connection.expiry);
        connections.delete(ctx);
      },
    },
    wsServer,
  );
  return { dispose: async () => await disposable.dispose() };

  /** Closes the socket for a refused (or failed) authentication: the error's close code and message. */
  function refuse(ctx: WsContext, err: unknown): void {
    const connection = connections.get(ctx);
    if (connection !== undefined) {
      connection.closed = true;
      clearTimeout(connection.expiry);
    }
    const app = appErrorOf(err);
    if (app === undefined) {
      logger.error('websocket authentication failed unexpectedly', { error: String(err) });
      ctx.extra.socket.close(CloseCode.InternalServerError, 'Internal server error');
    } else {
      ctx.extra.socket.close(CLOSE_CODES[app.code] ?? CloseCode.BadRequest, closeReason(app.message));
    }
  }

  /**
   * The connection's caller by its stored credentials as of now, by the same `authenticate` as `connection_init`;
   * undefined (and the socket closed) when they no longer work or the connection is gone.
   */
  async function reauthenticate(ctx: WsContext): Promise<Caller | undefined> {
    const connection = connections.get(ctx);
    if (connection === undefined || connection.closed) return undefined;
    let caller: Caller;
    try {
      caller = await options.authenticate(connection.request);
    } catch (err) {
      // A refusal (revoked, expired) closes the socket. A fault of the check itself (the key store or the JWKS
      // unreachable for a moment) is not one: the caller as last confirmed stands for a grace period, as a fault
      // fails one HTTP request rather than every stream of a socket.
      if (appErrorOf(err) === undefined && Date.now() - connection.checkedAt < RECHECK_GRACE_MS) {
        logger.warn('websocket credential check failed; the last confirmed caller stands', { error: String(err) });
        return connection.caller;
      }
      if (!connection.closed) refuse(ctx, err);
      return undefined;
    }
    if (connection.closed) return undefined;
    // The same credentials name the same caller; anything else is refused rather than switching identities.
    if (caller.id !== connection.caller.id) {
      refuse(ctx, new AppError('UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE));
      return undefined;
    }
    connection.caller = caller;
    connection.checkedAt = Date.now();
    return caller;
  }

  /**
   * For a JWT caller: a check when the token's `exp` passes, closing the socket if the token is refused by then.
   * The verifier may still accept it for its clock skew; it is checked again every second until it is refused.
   */
  function scheduleExpiryCheck(ctx: WsContext, connection: Connection): void {
    clearTimeout(connection.expiry);
    connection.expiry = undefined;
    const exp = connection.caller.via === 'jwt' ? connection.caller.attributes['exp'] : undefined;
    if (typeof exp !== 'number' || connection.closed) return;
    const untilExpiry = exp * 1000 - Date.now();
    const delay = untilExpiry > 0 ? Math.min(untilExpiry, MAX_TIMER_MS) : EXPIRED_RECHECK_MS;
    connection.expiry = setTimeout(() => {
      void reauthenticate(ctx).then((caller) => {
        if (caller !== undefined) scheduleExpiryCheck(ctx, connection);
      });
    }, delay);
    connection.expiry.unref();
  }
}

type WsContext = Context<Record<string, unknown>, Extra>;

interface Connection {
  /** The request `authenticate` saw in `connection_init`: the credentials every later check uses. */
  readonly request: { headers: IncomingHttpHeaders };
  /** The caller as of the last successful check. */
  caller: Caller;
  /** Set once the socket is being closed (refused) or has closed: no operation or event goes through. */
  closed: boolean;
  /** The pending JWT expiry check. */
  expiry: NodeJS.Timeout | undefined;
  /** When `caller` was last confirmed (ms since the epoch). */
  checkedAt: number;
}

/** How long the last confirmed caller stands while the credential check itself fails (not a refusal). */
const RECHECK_GRACE_MS = 60_000;

/** The longest setTimeout delay; a later expiry is reached in steps (each step re-checks the token). */
const MAX_TIMER_MS = 2_147_483_647;
/** How often a JWT past its `exp` is checked again while the verifier's clock skew still accepts it. */
const EXPIRED_RECHECK_MS = 1000;

function unauthenticated(): GraphQLError {
  return new GraphQLError(UNAUTHENTICATED_MESSAGE, { extensions: { code: 'UNAUTHENTICATED' } });
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
