/**
 * The deployment's secret for `hash` masks. A masked value is HMAC-SHA256(key, the value's text), lower-case hex:
 * equal values still hash equal (hashed columns join and count), but a guess (a name, an e-mail address) cannot be
 * hashed and compared without the key, as it could with a plain SHA-256.
 */

import { createHmac } from 'node:crypto';

/** The shortest key accepted, in bytes (HMAC-SHA256's output size). */
export const MASK_KEY_MIN_BYTES = 32;

/** Resolves the key when a query needs it (it is read from, or created in, the lake on first use). */
export type MaskKeySource = () => Promise<Uint8Array>;

/** The longest key accepted: SHA-256's block size, to which HMAC pads the key (a longer one it would hash first). */
export const MASK_KEY_MAX_BYTES = 64;
const BLOCK_BYTES = MASK_KEY_MAX_BYTES;

/**
 * HMAC's two padded keys (RFC 2104), hex: HMAC(k, m) = H(outer ‖ H(inner ‖ m)). An engine without an HMAC function
 * computes it from these with two SHA-256 calls. A key longer than SHA-256's block would first be hashed; keys here
 * are 32 to 64 bytes, and a longer one is refused rather than handled differently from the engines that take the key
 * itself.
 */
export function hmacPads(key: Uint8Array): { inner: string; outer: string } {
  if (key.length < MASK_KEY_MIN_BYTES || key.length > BLOCK_BYTES) {
    throw new RangeError(`a mask key has ${MASK_KEY_MIN_BYTES} to ${BLOCK_BYTES} bytes, not ${key.length}`);
  }
  const block = new Uint8Array(BLOCK_BYTES);
  block.set(key);
  return {
    inner: Buffer.from(block.map((b) => b ^ 0x36)).toString('hex'),
    outer: Buffer.from(block.map((b) => b ^ 0x5c)).toString('hex'),
  };
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
 * A short public name of a key (HMAC of a fixed text under it, 16 hex): what an export's fingerprint records, so a
 * finished job hashed under another key (or before hashes were keyed) is never re-used for a request under this
 * one. It reveals nothing of the key.
 */
export function maskKeyId(key: Uint8Array): string {
  return createHmac('sha256', key).update('careplus mask-key id', 'utf8').digest('hex').slice(0, 16);
}
