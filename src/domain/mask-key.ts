/**
 * The deployment's secret for `hash` masks. A masked value is SHA-256(key ‖ the value's bytes), lower-case hex:
 * equal values still hash equal (hashed columns join and count), but a guess (a name, an e-mail address) cannot be
 * hashed and compared without the key, as it could with a plain SHA-256. The value's bytes are hashedBytesOf's.
 *
 * Why not HMAC: without precomputed states (no engine here has them in SQL) HMAC-SHA256 takes four SHA-256 blocks
 * per short value where this takes one or two; in DuckDB over 5,000,000 e-mail-like strings it measured 3.3–4.0 s
 * against 0.9–1.1 s (`node dist/bench/tools/mask-hash-cost.js`), enough to take the gzip export below its target. The
 * secret-prefix form's known weakness, length extension, lets someone who sees the hash of a value derive the hash
 * of that value followed by SHA-256's padding bytes and a suffix of their choice: a string that is not in the data,
 * and nothing that helps find a value from its hash or check a guess.
 */

import { createHmac } from 'node:crypto';
import type { ColumnKind } from './column-type.js';

/** The shortest key accepted, in bytes (SHA-256's output size). */
export const MASK_KEY_MIN_BYTES = 32;

/** The longest key accepted, in bytes: a bound, so that a key and a short value still fit in two SHA-256 blocks. */
export const MASK_KEY_MAX_BYTES = 64;

/**
 * What a `hash` mask hashes after the key, by the column's kind; both engines (export-sql.ts, athena-sql.ts) compute
 * the same bytes, so the same request gives the same hashes on either:
 * - `ieee754` (double, float): the value's IEEE 754 binary64 or binary32 encoding, 8 or 4 bytes, big-endian, with
 *   every NaN as the one NaN of CANONICAL_NAN (Java's `doubleToLongBits`, which Trino's `to_ieee754_64` applies).
 *   Not a text: DuckDB and Trino write a double's text differently (`1e+20` and `1.0E20`), and neither engine's SQL
 *   can write the other's. -0.0 and 0.0 hash apart, as the export writes them apart.
 * - `export-text` (timestamp): the UTF-8 text the export writes for it, `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 *   (EXPORT_TIMESTAMP_FORMAT), where the engines' own casts to text differ (`03:04:05.12` and `03:04:05.120`).
 * - `text` (every other kind): the UTF-8 text of the value cast to text, which is the export's text as well and
 *   the same in both engines (decimals with all their scale digits, dates `YYYY-MM-DD`, `true`/`false`).
 */
export type HashedBytes = 'ieee754' | 'export-text' | 'text';

export function hashedBytesOf(kind: ColumnKind): HashedBytes {
  if (kind === 'double' || kind === 'float') return 'ieee754';
  if (kind === 'timestamp') return 'export-text';
  return 'text';
}

/** The bytes hashed for any NaN, in hex: a double's and a float's (the quiet NaN with no payload, sign clear). */
export const CANONICAL_NAN = { double: '7ff8000000000000', float: '7fc00000' } as const;

/** Resolves the key when a query needs it (it is read from, or created in, the lake on first use). */
export type MaskKeySource = () => Promise<Uint8Array>;

/** The key as the engines take it, lower-case hex; a key of the wrong length is refused. */
export function maskKeyHex(key: Uint8Array): string {
  if (key.length < MASK_KEY_MIN_BYTES || key.length > MASK_KEY_MAX_BYTES) {
    throw new RangeError(`a mask key has ${MASK_KEY_MIN_BYTES} to ${MASK_KEY_MAX_BYTES} bytes, not ${key.length}`);
  }
  return Buffer.from(key).toString('hex');
}

/**
 * One memoised source: the key is resolved once and shared; a failed resolution (the store unreachable) is not
 * kept, so the next query tries again.
 */
export function memoizeMaskKey(resolve: MaskKeySource): MaskKeySource {
  let pending: Promise<Uint8Array> | undefined;
  return () => {
    pending ??= resolve().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/** The error of a query that masks a column by hash where no key was given: a wiring fault, never the caller's. */
export function missingMaskKey(): Error {
  return new Error('a hash mask needs the mask key, and none was given to this engine');
}

/** The key a query over these columns needs: resolved only when one of them is masked by hash. */
export async function maskKeyFor(
  columns: readonly { mask: 'hash' | 'redact' | null }[],
  source: MaskKeySource | undefined,
): Promise<Uint8Array | undefined> {
  if (!columns.some((c) => c.mask === 'hash')) return undefined;
  if (source === undefined) throw missingMaskKey();
  return source();
}

/**
 * A short public name of a key and of how it is applied (an HMAC of a fixed text under it, 16 hex): what an export's
 * fingerprint records, so a finished job hashed under another key or scheme (or before hashes were keyed) is never
 * re-used for a request under this one. It reveals nothing of the key. The fixed text names the scheme: v2 hashes
 * doubles, floats and timestamps as hashedBytesOf says, where v1 hashed every value's cast to text; a job of v1 is
 * not re-used, and one running at a restart fails with "the mask key or how values are hashed changed".
 */
export function maskKeyId(key: Uint8Array): string {
  return createHmac('sha256', key)
    .update('careplus mask-key id: sha256(key || hashedBytesOf(kind)), v2', 'utf8')
    .digest('hex')
    .slice(0, 16);
}
