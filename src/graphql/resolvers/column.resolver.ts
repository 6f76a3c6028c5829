import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { statsVisible } from '../../domain/policy.js';
import type { MaybePromise } from '../../services/maybe-promise.js';
import { type ApiContext, callerOf } from '../context.js';
import { ColumnStats } from '../types/column-stats.type.js';
import { Column } from '../types/column.type.js';

@Resolver(() => Column)
export class ColumnResolver {
  @FieldResolver(() => ColumnStats, {
    nullable: true,
    description:
      'Null count, min and max over the whole dataset. Null unless your role may see statistics, the column is not masked, and the access policy does not filter your rows (footers describe every row).',
  })
  stats(@Root() column: Column, @Ctx() ctx: ApiContext): MaybePromise<ColumnStats | null> {
    if (!ctx.services.access.can(callerOf(ctx), 'canSeeStats') || !statsVisible(column.grant, column.name)) return null;
    // The statistics object itself (frozen, shared by requests): ColumnStats has exactly its fields.
    return ctx.services.datasets.columnStatistics(column.table, column.name, ctx.loaders.datasets);
  }
}
