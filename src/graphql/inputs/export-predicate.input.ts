import { Field, InputType } from 'type-graphql';
import type { JsonScalar } from '../../domain/export-values.js';
import { JSONScalar } from '../json-scalar.js';
import { ExportFilterOpEnum } from '../types/export-filter-op.enum.js';

@InputType('ExportPredicateInput', {
  description:
    'A structured condition on one column (never SQL). Values are JSON scalars coerced to the column\'s type: `5` or `"5"` for an INT, `"2024-01-31T10:00:00Z"` for a TIMESTAMP, 64-bit integers beyond 2^53 as strings.',
})
export class ExportPredicateInput {
  @Field({ description: 'A column of the dataset (or a partition key).' })
  column!: string;

  @Field(() => ExportFilterOpEnum)
  op!: ExportFilterOpEnum;

  @Field(() => [JSONScalar], {
    // Null items reach the service, which answers with the field path (`where[0].values[1]: null is not a value`).
    nullable: 'itemsAndList',
    description:
      'One value for comparisons, two for BETWEEN, one or more for IN, none for IS_NULL / IS_NOT_NULL. Null is not a value: use IS_NULL.',
  })
  values?: JsonScalar[] | null;
}
