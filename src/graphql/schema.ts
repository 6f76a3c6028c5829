import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { ColumnResolver } from './resolvers/column.resolver.js';
import { DatasetExportResolver } from './resolvers/dataset-export.resolver.js';
import { DatasetResolver } from './resolvers/dataset.resolver.js';
import { ExportResolver } from './resolvers/export.resolver.js';
import { FeedResolver } from './resolvers/feed.resolver.js';
import { MeResolver } from './resolvers/me.resolver.js';
import { PartitionResolver } from './resolvers/partition.resolver.js';
import { PipelineRunResolver } from './resolvers/pipeline-run.resolver.js';
import { PipelineResolver } from './resolvers/pipeline.resolver.js';
import { DateTimeScalar } from './scalars.js';

/** Every resolver of the API; a new resolver is added here. */
export const RESOLVERS = [
  DatasetResolver,
  ColumnResolver,
  PartitionResolver,
  PipelineRunResolver,
  PipelineResolver,
  ExportResolver,
  DatasetExportResolver,
  FeedResolver,
  MeResolver,
] as const;

/**
 * type-graphql demands a PubSub once a schema has a subscription, but every subscription here brings its own
 * `subscribe` (e.g. ExportService.watchExport, which checks ownership and coalesces progress); topics are unused.
 */
const NO_TOPICS: PubSub = {
  publish: () => {
    throw new Error('topic subscriptions are not used: subscriptions supply their own `subscribe`');
  },
  subscribe: () => {
    throw new Error('topic subscriptions are not used: subscriptions supply their own `subscribe`');
  },
};

/**
 * Builds the executable schema from the type-graphql classes. Resolvers are stateless and reach services
 * through the per-request context (src/graphql/context.ts), so the default container suffices.
 */
export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...RESOLVERS],
    // JavaScript Date fields are `DateTime` (RFC 3339, UTC) rather than type-graphql's default `DateTimeISO`.
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    pubSub: NO_TOPICS,
    // Arguments are validated by the services, which raise AppErrors naming the field.
    validate: false,
  });
}
