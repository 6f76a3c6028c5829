import { createHash } from 'node:crypto';
import { INTENTS_PREFIX, LINEAGES_PREFIX } from '../../src/services/compaction-view.js';

/**
 * Every key the ETL writes in the processed bucket, in one place. Output keys are derived from the source
 * object and its version only, so reprocessing a source overwrites its own files instead of adding new ones.
 */

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Names one version of one source object: sha256 of `<source key>\n<version>`, first 16 hex digits. */
export function sourceVersionHash(sourceKey: string, version: string): string {
  return sha256Hex(`${sourceKey}\n${version}`).slice(0, 16);
}

/** Names a source object across its versions: sha256 of the source key, first 16 hex digits. */
export function sourceKeyHash(sourceKey: string): string {
  return sha256Hex(sourceKey).slice(0, 16);
}

export function partitionPrefix(dataset: string, partitionColumn: string, value: string): string {
  return `${dataset}/${partitionColumn}=${value}/`;
}

/** The partition value of a key under `partitionPrefix`; undefined for a key outside the dataset's partitions. */
export function partitionOfKey(dataset: string, partitionColumn: string, key: string): string | undefined {
  const head = `${dataset}/${partitionColumn}=`;
  if (!key.startsWith(head)) return undefined;
  const end = key.indexOf('/', head.length);
  return end <= head.length ? undefined : key.slice(head.length, end);
}

/** `<dataset>/<partcol>=<value>/part-<hash>.parquet`. */
export function outputKey(
  dataset: string,
  partitionColumn: string,
  value: string,
  sourceKey: string,
  version: string,
): string {
  return `${partitionPrefix(dataset, partitionColumn, value)}part-${sourceVersionHash(sourceKey, version)}.parquet`;
}

/** `_quarantine/<dataset>/<hash of source key and version>.jsonl`: the rejected records of one source version. */
export function quarantineKey(dataset: string, sourceKey: string, version: string): string {
  return `_quarantine/${dataset}/${sourceVersionHash(sourceKey, version)}.jsonl`;
}

/**
 * `_pipeline/intents/<dataset>/<hash of source key>.json`: the files a version of a source is about to publish,
 * written before the first of them and removed once the version is committed (see publish-intent.ts).
 */
export function publishIntentKey(dataset: string, sourceKey: string): string {
  return `${INTENTS_PREFIX}${dataset}/${sourceKeyHash(sourceKey)}.json`;
}

/** `_pipeline/failures/<dataset>/<hash of source key>.json`: the last version of a source that failed for good. */
export function failureMemoKey(dataset: string, sourceKey: string): string {
  return `_pipeline/failures/${dataset}/${sourceKeyHash(sourceKey)}.json`;
}

/** `_pipeline/sources/<dataset>/<hash of source key>.json`: what the current version of a source published. */
export function lineageKey(dataset: string, sourceKey: string): string {
  return lineageKeyOfHash(dataset, sourceKeyHash(sourceKey));
}

/** The lineage key of a source known by its hash only (a compacted row's `_source`). */
export function lineageKeyOfHash(dataset: string, sourceHash: string): string {
  return `${lineagePrefix(dataset)}${sourceHash}.json`;
}

/** `_pipeline/sources/<dataset>/`: every source's lineage. */
export function lineagePrefix(dataset: string): string {
  return `${LINEAGES_PREFIX}${dataset}/`;
}

/** `_pipeline/runs/<dataset>/<yyyyMMddTHHmmssSSSZ>-<runId>.json`: keys sort by start time. */
export function runRecordKey(dataset: string, startedAt: Date, runId: string): string {
  return `_pipeline/runs/${dataset}/${compactTimestamp(startedAt)}-${runId}.json`;
}

/**
 * Partitions share 64 lock slots (by hash of the value): two runs touching the same partition always meet on its
 * slot, and a file spanning years of days takes at most 64 locks instead of one per day.
 */
export const PARTITION_LOCK_SLOTS = 64;

export function partitionLockName(partitionValue: string): string {
  const slot = parseInt(sha256Hex(partitionValue).slice(0, 8), 16) % PARTITION_LOCK_SLOTS;
  return `partitions-${String(slot).padStart(2, '0')}`;
}

/** The lock every run of one source holds while it publishes (and while its lineage is written whole). */
export function sourceLockName(sourceKey: string): string {
  return `source-${sourceKeyHash(sourceKey)}`;
}

/** `_pipeline/locks/<dataset>/<name>.json`. */
export function lockKey(dataset: string, name: string): string {
  return `_pipeline/locks/${dataset}/${name}.json`;
}

/** `2024-03-01T12:34:56.789Z` → `20240301T123456789Z`. */
export function compactTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, '');
}
