import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { ApiContext } from '../context.js';
import { ColumnStats } from '../types/column-stats.type.js';
import { Column } from '../types/column.type.js';

@Resolver(() => Column)
export class ColumnResolver {
  @FieldResolver(() => ColumnStats, { description: 'Null count, min and max over the whole dataset.' })
  async stats(@Root() column: Column, @Ctx() ctx: ApiContext): Promise<ColumnStats> {
    const stats = await ctx.services.datasets.columnStatistics(column.table, column.name, ctx.loaders.datasets);
    return Object.assign(new ColumnStats(), stats);
  }
}
