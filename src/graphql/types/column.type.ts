import { Field, Int, ObjectType } from 'type-graphql';
import { parseColumnType } from '../../domain/column-type.js';
import type { EffectiveGrant } from '../../domain/export-grant.js';
import { maskOf } from '../../domain/policy.js';
import type { TableColumn, TableDefinition } from '../../domain/table.js';
import { ColumnTypeEnum, columnTypeEnum } from './column-type.enum.js';
import { MaskMethodEnum, maskMethodEnum } from './mask-method.enum.js';

@ObjectType('Column', {
  description: 'A column of a dataset. `stats` is resolved from Parquet footers on request.',
  // Plain fields read the property with GraphQL's default resolver: no type-graphql wrapper per field and request.
  simpleResolvers: true,
})
export class Column {
  @Field()
  name!: string;

  @Field(() => ColumnTypeEnum)
  type!: ColumnTypeEnum;

  @Field({ description: 'The full type as text: `string`, `bigint`, `timestamp`, `decimal(12,2)`, ...' })
  typeText!: string;

  @Field(() => Int, { nullable: true, description: 'Total digits of a DECIMAL column; null for other types.' })
  precision!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Digits after the point of a DECIMAL column; null for other types.',
  })
  scale!: number | null;

  @Field()
  nullable!: boolean;

  @Field()
  description!: string;

  @Field({ description: 'The column holds personal data.' })
  pii!: boolean;

  @Field({ description: 'The column is a partition key: its values come from the folder names, not the files.' })
  partitionKey!: boolean;

  @Field(() => MaskMethodEnum, {
    nullable: true,
    description:
      'How you see its values under the access policy: HASH or REDACT in previews and exports (it may then not be filtered or sorted on, and has no `stats`); null when you see them as they are.',
  })
  mask!: MaskMethodEnum | null;

  /** The dataset the column belongs to (as the caller may see it), for the `stats` resolver; not in the schema. */
  table!: TableDefinition;
  /** The caller's grant on the dataset; not part of the schema. */
  grant!: EffectiveGrant;

  static from(table: TableDefinition, column: TableColumn, partitionKey: boolean, grant: EffectiveGrant): Column {
    const type = parseColumnType(column.type);
    const mask = maskOf(grant, column.name);
    return Object.assign(new Column(), {
      name: column.name,
      type: columnTypeEnum(column.kind),
      typeText: column.type,
      precision: type.kind === 'decimal' ? type.precision : null,
      scale: type.kind === 'decimal' ? type.scale : null,
      nullable: column.nullable,
      description: column.description,
      pii: column.pii,
      partitionKey,
      mask: mask === null ? null : maskMethodEnum(mask),
      table,
      grant,
    });
  }
}
