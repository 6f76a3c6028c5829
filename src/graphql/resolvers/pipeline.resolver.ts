import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { ApiContext } from '../context.js';
import { pipelineScope } from '../pipeline-scope.js';
import { DateTimeScalar } from '../scalars.js';
import { toConnection } from '../types/connection.type.js';
import { PipelineRunConnection } from '../types/pipeline-run-connection.type.js';
import { PipelineRun } from '../types/pipeline-run.type.js';
import { PipelineStatus } from '../types/pipeline-status.type.js';
import { RunStatusEnum } from '../types/run-status.enum.js';

/**
 * Pipeline status and run records, for roles with `canSeePipeline` (FORBIDDEN otherwise), of the datasets they see
 * without a row filter: run records count every row a run read and wrote.
 */
@Resolver()
export class PipelineResolver {
  @Query(() => PipelineStatus, {
    description:
      'Pipeline health per dataset over the last `windowHours` hours, for the datasets you see without a row filter and with their partition key in clear. FORBIDDEN unless your role may see the pipeline, and for a named dataset you see otherwise (saying why); NOT_FOUND for one you do not see.',
  })
  async pipeline(
    @Ctx() ctx: ApiContext,
    @Arg('windowHours', () => Int, { nullable: true, defaultValue: 24, description: 'Window, 1 to 8784 hours.' })
    windowHours: number | null,
    @Arg('dataset', () => String, { nullable: true, description: 'Only this dataset.' }) dataset: string | null,
  ): Promise<PipelineStatus> {
    const scope = await pipelineScope(ctx, 'pipeline');
    const status = await ctx.services.pipeline.status(
      { windowHours, dataset },
      ctx.loaders.pipeline,
      ctx.loaders.datasets,
      scope,
    );
    return PipelineStatus.from(status);
  }

  @Query(() => PipelineRunConnection, {
    description:
      'ETL runs of the datasets you see without a row filter and with their partition key in clear, newest first, a page at a time (`first` at most 100). FORBIDDEN unless your role may see the pipeline, and for a named dataset you see otherwise (saying why); NOT_FOUND for one you do not see.',
  })
  async pipelineRuns(
    @Ctx() ctx: ApiContext,
    @Arg('dataset', () => String, { nullable: true }) dataset: string | null,
    @Arg('status', () => RunStatusEnum, { nullable: true }) status: RunStatusEnum | null,
    @Arg('since', () => DateTimeScalar, { nullable: true, description: 'Only runs started at or after this.' })
    since: Date | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: 'Page size, 1 to 100.' })
    first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<PipelineRunConnection> {
    const scope = await pipelineScope(ctx, 'pipelineRuns');
    const page = await ctx.services.pipeline.listRuns(
      { dataset, status, since, first, after },
      ctx.loaders.pipeline,
      scope,
    );
    return toConnection(page, (r) => PipelineRun.from(r));
  }
}
