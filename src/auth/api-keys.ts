import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: `cpk_<id>_<secret>`. The id (16 hex digits, 64 random bits) names the stored record and may appear in
 * logs; the secret (32 random bytes, base64url, 43 characters) is shown once at creation and stored only as a hash.
 *
 * A plain SHA-256 suffices for the hash: the secret has 256 bits of entropy, so there is nothing for a slow,
 * salted password hash to protect against. The id is hashed in with the secret so a stored hash is bound to its
 * record and cannot be copied to another.
 */
export const API_KEY_PREFIX = 'cpk_';
const ID_BYTES = 8;
const SECRET_BYTES = 32;
const KEY_PATTERN = /^cpk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const ID_PATTERN = /^[0-9a-f]{16}$/;
const HASH_SCHEME = 'sha256:';

export interface GeneratedApiKey {
  id: string;
  secret: string;
  /** `cpk_<id>_<secret>`: what the client sends as `Authorization: Bearer <key>`. */
  plaintext: string;
}

export function generateApiKey(): GeneratedApiKey {
  const id = randomBytes(ID_BYTES).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, secret, plaintext: `${API_KEY_PREFIX}${id}_${secret}` };
}

/** Splits a key into id and secret; undefined when it is not exactly the key format. */
export function parseApiKey(text: string): { id: string; secret: string } | undefined {
  const m = KEY_PATTERN.exec(text);
  return m === null ? undefined : { id: m[1]!, secret: m[2]! };
}

export function isApiKeyId(text: string): boolean {
  return ID_PATTERN.test(text);
}

/** The stored form of a secret: `sha256:<hex>` over the id and the secret. */
export function hashApiKeySecret(id: string, secret: string): string {
  return HASH_SCHEME + createHash('sha256').update(`careplus-api-key\0${id}\0${secret}`).digest('hex');
}

/** Compares in constant time; false for a stored hash of another scheme or length. */
export function apiKeySecretMatches(storedHash: string, id: string, secret: string): boolean {
  const expected = Buffer.from(storedHash, 'utf8');
  const actual = Buffer.from(hashApiKeySecret(id, secret), 'utf8');
  // Lengths of well-formed hashes are fixed, so comparing them first reveals nothing about the secret.
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
