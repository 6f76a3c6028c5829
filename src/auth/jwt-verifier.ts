import { createRemoteJWKSet, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AppConfig } from '../config.js';
import type { AccessPolicy, CallerAttribute } from '../domain/policy.js';
import { UnauthenticatedError } from './auth-errors.js';

/**
 * JWT bearer tokens (OIDC access or ID tokens, e.g. from Cognito) verified with `jose` against the issuer's JWKS:
 * signature with a key from the JWKS (by `kid`), `iss`, `aud`, `exp` (required) and `nbf` with a clock skew,
 * an asymmetric algorithm only (a JWKS is public: accepting HS* would let anyone sign). The role comes from a
 * claim, mapped to a policy role.
 */
export type JwtConfig = NonNullable<AppConfig['auth']['jwt']>;

/** Asymmetric JWS algorithms only. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
/** Longer bearer values are refused unread: no identity provider issues tokens this large. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** Only compact JWS (three base64url parts) is a candidate; encrypted tokens (JWE) are not accepted. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface VerifiedToken {
  subject: string;
  /** `name`, else `preferred_username`, else the subject. */
  name: string;
  /** The policy role the role claim maps to. */
  role: string;
  /** Scalar claims (and lists of scalars), for row filters as `$caller.attributes.<claim>`. */
  attributes: Readonly<Record<string, CallerAttribute>>;
}

export interface JwtVerifierOptions {
  /** Keys for a test or an offline deployment; by default fetched from `jwksUrl` and cached by jose. */
  keys?: JWTVerifyGetKey;
  /** Current time, for tests. */
  now?: () => Date;
  /** JWKS fetch timeout in ms. Default 5000. */
  jwksTimeoutMs?: number;
}

/** Whether a bearer value has the shape of a JWT (so it is not mistaken for an API key, or the reverse). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(token);
}

export class JwtVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    private readonly config: JwtConfig,
    private readonly policy: AccessPolicy,
    private readonly options: JwtVerifierOptions = {},
  ) {
    this.keys =
      options.keys ??
      createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: options.jwksTimeoutMs ?? 5000,
      });
  }

  /**
   * Verifies a token. Throws UnauthenticatedError (`invalid-token`, `expired-token`, `no-role`, `unknown-role`) for
   * a token at fault, and a plain Error (a server fault, masked at the edge) when the JWKS cannot be fetched.
   */
  async verify(token: string): Promise<VerifiedToken> {
    if (!looksLikeJwt(token)) throw new UnauthenticatedError('malformed');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockSkewSeconds,
        algorithms: JWT_ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        ...(this.options.now !== undefined ? { currentDate: this.options.now() } : {}),
      }));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_JWT_EXPIRED') throw new UnauthenticatedError('expired-token', { cause: err });
      if (typeof code === 'string' && TOKEN_FAULTS.has(code)) {
        throw new UnauthenticatedError('invalid-token', { cause: err });
      }
      throw new Error(`JWT verification failed on the server side: ${(err as Error).message}`, { cause: err });
    }
    const subject = payload.sub;
    // jose checks that `sub` is present, not what it is: an id is made of it, so only a non-empty string will do.
    if (typeof subject !== 'string' || subject === '') throw new UnauthenticatedError('invalid-token');
    const values = claimValues(payload, this.config.roleClaim);
    if (values.length === 0) throw new UnauthenticatedError('no-role');
    const role = mapRoleClaim(this.policy, values);
    if (role === undefined) throw new UnauthenticatedError('unknown-role');
    const name = [payload['name'], payload['preferred_username']].find((v) => typeof v === 'string' && v !== '');
    return { subject, name: (name as string | undefined) ?? subject, role, attributes: attributesOf(payload) };
  }
}

/** jose error codes that mean the token (not the server) is at fault. */
const TOKEN_FAULTS: ReadonlySet<string> = new Set([
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
]);

/**
 * The role for a token's role-claim values: the first value (in claim order) that `jwtRoles` maps, or that names a
 * role itself. Cognito's `cognito:groups` is a list; most providers send one string.
 */
export function mapRoleClaim(policy: AccessPolicy, values: readonly string[]): string | undefined {
  for (const v of values) {
    const role = policy.jwtRoles.get(v) ?? (policy.roles.has(v) ? v : undefined);
    if (role !== undefined) return role;
  }
  return undefined;
}

/** A claim's string values: the claim itself (`cognito:groups`), else a dotted path (`realm_access.roles`). */
function claimValues(payload: JWTPayload, claim: string): string[] {
  let value: unknown = payload[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((node, part) => {
      return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
    }, payload);
  }
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

function attributesOf(payload: JWTPayload): Record<string, CallerAttribute> {
  const out: Record<string, CallerAttribute> = {};
  const scalar = (v: unknown): v is string | number | boolean =>
    typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
  for (const [k, v] of Object.entries(payload)) {
    if (scalar(v)) out[k] = v;
    else if (Array.isArray(v) && v.every(scalar)) out[k] = [...v];
  }
  return out;
}
