import {
  apiKeySecretMatches,
  generateApiKey,
  hashApiKeySecret,
  isApiKeyId,
  parseApiKey,
} from '../../src/auth/api-keys.js';

describe('API key format', () => {
  it('generates cpk_<16 hex>_<43 base64url> keys carrying 32 random bytes of secret', () => {
    const key = generateApiKey();
    expect(key.plaintext).toMatch(/^cpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key.plaintext).toBe(`cpk_${key.id}_${key.secret}`);
    expect(Buffer.from(key.secret, 'base64url')).toHaveLength(32);
    const many = new Set(Array.from({ length: 200 }, () => generateApiKey().plaintext));
    expect(many.size).toBe(200);
  });

  it('parses a key into id and secret, even when the secret contains underscores', () => {
    const secret = 'ab_cd-ef_' + 'x'.repeat(34);
    expect(parseApiKey(`cpk_0123456789abcdef_${secret}`)).toEqual({ id: '0123456789abcdef', secret });
  });

  it.each([
    ['empty', ''],
    ['no prefix', '0123456789abcdef_' + 'x'.repeat(43)],
    ['an upper-case id', 'cpk_0123456789ABCDEF_' + 'x'.repeat(43)],
    ['a short id', 'cpk_0123456789abcde_' + 'x'.repeat(43)],
    ['a short secret', 'cpk_0123456789abcdef_' + 'x'.repeat(42)],
    ['a long secret', 'cpk_0123456789abcdef_' + 'x'.repeat(44)],
    ['a padded secret', 'cpk_0123456789abcdef_' + 'x'.repeat(42) + '='],
    ['trailing space', 'cpk_0123456789abcdef_' + 'x'.repeat(43) + ' '],
    ['a path', 'cpk_../../etc/passwd_' + 'x'.repeat(43)],
  ])('refuses %s', (_what, text) => {
    expect(parseApiKey(text)).toBeUndefined();
  });

  it('tells key ids from anything else', () => {
    expect(isApiKeyId('0123456789abcdef')).toBe(true);
    expect(isApiKeyId('../0123456789abc')).toBe(false);
  });

  it('stores a hash bound to the id: the same secret under another id does not match', () => {
    const key = generateApiKey();
    const stored = hashApiKeySecret(key.id, key.secret);
    expect(stored).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored).not.toContain(key.secret);
    expect(apiKeySecretMatches(stored, key.id, key.secret)).toBe(true);
    expect(apiKeySecretMatches(stored, key.id, key.secret.slice(0, -1) + (key.secret.endsWith('A') ? 'B' : 'A'))).toBe(
      false,
    );
    expect(apiKeySecretMatches(stored, 'fedcba9876543210', key.secret)).toBe(false);
    expect(apiKeySecretMatches('sha256:short', key.id, key.secret)).toBe(false);
  });
});
