import { Field, ObjectType } from 'type-graphql';
import type { FeedWithToken } from '../../services/feed-service.js';
import { Feed } from './feed.type.js';

@ObjectType('FeedWithToken', {
  description: 'A feed with its read token. The token is shown only here, once: store it, or rotate it to get another.',
})
export class FeedWithTokenType {
  @Field(() => Feed)
  feed!: Feed;

  @Field({ description: 'The read token (`cpf_...`); the previous token, if any, no longer works.' })
  token!: string;

  @Field({ description: 'The feed URL with the token (`?token=`): what a BI tool is given.' })
  tokenUrl!: string;

  static from(value: FeedWithToken): FeedWithTokenType {
    return Object.assign(new FeedWithTokenType(), {
      feed: Feed.from(value.feed),
      token: value.token,
      tokenUrl: value.tokenUrl,
    });
  }
}
