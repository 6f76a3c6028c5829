import { AppError } from '../domain/errors.js';

/**
 * One message for every authentication failure whose credential was not proven: a client cannot tell a malformed
 * key from an unknown or mismatched one, so the answer is no oracle. The reason is kept on the error for the audit
 * log. A credential that proved itself and is no longer valid is told so (PROVEN_FAILURE_MESSAGES): only its holder
 * can learn it, and the generic message sent users looking for a typo.
 */
export const UNAUTHENTICATED_MESSAGE = 'Missing or invalid credentials: send Authorization: Bearer <API key or token>';

/** What the holder of a revoked key is told (its secret matched). */
export const KEY_REVOKED_MESSAGE = 'this API key was revoked: ask an administrator for a new key';
/** What the holder of an expired token is told (its signature was verified). */
export const TOKEN_EXPIRED_MESSAGE = 'the token has expired: get a new one from your identity provider';

/** What the holder of a token whose signature held, but that names no role in the configured claim, is told. */
export const TOKEN_NO_ROLE_MESSAGE =
  'the token names no role (its role claim is missing or empty): ask an administrator to give your account a role';
/**
 * What the holder of a proven credential whose role the access policy does not define is told: a key of a role since
 * removed from the policy, or a token whose role claim (every value of a list) maps to no role.
 */
export const UNKNOWN_ROLE_MESSAGE =
  "your credential's role is not one the access policy defines: ask an administrator to map it to a role";

/** What a holder of a proven but no-longer-valid credential is told, by reason. */
const PROVEN_FAILURE_MESSAGES: Partial<Record<string, string>> = {
  revoked: KEY_REVOKED_MESSAGE,
  'expired-token': TOKEN_EXPIRED_MESSAGE,
  // Proven too (the key's secret matched, the token's signature held): the generic message sent an identity
  // provider's user whose groups map to no role looking for a typo in a token that is fine.
  'no-role': TOKEN_NO_ROLE_MESSAGE,
  'unknown-role': UNKNOWN_ROLE_MESSAGE,
};

/** The message of an authentication failure of this reason (UNAUTHENTICATED_MESSAGE unless the credential was proven). */
export function unauthenticatedMessage(reason: string): string {
  return PROVEN_FAILURE_MESSAGES[reason] ?? UNAUTHENTICATED_MESSAGE;
}

export const CREDENTIAL_FAILURES = [
  /** No Authorization header (or connection parameter). */
  'missing',
  /** Not a Bearer credential, or neither the API key nor the JWT format. */
  'malformed',
  /** A well-formed key whose id has no record. */
  'unknown',
  /** A key whose secret does not match its record. */
  'mismatch',
  'revoked',
  /** A JWT that fails verification: signature, issuer, audience, expiry, not-before, unknown kid. */
  'invalid-token',
  'expired-token',
  /** A JWT without the configured role claim. */
  'no-role',
  /** A role (stored on a key, or mapped from a claim) the policy does not define. */
  'unknown-role',
  /** A JWT while JWT verification is not configured. */
  'jwt-disabled',
] as const;
export type CredentialFailure = (typeof CREDENTIAL_FAILURES)[number];

export class UnauthenticatedError extends AppError {
  readonly reason: CredentialFailure;
  /** The key id the credential claimed, when it had one; safe to log (ids are not secrets). */
  readonly keyId: string | undefined;
  constructor(reason: CredentialFailure, options?: { cause?: unknown; keyId?: string }) {
    super('UNAUTHENTICATED', unauthenticatedMessage(reason), options);
    this.name = 'UnauthenticatedError';
    this.reason = reason;
    this.keyId = options?.keyId;
  }
}

/** An authenticated caller whose role lacks a capability. Never used for datasets the caller cannot see. */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message);
    this.name = 'ForbiddenError';
  }
}
