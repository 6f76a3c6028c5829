import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeRule } from '../nag.js';
import { ServiceFunction } from './service-function.js';

export interface GraphqlApiProps {
  codeDir: string;
  layers: ILayerVersion[];
  memoryMiB: number;
  ephemeralStorageMiB: number;
  timeoutSeconds: number;
  throttleRatePerSecond: number;
  throttleBurst: number;
  environment: Record<string, string>;
  logRetention: RetentionDays;
}

/** Paths the HTTP API routes to the function; anything else is answered 404 by API Gateway itself. */
export const API_ROUTES = [
  {
    path: '/graphql',
    methods: [HttpMethod.POST, HttpMethod.GET],
    noAuthorizerReason:
      'The API authenticates every GraphQL request itself (Authorization: Bearer <API key or JWT>, keys stored ' +
      'as hashes, issue 6) and answers UNAUTHENTICATED; an API Gateway authorizer would duplicate that check.',
  },
  {
    path: '/feeds/{file}',
    methods: [HttpMethod.GET, HttpMethod.HEAD],
    noAuthorizerReason:
      "A BI feed is opened by its own read token (?token=, stored as a hash) or the creator's API key, both checked " +
      'by the API itself (src/lambda-feed.ts); an API Gateway authorizer would duplicate that check.',
  },
  {
    path: '/console',
    methods: [HttpMethod.GET],
    noAuthorizerReason:
      "The web console's pages and assets are public files that carry no data; the pages send the API key a user " +
      'pastes to /graphql, where the API checks it (src/lambda-console.ts).',
  },
  {
    path: '/console/{proxy+}',
    methods: [HttpMethod.GET],
    noAuthorizerReason:
      "The web console's pages and assets are public files that carry no data; its GraphiQL access check " +
      'authenticates the caller itself (src/lambda-console.ts).',
  },
  {
    path: '/healthz',
    methods: [HttpMethod.GET],
    noAuthorizerReason:
      'GET /healthz is public on purpose: a liveness probe that answers {"status":"ok"} and reads no data.',
  },
] as const;

/**
 * The GraphQL API as a Lambda function (Apollo's Lambda integration, src/lambda-api.ts) behind an API Gateway
 * HTTP API. HTTP APIs carry no websockets, so the `exportUpdated` subscription is not served here; clients poll
 * `export(id)`. Callers authenticate with `Authorization: Bearer <key>`, checked by the API itself. BI feeds are
 * served at `GET /feeds/<name>.csv` (a redirect to the result's presigned S3 URL, see src/lambda-feed.ts), and the
 * web console at `/console/` (src/lambda-console.ts).
 */
export class GraphqlApi extends Construct {
  readonly handler: ServiceFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  /** Base URL of the API (no trailing slash); the GraphQL endpoint is `${url}/graphql`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: GraphqlApiProps) {
    super(scope, id);
    this.handler = new ServiceFunction(this, 'Handler', {
      description: 'CarePlus GraphQL API (Apollo Server, S3 + Glue + Athena)',
      codeDir: props.codeDir,
      layers: props.layers,
      memoryMiB: props.memoryMiB,
      ephemeralStorageMiB: props.ephemeralStorageMiB,
      timeout: Duration.seconds(props.timeoutSeconds),
      environment: props.environment,
      logRetention: props.logRetention,
    });

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'CarePlus DataStores GraphQL API',
      // The stage is created below with throttling and access logs.
      createDefaultStage: false,
    });
    const integration = new HttpLambdaIntegration('Graphql', this.handler.function);
    for (const route of API_ROUTES) {
      const routes = this.httpApi.addRoutes({ path: route.path, methods: [...route.methods], integration });
      for (const r of routes) acknowledgeRule(r, 'AwsSolutions-APIG4', route.noAuthorizerReason);
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRatePerSecond, burstLimit: props.throttleBurst },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // One JSON line per request; headers (and so API keys) are never logged.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.path',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            responseLatencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.url = this.httpApi.apiEndpoint;
    // Feed URLs (`createFeed`) name the API's own endpoint.
    this.handler.function.addEnvironment('CAREPLUS_PUBLIC_URL', this.url);
    // The web console's files, carried by the bundle (scripts/build-bundles.ts).
    this.handler.function.addEnvironment('CAREPLUS_CONSOLE_DIR', '/var/task/console');
  }
}
