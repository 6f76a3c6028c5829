import type { ExportPredicateInput } from '../domain/export-request.js';
import type { Logger } from '../ports/logger.js';
import { API_KEY_PREFIX } from './api-keys.js';
import type { CredentialFailure } from './auth-errors.js';

/**
 * The audit trail: one structured line per export request, per denied access and per failed sign-in, through the
 * Logger port (`{"msg":"audit","audit":{"event","who","what","when","outcome",...}}`).
 *
 * What it never holds: an API key or token (only key ids and token subjects), a signed URL (no URLs at all), or
 * values of any kind from the data or the request (predicates are logged as column and operator, never values,
 * since a value may be exactly what a mask hides). Every string is also scrubbed of anything shaped like a key, a
 * JWT or a URL query string before it is written, in case a caller's input carries one.
 */
export type AuditEvent =
  'export.requested' | 'export.estimated' | 'access.denied' | 'auth.failed' | 'key.created' | 'key.revoked';

export type AuditOutcome = 'accepted' | 'reused' | 'refused' | 'denied' | 'failed';

/** Who acted: a caller as authentication resolved it, or the operator at the command line. */
export interface AuditActor {
  id: string;
  name: string;
  role: string;
}

export interface ExportAuditDetails {
  dataset: string;
  /** Requested columns; null for "every visible column". */
  columns?: readonly string[] | null;
  where?: readonly ExportPredicateInput[] | null;
  engine?: string;
  jobId?: string;
  /** The error code of a refusal (BAD_USER_INPUT, LIMIT_EXCEEDED, FORBIDDEN, ...). */
  code?: string;
}

export class AuditLog {
  private readonly logger: Logger;

  constructor(
    logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.logger = logger.child({ component: 'audit' });
  }

  /** An export request (or estimate) and what became of it: accepted (new job), reused (existing job), refused. */
  exportRequested(
    who: AuditActor,
    what: ExportAuditDetails,
    outcome: 'accepted' | 'reused' | 'refused',
    event: 'export.requested' | 'export.estimated' = 'export.requested',
  ): void {
    this.write(
      event,
      who,
      {
        dataset: what.dataset,
        columns: what.columns ?? null,
        where: (what.where ?? []).map((p) => ({ column: p.column, op: p.op })),
        ...(what.engine !== undefined ? { engine: what.engine } : {}),
        ...(what.jobId !== undefined ? { jobId: what.jobId } : {}),
        ...(what.code !== undefined ? { code: what.code } : {}),
      },
      outcome,
    );
  }

  /**
   * An authenticated caller refused: a dataset it may not see (answered as NOT_FOUND), a hidden column (answered
   * as unknown), a capability its role lacks (FORBIDDEN), a rate or cost limit.
   */
  accessDenied(who: AuditActor, what: { action: string; dataset?: string; column?: string }, reason: string): void {
    this.write('access.denied', who, what, 'denied', reason);
  }

  /** A request without valid credentials. `keyId` is the id a key claimed (ids are not secrets). */
  authenticationFailed(reason: CredentialFailure, what: { via: 'api-key' | 'jwt' | 'none'; keyId?: string }): void {
    this.write('auth.failed', null, what, 'failed', reason);
  }

  keyCreated(who: AuditActor, key: { id: string; name: string; role: string }): void {
    this.write('key.created', who, { keyId: key.id, name: key.name, role: key.role }, 'accepted');
  }

  keyRevoked(who: AuditActor, key: { id: string }): void {
    this.write('key.revoked', who, { keyId: key.id }, 'accepted');
  }

  private write(
    event: AuditEvent,
    who: AuditActor | null,
    what: Record<string, unknown>,
    outcome: AuditOutcome,
    reason?: string,
  ): void {
    const entry = {
      event,
      who: who === null ? null : { id: who.id, name: who.name, role: who.role },
      what,
      when: this.now().toISOString(),
      outcome,
      ...(reason !== undefined ? { reason } : {}),
    };
    this.logger.info('audit', { audit: scrub(entry) });
  }
}

/** Broader than the key format on purpose: a truncated or mistyped key is still mostly a secret. */
const KEY_TEXT = new RegExp(`${API_KEY_PREFIX}[A-Za-z0-9_-]+`, 'g');
const JWT_TEXT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const URL_QUERY = /(https?:\/\/[^\s?#"]+)\?[^\s#"]*/gi;

/** Replaces anything shaped like a secret in every string of a value: keys, JWTs, URL query strings. */
export function scrub<T>(value: T): T {
  if (typeof value === 'string') {
    return value
      .replace(KEY_TEXT, '[redacted key]')
      .replace(JWT_TEXT, '[redacted token]')
      .replace(URL_QUERY, '$1?[redacted]') as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => scrub(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)])) as T;
  }
  return value;
}
