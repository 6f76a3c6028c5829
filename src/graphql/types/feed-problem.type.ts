import { Field, ObjectType } from 'type-graphql';
import type { FeedProblem as FeedProblemView } from '../../services/feed-service.js';

@ObjectType('FeedProblem', {
  description:
    "Why a feed is refused now, as its URL would answer: its creator's credential no longer valid (FORBIDDEN), the creator's access withdrawn (FORBIDDEN, NOT_FOUND), or its request no longer valid for the dataset (BAD_USER_INPUT: a column dropped or masked since; the URL answers 409).",
})
export class FeedProblem {
  @Field({ description: 'The error code the feed URL answers with (`error.code` of its JSON body).' })
  code!: string;

  @Field()
  message!: string;

  static from(p: FeedProblemView): FeedProblem {
    return Object.assign(new FeedProblem(), p);
  }
}
