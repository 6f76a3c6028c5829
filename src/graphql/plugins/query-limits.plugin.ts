import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLError } from 'graphql';
import { LimitExceededError } from '../../domain/errors.js';
import { analyzeOperation, DEFAULT_COST_MODEL, type QueryCostModel } from './query-analysis.js';
import { limitExceeded } from './limit-exceeded.js';
import type { TokenBucketRateLimiter } from './rate-limiter.js';

export interface QueryLimitsOptions<TContext extends BaseContext> {
  /** config.limits.maxQueryCost. */
  maxCost: number;
  model?: QueryCostModel;
  /** Per-key limiter for mutations and expensive fields; none: no rate limit. */
  rateLimiter?: TokenBucketRateLimiter;
  /** The rate-limit key of a request: the caller's id (API key or token subject). */
  keyOf?: (context: TContext) => string | undefined;
  /** Told about every refusal, e.g. to audit it. */
  onRefused?: (context: TContext, refusal: { kind: 'cost' | 'rate'; cost: number; tokens: number }) => void;
}

/**
 * Refuses, before execution, an operation whose estimated cost exceeds `maxCost` (HTTP 400) and one that needs more
 * rate-limit tokens than the caller has left (HTTP 429 with Retry-After), both with LIMIT_EXCEEDED. The cost check
 * comes first, so a refused operation takes no tokens. Runs in `didResolveOperation`, where the variables are
 * known, so `first: $n` is counted at its real value.
 *
 * An operation refused by a limit (here, or by the depth rule during validation) is answered with that refusal
 * alone: a document 20 levels deep on a schema less deep than that is also full of unknown fields, and listing them
 * would only describe the schema to whoever probes it.
 */
export function queryLimitsPlugin<TContext extends BaseContext>(
  options: QueryLimitsOptions<TContext>,
): ApolloServerPlugin<TContext> {
  const model = options.model ?? DEFAULT_COST_MODEL;
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors(requestContext) {
          // Apollo formats the very array it hands here; keeping only the refusal is done in place.
          const errors = requestContext.errors as GraphQLError[];
          const refusal = errors.find((e) => e.originalError instanceof LimitExceededError);
          if (refusal !== undefined && errors.length > 1) errors.splice(0, errors.length, refusal);
        },
        async didResolveOperation({ schema, document, request, contextValue }) {
          const analysis = analyzeOperation(schema, document, request, model);
          if (analysis === undefined) return;
          if (analysis.cost > options.maxCost) {
            options.onRefused?.(contextValue, { kind: 'cost', cost: analysis.cost, tokens: analysis.rateTokens });
            throw limitExceeded(
              `the query's estimated cost ${analysis.cost} is over the limit of ${options.maxCost}: ` +
                'ask for fewer items (first, limit), fewer aliases or fewer expensive fields',
            );
          }
          if (options.rateLimiter === undefined || analysis.rateTokens === 0) return;
          if (analysis.rateTokens > options.rateLimiter.capacity) {
            // Waiting would never help (the bucket never holds that many): say so rather than "retry in 1 s".
            options.onRefused?.(contextValue, { kind: 'rate', cost: analysis.cost, tokens: analysis.rateTokens });
            throw limitExceeded(
              `the operation takes ${analysis.rateTokens} rate-limit tokens (one per mutation and per expensive ` +
                `field, aliases included), more than the ${options.rateLimiter.capacity} a caller may spend at once: ` +
                'split it into smaller operations',
            );
          }
          const key = options.keyOf?.(contextValue) ?? 'anonymous';
          const decision = options.rateLimiter.take(key, analysis.rateTokens);
          if (!decision.allowed) {
            options.onRefused?.(contextValue, { kind: 'rate', cost: analysis.cost, tokens: analysis.rateTokens });
            throw limitExceeded(
              `rate limit exceeded for mutations and expensive fields: retry in ${decision.retryAfterSeconds} s`,
              { status: 429, retryAfterSeconds: decision.retryAfterSeconds },
            );
          }
        },
      };
    },
  };
}
