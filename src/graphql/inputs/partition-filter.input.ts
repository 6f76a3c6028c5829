import { Field, InputType } from 'type-graphql';

@InputType('PartitionFilter', {
  description:
    'A condition on one partition key; every bound given must hold. Values are text in the key type (yyyy-mm-dd for DATE); bounds compare by the key type.',
})
export class PartitionFilterInput {
  @Field({ description: 'A partition key of the dataset.' })
  key!: string;

  @Field(() => String, { nullable: true })
  eq?: string | null;

  @Field(() => [String], { nullable: true })
  in?: string[] | null;

  @Field(() => String, { nullable: true, description: 'At least this value (inclusive).' })
  gte?: string | null;

  @Field(() => String, { nullable: true, description: 'At most this value (inclusive).' })
  lte?: string | null;
}
