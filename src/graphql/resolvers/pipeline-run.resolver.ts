import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { maskOf } from '../../domain/policy.js';
import { type ApiContext, callerOf } from '../context.js';
import { PipelineRun, RunError } from '../types/pipeline-run.type.js';

/** Said instead of a run's error message that names a column the caller sees masked or not at all. */
export const WITHHELD_RUN_ERROR =
  'the message names a column your role does not see in clear; an administrator can read it';

@Resolver(() => PipelineRun)
export class PipelineRunResolver {
  @FieldResolver(() => RunError, {
    nullable: true,
    description: 'Why the run failed as a whole; null when it did not.',
  })
  async error(@Root() run: PipelineRun, @Ctx() ctx: ApiContext): Promise<RunError | null> {
    const error = run.runError;
    if (error === null) return null;
    const hidden = await hiddenColumns(ctx, run.dataset);
    // A schema error names columns (`column "customer" became required`): one the caller may not see in clear would
    // tell it the column's name, or that its values changed.
    if (hidden.some((name) => namesColumn(error.message, name))) {
      return Object.assign(new RunError(), { reason: error.reason, message: WITHHELD_RUN_ERROR });
    }
    return error;
  }
}

/** Columns of the dataset the caller sees masked or not at all (all of them when it does not see the dataset). */
async function hiddenColumns(ctx: ApiContext, dataset: string): Promise<string[]> {
  const table = (await ctx.loaders.datasets.tables()).find((t) => t.name === dataset);
  if (table === undefined) return [];
  const all = [...table.columns, ...table.partitionKeys].map((c) => c.name);
  const grant = ctx.services.access.grant(callerOf(ctx), table);
  if (grant === undefined) return all;
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  return all.filter((name) => (allowed !== null && !allowed.has(name)) || maskOf(grant, name) !== null);
}

function namesColumn(message: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`).test(message);
}
