import { join } from 'node:path';
import { AccessControl } from '../../src/auth/access-control.js';
import { AuditLog } from '../../src/auth/audit-log.js';
import type { AuthenticatedCaller } from '../../src/auth/authenticator.js';
import { loadPolicy } from '../../src/auth/policy.js';
import type { AccessPolicy } from '../../src/domain/policy.js';
import type { Logger } from '../../src/ports/logger.js';

/** The repository's shipped policy file. */
export const SHIPPED_POLICY = join(__dirname, '..', '..', 'policy.yaml');

/** An authenticated caller as the Authenticator makes them from an API key. */
export function testCaller(
  role: string,
  subject = `test-${role}`,
  attributes: AuthenticatedCaller['attributes'] = {},
): AuthenticatedCaller {
  return { id: `key:${subject}`, subject, name: `test ${role}`, role, attributes, via: 'api-key' };
}

/** The explicit caller of test servers that are not about access control: an admin of the shipped policy. */
export const TEST_ADMIN: AuthenticatedCaller = testCaller('admin');

/** An `authenticate` seam that takes every request as TEST_ADMIN. */
export function asTestAdmin(): Promise<AuthenticatedCaller> {
  return Promise.resolve(TEST_ADMIN);
}

/** The access control and audit log of a test server, over the shipped policy unless another is given. */
export async function testAccess(
  logger: Logger,
  policy?: AccessPolicy,
): Promise<{ access: AccessControl; audit: AuditLog }> {
  const audit = new AuditLog(logger);
  return { access: new AccessControl(policy ?? (await loadPolicy(SHIPPED_POLICY)), audit), audit };
}
