import { Field, ObjectType } from 'type-graphql';
import type { FeedView } from '../../services/feed-service.js';
import { DateTimeScalar } from '../scalars.js';
import { ExportRequestType } from './export-request.type.js';

@ObjectType('Feed', {
  description:
    "A BI feed: a saved export whose latest result is served as CSV at `url`, rebuilt when the data changes (new partitions or a new schema version), with ETag / Last-Modified so a scheduled refresh downloads nothing when nothing changed. Authorised by your API key (`Authorization: Bearer`) or by the feed's read token (`?token=`).",
})
export class Feed {
  @Field({ description: 'Unique; part of the URL.' })
  name!: string;

  @Field()
  dataset!: string;

  @Field(() => ExportRequestType, { description: 'The export request, as normalised when the feed was created.' })
  request!: ExportRequestType;

  @Field({ description: 'The stable URL of the latest result, `/feeds/<name>.csv`, without credentials.' })
  url!: string;

  @Field({ description: "The caller who created the feed; its builds run with that caller's access." })
  createdBy!: string;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When the current read token was issued.' })
  tokenIssuedAt!: Date;

  static from(view: FeedView): Feed {
    return Object.assign(new Feed(), { ...view, request: ExportRequestType.from(view.request) });
  }
}
