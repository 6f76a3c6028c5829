import { Ctx, Query, Resolver } from 'type-graphql';
import { type ApiContext, callerOf } from '../context.js';
import { Me } from '../types/me.type.js';

@Resolver(() => Me)
export class MeResolver {
  @Query(() => Me, {
    description:
      'Who you are to the API: your id, role and capabilities, and every dataset you may see with the columns, masks and row filter the access policy applies to you.',
  })
  async me(@Ctx() ctx: ApiContext): Promise<Me> {
    const caller = callerOf(ctx);
    const tables = await ctx.loaders.datasets.tables();
    return Me.from(caller, ctx.services.access.describe(caller, tables));
  }
}
