import { BadInputError } from '../domain/errors.js';

/** Cursor pagination arguments as a client sends them; GraphQL may pass an explicit null. */
export interface PageArgs {
  first?: number | null | undefined;
  after?: string | null | undefined;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Page<T> {
  edges: Edge<T>[];
  hasNextPage: boolean;
  endCursor: string | null;
  /** Items matching the filter, over all pages. */
  totalCount: number;
}

export interface PageLimits {
  /** Page size when `first` is absent. */
  defaultSize: number;
  /** Largest `first` accepted; a larger one is refused, never silently cut. */
  maxSize: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = { defaultSize: 20, maxSize: 100 };

/**
 * The page size for `first`; a value outside 1..max is a BAD_USER_INPUT naming `first`. An empty page of
 * `first: 0` would have no cursor to page on from while `hasNextPage` is true; `totalCount` alone needs `first: 1`.
 */
export function pageSize(first: number | null | undefined, limits: PageLimits = DEFAULT_PAGE_LIMITS): number {
  if (first === null || first === undefined) return limits.defaultSize;
  if (!Number.isInteger(first) || first < 1 || first > limits.maxSize) {
    throw new BadInputError(`first must be between 1 and ${limits.maxSize}; got ${first}`);
  }
  return first;
}

/**
 * Cursors are opaque to clients: base64url of `<kind>:<sort key>`. The kind stops a cursor of one list
 * being replayed against another; the sort key makes a cursor stable when items are added or removed.
 */
export function encodeCursor(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`, 'utf8').toString('base64url');
}

/** The sort key inside a cursor; anything not made by `encodeCursor(kind, ...)` is a BAD_USER_INPUT naming `after`. */
export function decodeCursor(kind: string, cursor: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const prefix = `${kind}:`;
  if (!text.startsWith(prefix) || encodeCursor(kind, text.slice(prefix.length)) !== cursor) {
    throw new BadInputError(`after is not a valid cursor for this list: "${truncate(cursor)}"`);
  }
  return text.slice(prefix.length);
}

/** UTF-8 byte order, as S3 orders keys: the one order every list and cursor in the API uses. */
export function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * One page of `items`, which must be sorted by `keyOf` in `compareText` order (reversed when `order` is
 * `desc`). `after` is exclusive, so an item added or removed before the cursor never makes a page repeat or
 * skip another item.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  kind: string,
  args: PageArgs,
  limits: PageLimits = DEFAULT_PAGE_LIMITS,
  order: 'asc' | 'desc' = 'asc',
): Page<T> {
  const size = pageSize(args.first, limits);
  let start = 0;
  if (args.after !== null && args.after !== undefined) {
    const after = decodeCursor(kind, args.after);
    const sign = order === 'asc' ? 1 : -1;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sign * compareText(keyOf(items[mid]!), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const slice = items.slice(start, start + size);
  const edges = slice.map((node) => ({ cursor: encodeCursor(kind, keyOf(node)), node }));
  return {
    edges,
    hasNextPage: start + size < items.length,
    endCursor: edges.length > 0 ? edges[edges.length - 1]!.cursor : null,
    totalCount: items.length,
  };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
