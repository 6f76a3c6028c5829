import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { type ApiContext, callerOf, feedsOf } from '../context.js';
import { audited } from '../export-audit.js';
import { toExportRequest } from '../inputs/export-request.input.js';
import { CreateFeedInput } from '../inputs/feed.input.js';
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

  @Query(() => [Feed], { description: 'Your feeds, by name.' })
  async feeds(@Ctx() ctx: ApiContext): Promise<Feed[]> {
    return (await feedsOf(ctx).listFeeds(callerOf(ctx))).map((f) => Feed.from(f));
  }

  @Mutation(() => Boolean, {
    description: "Deletes one of your feeds: its URL and token stop working at once. Another caller's is NOT_FOUND.",
  })
  async deleteFeed(@Ctx() ctx: ApiContext, @Arg('name') name: string): Promise<boolean> {
    await feedsOf(ctx).deleteFeed(callerOf(ctx), name);
    return true;
  }

  @Mutation(() => FeedWithTokenType, {
    description: 'Issues a new read token for one of your feeds (shown once); the previous token is refused (403).',
  })
  async rotateFeedToken(@Ctx() ctx: ApiContext, @Arg('name') name: string): Promise<FeedWithTokenType> {
    return FeedWithTokenType.from(await feedsOf(ctx).rotateToken(callerOf(ctx), name));
  }
}
