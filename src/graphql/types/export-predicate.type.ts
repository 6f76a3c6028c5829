import { Field, ObjectType } from 'type-graphql';
import type { CanonicalValue } from '../../domain/export-values.js';
import type { NormalizedPredicate } from '../../domain/export-request.js';
import { JSONScalar } from '../json-scalar.js';
import { ExportFilterOpEnum } from './export-filter-op.enum.js';

@ObjectType('ExportPredicate', {
  description: "One predicate as the job runs it: values coerced to the column's type, IN lists sorted and unique.",
})
export class ExportPredicate {
  @Field()
  column!: string;

  @Field(() => ExportFilterOpEnum)
  op!: ExportFilterOpEnum;

  @Field(() => [JSONScalar], {
    description:
      'Canonical values: numbers, booleans, text; 64-bit integers and decimals as strings, timestamps as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.',
  })
  values!: CanonicalValue[];

  static from(p: NormalizedPredicate): ExportPredicate {
    return Object.assign(new ExportPredicate(), {
      column: p.column,
      op: p.op as ExportFilterOpEnum,
      values: p.values,
    });
  }
}
