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
    if (hidden === 'none') return error;
    // A schema or header error names columns (`column "customer" became required`), also columns the catalog does
    // not have yet (the change failed) or fields of the source: for a caller that sees some column masked or not at
    // all, such a message is withheld; one naming no column (`truncated gzip`) is shown.
    const names =
      hidden === 'unknown' ||
      hidden.some((name) => namesColumn(error.message, name)) ||
      /\b(columns?|fields?|headers?)\b/i.test(error.message);
    if (names) return Object.assign(new RunError(), { reason: error.reason, message: WITHHELD_RUN_ERROR });
    return error;
  }
}

/**
 * Columns of the dataset the caller sees masked or not at all; `none` when it sees every column in clear; `unknown`
 * when there is no table to tell (a dataset whose first run failed) and the caller is no admin.
 */
async function hiddenColumns(ctx: ApiContext, dataset: string): Promise<string[] | 'none' | 'unknown'> {
  const caller = callerOf(ctx);
  const table = (await ctx.loaders.datasets.tables()).find((t) => t.name === dataset);
  if (table === undefined) return ctx.services.access.capabilities(caller).admin ? 'none' : 'unknown';
  const all = [...table.columns, ...table.partitionKeys].map((c) => c.name);
  const grant = ctx.services.access.grant(caller, table);
  if (grant === undefined) return all;
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  const hidden = all.filter((name) => (allowed !== null && !allowed.has(name)) || maskOf(grant, name) !== null);
  return hidden.length === 0 ? 'none' : hidden;
}

function namesColumn(message: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`).test(message);
}
