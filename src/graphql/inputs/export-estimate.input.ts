import { Field, InputType } from 'type-graphql';
import { SafeIntScalar } from '../scalars.js';
import { ExportOrderInput } from './export-order.input.js';
import { ExportPartitionsInput } from './export-partitions.input.js';
import { ExportPredicateInput } from './export-predicate.input.js';

@InputType('ExportEstimateInput', { description: 'The slice of a dataset an export reads.' })
export class ExportEstimateInput {
  @Field(() => [String], { nullable: true, description: 'Columns in output order; default every visible column.' })
  columns?: string[] | null;

  @Field(() => [ExportPredicateInput], { nullable: true, description: 'Conditions a row must all meet.' })
  where?: ExportPredicateInput[] | null;

  @Field(() => ExportPartitionsInput, { nullable: true })
  partitions?: ExportPartitionsInput | null;

  @Field(() => [ExportOrderInput], { nullable: true })
  orderBy?: ExportOrderInput[] | null;

  @Field(() => SafeIntScalar, {
    nullable: true,
    description:
      'At most this many rows, from 1 to the configured cap (above it: LIMIT_EXCEEDED); the result says `truncated` when it cut rows.',
  })
  limit?: number | null;
}
