import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { type ApiContext, callerOf, feedsOf } from '../context.js';
import { audited } from '../export-audit.js';
import { toExportRequest } from '../inputs/export-request.input.js';
import { CreateFeedInput } from '../inputs/feed.input.js';
import { FeedProblem } from '../types/feed-problem.type.js';
import { FeedWithTokenType } from '../types/feed-token.type.js';
import { Feed } from '../types/feed.type.js';

/** BI feeds: thin calls into FeedService for the caller of the request (see `callerOf`). */
@Resolver(() => Feed)
export class FeedResolver {
  @Mutation(() => FeedWithTokenType, {
    description:
      'Creates a feed and starts its first build; returns it with its read token (shown once). Refused as `requestExport` would refuse the request (BAD_USER_INPUT, NOT_FOUND, LIMIT_EXCEEDED), and with CONFLICT when the name is taken.',
  })
  async createFeed(@Ctx() ctx: ApiContext, @Arg('input') input: CreateFeedInput): Promise<FeedWithTokenType> {
    const caller = callerOf(ctx);
    const request = toExportRequest(input.request.dataset, input.request);
    // A feed is an export request on the caller's grant (checked by the feed service's grant seam): audited as one.
    const created = await audited(ctx.services.audit, caller, request, 'export.requested', async () => ({
      result: await feedsOf(ctx).createFeed(caller, input.name, request),
      reused: false,
    }));
    return FeedWithTokenType.from(created);
  }

  @Query(() => [Feed], {
    description:
      "Your feeds, by name. With `all: true`, every caller's feeds: administrators only (FORBIDDEN otherwise).",
  })
  async feeds(
    @Ctx() ctx: ApiContext,
    @Arg('all', () => Boolean, { defaultValue: false }) all: boolean,
  ): Promise<Feed[]> {
    return (await feedsOf(ctx).listFeeds(callerOf(ctx), { all })).map((f) => Feed.from(f));
  }

  @FieldResolver(() => FeedProblem, {
    nullable: true,
    description:
      "Why the feed's URL would refuse it now (null: it is served). Checks the feed's definition and its creator's access, not the data: a build that fails on the data answers 503 on the URL.",
  })
  async problem(@Ctx() ctx: ApiContext, @Root() feed: Feed): Promise<FeedProblem | null> {
    const problem = await feedsOf(ctx).problem(feed.name, feed.createdBy);
    return problem === null ? null : FeedProblem.from(problem);
  }

  @Mutation(() => Boolean, {
    description:
      "Deletes one of your feeds (an administrator: also another caller's feed whose request the administrator's own access allows): its URL and token stop working at once. Any other feed is NOT_FOUND.",
  })
  async deleteFeed(@Ctx() ctx: ApiContext, @Arg('name') name: string): Promise<boolean> {
    await feedsOf(ctx).deleteFeed(callerOf(ctx), name);
    return true;
  }

  @Mutation(() => FeedWithTokenType, {
    description:
      'Issues a new read token for one of your feeds (yours only), shown once; the previous token is refused (403).',
  })
  async rotateFeedToken(@Ctx() ctx: ApiContext, @Arg('name') name: string): Promise<FeedWithTokenType> {
    return FeedWithTokenType.from(await feedsOf(ctx).rotateToken(callerOf(ctx), name));
  }
}
