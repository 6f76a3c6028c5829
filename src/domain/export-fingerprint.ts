import { createHash } from 'node:crypto';
import type { NormalizedExportRequest } from './export-request.js';

/**
 * JSON with object keys sorted at every level and `undefined` members dropped: one text per value, so hashes of
 * equal values are equal. Arrays keep their order (the normaliser already sorted the ones whose order is moot).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** What the request asks for, apart from its idempotency key: same hash, same request. */
export function exportRequestHash(request: NormalizedExportRequest): string {
  return sha256(canonicalJson({ v: 1, request: { ...request, idempotencyKey: null } }));
}

/** A version of the data a plan reads: the files (keys and ETags) and the table's schema version. */
export function exportDataVersion(
  files: readonly { key: string; etag: string }[],
  table: { name: string; schemaVersion: number },
): string {
  const lines = files.map((f) => `${f.key}\u0000${f.etag}`).sort();
  return sha256(canonicalJson({ v: 1, table: table.name, schemaVersion: table.schemaVersion, files: lines }));
}

/**
 * The version of what an export's result holds for a request: raised by every fix that changes it, so that results
 * written before the fix are not handed out again for the same request (they stay until retention, under their
 * own fingerprints). 3: hashes keyed. 4: decimals of files at different scales read at each file's scale,
 * nanosecond timestamps before 1970 cut to the microsecond below, files whose largest text starts with a BOM no longer
 * pruned, doubles, floats and timestamps hashed alike on both engines. 5: files of an ingest's publish that has not
 * committed (one killed mid-publish) left out.
 */
export const RESULT_VERSION = 5;

/**
 * Identifies the work and its result: the normalised request, the data version and, when a column is masked by
 * hash, the mask key's id (mask-key.ts maskKeyId). The caller's grant is in the normalised request wherever it
 * shapes the result (the columns it may name, each column's mask, the row filter with the caller's attributes), so
 * two requests with one fingerprint produce the same bytes and the second may re-use the first one's job; a policy
 * change that leaves a request as it was leaves its job re-usable, a new mask key does not. RESULT_VERSION is part
 * of it, so a job finished before a fix that changed what a request's result holds is never re-used for it.
 */
export function exportFingerprint(
  request: NormalizedExportRequest,
  dataVersion: string,
  maskKeyId: string | null,
): string {
  const keyed = request.columns.some((c) => c.mask === 'hash') ? maskKeyId : null;
  return sha256(
    canonicalJson({ v: RESULT_VERSION, request: { ...request, idempotencyKey: null }, dataVersion, maskKeyId: keyed }),
  );
}
