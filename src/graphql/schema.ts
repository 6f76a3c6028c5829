import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { ColumnResolver } from './resolvers/column.resolver.js';
import { DatasetResolver } from './resolvers/dataset.resolver.js';
import { PartitionResolver } from './resolvers/partition.resolver.js';
import { PipelineResolver } from './resolvers/pipeline.resolver.js';
import { DateTimeScalar } from './scalars.js';

/** Every resolver of the API; a new resolver is added here. */
export const RESOLVERS = [DatasetResolver, ColumnResolver, PartitionResolver, PipelineResolver] as const;

/**
 * Builds the executable schema from the type-graphql classes. Resolvers are stateless and reach services
 * through the per-request context (src/graphql/context.ts), so the default container suffices.
 */
export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...RESOLVERS],
    // JavaScript Date fields are `DateTime` (RFC 3339, UTC) rather than type-graphql's default `DateTimeISO`.
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    // Arguments are validated by the services, which raise AppErrors naming the field.
    validate: false,
  });
}
