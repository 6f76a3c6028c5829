import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
import { handlers, startServerAndCreateLambdaHandler } from '@as-integrations/aws-lambda';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { JsonLogger } from './adapters/local/json-logger.js';
import type { Logger } from './ports/logger.js';
import { createRuntime } from './composition.js';
import { composeApi } from './composition-api.js';
import { type AppConfig, loadConfig } from './config.js';
import { ConfigError } from './domain/errors.js';
import { type ApiContext, type ApiServices, callerOrAnonymous, createApiContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/errors.js';
import { createHardening } from './graphql/plugins/hardening.js';
import { buildGraphQLSchema } from './graphql/schema.js';
import { CONSOLE_PATH, graphiqlAccessAnswer } from './http/console-route.js';
import { BODY_ERRORS, readJsonBody } from './http/request-body.js';
import { createLambdaConsoleHandler } from './lambda-console.js';
import { createLambdaFeedHandler } from './lambda-feed.js';
import { FEEDS_PATH } from './services/feed-service.js';

/**
 * The GraphQL API on AWS Lambda behind an API Gateway HTTP API (payload format 2.0), through Apollo's Lambda
 * integration. The same schema, services, authentication, access policy, limits and error formatting as the HTTP
 * server (src/server.ts); HTTP APIs carry no websockets, so subscriptions are not served here and clients poll.
 * Configuration is read once per container; the runtime (stores, catalog, DuckDB), the policy and the schema are
 * built on the first request and reused. Only `GET /healthz` answers without credentials.
 *
 * Exports: a Lambda container is frozen once it has answered, so it cannot run export jobs. `requestExport` records
 * the job and sends its id to the export queue (CAREPLUS_EXPORT_DISPATCH=sqs, required here); the export worker
 * (src/lambda-export-worker.ts) runs it. `export(id)`, `exports` and `cancelExport` read and change the job records
 * every process shares. BI feeds (`GET /feeds/<name>.csv`) are answered by src/lambda-feed.ts: a redirect to the
 * result's presigned S3 URL, as a Lambda answer cannot stream a large body. The web console (`/console/`) is answered
 * by src/lambda-console.ts from the files the bundle carries (CAREPLUS_CONSOLE_DIR).
 *
 * The rate limit is per container (each Lambda instance keeps its own buckets): an upper bound per instance, not
 * per key across the fleet; API Gateway throttling is the fleet-wide limit.
 */
export type ApiLambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The handler over a configuration; nothing is built until the first GraphQL request. `close` releases what the
 * first request built (Lambda never calls it; tests and other hosts do).
 */
export function createApiLambda(config: AppConfig): { handler: ApiLambdaHandler; close(): Promise<void> } {
  const logger = new JsonLogger(config.logLevel).child({ component: 'api-lambda' });
  let graphql: Promise<BuiltHandlers> | undefined;
  const built = (): Promise<BuiltHandlers> =>
    (graphql ??= createGraphqlHandler(config, logger).catch((err: unknown) => {
      // A failed start is retried by the next request instead of failing the container for its lifetime.
      graphql = undefined;
      throw err;
    }));
  // The console's files need nothing built: only its GraphiQL access check waits for the runtime.
  const consolePages = createLambdaConsoleHandler({
    dir: config.consoleDir,
    logger,
    checkGraphiqlAccess: async (headers) => (await built()).graphiqlAccess(headers),
  });
  const handler: ApiLambdaHandler = async (event, context) => {
    if (event.rawPath === '/healthz') {
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' };
    }
    const bodyBytes =
      event.body === undefined ? 0 : Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    if (bodyBytes > config.limits.bodyLimitBytes) {
      return {
        statusCode: 413,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errors: [{ message: BODY_ERRORS.tooLarge, extensions: { code: 'BAD_REQUEST' } }] }),
      };
    }
    if (event.rawPath === CONSOLE_PATH || event.rawPath.startsWith(`${CONSOLE_PATH}/`)) return consolePages(event);
    if (event.rawPath.startsWith(`${FEEDS_PATH}/`)) return (await built()).feed(event, context);
    // The body read as the server's JSON parser reads it, and refused with its words: Apollo's Lambda integration
    // answered a body that was not JSON with the parser's own message as plain text, took `Application/JSON` for no
    // body, and read a compressed body as it came.
    const body =
      event.body === undefined
        ? undefined
        : readJsonBody({
            bytes: Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'),
            headers: event.headers ?? {},
            limitBytes: config.limits.bodyLimitBytes,
          });
    if (body !== undefined && 'status' in body) {
      return {
        statusCode: body.status,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ errors: [{ message: body.message, extensions: { code: 'BAD_REQUEST' } }] }),
      };
    }
    const handlers = await built();
    if (body === undefined) return handlers.handle(event, context);
    const headers = Object.fromEntries(
      Object.entries(event.headers ?? {}).filter(
        ([k]) => !['content-type', 'content-encoding'].includes(k.toLowerCase()),
      ),
    );
    return handlers.handle(
      {
        ...event,
        headers: { ...headers, 'content-type': 'application/json' },
        body: body.text,
        isBase64Encoded: false,
      },
      context,
    );
  };
  const close = async (): Promise<void> => {
    const built = await graphql?.catch(() => undefined);
    graphql = undefined;
    await built?.close();
  };
  return { handler, close };
}

