import { Arg, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { aggregatesVisible } from '../../domain/policy.js';
import { type ApiContext, callerOf, exportsOf } from '../context.js';
import { audited } from '../export-audit.js';
import { ExportEstimateInput } from '../inputs/export-estimate.input.js';
import { toExportRequest } from '../inputs/export-request.input.js';
import { Dataset } from '../types/dataset.type.js';
import { ExportEstimateType } from '../types/export-estimate.type.js';

/** The export fields of a dataset, apart from DatasetResolver so that exports stay one concern. */
@Resolver(() => Dataset)
export class DatasetExportResolver {
  @FieldResolver(() => ExportEstimateType, {
    description:
      'The pre-flight estimate of an export of this dataset: rows, bytes to scan, partitions and files after pruning. Validates the input as `requestExport` does, under your grant; FORBIDDEN unless your role may export.',
  })
  async estimateExport(
    @Root() dataset: Dataset,
    @Ctx() ctx: ApiContext,
    @Arg('input', () => ExportEstimateInput, { nullable: true }) input: ExportEstimateInput | null,
  ): Promise<ExportEstimateType> {
    const caller = callerOf(ctx);
    const request = toExportRequest(dataset.name, input ?? {});
    const estimate = await audited(ctx.services.audit, caller, request, 'export.estimated', async () => {
      ctx.services.access.requireCapability(caller, 'canExport', 'estimateExport', dataset.name);
      return { result: await exportsOf(ctx).estimateExport(caller, request, dataset.grant), reused: false };
    });
    return ExportEstimateType.from(estimate, !aggregatesVisible(dataset.grant));
  }
}
