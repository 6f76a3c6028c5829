import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import type { AppConfig } from './config.js';
import { UnauthenticatedError } from './auth/auth-errors.js';
import { type ApiContext, type ApiServices, type Caller, createApiContext } from './graphql/context.js';
import { createErrorFormatter, toRequestError } from './graphql/errors.js';
import { createHardening } from './graphql/plugins/hardening.js';
import { serveSubscriptions } from './http/subscriptions.js';
import { BODY_ERRORS, isJson } from './http/request-body.js';
import { buildGraphQLSchema } from './graphql/schema.js';
import type { Logger } from './ports/logger.js';
import { describeError } from './domain/errors.js';

/** What the API needs from the composition root. */
export interface ApiDeps extends ApiServices {
  logger: Logger;
  /**
   * Resolves the caller of a request (src/auth/authenticate-request.ts over the Authenticator: API keys and JWTs);
   * it throws an AppError-derived GraphQLError (see `toRequestError`) to refuse. It sees the request's headers: an
   * HTTP request's, or, for a websocket, the upgrade request's with `authorization` taken from the graphql-ws
   * `connectionParams` (browsers cannot set websocket headers); a refused websocket is closed with 4401
   * (UNAUTHENTICATED) or 4403 (FORBIDDEN). No caller (null, or no `authenticate` at all) is refused as
   * UNAUTHENTICATED: nothing but `GET /healthz` (and the routes' own anonymous ones: `/readyz`, signed downloads,
   * feeds by token, the console's files) is served anonymously.
   */
  authenticate?: (request: AuthRequest) => Promise<Caller | null>;
  /**
   * Extra HTTP routes (e.g. signed downloads, feeds, the console), mounted before `/graphql`. `seams` lets a route
   * resolve its caller exactly as GraphQL does.
   */
  routes?: (app: Express, seams: RouteSeams) => void;
  /** A prebuilt schema; built from the resolvers when absent. */
  schema?: GraphQLSchema;
}

/** What the server hands extra routes. */
export interface RouteSeams {
  /** The caller of a request as `/graphql` resolves it: `authenticate`, or null (anonymous) without it. Throws alike. */
  authenticate(request: AuthRequest): Promise<Caller | null>;
}

/** What `authenticate` reads of a request: its headers (an express Request qualifies). */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
}

export interface ApiServerConfig {
  host: string;
  /** 0 picks a free port; `url` tells which after `start()`. */
  port: number;
  env: AppConfig['env'];
  /**
   * Query depth and cost, the per-key rate, the request body size, the request timeout and introspection
   * (config.limits).
   */
  limits: AppConfig['limits'];
}

