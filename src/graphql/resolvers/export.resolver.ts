import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import type { ExportJobView } from '../../domain/export-job.js';
import { mayStillHaveExport } from '../../auth/export-access.js';
import { type ApiContext, callerOf, exportsOf } from '../context.js';
import { requireDataset } from '../dataset-access.js';
import { audited } from '../export-audit.js';
import { ExportRequestInput, toExportRequest } from '../inputs/export-request.input.js';
import { toConnection } from '../types/connection.type.js';
import { ExportJobConnection } from '../types/export-job-connection.type.js';
import { ExportJob } from '../types/export-job.type.js';
import { ExportStatusEnum } from '../types/export-status.enum.js';

/**
 * Export jobs: thin calls into ExportService for the caller of the request (see `callerOf`). A request is checked
 * here (dataset visible, role may export) and carries the caller's grant into the service, whose normalised request
 * both engines run: hidden columns unknown, masks applied, the row filter ANDed. Jobs belong to their requester:
 * another caller's job answers NOT_FOUND, as a missing one.
 */
@Resolver(() => ExportJob)
export class ExportResolver {
  @Mutation(() => ExportJob, {
    description:
      'Requests a CSV export and returns its job at once (QUEUED, or the existing job when the same request on unchanged data was made before). Refused with BAD_USER_INPUT (naming the field; a column you may not see is an unknown column), NOT_FOUND (dataset), FORBIDDEN (your role may not export), LIMIT_EXCEEDED or CONFLICT (idempotency key reused).',
  })
  async requestExport(@Ctx() ctx: ApiContext, @Arg('input') input: ExportRequestInput): Promise<ExportJob> {
    const caller = callerOf(ctx);
    const request = toExportRequest(input.dataset, input);
    return audited(ctx.services.audit, caller, request, 'export.requested', async () => {
      const { grant } = await requireDataset(ctx, input.dataset, 'requestExport');
      ctx.services.access.requireCapability(caller, 'canExport', 'requestExport', input.dataset);
      const { job: view, created, waiter } = await exportsOf(ctx).requestExportJob(caller, request, grant);
      const reused = !created;
      return {
        result: Object.assign(ExportJob.from(view), { reused, waiter }),
        reused,
        jobId: view.id,
        engine: view.engine,
      };
    });
  }

  @Mutation(() => ExportJob, {
    description:
      'Cancels a job of yours: a queued job leaves the queue, a running one is stopped and its partial output removed. A finished job is returned unchanged.',
  })
  async cancelExport(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string): Promise<ExportJob> {
    return ExportJob.from(await withCurrentAccess(ctx, await exportsOf(ctx).cancelExport(callerOf(ctx), id)));
  }

  @Mutation(() => ExportJob, {
    description:
      'Says that one of your requests no longer waits for its job (a client that gives up, e.g. on Ctrl-C), naming it by the `waiter` its `requestExport` answer gave: the job is cancelled, as by cancelExport, unless another request of yours that was answered with the same job (another terminal or script; repeats with one idempotency key are one request) still waits for it; then it runs on for that one. Releasing twice is releasing once. A finished job is returned unchanged.',
  })
  async releaseExport(
    @Ctx() ctx: ApiContext,
    @Arg('id', () => ID) id: string,
    @Arg('waiter', () => String, { description: 'The `waiter` of the `requestExport` answer.' }) waiter: string,
  ): Promise<ExportJob> {
    return ExportJob.from(await withCurrentAccess(ctx, await exportsOf(ctx).releaseExport(callerOf(ctx), id, waiter)));
  }

  @Query(() => ExportJob, {
    description:
      "One of your export jobs, with fresh download links when SUCCEEDED. Another caller's job is NOT_FOUND, as a missing one.",
  })
  async export(@Ctx() ctx: ApiContext, @Arg('id', () => ID) id: string): Promise<ExportJob> {
    return ExportJob.from(await withCurrentAccess(ctx, await exportsOf(ctx).getExport(callerOf(ctx), id)));
  }

  @Query(() => ExportJobConnection, {
    description: 'Your export jobs, newest first, a page at a time (`first` at most 100).',
  })
  async exports(
    @Ctx() ctx: ApiContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: 'Page size, 1 to 100.' })
    first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor after which the page starts.' })
    after: string | null,
    @Arg('status', () => ExportStatusEnum, { nullable: true, description: 'Only jobs in this state.' })
    status: ExportStatusEnum | null,
  ): Promise<ExportJobConnection> {
    const page = await exportsOf(ctx).listExports(callerOf(ctx), { first, after, status });
    const edges = await Promise.all(
      page.edges.map(async (e) => ({ cursor: e.cursor, node: await withCurrentAccess(ctx, e.node) })),
    );
    return toConnection({ ...page, edges }, (job) => ExportJob.from(job));
  }

  @Subscription(() => ExportJob, {
    subscribe: watch,
    description:
      'Updates of one of your export jobs over a websocket (graphql-ws protocol, `graphql-transport-ws`, at the GraphQL path; send the API key as `connectionParams.authorization`). The job as it is now comes first, then every change (progress coalesced to the latest when the client is slower); the stream completes after a final state. Fallback without websockets (e.g. the API Lambda): poll `export(id)` every second or two; it answers the same job.',
  })
  async exportUpdated(
    @Arg('id', () => ID) _id: string,
    @Root() job: ExportJobView,
    @Ctx() ctx: ApiContext,
  ): Promise<ExportJob> {
    return ExportJob.from(await withCurrentAccess(ctx, job));
  }
}

/**
 * The job as its requester may have it now: download links only while the caller may still export the dataset and
 * its grant still shows everything the result holds. A policy or a dataset withdrawn since the request takes them
 * away, and so does a grant narrowed since (a column denied or newly masked, a row filter added). Links issued before
 * are refused by the download route for the same reasons (with API keys), or expire on their own.
 */
async function withCurrentAccess(ctx: ApiContext, job: ExportJobView): Promise<ExportJobView> {
  if (job.result === null || job.result.files.every((f) => f.url === null)) return job;
  const table = await ctx.services.datasets.find(job.dataset, ctx.loaders.datasets);
  if (mayStillHaveExport(ctx.services.access, callerOf(ctx), job, table)) return job;
  const files = job.result.files.map((f) => ({ ...f, url: null, urlExpiresAt: null }));
  return { ...job, result: { ...job.result, files } };
}

/** The source stream of `exportUpdated`: NOT_FOUND before any event when the job is not the caller's. */
function watch(
  data: SubscribeResolverData<unknown, { id?: unknown }, ApiContext>,
): Promise<AsyncIterable<ExportJobView>> {
  const id = data.args.id;
  if (typeof id !== 'string') throw new Error('exportUpdated: id is not a string');
  return exportsOf(data.context).watchExport(callerOf(data.context), id);
}
