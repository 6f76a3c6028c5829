import { Field, ObjectType } from 'type-graphql';
import type { CanonicalValue } from '../../domain/export-values.js';
import type { NormalizedPartitionFilter } from '../../domain/export-request.js';
import { JSONScalar } from '../json-scalar.js';

@ObjectType('ExportPartitions', {
  description:
    'The partition filter as the job runs it: a range of one value, and values given with a range, show as the values they select (so that they are one request for re-use).',
})
export class ExportPartitions {
  @Field({ description: 'The partition key.' })
  column!: string;

  @Field(() => [JSONScalar], { nullable: true, description: 'Listed values, sorted and unique; null for none.' })
  values!: CanonicalValue[] | null;

  @Field(() => JSONScalar, { nullable: true, description: 'Inclusive lower bound.' })
  from!: CanonicalValue | null;

  @Field(() => JSONScalar, { nullable: true, description: 'Inclusive upper bound.' })
  to!: CanonicalValue | null;

  static from(f: NormalizedPartitionFilter): ExportPartitions {
    return Object.assign(new ExportPartitions(), { column: f.column, values: f.values, from: f.from, to: f.to });
  }
}
