import { Field, InputType } from 'type-graphql';

@InputType('ExportPartitionsInput', {
  description:
    'Which partitions to read: listed values and/or an inclusive range, compared by the key type. Only those files are read.',
})
export class ExportPartitionsInput {
  @Field(() => String, {
    nullable: true,
    description: 'The partition key; default the first one you see in clear (not masked, not hidden).',
  })
  column?: string | null;

  @Field(() => [String], { nullable: true, description: 'Partition values, e.g. `["2024-01-01", "2024-01-02"]`.' })
  values?: string[] | null;

  @Field(() => String, { nullable: true, description: 'Inclusive lower bound.' })
  from?: string | null;

  @Field(() => String, { nullable: true, description: 'Inclusive upper bound.' })
  to?: string | null;
}
