import { createHmac } from 'node:crypto';
import type { MaskKeySource } from '../../src/domain/mask-key.js';

/** The key of `hash` masks in tests that give one to their engines (32 bytes). */
export const TEST_MASK_KEY = Buffer.from('careplus-test-mask-key-32-bytes!', 'utf8');

export const testMaskKey: MaskKeySource = () => Promise.resolve(TEST_MASK_KEY);

/** What a `hash` mask makes of a value's text under a key: HMAC-SHA256 hex, computed by Node, not by an engine. */
export function maskedHash(text: string, key: Uint8Array = TEST_MASK_KEY): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}