/** The handlers built on the first request: GraphQL, BI feeds and the web console. */
interface BuiltHandlers {
  handle: ApiLambdaHandler;
  feed: ApiLambdaHandler;
  /** The console's GraphiQL access check for a request's headers (see graphiqlAccessAnswer). */
  graphiqlAccess: (headers: Record<string, string | undefined>) => Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

async function createGraphqlHandler(config: AppConfig, logger: Logger): Promise<BuiltHandlers> {
  if (config.exports.dispatch !== 'sqs') {
    throw new ConfigError(
      'the API Lambda cannot run export jobs itself (a container is frozen once it answers): set CAREPLUS_EXPORT_DISPATCH=sqs and CAREPLUS_EXPORT_QUEUE_URL',
    );
  }
  const runtime = await createRuntime(config, { logger });
  // Built, never started: no recovery and no retention sweep here (the worker and the bucket's lifecycle own those).
  const composed = await composeApi(runtime).catch(async (err: unknown) => {
    await runtime.close();
    throw err;
  });
  const services: ApiServices = composed.services;
  const { access, audit } = services;
  const hardening = createHardening<ApiContext>({
    env: config.env,
    limits: config.limits,
    keyOf: (ctx) => ctx.caller?.id,
    mayIntrospect: (ctx) => ctx.caller !== null && access.can(ctx.caller, 'canUseGraphiql'),
    onRefused: (ctx, refusal) => {
      if (ctx.caller !== null) audit.accessDenied(ctx.caller, { action: 'graphql' }, `${refusal.kind} limit`);
    },
  });
  const server = new ApolloServer<ApiContext>({
    schema: await buildGraphQLSchema(),
    ...hardening.apolloOptions,
    validationRules: hardening.validationRules,
    plugins: hardening.plugins,
    includeStacktraceInErrorResponses: false,
    formatError: createErrorFormatter({ env: config.env, logger }),
  });
  const lambdaHandler = startServerAndCreateLambdaHandler(
    server,
    handlers.createAPIGatewayProxyEventV2RequestHandler(),
    {
      context: async ({ event }) =>
        createApiContext(services, {
          // Throws UNAUTHENTICATED (401) for a request without valid credentials, before anything runs.
          caller: await composed.authenticate({ headers: event.headers }),
          logger,
          requestId: event.requestContext.requestId,
        }),
    },
  );
  const feed = createLambdaFeedHandler({
    feeds: composed.services.feeds,
    store: runtime.store,
    links: composed.links,
    logger,
    authenticate: (headers) => composed.authenticate({ headers }),
    anonymous: callerOrAnonymous(null),
  });
  return {
    feed,
    graphiqlAccess: (headers) =>
      graphiqlAccessAnswer(
        () => composed.authenticate({ headers }),
        (caller) => caller !== null && access.can(caller, 'canUseGraphiql'),
        logger,
      ),
    async handle(event, context) {
      // The integration's handler is promise-based; the callback argument of the Lambda signature is unused.
      const result = await lambdaHandler(event, context, () => undefined);
      if (result === undefined) throw new Error('the Apollo Lambda handler returned no response');
      return result;
    },
    // Closes the export service and the engine (registered with the runtime), then DuckDB.
    close: () => runtime.close(),
  };
}

/** The Lambda entry point: configuration read once per container, at init. */
export const handler: ApiLambdaHandler = createApiLambda(loadConfig()).handler;
