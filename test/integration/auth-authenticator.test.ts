import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphQLError } from 'graphql';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { AuditLog } from '../../src/auth/audit-log.js';
import {
  UnauthenticatedError,
  KEY_REVOKED_MESSAGE,
  TOKEN_EXPIRED_MESSAGE,
  UNAUTHENTICATED_MESSAGE,
  UNKNOWN_ROLE_MESSAGE,
} from '../../src/auth/auth-errors.js';
import { authenticateRequest } from '../../src/auth/authenticate-request.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { JwtVerifier } from '../../src/auth/jwt-verifier.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { loadPolicy } from '../../src/auth/policy.js';
import type { AccessPolicy } from '../../src/domain/policy.js';
import { startJwksServer, type JwksTestServer } from '../support/jwks-server.js';
import { REPO_ROOT } from '../support/policy-tables.js';

describe('Authenticator: API keys and JWTs behind one Authorization header', () => {
  let root: string;
  let idp: JwksTestServer;
  let policy: AccessPolicy;
  let keys: ApiKeyStore;
  let lines: string[];
  let audit: AuditLog;
  beforeAll(async () => {
    idp = await startJwksServer();
    policy = await loadPolicy(join(REPO_ROOT, 'policy.yaml'));
  });
  afterAll(async () => {
    await idp.stop();
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-authn-'));
    keys = new ApiKeyStore(new LocalObjectStore(root));
    lines = [];
    audit = new AuditLog(new JsonLogger('debug', (l) => lines.push(l)));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const jwt = (): JwtVerifier =>
    new JwtVerifier(
      {
        jwksUrl: idp.jwksUrl,
        issuer: 'https://idp.test/',
        audience: 'careplus',
        roleClaim: 'role',
        clockSkewSeconds: 0,
      },
      policy,
    );
  const token = (extra: Record<string, unknown> = {}): Promise<string> =>
    idp.sign({
      iss: 'https://idp.test/',
      aud: 'careplus',
      sub: 'alice',
      exp: Math.floor(Date.now() / 1000) + 300,
      role: 'section_lead',
      section: 'Mobile',
      ...extra,
    });

  async function refusal(auth: Authenticator, header: string | undefined): Promise<string> {
    try {
      await auth.authenticate(header);
    } catch (err) {
      expect(err).toBeInstanceOf(UnauthenticatedError);
      const { reason, message } = err as UnauthenticatedError;
      // One message for every credential that did not prove itself; a revoked key, an expired token and a key of a
      // role the policy no longer defines are told so.
      const proven: Record<string, string> = {
        revoked: KEY_REVOKED_MESSAGE,
        'expired-token': TOKEN_EXPIRED_MESSAGE,
        'unknown-role': UNKNOWN_ROLE_MESSAGE,
      };
      expect(message).toBe(proven[reason] ?? UNAUTHENTICATED_MESSAGE);
      return reason;
    }
    return 'accepted';
  }

  it('resolves an API key to a namespaced caller with its role and attributes', async () => {
    const { key, plaintext } = await keys.create({
      name: 'lead',
      role: 'section_lead',
      attributes: { section: 'Mobile' },
    });
    const auth = new Authenticator({ keys, policy, audit });
    expect(await auth.authenticate(`Bearer ${plaintext}`)).toEqual({
      id: `key:${key.id}`,
      subject: key.id,
      name: 'lead',
      role: 'section_lead',
      attributes: { section: 'Mobile' },
      via: 'api-key',
    });
    expect((await auth.authenticate(`bearer   ${plaintext}`)).id).toBe(`key:${key.id}`);
  });

  it('resolves a JWT to a caller namespaced apart from key ids', async () => {
    const auth = new Authenticator({ keys, policy, audit, jwt: jwt() });
    const caller = await auth.authenticate(`Bearer ${await token()}`);
    expect(caller).toMatchObject({
      id: 'jwt:alice',
      subject: 'alice',
      name: 'alice',
      role: 'section_lead',
      via: 'jwt',
    });
    expect(caller.attributes['section']).toBe('Mobile');
  });

  it('refuses every bad credential with one message (a proven key revoked or token expired told so) and audits the reason', async () => {
    const { key, plaintext } = await keys.create({ name: 'old', role: 'viewer' });
    const { plaintext: orphan } = await keys.create({ name: 'orphan', role: 'retired_role' });
    await keys.revoke(key.id);
    const withoutJwt = new Authenticator({ keys, policy, audit });
    const withJwt = new Authenticator({ keys, policy, audit, jwt: jwt() });
    const expired = await token({ exp: Math.floor(Date.now() / 1000) - 10 });
    const results = [
      await refusal(withoutJwt, undefined),
      await refusal(withoutJwt, ''),
      await refusal(withoutJwt, `Basic ${Buffer.from('a:b').toString('base64')}`),
      await refusal(withoutJwt, `Bearer`),
      await refusal(withoutJwt, `Bearer a b`),
      await refusal(withoutJwt, `Bearer ${plaintext}`),
      await refusal(withoutJwt, `Bearer ${orphan}`),
      await refusal(withoutJwt, `Bearer ${await token()}`),
      await refusal(withJwt, `Bearer ${expired}`),
      await refusal(withJwt, 'Bearer opaque-token'),
    ];
    expect(results).toEqual([
      'missing',
      'missing',
      'malformed',
      'malformed',
      'malformed',
      'revoked',
      'unknown-role',
      'jwt-disabled',
      'expired-token',
      'malformed',
    ]);
    const entries = lines.map((l) => JSON.parse(l) as { audit: Record<string, unknown> });
    expect(entries.map((e) => [e.audit['event'], e.audit['reason'], (e.audit['what'] as { via: string }).via])).toEqual(
      [
        ['auth.failed', 'missing', 'none'],
        ['auth.failed', 'missing', 'none'],
        ['auth.failed', 'malformed', 'none'],
        ['auth.failed', 'malformed', 'none'],
        ['auth.failed', 'malformed', 'none'],
        ['auth.failed', 'revoked', 'api-key'],
        ['auth.failed', 'unknown-role', 'api-key'],
        ['auth.failed', 'jwt-disabled', 'jwt'],
        ['auth.failed', 'expired-token', 'jwt'],
        ['auth.failed', 'malformed', 'none'],
      ],
    );
    expect((entries[5]!.audit['what'] as { keyId: string }).keyId).toBe(key.id);
    const log = lines.join('\n');
    for (const secret of [plaintext, orphan, expired, plaintext.slice(21)]) expect(log).not.toContain(secret);
  });
});

describe('authenticateRequest: the server seam', () => {
  it('returns the caller for a good header and a 401 request error for a bad one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'careplus-authn-seam-'));
    try {
      const policy = await loadPolicy(join(REPO_ROOT, 'policy.yaml'));
      const keys = new ApiKeyStore(new LocalObjectStore(root));
      const { key, plaintext } = await keys.create({ name: 'app', role: 'viewer' });
      const authenticate = authenticateRequest(new Authenticator({ keys, policy }));
      expect((await authenticate({ headers: { authorization: `Bearer ${plaintext}` } })).id).toBe(`key:${key.id}`);
      const refused = await authenticate({ headers: {} }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(GraphQLError);
      expect((refused as GraphQLError).message).toBe(UNAUTHENTICATED_MESSAGE);
      expect((refused as GraphQLError).extensions).toEqual({ code: 'UNAUTHENTICATED', http: { status: 401 } });
      expect((refused as GraphQLError).originalError).toBeInstanceOf(UnauthenticatedError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
