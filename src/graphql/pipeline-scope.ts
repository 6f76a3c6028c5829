import { restrictTable } from '../domain/policy.js';
import type { PipelineScope } from '../services/pipeline-service.js';
import { type ApiContext, callerOf } from './context.js';

/**
 * What the caller may see of the pipeline: FORBIDDEN unless its role has `canSeePipeline`; then the datasets
 * `AccessControl.pipelineVisible` allows (visible, and read without a row filter), each table restricted to the
 * caller's columns for freshness.
 */
export async function pipelineScope(ctx: ApiContext, action: string): Promise<PipelineScope> {
  const caller = callerOf(ctx);
  const { access } = ctx.services;
  access.requireCapability(caller, 'canSeePipeline', action);
  const tables = new Map((await ctx.loaders.datasets.tables()).map((t) => [t.name, t]));
  return {
    visible: (name) => access.pipelineVisible(caller, name, tables.get(name)),
    withheld: (name) => {
      const table = tables.get(name);
      if (table === undefined || access.grant(caller, table) === undefined) return undefined;
      return `the runs of dataset "${name}" are not shown to your role: they name its partitions and files, and your role sees its partition key masked or not at all, or reads it under a row filter`;
    },
    view: (table) => {
      const grant = access.grant(caller, table);
      // Only reached for visible datasets; an invisible one would have been left out before.
      if (grant === undefined) throw new Error(`pipeline view of dataset "${table.name}" the caller may not see`);
      return { table: restrictTable(grant, table), grant, statistics: access.can(caller, 'canSeeStats') };
    },
  };
}
