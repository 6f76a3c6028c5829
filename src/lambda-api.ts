import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
import { handlers, startServerAndCreateLambdaHandler } from '@as-integrations/aws-lambda';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { JsonLogger } from './adapters/local/json-logger.js';
import { createRuntime } from './composition.js';
import { createApiAccess, createApiServices } from './composition-api.js';
import { loadConfig } from './config.js';
import { type ApiContext, type ApiServices, createApiContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/errors.js';
import { createHardening } from './graphql/plugins/hardening.js';
import { buildGraphQLSchema } from './graphql/schema.js';

/**
 * The GraphQL API on AWS Lambda behind an API Gateway HTTP API (payload format 2.0), through Apollo's Lambda
 * integration. The same schema, services, authentication, access policy, limits and error formatting as the HTTP
 * server (src/server.ts); HTTP APIs carry no websockets, so subscriptions are not served here and clients poll.
 * Configuration is read once per container; the runtime (stores, catalog, DuckDB), the policy and the schema are
 * built on the first request and reused. Only `GET /healthz` answers without credentials.
 *
 * The rate limit is per container (each Lambda instance keeps its own buckets): an upper bound per instance, not
 * per key across the fleet; API Gateway throttling is the fleet-wide limit.
 */
const config = loadConfig();
const logger = new JsonLogger(config.logLevel).child({ component: 'api-lambda' });

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

async function createGraphqlHandler(): Promise<ApiHandler> {
  const runtime = await createRuntime(config, { logger });
  const auth = await createApiAccess(runtime);
  const services: ApiServices = { ...createApiServices(runtime), access: auth.access, audit: auth.audit };
  const hardening = createHardening<ApiContext>({
    env: config.env,
    limits: config.limits,
    keyOf: (ctx) => ctx.caller?.id,
    mayIntrospect: (ctx) => ctx.caller !== null && auth.access.can(ctx.caller, 'canUseGraphiql'),
    onRefused: (ctx, refusal) => {
      if (ctx.caller !== null) auth.audit.accessDenied(ctx.caller, { action: 'graphql' }, `${refusal.kind} limit`);
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
          caller: await auth.authenticate({ headers: event.headers }),
          logger,
          requestId: event.requestContext.requestId,
        }),
    },
  );
  return async (event, context) => {
    // The integration's handler is promise-based; the callback argument of the Lambda signature is unused.
    const result = await lambdaHandler(event, context, () => undefined);
    if (result === undefined) throw new Error('the Apollo Lambda handler returned no response');
    return result;
  };
}

let graphql: Promise<ApiHandler> | undefined;

export async function handler(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  if (event.rawPath === '/healthz') {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' };
  }
  const bodyBytes =
    event.body === undefined ? 0 : Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bodyBytes > config.limits.bodyLimitBytes) {
    return {
      statusCode: 413,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errors: [{ message: 'Request body too large', extensions: { code: 'BAD_REQUEST' } }] }),
    };
  }
  graphql ??= createGraphqlHandler().catch((err: unknown) => {
    // A failed start is retried by the next request instead of failing the container for its lifetime.
    graphql = undefined;
    throw err;
  });
  return (await graphql)(event, context);
}
