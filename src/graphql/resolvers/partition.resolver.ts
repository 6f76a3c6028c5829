import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { type ApiContext, callerOf } from '../context.js';
import { PipelineRun } from '../types/pipeline-run.type.js';
import { Partition } from '../types/partition.type.js';

@Resolver(() => Partition)
export class PartitionResolver {
  @FieldResolver(() => [PipelineRun], {
    description:
      'The ETL runs that wrote its current files, newest first. FORBIDDEN unless your role may see the pipeline; empty when the access policy filters your rows (run records count every row) or hides or masks a partition key (they name every partition).',
  })
  async producedBy(@Root() partition: Partition, @Ctx() ctx: ApiContext): Promise<PipelineRun[]> {
    ctx.services.access.requireCapability(callerOf(ctx), 'canSeePipeline', 'producedBy', partition.dataset);
    if (partition.runsHidden) return [];
    const runs = await ctx.services.pipeline.runsThatWrote(partition.dataset, partition.fileKeys, ctx.loaders.pipeline);
    return runs.map((r) => PipelineRun.from(r));
  }
}
