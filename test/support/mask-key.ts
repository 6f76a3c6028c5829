import { createHash } from 'node:crypto';
import type { MaskKeySource } from '../../src/domain/mask-key.js';

/** The key of `hash` masks in tests that give one to their engines (32 bytes). */
export const TEST_MASK_KEY = Buffer.from('careplus-test-mask-key-32-bytes!', 'utf8');

export const testMaskKey: MaskKeySource = () => Promise.resolve(TEST_MASK_KEY);

/** What a `hash` mask makes of a value's text under a key: SHA-256 of the key then the text, hex, computed by Node. */
export function maskedHash(text: string, key: Uint8Array = TEST_MASK_KEY): string {
  return createHash('sha256').update(key).update(text, 'utf8').digest('hex');
}

/** What a `hash` mask makes of a value given as bytes (a double's or float's IEEE 754 encoding), computed by Node. */
export function maskedBytesHash(bytes: Uint8Array, key: Uint8Array = TEST_MASK_KEY): string {
  return createHash('sha256').update(key).update(bytes).digest('hex');
}

/** A double's IEEE 754 binary64 encoding, big-endian, as Node writes it (a NaN keeps the sign and payload it has). */
export function doubleBytes(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return b;
}

/** A float's IEEE 754 binary32 encoding, big-endian. */
export function floatBytes(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatBE(value);
  return b;
}
