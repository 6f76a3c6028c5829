import { readJsonDocument } from '../../src/services/json-document.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { failureMemoKey } from './lake-keys.js';

/**
 * The last version of a source that failed for a reason its bytes and the definition decide (an empty file, a
 * truncated gzip, no valid record, a header that does not fit): the same bytes under the same definition fail the
 * same way again. `careplus start` ingests the whole raw bucket each time, so without this every start failed the
 * same file once more, and the pipeline status turned FAILING after a mere restart. Such a run is SKIPPED
 * (`already_failed`) instead; a changed file, a changed definition or `force` tries again.
 */
export interface FailureMemo {
  sourceKey: string;
  /** The object's ETag when it failed (on the local store: inode, size and modification time). */
  etag: string;
  fingerprint: string;
  reason: string;
  message: string;
  runId: string;
  failedAt: string;
}

/** The reason of the SKIPPED run of a version that failed for good before. */
export const ALREADY_FAILED = 'already_failed';

/**
 * Reasons that depend on the moment or the configuration, not on the bytes and the definition: a run failing for
 * them is tried again (`too_large` depends on the configured object limit, which may be raised).
 */
const PASSING_REASONS: ReadonlySet<string> = new Set([
  'lock_timeout',
  'lock_lost',
  'not_found',
  'internal',
  'no_space',
  'out_of_memory',
  'too_large',
]);

export function failsForGood(reason: string): boolean {
  return !PASSING_REASONS.has(reason);
}

export async function readFailureMemo(
  store: ObjectStore,
  dataset: string,
  sourceKey: string,
): Promise<FailureMemo | undefined> {
  let memo: Partial<FailureMemo> | undefined;
  try {
    memo = await readJsonDocument<Partial<FailureMemo>>(store, failureMemoKey(dataset, sourceKey));
  } catch (err) {
    // Unreadable: the source is simply tried again.
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  return typeof memo?.etag === 'string' && typeof memo.fingerprint === 'string' ? (memo as FailureMemo) : undefined;
}

export async function writeFailureMemo(store: ObjectStore, dataset: string, memo: FailureMemo): Promise<void> {
  await store.put('processed', failureMemoKey(dataset, memo.sourceKey), JSON.stringify(memo), {
    contentType: 'application/json',
  });
}
