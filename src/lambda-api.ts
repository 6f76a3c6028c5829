import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
import { handlers, startServerAndCreateLambdaHandler } from '@as-integrations/aws-lambda';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { JsonLogger } from './adapters/local/json-logger.js';
import { createRuntime } from './composition.js';
import { createApiServices } from './composition-api.js';
import { loadConfig } from './config.js';
import { type ApiContext, createApiContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/errors.js';
import { buildGraphQLSchema } from './graphql/schema.js';

/**
 * The GraphQL API on AWS Lambda behind an API Gateway HTTP API (payload format 2.0), through Apollo's Lambda
 * integration. The same schema, services and error formatting as the HTTP server (src/server.ts); HTTP APIs
 * carry no websockets, so subscriptions are not served here and clients poll. Configuration is read once per
 * container; the runtime (stores, catalog, DuckDB) and the schema are built on the first request and reused.
 */
const config = loadConfig();
const logger = new JsonLogger(config.logLevel).child({ component: 'api-lambda' });

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

async function createGraphqlHandler(): Promise<ApiHandler> {
  const runtime = await createRuntime(config, { logger });
  const services = createApiServices(runtime);
  const server = new ApolloServer<ApiContext>({
    schema: await buildGraphQLSchema(),
    csrfPrevention: true,
    introspection: config.env !== 'production',
    includeStacktraceInErrorResponses: false,
    formatError: createErrorFormatter({ env: config.env, logger }),
  });
  const lambdaHandler = startServerAndCreateLambdaHandler(
    server,
    handlers.createAPIGatewayProxyEventV2RequestHandler(),
    {
      context: async ({ event }) =>
        createApiContext(services, { caller: null, logger, requestId: event.requestContext.requestId }),
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
  graphql ??= createGraphqlHandler().catch((err: unknown) => {
    // A failed start is retried by the next request instead of failing the container for its lifetime.
    graphql = undefined;
    throw err;
  });
  return (await graphql)(event, context);
}
