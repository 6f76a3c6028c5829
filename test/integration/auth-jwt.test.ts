import { createHmac } from 'node:crypto';
import {
  UnauthenticatedError,
  TOKEN_EXPIRED_MESSAGE,
  TOKEN_NO_ROLE_MESSAGE,
  UNAUTHENTICATED_MESSAGE,
  UNKNOWN_ROLE_MESSAGE,
} from '../../src/auth/auth-errors.js';
import { JwtVerifier, type JwtConfig } from '../../src/auth/jwt-verifier.js';
import { parsePolicyText } from '../../src/auth/policy.js';
import { startJwksServer, type JwksTestServer } from '../support/jwks-server.js';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'careplus-api';
const NOW = Math.floor(Date.parse('2024-05-01T12:00:00Z') / 1000);
const policy = parsePolicyText(
  `
version: 1
roles: { analyst: {}, viewer: {} }
jwtRoles: { careplus-analysts: analyst }
`,
  'policy.yaml',
);

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof UnauthenticatedError)) throw err;
    // Generic, so no oracle, except for a token whose signature held: its holder is told that it expired, or that
    // it names no role the policy defines.
    const proven: Record<string, string> = {
      'expired-token': TOKEN_EXPIRED_MESSAGE,
      'no-role': TOKEN_NO_ROLE_MESSAGE,
      'unknown-role': UNKNOWN_ROLE_MESSAGE,
    };
    expect(err.message).toBe(proven[err.reason] ?? UNAUTHENTICATED_MESSAGE);
    return err.reason;
  }
  return 'accepted';
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('JWT bearer verification against a JWKS URL', () => {
  let idp: JwksTestServer;
  let config: JwtConfig;
  let verifier: JwtVerifier;
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-42',
    iat: NOW - 60,
    exp: NOW + 600,
    role: 'viewer',
    ...extra,
  });

  beforeAll(async () => {
    idp = await startJwksServer();
    config = { jwksUrl: idp.jwksUrl, issuer: ISSUER, audience: AUDIENCE, roleClaim: 'role', clockSkewSeconds: 60 };
    verifier = new JwtVerifier(config, policy, { now: () => new Date(NOW * 1000) });
  });
  afterAll(async () => {
    await idp.stop();
  });

  it('accepts a valid token and maps its role claim, with scalar claims as attributes', async () => {
    const token = await idp.sign(claims({ name: 'Ada', region: 'EU', groups: ['a', 'b'], nested: { x: 1 } }));
    expect(await verifier.verify(token)).toEqual({
      subject: 'user-42',
      name: 'Ada',
      role: 'viewer',
      attributes: {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: 'user-42',
        iat: NOW - 60,
        exp: NOW + 600,
        role: 'viewer',
        name: 'Ada',
        region: 'EU',
        groups: ['a', 'b'],
      },
    });
  });

  it('accepts a key of another type from the same JWKS (ES256)', async () => {
    expect((await verifier.verify(await idp.sign(claims(), { key: 'ec' }))).subject).toBe('user-42');
  });

  it('maps a list claim through jwtRoles, first mapped value first', async () => {
    const cognito = new JwtVerifier({ ...config, roleClaim: 'cognito:groups' }, policy, {
      now: () => new Date(NOW * 1000),
    });
    const token = await idp.sign(claims({ 'cognito:groups': ['everyone', 'careplus-analysts', 'viewer'] }));
    expect((await cognito.verify(token)).role).toBe('analyst');
    const nested = new JwtVerifier({ ...config, roleClaim: 'realm_access.roles' }, policy, {
      now: () => new Date(NOW * 1000),
    });
    expect((await nested.verify(await idp.sign(claims({ realm_access: { roles: ['viewer'] } })))).role).toBe('viewer');
  });

  it('honours the clock skew on expiry and not-before', async () => {
    expect(await reason(verifier.verify(await idp.sign(claims({ exp: NOW - 30 }))))).toBe('accepted');
    expect(await reason(verifier.verify(await idp.sign(claims({ nbf: NOW + 30 }))))).toBe('accepted');
    expect(await reason(verifier.verify(await idp.sign(claims({ exp: NOW - 61 }))))).toBe('expired-token');
    expect(await reason(verifier.verify(await idp.sign(claims({ nbf: NOW + 61 }))))).toBe('invalid-token');
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.example.test/' }],
    ['a wrong audience', { aud: 'another-api' }],
    ['no expiry', { exp: undefined }],
    ['no subject', { sub: undefined }],
    ['an empty subject', { sub: '' }],
    ['a numeric subject', { sub: 42 }],
  ])('refuses a token with %s', async (_what, extra) => {
    expect(await reason(verifier.verify(await idp.sign(claims(extra))))).toBe('invalid-token');
  });

  it('refuses a tampered payload, a foreign signature and an unknown kid', async () => {
    const [h, , s] = (await idp.sign(claims())).split('.');
    const tampered = `${h}.${b64(claims({ role: 'analyst' }))}.${s}`;
    expect(await reason(verifier.verify(tampered))).toBe('invalid-token');
    expect(await reason(verifier.verify(await idp.sign(claims(), { key: 'foreign' })))).toBe('invalid-token');
    expect(await reason(verifier.verify(await idp.sign(claims(), { key: 'foreign', kid: 'rsa-9' })))).toBe(
      'invalid-token',
    );
  });

  it('refuses unsigned and HMAC-signed tokens (algorithm confusion)', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
    expect(await reason(verifier.verify(none))).toBe('invalid-token');
    const header = b64({ alg: 'HS256', kid: 'rsa-1', typ: 'JWT' });
    const body = b64(claims());
    const mac = createHmac('sha256', idp.jwksUrl).update(`${header}.${body}`).digest('base64url');
    expect(await reason(verifier.verify(`${header}.${body}.${mac}`))).toBe('invalid-token');
  });

  it('refuses a token without the role claim, or whose role the policy does not define', async () => {
    expect(await reason(verifier.verify(await idp.sign(claims({ role: undefined }))))).toBe('no-role');
    expect(await reason(verifier.verify(await idp.sign(claims({ role: '' }))))).toBe('no-role');
    expect(await reason(verifier.verify(await idp.sign(claims({ role: 'superuser' }))))).toBe('unknown-role');
  });

  it('refuses what is not a compact JWT before any key lookup', async () => {
    const before = idp.requests;
    expect(await reason(verifier.verify('not-a-token'))).toBe('malformed');
    expect(await reason(verifier.verify('a.b.c.d.e'))).toBe('malformed');
    expect(await reason(verifier.verify('x'.repeat(20_000) + '.a.b'))).toBe('malformed');
    expect(idp.requests).toBe(before);
  });

  it('reports an unreachable JWKS as a server fault, not as bad credentials', async () => {
    const down = await startJwksServer();
    const url = down.jwksUrl;
    const token = await down.sign(claims());
    await down.stop();
    const orphan = new JwtVerifier({ ...config, jwksUrl: url }, policy, { now: () => new Date(NOW * 1000) });
    const err = await orphan.verify(token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnauthenticatedError);
    expect((err as Error).message).toMatch(/^JWT verification failed on the server side: /);
  });
});
