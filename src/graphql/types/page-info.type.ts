import { Field, ObjectType } from 'type-graphql';

@ObjectType('PageInfo', { description: 'Where a page ends. Pass `endCursor` as `after` to get the next page.' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item of the page; null on an empty page.' })
  endCursor!: string | null;
}
