import { z } from 'zod';
import { BadInputError, NotFoundError } from '../domain/errors.js';
import type { CallerAttribute } from '../domain/policy.js';
import type { Logger } from '../ports/logger.js';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';
import { apiKeySecretMatches, generateApiKey, hashApiKeySecret, isApiKeyId, parseApiKey } from './api-keys.js';
import { UnauthenticatedError } from './auth-errors.js';

/** Key records live in the processed bucket, beside the other system records (`_catalog/`, `_pipeline/`). */
export const KEYS_PREFIX = '_system/keys/';

/** The stored record of an API key: the secret only as its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601; null while the key is valid. */
  revokedAt: string | null;
  /** `sha256:<hex>`, see hashApiKeySecret. */
  hash: string;
  /** Values row filters may use as `$caller.attributes.<name>`, e.g. `{ section: 'First level' }`. */
  attributes: Record<string, string>;
}

/** A key as listed: never the hash, never the secret. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'hash'>;

/** Who a verified key belongs to. */
export interface VerifiedApiKey {
  keyId: string;
  name: string;
  role: string;
  attributes: Readonly<Record<string, CallerAttribute>>;
}

export interface NewApiKey {
  name: string;
  role: string;
  attributes?: Record<string, string>;
}

export interface ApiKeyStoreOptions {
  /**
   * How long a verified key's record is reused without reading the store again, in ms. Default 5000. It bounds
   * how long a key revoked by another process (`careplus keys revoke`) still works here; a revocation made
   * through this store takes effect at once. 0 reads the store on every request.
   */
  cacheTtlMs?: number;
  now?: () => Date;
  logger?: Logger;
}

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_:.-]{0,127}$/;
const MAX_NAME = 100;
const MAX_ATTRIBUTE_VALUE = 256;

const recordSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string(),
  role: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  hash: z.string().startsWith('sha256:'),
  attributes: z.record(z.string(), z.string()).default({}),
});

/**
 * API keys in the object store (local folder or S3), one JSON record per key at processed
 * `_system/keys/<id>.json`. Works the same for every process sharing the lake: the API, the CLI and the Lambda.
 */
