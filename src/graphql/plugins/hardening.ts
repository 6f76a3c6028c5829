import type { ApolloServerOptions, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, type ValidationRule } from 'graphql';
import type { AppConfig } from '../../config.js';
import { depthLimitRule } from './depth-limit.rule.js';
import { INTROSPECTION_OFF, introspectionGatePlugin } from './introspection-gate.plugin.js';
import { DEFAULT_COST_MODEL, type QueryCostModel } from './query-analysis.js';
import { queryLimitsPlugin } from './query-limits.plugin.js';
import { TokenBucketRateLimiter } from './rate-limiter.js';
import { stripSuggestionsPlugin } from './strip-suggestions.plugin.js';

/**
 * Most tokens a GraphQL document may have; the parser stops past it (GRAPHQL_PARSE_FAILED). It bounds the work of
 * validation, some of whose rules are quadratic in the number of fields, before any limit of ours runs. 1,000
 * aliases of an expensive field fit (and are then refused by the cost limit, with LIMIT_EXCEEDED).
 */
export const MAX_QUERY_TOKENS = 20_000;

export interface HardeningOptions<TContext extends BaseContext> {
  env: AppConfig['env'];
  limits: AppConfig['limits'];
  /** The rate-limit key of a request: the authenticated caller's id. */
  keyOf: (context: TContext) => string | undefined;
  /** Whether the caller may introspect (the `canUseGraphiql` capability); absent: everyone may, when enabled. */
  mayIntrospect?: (context: TContext) => boolean;
  model?: QueryCostModel;
  onRefused?: (context: TContext, refusal: { kind: 'cost' | 'rate'; cost: number; tokens: number }) => void;
  /** Milliseconds since the epoch, for the rate limiter; tests fix it. */
  now?: () => number;
}

/** What src/server.ts spreads into `new ApolloServer({ schema, ...apolloOptions, validationRules, plugins })`. */
export interface Hardening<TContext extends BaseContext> {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<TContext>[];
  apolloOptions: Pick<
    ApolloServerOptions<TContext>,
    | 'allowBatchedHttpRequests'
    | 'persistedQueries'
    | 'csrfPrevention'
    | 'introspection'
    | 'parseOptions'
    | 'hideSchemaDetailsFromClientErrors'
  >;
  /** Shared with the websocket server, so subscriptions draw on the same per-key budget. */
  rateLimiter: TokenBucketRateLimiter;
}

/**
 * The API's limits in one bundle: depth (validation rule), cost and per-key rate (plugin), no batching, no automatic
 * persisted queries, CSRF prevention on, a parser token cap, introspection per config (and per role), and no "Did you
 * mean" outside development.
 */
export function createHardening<TContext extends BaseContext>(
  options: HardeningOptions<TContext>,
): Hardening<TContext> {
  const rateLimiter = new TokenBucketRateLimiter({
    capacity: options.limits.ratePerMinute,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  const development = options.env === 'development';
  const plugins: ApolloServerPlugin<TContext>[] = [
    subscriptionsNotOverHttpPlugin<TContext>(),
    queryLimitsPlugin<TContext>({
      maxCost: options.limits.maxQueryCost,
      model: options.model ?? DEFAULT_COST_MODEL,
      rateLimiter,
      keyOf: options.keyOf,
      ...(options.onRefused !== undefined ? { onRefused: options.onRefused } : {}),
    }),
  ];
  if (!development) plugins.push(stripSuggestionsPlugin<TContext>());
  if (!options.limits.introspection) {
    plugins.push(introspectionGatePlugin<TContext>(() => false, INTROSPECTION_OFF));
  } else if (options.mayIntrospect !== undefined) {
    plugins.push(introspectionGatePlugin<TContext>(options.mayIntrospect));
  }
  return {
    validationRules: [depthLimitRule(options.limits.maxQueryDepth)],
    plugins,
    apolloOptions: {
      // Apollo 5's defaults, stated so that a change of default cannot silently turn them off.
      allowBatchedHttpRequests: false,
      // Automatic persisted queries (on by default) keep every registered query text in one cache for all callers:
      // any caller naming a hash ran another's query and learnt it had been asked. No client of this API sends them.
      persistedQueries: false,
      csrfPrevention: true,
      // The gate above refuses it where it is off, naming the setting.
      introspection: true,
      parseOptions: { maxTokens: MAX_QUERY_TOKENS },
      hideSchemaDetailsFromClientErrors: !development,
    },
    rateLimiter,
  };
}

/** What a subscription sent over HTTP is told. */
export const SUBSCRIPTION_OVER_HTTP_MESSAGE =
  'Subscriptions are not served over HTTP: open a websocket (graphql-ws, subprotocol graphql-transport-ws) at this ' +
  'path, or, where the server offers none (the API Lambda), poll export(id)';

/**
 * Refuses a subscription operation sent over HTTP (POST; Apollo itself refuses it over GET) with BAD_REQUEST and
 * HTTP 400 before anything runs. Apollo would execute it as a query, once: its resolver then ran without the job the
 * websocket's event stream hands it, and the client got "Unexpected error" (INTERNAL_SERVER_ERROR) with a server
 * fault in the log.
 */
export function subscriptionsNotOverHttpPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError(SUBSCRIPTION_OVER_HTTP_MESSAGE, {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        },
      };
    },
  };
}
