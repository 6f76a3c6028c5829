import { Field, Int, ObjectType } from 'type-graphql';
import type { DatasetFreshness } from '../../services/dataset-service.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';

@ObjectType('Freshness', {
  description: 'How recent the data of a dataset is.',
  // Plain fields read the property with GraphQL's default resolver: no type-graphql wrapper per field and request.
  simpleResolvers: true,
})
export class Freshness {
  @Field(() => String, {
    nullable: true,
    description:
      "The column whose newest value is the newest event: the definition's event time, else the first TIMESTAMP column, else a DATE partition key. Null when there is none.",
  })
  eventTimeColumn!: string | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description:
      'Newest value of `eventTimeColumn`, from statistics. Null when you may not see its statistics: your role lacks `canSeeStats`, the column is masked, or the access policy filters your rows.',
  })
  newestEventTime!: Date | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description:
      'When the newest data file was written; under a row filter of the access policy on a partition key, the newest of the partitions it leaves you.',
  })
  newestWriteTime!: Date | null;

  @Field(() => SafeIntScalar, { nullable: true, description: 'Seconds from `newestEventTime` to now.' })
  eventLagSeconds!: number | null;

  @Field(() => SafeIntScalar, { nullable: true, description: 'Seconds from `newestWriteTime` to now.' })
  writeLagSeconds!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'How often new data is expected, from the dataset definition; null without a definition.',
  })
  expectedIntervalMinutes!: number | null;

  @Field({ description: 'No data file was written within the expected interval (false when none is defined).' })
  stale!: boolean;

  static from(freshness: DatasetFreshness): Freshness {
    return Object.assign(new Freshness(), freshness);
  }
}
