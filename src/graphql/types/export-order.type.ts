import { Field, ObjectType } from 'type-graphql';
import type { NormalizedOrderBy } from '../../domain/export-request.js';
import { SortDirectionEnum } from './sort-direction.enum.js';

@ObjectType('ExportOrder', { description: 'One sort key of an export.' })
export class ExportOrder {
  @Field()
  column!: string;

  @Field(() => SortDirectionEnum)
  direction!: SortDirectionEnum;

  static from(o: NormalizedOrderBy): ExportOrder {
    return Object.assign(new ExportOrder(), { column: o.column, direction: o.direction as SortDirectionEnum });
  }
}
