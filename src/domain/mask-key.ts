/**
 * The deployment's secret for `hash` masks. A masked value is SHA-256(key ‖ the value's UTF-8 text), lower-case hex:
 * equal values still hash equal (hashed columns join and count), but a guess (a name, an e-mail address) cannot be
 * hashed and compared without the key, as it could with a plain SHA-256.
 *
 * Why not HMAC: without precomputed states (no engine here has them in SQL) HMAC-SHA256 takes four SHA-256 blocks
 * per short value where this takes one or two; in DuckDB over 5,000,000 e-mail-like strings it measured 3.3–4.0 s
 * against 0.9–1.1 s (`node dist/bench/tools/mask-hash-cost.js`), enough to take the gzip export below its target. The
 * secret-prefix form's known weakness, length extension, lets someone who sees the hash of a value derive the hash
 * of that value followed by SHA-256's padding bytes and a suffix of their choice: a string that is not in the data,
 * and nothing that helps find a value from its hash or check a guess.
 */

import { createHmac } from 'node:crypto';

/** The shortest key accepted, in bytes (SHA-256's output size). */
export const MASK_KEY_MIN_BYTES = 32;

/** The longest key accepted, in bytes: a bound, so that a key and a short value still fit in two SHA-256 blocks. */
export const MASK_KEY_MAX_BYTES = 64;

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
 * re-used for a request under this one. It reveals nothing of the key.
 */
export function maskKeyId(key: Uint8Array): string {
  return createHmac('sha256', key)
    .update('careplus mask-key id: sha256(key || text)', 'utf8')
    .digest('hex')
    .slice(0, 16);
}