export interface ApiServer {
  /** `http://host:port` once started; throws before. */
  readonly url: string;
  /** The GraphQL endpoint, `${url}/graphql`. */
  readonly graphqlUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const GRAPHQL_PATH = '/graphql';

/**
 * The HTTP server: express 5 with Apollo Server at `/graphql` and `GET /healthz`, plus GraphQL subscriptions over
 * websockets (graphql-ws) at the same path, with the same schema, context, caller resolution and error masking.
 * CSRF prevention stays on (Apollo's default): a request that a browser could send cross-site without a preflight
 * (a `text/plain` POST, a GET without `apollo-require-preflight`) is refused.
 */
export function createApiServer(deps: ApiDeps, config: ApiServerConfig): ApiServer {
  const logger = deps.logger.child({ component: 'api' });
  const app = express();
  app.disable('x-powered-by');
  const httpServer: Server = createServer(app);
  // Time to receive a whole request (headers and body) from a client: a slow sender cannot hold a socket open. A
  // response (a long download) is not limited by it.
  httpServer.requestTimeout = config.limits.requestTimeoutMs;
  httpServer.headersTimeout = Math.min(config.limits.requestTimeoutMs, 60_000);
  let apollo: ApolloServer<ApiContext> | undefined;
  let subscriptions: { dispose(): Promise<void> } | undefined;
  let address: AddressInfo | undefined;

  const url = (): string => {
    if (address === undefined) throw new Error('the API server is not started');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  };

  return {
    get url() {
      return url();
    },
    get graphqlUrl() {
      return `${url()}${GRAPHQL_PATH}`;
    },

    async start(): Promise<void> {
      const schema = deps.schema ?? (await buildGraphQLSchema());
      const { logger: _logger, authenticate, routes: _routes, schema: _schema, ...rest } = deps;
      const services: ApiServices = rest;
      const { access, audit } = services;
      const formatError = createErrorFormatter({ env: config.env, logger });
      /** The caller of a request, or UNAUTHENTICATED (HTTP 401) before anything else runs. */
      const callerOf = async (request: AuthRequest): Promise<Caller> => {
        const caller = authenticate === undefined ? null : await authenticate(request);
        if (caller === null) throw toRequestError(new UnauthenticatedError('missing'));
        return caller;
      };
      const hardening = createHardening<ApiContext>({
        env: config.env,
        limits: config.limits,
        keyOf: (ctx) => ctx.caller?.id,
        mayIntrospect: (ctx) => ctx.caller !== null && access.can(ctx.caller, 'canUseGraphiql'),
        onRefused: (ctx, refusal) => {
          if (ctx.caller === null) return;
          audit.accessDenied(
            ctx.caller,
            { action: 'graphql' },
            refusal.kind === 'cost'
              ? `query cost ${refusal.cost} over the limit of ${config.limits.maxQueryCost}`
              : `rate limit: ${refusal.tokens} token(s) over the budget of ${config.limits.ratePerMinute} per minute`,
          );
        },
      });
      // Upgrades are handed over here rather than with `{ server }`: ws forwards the HTTP server's errors to the
      // WebSocket server, and graphql-ws printed its own stack trace for a port in use before the real message.
      // ws still checks the path (`shouldHandle`) and refuses others itself: 400, the socket destroyed, its errors
      // handled.
      const wsServer = new WebSocketServer({ noServer: true, path: GRAPHQL_PATH });
      httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
      });
      subscriptions = serveSubscriptions(wsServer, {
        schema,
        formatError,
        logger,
        production: config.env === 'production',
        development: config.env === 'development',
        context: (caller) => createApiContext(services, { caller, logger }),
        authenticate: callerOf,
        validationRules: hardening.validationRules,
        maxCost: config.limits.maxQueryCost,
        rateLimiter: hardening.rateLimiter,
        onRefused: (caller, reason) => audit.accessDenied(caller, { action: 'subscription' }, reason),
      });
      const plugins: ApolloServerPlugin<ApiContext>[] = [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        // Every answer depends on its caller (grants, masks) and no field sets a cache hint, so every answer is
        // `Cache-Control: no-store`, as Apollo's cache-control plugin (on by default) would say. That plugin is off:
        // it instruments every field of every request to compute that constant (measured: about a third of the CPU
        // of the metadata benchmark's query).
        ApolloServerPluginCacheControlDisabled(),
        {
          requestDidStart: () =>
            Promise.resolve({
              willSendResponse: ({ response }) => {
                response.http.headers.set('cache-control', 'no-store');
                return Promise.resolve();
              },
            }),
        },
        {
          // Websockets are upgraded sockets the HTTP drain does not see: close them first.
          serverWillStart: () =>
            Promise.resolve({
              drainServer: () => subscriptions?.dispose() ?? Promise.resolve(),
            }),
        },
        config.env === 'production'
          ? ApolloServerPluginLandingPageDisabled()
          : ApolloServerPluginLandingPageLocalDefault({ embed: false }),
      ];
      apollo = new ApolloServer<ApiContext>({
        schema,
        // Batching and automatic persisted queries off, CSRF prevention on, a parser token cap, introspection per config.limits (and per role).
        ...hardening.apolloOptions,
        validationRules: hardening.validationRules,
        plugins: [...plugins, ...hardening.plugins],
        includeStacktraceInErrorResponses: false,
        formatError,
        logger: apolloLogger(logger),
        // The process stops the server itself (serve.ts): Apollo's own signal handler stopped only Apollo, then sent
        // the signal again, which killed the process before the export jobs were handed back and the export runner
        // lease released (the next start was then refused for 30 s).
        stopOnTerminationSignals: false,
      });
      await apollo.start();

      app.get('/healthz', (_req, res) => {
        res.json({ status: 'ok' });
      });
      deps.routes?.(app, {
        authenticate: (request) => (authenticate !== undefined ? authenticate(request) : Promise.resolve(null)),
      });
      app.use(
        GRAPHQL_PATH,
        express.json({ limit: config.limits.bodyLimitBytes }),
        expressMiddleware(apollo, {
          context: async ({ req }) => createApiContext(services, { caller: await callerOf(req), logger }),
        }),
      );
      app.use(notFound);
      app.use(httpErrors(logger));

      await new Promise<void>((resolve, reject) => {
        const refused = (err: NodeJS.ErrnoException): void =>
          reject(
            err.code === 'EADDRINUSE'
              ? new Error(
                  `port ${config.port} on ${config.host} is in use (another careplus serve?): stop that, or set CAREPLUS_PORT to another port (0 picks a free one)`,
                  { cause: err },
                )
              : err,
          );
        httpServer.once('error', refused);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', refused);
          resolve();
        });
      });
      address = httpServer.address() as AddressInfo;
      logger.info('API listening', { url: url() });
    },

    async stop(): Promise<void> {
      if (apollo !== undefined) {
        // The drain plugin closes the HTTP server and waits for in-flight requests.
        await apollo.stop();
        apollo = undefined;
      } else {
        await subscriptions?.dispose();
        if (httpServer.listening) {
          await new Promise<void>((resolve, reject) => httpServer.close((err) => (err ? reject(err) : resolve())));
        }
      }
      subscriptions = undefined;
      address = undefined;
    },
  };
}