export class ApiKeyStore {
  private readonly cacheTtlMs: number;
  private readonly now: () => Date;
  private readonly cache = new Map<string, { record: ApiKeyRecord; until: number }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: ApiKeyStoreOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
    this.now = options.now ?? (() => new Date());
  }

  /** Creates a key and returns its plaintext: the only time it exists outside the client. */
  async create(input: NewApiKey): Promise<{ key: ApiKeyInfo; plaintext: string }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_NAME || /[\p{Cc}]/u.test(name)) {
      throw new BadInputError(`name: expected 1 to ${MAX_NAME} printable characters`);
    }
    if (!ROLE_NAME.test(input.role)) {
      throw new BadInputError(`role: "${input.role}" is not a role name (lower case letters, digits, _ and -)`);
    }
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.attributes ?? {})) {
      if (!ATTRIBUTE_NAME.test(k)) throw new BadInputError(`attributes: "${k}" is not a valid attribute name`);
      if (v.length > MAX_ATTRIBUTE_VALUE || /[\p{Cc}]/u.test(v)) {
        throw new BadInputError(`attributes.${k}: expected at most ${MAX_ATTRIBUTE_VALUE} printable characters`);
      }
      attributes[k] = v;
    }
    // A 64-bit id collides with negligible probability; If-None-Match makes even that a retry, not an overwrite.
    for (let attempt = 0; ; attempt++) {
      const generated = generateApiKey();
      const record: ApiKeyRecord = {
        id: generated.id,
        name,
        role: input.role,
        createdAt: this.now().toISOString(),
        revokedAt: null,
        hash: hashApiKeySecret(generated.id, generated.secret),
        attributes,
      };
      try {
        await this.store.put('processed', keyOf(record.id), JSON.stringify(record, null, 2) + '\n', {
          contentType: 'application/json',
          ifNoneMatch: true,
        });
      } catch (err) {
        if (err instanceof ObjectExistsError && attempt < 2) continue;
        throw err;
      }
      return { key: infoOf(record), plaintext: generated.plaintext };
    }
  }

  /** Every key, oldest first, without hashes. */
  async list(): Promise<ApiKeyInfo[]> {
    const out: ApiKeyInfo[] = [];
    for await (const object of this.store.listAll('processed', KEYS_PREFIX)) {
      const id = object.key.slice(KEYS_PREFIX.length).replace(/\.json$/, '');
      if (!isApiKeyId(id)) continue;
      const record = await this.read(id);
      if (record !== undefined) out.push(infoOf(record));
    }
    return out.sort((a, b) => (a.createdAt === b.createdAt ? compare(a.id, b.id) : compare(a.createdAt, b.createdAt)));
  }

  /** Whether any key exists, valid or revoked. */
  async hasAnyKey(): Promise<boolean> {
    const page = await this.store.list('processed', KEYS_PREFIX, { maxKeys: 1 });
    return page.objects.length > 0;
  }

  /** Revokes a key; revoking it again keeps the first revocation time. NOT_FOUND for an unknown id. */
  async revoke(id: string): Promise<ApiKeyInfo> {
    const record = isApiKeyId(id) ? await this.read(id) : undefined;
    if (record === undefined) throw new NotFoundError(`API key "${id}" not found`);
    this.cache.delete(id);
    if (record.revokedAt !== null) return infoOf(record);
    const revoked: ApiKeyRecord = { ...record, revokedAt: this.now().toISOString() };
    await this.store.put('processed', keyOf(id), JSON.stringify(revoked, null, 2) + '\n', {
      contentType: 'application/json',
    });
    return infoOf(revoked);
  }

  /**
   * Verifies a bearer key (the text after `Bearer `). Throws UnauthenticatedError, whose message is the same for
   * every failure of a key that does not prove itself (malformed, unknown, mismatch); a key whose secret matched and
   * that was revoked is told so (auth-errors.ts). The reason is for the audit log.
   */
  async verify(bearer: string): Promise<VerifiedApiKey> {
    const parsed = parseApiKey(bearer);
    if (parsed === undefined) throw new UnauthenticatedError('malformed');
    const record = await this.cachedRead(parsed.id);
    if (record === undefined) throw new UnauthenticatedError('unknown', { keyId: parsed.id });
    if (!apiKeySecretMatches(record.hash, parsed.id, parsed.secret)) {
      throw new UnauthenticatedError('mismatch', { keyId: parsed.id });
    }
    if (record.revokedAt !== null) throw new UnauthenticatedError('revoked', { keyId: parsed.id });
    return { keyId: record.id, name: record.name, role: record.role, attributes: { ...record.attributes } };
  }

  /**
   * Whether a key id names a key that exists and is not revoked, read through the same cache as `verify` (a key
   * revoked by another process counts as valid for at most `cacheTtlMs`). For what outlives a request made with the
   * key, e.g. the BI feeds it created.
   */
  async isActive(id: string): Promise<boolean> {
    return (await this.activeKey(id)) !== undefined;
  }

  /** The key while it is valid (not revoked), with the same cache window as `verify`; undefined otherwise. */
  async activeKey(id: string): Promise<ApiKeyInfo | undefined> {
    if (!isApiKeyId(id)) return undefined;
    const record = await this.cachedRead(id);
    if (record === undefined || record.revokedAt !== null) return undefined;
    const { hash: _hash, ...info } = record;
    return info;
  }

  private async cachedRead(id: string): Promise<ApiKeyRecord | undefined> {
    const now = Date.now();
    const hit = this.cache.get(id);
    if (hit !== undefined && hit.until > now) return hit.record;
    const record = await this.read(id);
    // Only existing records are cached: an unknown id is read again next time (a key created meanwhile works).
    if (record !== undefined && this.cacheTtlMs > 0) {
      this.cache.set(id, { record, until: now + this.cacheTtlMs });
      if (this.cache.size > 10_000) this.evictExpired(now);
    } else {
      this.cache.delete(id);
    }
    return record;
  }

  private evictExpired(now: number): void {
    for (const [id, entry] of this.cache) if (entry.until <= now) this.cache.delete(id);
  }

  private async read(id: string): Promise<ApiKeyRecord | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await this.store.getBytes('processed', keyOf(id));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      doc = undefined;
    }
    const parsed = recordSchema.safeParse(doc);
    if (!parsed.success || parsed.data.id !== id) {
      // A damaged record authenticates no one; it is reported, not repaired.
      this.options.logger?.warn('unreadable API key record', { keyId: id });
      return undefined;
    }
    return parsed.data;
  }
}

/**
 * First run of `npm start`: when the lake has no key at all, creates an admin key and returns its plaintext to
 * print once; otherwise undefined. A revoked key counts as a key: revoking every key never re-opens this door.
 */
export async function ensureAdminKey(keys: ApiKeyStore, role = 'admin'): Promise<string | undefined> {
  if (await keys.hasAnyKey()) return undefined;
  const { plaintext } = await keys.create({ name: 'admin (created on first start)', role });
  return plaintext;
}

function keyOf(id: string): string {
  return `${KEYS_PREFIX}${id}.json`;
}

function infoOf(record: ApiKeyRecord): ApiKeyInfo {
  const { hash: _hash, ...info } = record;
  return { ...info, attributes: { ...info.attributes } };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
