import { Field, Int, ObjectType } from 'type-graphql';
import type { CallerDescription } from '../../auth/access-control.js';
import type { JsonScalar } from '../../domain/export-values.js';
import { JSONScalar } from '../json-scalar.js';
import { ExportFilterOpEnum } from './export-filter-op.enum.js';
import { MaskMethodEnum, maskMethodEnum } from './mask-method.enum.js';

@ObjectType('MaskedColumn', { description: 'A column you see masked.' })
export class MaskedColumn {
  @Field()
  column!: string;

  @Field(() => MaskMethodEnum)
  method!: MaskMethodEnum;
}

@ObjectType('RowFilterPredicate', {
  description: 'A predicate the access policy ANDs to every read of a dataset for you, your attributes substituted.',
})
export class RowFilterPredicate {
  @Field()
  column!: string;

  @Field(() => ExportFilterOpEnum)
  op!: ExportFilterOpEnum;

  @Field(() => [JSONScalar])
  values!: JsonScalar[];
}

@ObjectType('DatasetGrant', { description: 'What you may see of one dataset.' })
export class DatasetGrant {
  @Field()
  dataset!: string;

  @Field(() => [String], { description: 'Columns (partition keys included) you see, in table order.' })
  columns!: string[];

  @Field(() => [MaskedColumn], { description: 'Of those, the ones you see masked.' })
  maskedColumns!: MaskedColumn[];

  @Field(() => [RowFilterPredicate], {
    description:
      'The rows you see: those meeting every predicate (and the hidden ones; none at all: all rows). Under a row filter, figures counted over whole files (row counts, sizes, statistics, pipeline runs) are not shown.',
  })
  rowFilter!: RowFilterPredicate[];

  @Field(() => Int, {
    description:
      'Row-filter predicates on columns you see masked or not at all: applied like the others, but not listed (their column or values would show what the mask hides).',
  })
  hiddenRowFilters!: number;

  static from(d: CallerDescription['datasets'][number]): DatasetGrant {
    return Object.assign(new DatasetGrant(), {
      dataset: d.dataset,
      columns: d.columns,
      maskedColumns: d.maskedColumns.map((m) =>
        Object.assign(new MaskedColumn(), { column: m.column, method: maskMethodEnum(m.method) }),
      ),
      rowFilter: d.rowFilter.map((p) =>
        Object.assign(new RowFilterPredicate(), {
          column: p.column,
          op: p.op as ExportFilterOpEnum,
          values: [...(p.values ?? [])],
        }),
      ),
      hiddenRowFilters: d.hiddenRowFilters,
    });
  }
}
