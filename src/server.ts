import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import type { AppConfig } from './config.js';
import { type ApiContext, type ApiServices, type Caller, createApiContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/errors.js';
import { serveSubscriptions } from './http/subscriptions.js';
import { buildGraphQLSchema } from './graphql/schema.js';
import type { Logger } from './ports/logger.js';

/** What the API needs from the composition root. */
export interface ApiDeps extends ApiServices {
  logger: Logger;
  /**
   * Resolves the caller of a request. Until authentication exists every caller is anonymous (null); the
   * auth layer replaces this and throws an AppError-derived GraphQLError (see `toRequestError`) to refuse. It sees
   * the request's headers: an HTTP request's, or, for a websocket, the upgrade request's with `authorization` taken
   * from the graphql-ws `connectionParams` (browsers cannot set websocket headers); a refused websocket is closed
   * with 4401 (UNAUTHENTICATED) or 4403 (FORBIDDEN).
   */
  authenticate?: (request: AuthRequest) => Promise<Caller | null>;
  /** Extra HTTP routes (e.g. signed downloads), mounted before `/graphql`. */
  routes?: (app: Express) => void;
  /** A prebuilt schema; built from the resolvers when absent. */
  schema?: GraphQLSchema;
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
  /** Largest JSON request body. Default `1mb`. */
  bodyLimit?: string;
  /** Schema introspection. Default: on except in production. */
  introspection?: boolean;
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
      const formatError = createErrorFormatter({ env: config.env, logger });
      const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH });
      subscriptions = serveSubscriptions(wsServer, {
        schema,
        formatError,
        logger,
        production: config.env === 'production',
        context: (caller) => createApiContext(services, { caller, logger }),
        ...(authenticate !== undefined ? { authenticate } : {}),
      });
      const plugins: ApolloServerPlugin<ApiContext>[] = [
        ApolloServerPluginDrainHttpServer({ httpServer }),
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
        plugins,
        csrfPrevention: true,
        introspection: config.introspection ?? config.env !== 'production',
        includeStacktraceInErrorResponses: false,
        formatError,
        logger: apolloLogger(logger),
      });
      await apollo.start();

      app.get('/healthz', (_req, res) => {
        res.json({ status: 'ok' });
      });
      deps.routes?.(app);
      app.use(
        GRAPHQL_PATH,
        express.json({ limit: config.bodyLimit ?? '1mb' }),
        expressMiddleware(apollo, {
          context: async ({ req }) =>
            createApiContext(services, {
              caller: authenticate ? await authenticate(req) : null,
              logger,
            }),
        }),
      );
      app.use(notFound);
      app.use(httpErrors(logger));

      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
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
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ errors: [{ message: 'Request body too large', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = type === 'entity.parse.failed' ? 'Request body is not valid JSON' : 'Bad request';
      res.status(status).json({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    logger.error('unexpected error in an HTTP request', {
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    res.status(500).json({ errors: [{ message: 'Unexpected error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  };
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
