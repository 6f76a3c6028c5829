/**
 * Whether an `If-None-Match` header matches an entity tag, as RFC 9110 §13.1.2 says: a list of tags, compared
 * weakly (`W/` ignored), or `*`. Undefined (no header) matches nothing.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === etag;
  });
}
