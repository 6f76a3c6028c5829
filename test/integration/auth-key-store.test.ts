import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { UnauthenticatedError, KEY_REVOKED_MESSAGE, UNAUTHENTICATED_MESSAGE } from '../../src/auth/auth-errors.js';
import { ApiKeyStore, ensureAdminKey, KEYS_PREFIX } from '../../src/auth/key-store.js';
import { BadInputError, NotFoundError } from '../../src/domain/errors.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { startS3Server } from '../support/s3-server.js';

async function failure(p: Promise<unknown>): Promise<UnauthenticatedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof UnauthenticatedError) return err;
    throw err;
  }
  throw new Error('expected the key to be refused');
}

describe('API key store on the local store', () => {
  let root: string;
  let store: ObjectStore;
  let clock: Date;
  let keys: ApiKeyStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-keys-'));
    store = new LocalObjectStore(root);
    clock = new Date('2024-05-01T10:00:00.000Z');
    keys = new ApiKeyStore(store, { now: () => clock });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates a key, shows it once, and stores only its hash under _system/keys/', async () => {
    const { key, plaintext } = await keys.create({
      name: 'BI tool',
      role: 'analyst',
      attributes: { section: 'Mobile' },
    });
    expect(key).toEqual({
      id: key.id,
      name: 'BI tool',
      role: 'analyst',
      createdAt: '2024-05-01T10:00:00.000Z',
      revokedAt: null,
      attributes: { section: 'Mobile' },
    });
    expect(plaintext.startsWith(`cpk_${key.id}_`)).toBe(true);
    const files = await readdir(join(root, 'processed', '_system', 'keys'));
    expect(files).toEqual([`${key.id}.json`]);
    const text = await readFile(join(root, 'processed', KEYS_PREFIX, `${key.id}.json`), 'utf8');
    const secret = plaintext.slice(`cpk_${key.id}_`.length);
    expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toEqual({ ...key, hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(await keys.verify(plaintext)).toEqual({
      keyId: key.id,
      name: 'BI tool',
      role: 'analyst',
      attributes: { section: 'Mobile' },
    });
  });

  it('lists keys oldest first without hashes', async () => {
    const a = await keys.create({ name: 'first', role: 'viewer' });
    clock = new Date('2024-05-02T10:00:00.000Z');
    const b = await keys.create({ name: 'second', role: 'admin' });
    const list = await keys.list();
    expect(list).toEqual([a.key, b.key]);
    expect(JSON.stringify(list)).not.toContain('sha256');
  });

  it('refuses malformed, unknown and mismatched keys with one message, and says a revoked key was revoked', async () => {
    const { key, plaintext } = await keys.create({ name: 'ci', role: 'viewer' });
    const other = plaintext.replace(`cpk_${key.id}_`, 'cpk_0000000000000000_');
    const wrong = plaintext.slice(0, -1) + (plaintext.endsWith('A') ? 'B' : 'A');
    clock = new Date('2024-05-03T00:00:00.000Z');
    const otherStore = new ApiKeyStore(store);
    // Another process (the CLI) revokes; this store has not cached the key, so it sees the revocation at once.
    await otherStore.revoke(key.id);
    const reasons = await Promise.all(
      ['cpk_nope', other, wrong, plaintext].map(async (k) => {
        const err = await failure(keys.verify(k));
        expect(err.code).toBe('UNAUTHENTICATED');
        // Only the holder of the key's secret learns it was revoked: no oracle for a guessed or altered key.
        expect(err.message).toBe(err.reason === 'revoked' ? KEY_REVOKED_MESSAGE : UNAUTHENTICATED_MESSAGE);
        return err.reason;
      }),
    );
    expect(reasons).toEqual(['malformed', 'unknown', 'mismatch', 'revoked']);
  });

  it('revokes at once through the same store even while the key is cached, keeping the first revocation time', async () => {
    const { key, plaintext } = await keys.create({ name: 'app', role: 'viewer' });
    await keys.verify(plaintext);
    clock = new Date('2024-06-01T00:00:00.000Z');
    expect((await keys.revoke(key.id)).revokedAt).toBe('2024-06-01T00:00:00.000Z');
    expect((await failure(keys.verify(plaintext))).reason).toBe('revoked');
    clock = new Date('2024-07-01T00:00:00.000Z');
    expect((await keys.revoke(key.id)).revokedAt).toBe('2024-06-01T00:00:00.000Z');
  });

  it('answers NOT_FOUND for revoking an unknown or malformed id', async () => {
    await expect(keys.revoke('0123456789abcdef')).rejects.toThrow(
      new NotFoundError('API key "0123456789abcdef" not found'),
    );
    await expect(keys.revoke('../../x')).rejects.toThrow(new NotFoundError('API key "../../x" not found'));
  });

  it('validates names, roles and attributes', async () => {
    await expect(keys.create({ name: '  ', role: 'viewer' })).rejects.toThrow(
      new BadInputError('name: expected 1 to 100 printable characters'),
    );
    await expect(keys.create({ name: 'x', role: 'Admin' })).rejects.toThrow(
      new BadInputError('role: "Admin" is not a role name (lower case letters, digits, _ and -)'),
    );
    await expect(keys.create({ name: 'x', role: 'viewer', attributes: { 'a b': '1' } })).rejects.toThrow(
      new BadInputError('attributes: "a b" is not a valid attribute name'),
    );
  });

  it('authenticates no one with a damaged record', async () => {
    const { key, plaintext } = await keys.create({ name: 'x', role: 'viewer' });
    await store.put('processed', `${KEYS_PREFIX}${key.id}.json`, '{"id": "not this"}');
    expect((await failure(new ApiKeyStore(store).verify(plaintext))).reason).toBe('unknown');
  });

  it('creates an admin key on first start only, also when every key was revoked', async () => {
    const first = await ensureAdminKey(keys);
    expect(first).toMatch(/^cpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect((await keys.verify(first!)).role).toBe('admin');
    const [only] = await keys.list();
    await keys.revoke(only!.id);
    expect(await ensureAdminKey(keys)).toBeUndefined();
    expect(await keys.list()).toHaveLength(1);
  });
});

describe('API key store on the S3 protocol', () => {
  it('creates, verifies and revokes keys in the processed bucket', async () => {
    const server = await startS3Server(['k-raw', 'k-processed', 'k-exports']);
    try {
      const store = new S3ObjectStore(server.client, { raw: 'k-raw', processed: 'k-processed', exports: 'k-exports' });
      const keys = new ApiKeyStore(store, { cacheTtlMs: 0 });
      const admin = await ensureAdminKey(keys);
      const { key, plaintext } = await keys.create({ name: 'etl dashboard', role: 'viewer' });
      expect((await keys.verify(admin!)).role).toBe('admin');
      expect((await keys.verify(plaintext)).keyId).toBe(key.id);
      await keys.revoke(key.id);
      expect((await failure(keys.verify(plaintext))).reason).toBe('revoked');
      expect((await keys.list()).map((k) => k.role).sort()).toEqual(['admin', 'viewer']);
      const object = await store.getBytes('processed', `${KEYS_PREFIX}${key.id}.json`);
      expect(Buffer.from(object).toString('utf8')).not.toContain(plaintext.slice(21));
    } finally {
      await server.stop();
    }
  });
});
