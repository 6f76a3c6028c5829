import { type AccessPolicy, apiKeyCaller, type PolicyCaller } from '../domain/policy.js';
import { API_KEY_PREFIX } from './api-keys.js';
import type { AuditLog } from './audit-log.js';
import { UnauthenticatedError } from './auth-errors.js';
import { type JwtVerifier, looksLikeJwt } from './jwt-verifier.js';
import type { ApiKeyStore } from './key-store.js';

/** A caller whose credentials were verified: what the GraphQL context carries and the policy decides on. */
export interface AuthenticatedCaller extends PolicyCaller {
  via: 'api-key' | 'jwt';
}

export interface AuthenticatorDeps {
  keys: ApiKeyStore;
  policy: AccessPolicy;
  /** Present when config.auth.jwt is set; without it a JWT is refused like any unknown credential. */
  jwt?: JwtVerifier;
  audit?: AuditLog;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Turns an `Authorization` value into a caller: `Bearer cpk_...` (an API key) or `Bearer <JWT>`. Every failure is
 * an UnauthenticatedError, audited with its reason, with one message (no oracle) unless the credential proved itself
 * (a revoked key whose secret matched, an expired token whose signature held: auth-errors.ts). Used by the HTTP context function
 * and by the websocket `onConnect` alike, so both paths accept exactly the same credentials.
 */
export class Authenticator {
  constructor(private readonly deps: AuthenticatorDeps) {}

  async authenticate(authorization: string | null | undefined): Promise<AuthenticatedCaller> {
    let via: 'api-key' | 'jwt' | 'none' = 'none';
    try {
      if (authorization === undefined || authorization === null || authorization.trim() === '') {
        throw new UnauthenticatedError('missing');
      }
      const token = BEARER.exec(authorization)?.[1];
      if (token === undefined) throw new UnauthenticatedError('malformed');
      if (token.startsWith(API_KEY_PREFIX)) {
        via = 'api-key';
        const key = await this.deps.keys.verify(token);
        if (!this.deps.policy.roles.has(key.role)) throw new UnauthenticatedError('unknown-role', { keyId: key.keyId });
        return { ...apiKeyCaller(key.keyId, key), via };
      }
      if (looksLikeJwt(token)) {
        via = 'jwt';
        if (this.deps.jwt === undefined) throw new UnauthenticatedError('jwt-disabled');
        const verified = await this.deps.jwt.verify(token);
        return {
          id: `jwt:${verified.subject}`,
          subject: verified.subject,
          name: verified.name,
          role: verified.role,
          attributes: verified.attributes,
          via,
        };
      }
      throw new UnauthenticatedError('malformed');
    } catch (err) {
      if (err instanceof UnauthenticatedError) {
        this.deps.audit?.authenticationFailed(err.reason, {
          via,
          ...(err.keyId !== undefined ? { keyId: err.keyId } : {}),
        });
      }
      throw err;
    }
  }
}
