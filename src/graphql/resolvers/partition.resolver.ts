import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { ApiContext } from '../context.js';
import { PipelineRun } from '../types/pipeline-run.type.js';
import { Partition } from '../types/partition.type.js';

@Resolver(() => Partition)
export class PartitionResolver {
  @FieldResolver(() => [PipelineRun], { description: 'The ETL runs that wrote its current files, newest first.' })
  async producedBy(@Root() partition: Partition, @Ctx() ctx: ApiContext): Promise<PipelineRun[]> {
    const runs = await ctx.services.pipeline.runsThatWrote(partition.dataset, partition.fileKeys, ctx.loaders.pipeline);
    return runs.map((r) => PipelineRun.from(r));
  }
}
