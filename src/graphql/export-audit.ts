import type { AuditLog } from '../auth/audit-log.js';
import { AppError } from '../domain/errors.js';
import type { ExportRequestInput } from '../domain/export-request.js';
import type { Caller } from './context.js';

/**
 * Runs an export request or estimate and writes its audit line: `accepted` (a new job, or an estimate given),
 * `reused` (an existing job answered) or `refused` (with the error's code). The line names the dataset, the
 * columns and the predicates' columns and operators, never their values.
 */
export async function audited<T>(
  audit: AuditLog,
  caller: Caller,
  request: ExportRequestInput,
  event: 'export.requested' | 'export.estimated',
  run: () => Promise<AuditedAnswer<T>>,
): Promise<T> {
  const what = { dataset: request.dataset, columns: request.columns ?? null, where: request.where ?? null };
  let answer: AuditedAnswer<T>;
  try {
    answer = await run();
  } catch (err) {
    const code = err instanceof AppError ? err.code : 'INTERNAL_SERVER_ERROR';
    audit.exportRequested(caller, { ...what, code }, 'refused', event);
    throw err;
  }
  const { result, reused, jobId, engine } = answer;
  audit.exportRequested(
    caller,
    { ...what, ...(jobId !== undefined ? { jobId } : {}), ...(engine !== undefined ? { engine } : {}) },
    reused ? 'reused' : 'accepted',
    event,
  );
  return result;
}

export interface AuditedAnswer<T> {
  result: T;
  /** An existing job answered the request. */
  reused: boolean;
  jobId?: string;
  engine?: string;
}