function notFound(_req: Request, res: Response): void {
  res.status(404).json({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
}

/** Errors before Apollo (body too large, malformed JSON) as GraphQL-shaped JSON; never express's HTML with a stack. */
function httpErrors(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ errors: [{ message: BODY_ERRORS.tooLarge, extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = bodyErrorMessage(err, req);
      res.status(status).json({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    logger.error('unexpected error in an HTTP request', {
      error: describeError(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    res.status(500).json({ errors: [{ message: 'Unexpected error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  };
}

/**
 * What a client is told of a body the JSON parser (body-parser) refused, naming what to fix: before, every refusal
 * but malformed JSON was "Bad request", and JSON that is not an object (a string, a number) was "not valid JSON".
 * Only the parser's own facts are echoed (a charset or encoding name the client sent), never the body.
 */
function bodyErrorMessage(err: unknown, req: Request): string {
  const e = err as { type?: unknown; body?: unknown; charset?: unknown; encoding?: unknown };
  switch (e.type) {
    case 'entity.parse.failed':
      return typeof e.body === 'string' && isJson(e.body) ? BODY_ERRORS.notObject : BODY_ERRORS.notJson;
    case 'charset.unsupported':
      return BODY_ERRORS.charset(String(e.charset ?? ''));
    case 'encoding.unsupported':
      return BODY_ERRORS.encoding(String(e.encoding ?? ''));
  }
  const encoding = req.headers['content-encoding'];
  if (e.type === undefined && typeof encoding === 'string' && !/^\s*identity\s*$/i.test(encoding)) {
    // The decompression stream failed: the body is not what its Content-Encoding says.
    return BODY_ERRORS.undecodable(encoding);
  }
  return 'Bad request';
}

/** Apollo's logger interface over ours. */
function apolloLogger(logger: Logger) {
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return {
    debug: (...args: unknown[]) => logger.debug(text(args)),
    info: (...args: unknown[]) => logger.info(text(args)),
    warn: (...args: unknown[]) => logger.warn(text(args)),
    error: (...args: unknown[]) => logger.error(text(args)),
  };
}
