import { type ClassType, Field, Int, ObjectType } from 'type-graphql';
import type { Page } from '../../services/pagination.js';
import { PageInfo } from './page-info.type.js';

export interface EdgeShape<T> {
  cursor: string;
  node: T;
}

export interface ConnectionShape<T> {
  nodes: T[];
  edges: EdgeShape<T>[];
  pageInfo: PageInfo;
  totalCount: number;
}

/**
 * Builds the `<Name>Edge` type and an abstract connection base for a node type; each connection is a named
 * subclass (`class DatasetConnection extends Connection(Dataset, 'DatasetEdge') {}`) so the SDL names it.
 */
export function Connection<T extends object>(node: ClassType<T>, edgeName: string) {
  @ObjectType(edgeName)
  class Edge implements EdgeShape<T> {
    @Field({ description: 'Opaque cursor of this item; pass it as `after` to continue after it.' })
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType()
  abstract class ConnectionBase implements ConnectionShape<T> {
    @Field(() => [node], { description: 'The items of this page.' })
    nodes!: T[];

    @Field(() => [Edge], { description: 'The items of this page with their cursors.' })
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Items matching the filter, over all pages.' })
    totalCount!: number;
  }

  return ConnectionBase;
}

/** Maps a service page to the connection shape. */
export function toConnection<S, T>(page: Page<S>, map: (item: S) => T): ConnectionShape<T> {
  const edges = page.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) }));
  return {
    nodes: edges.map((e) => e.node),
    edges,
    pageInfo: Object.assign(new PageInfo(), { hasNextPage: page.hasNextPage, endCursor: page.endCursor }),
    totalCount: page.totalCount,
  };
}
