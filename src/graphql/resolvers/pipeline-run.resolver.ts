import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { BadInputError } from '../../domain/errors.js';
import { maskOf } from '../../domain/policy.js';
import { pageSize } from '../../services/pagination.js';
import { type ApiContext, callerOf } from '../context.js';
import { PipelineRun, RunError } from '../types/pipeline-run.type.js';

/** Said instead of a run's error message that names a column the caller sees masked or not at all. */
export const WITHHELD_RUN_ERROR =
  'the message names a column your role does not see in clear; an administrator can read it';

/**
 * A run over a file of a year of events writes hundreds of partitions and files; a page of runs lists at most this
 * many of each per run unless asked for a later slice (`offset`), and `partitionCount` / `outputCount` say how many
 * there are, so a cut list is never silent.
 */
export const RUN_LIST_LIMITS = { defaultSize: 100, maxSize: 100 };

@Resolver(() => PipelineRun)
export class PipelineRunResolver {
  @FieldResolver(() => [String], {
    description:
      'Partitions written, as `k=v`, in the order written: `first` (1 to 100) from `offset`; `partitionCount` has them all.',
  })
  async partitions(
    @Root() run: PipelineRun,
    @Arg('first', () => Int, { nullable: true, defaultValue: RUN_LIST_LIMITS.defaultSize }) first: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
    @Ctx() ctx: ApiContext,
  ): Promise<string[]> {
    const page = slice(run.allPartitions, first, offset);
    if (page.every((p) => p.includes('='))) return page;
    // The ETL records a partition by its day alone (`2024-03-01`); its datasets have one partition key.
    const table = (await ctx.loaders.datasets.tables()).find((t) => t.name === run.dataset);
    const key = table?.partitionKeys.length === 1 ? table.partitionKeys[0]!.name : undefined;
    return key === undefined ? page : page.map((p) => (p.includes('=') ? p : `${key}=${p}`));
  }

  @FieldResolver(() => [String], {
    description:
      'Processed keys of the Parquet files the run wrote: `first` (1 to 100) from `offset`; `outputCount` has them all.',
  })
  outputKeys(
    @Root() run: PipelineRun,
    @Arg('first', () => Int, { nullable: true, defaultValue: RUN_LIST_LIMITS.defaultSize }) first: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
  ): string[] {
    return slice(run.allOutputKeys, first, offset);
  }

  @FieldResolver(() => RunError, {
    nullable: true,
    description: 'Why the run failed as a whole; null when it did not.',
  })
  async error(@Root() run: PipelineRun, @Ctx() ctx: ApiContext): Promise<RunError | null> {
    const error = run.runError;
    if (error === null) return null;
    const hidden = await hiddenColumns(ctx, run.dataset);
    // A schema or header error names columns (`column "customer" became required`), also columns the catalog does
    // not have yet (the change failed) or fields of the source: for a caller that sees some column masked or not at
    // all, such a message is withheld; one naming no column (`truncated gzip`) is shown.
    if (namesHidden(error.message, hidden)) {
      return Object.assign(new RunError(), { reason: error.reason, message: WITHHELD_RUN_ERROR });
    }
    return error;
  }

  @FieldResolver(() => [String], {
    description:
      'What a run that succeeded should be told about: a declared column that is null in every row (its source field missing or renamed). Warnings naming a column your role sees masked or not at all are left out.',
  })
  async warnings(@Root() run: PipelineRun, @Ctx() ctx: ApiContext): Promise<string[]> {
    if (run.runWarnings.length === 0) return [];
    const hidden = await hiddenColumns(ctx, run.dataset);
    return run.runWarnings.filter((w) => !namesHidden(w, hidden));
  }
}

/** Whether a run message names a column the caller sees masked or not at all (or cannot be told). */
function namesHidden(message: string, hidden: string[] | 'none' | 'unknown'): boolean {
  if (hidden === 'none') return false;
  return (
    hidden === 'unknown' ||
    hidden.some((name) => namesColumn(message, name)) ||
    /\b(columns?|fields?|headers?)\b/i.test(message)
  );
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

function slice(items: string[], first: number | null, offset: number | null): string[] {
  const size = pageSize(first, RUN_LIST_LIMITS);
  const from = offset ?? 0;
  if (!Number.isInteger(from) || from < 0) throw new BadInputError(`offset must be 0 or more; got ${from}`);
  return items.slice(from, from + size);
}

function namesColumn(message: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`).test(message);
}
