import { Field, InputType } from 'type-graphql';
import { DateTimeScalar } from '../scalars.js';

@InputType('DatasetFilter', { description: 'Conditions a dataset must all meet to be listed.' })
export class DatasetFilterInput {
  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive text found in the name, the description or a column name.',
  })
  search?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Only datasets with (true) or without (false) a PII column.' })
  hasPii?: boolean | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Only datasets whose data or schema changed at or after this instant (see `Dataset.lastUpdated`).',
  })
  updatedSince?: Date | null;
}
