/**
 * Orders two strings as their UTF-8 bytes order (S3's key order, Parquet's order for text statistics), without
 * encoding them: `Buffer.compare(Buffer.from(a), Buffer.from(b))` allocates two buffers per comparison, which a sort
 * of thousands of keys pays thousands of times.
 *
 * UTF-8 byte order is code point order. UTF-16 code units already order as code points except at surrogates:
 * a surrogate pair (D800–DFFF) stands for a code point above FFFF, so it must sort after the units E000–FFFF, which
 * plain code unit order puts after it. A lone surrogate (not valid text; `Buffer.from` would turn it into U+FFFD)
 * orders as a code point above FFFF too.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return liftSurrogates(x) - liftSurrogates(y);
    return x - y;
  }
  return a.length - b.length;
}

/** Moves D800–DFFF above E000–FFFF, keeping the order within each range. */
function liftSurrogates(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
