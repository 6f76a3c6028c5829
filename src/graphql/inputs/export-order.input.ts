import { Field, InputType } from 'type-graphql';
import { SortDirectionEnum } from '../types/sort-direction.enum.js';

@InputType('ExportOrderInput', { description: 'A sort key. Without any, rows come in no particular order.' })
export class ExportOrderInput {
  @Field()
  column!: string;

  @Field(() => SortDirectionEnum, { nullable: true, description: 'Default ASC.' })
  direction?: SortDirectionEnum | null;
}
