import { readJsonDocument } from './json-document.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { lineageKey } from './lake-keys.js';

/**
 * What the published version of one source object produced, at processed `_pipeline/sources/<dataset>/<hash>.json`.
 * It decides whether a new event is a duplicate (same version), stale (older than what is published) or new, and
 * which files of an older version must go once a newer one is published.
 */
export interface SourceLineage {
  dataset: string;
  sourceKey: string;
  /** S3 version id, or `sha256:<hex>` of the object's bytes. */
  version: string;
  /** S3 event sequencer of the published version, when the event carried one. */
  sequencer: string | null;
  /** ISO 8601 last-modified time of the published version. */
  lastModified: string;
  /** Fingerprint of the dataset definition the outputs were made with; a new definition reprocesses. */
  definitionFingerprint: string;
  outputKeys: string[];
  quarantineKey: string | null;
  partitions: string[];
  runId: string;
  /** ISO 8601. */
  publishedAt: string;
  /** Keys of an older version still to delete; a crash between publishing and deleting leaves them here. */
  pendingDelete: string[];
  /**
   * Compacted files (`part-compacted-*`) that hold this source's rows, tagged with its hash in their `_source`
   * column: compaction moved them there from `outputKeys`.
   */
  compacted?: string[];
  /** Compacted files still to rid of this source's rows, after a newer version of it was published. */
  pendingPurge?: string[];
}

/** Whether an older version's files are still to delete or purge (a run died between publishing and cleaning up). */
export function hasPendingCleanup(lineage: SourceLineage): boolean {
  return lineage.pendingDelete.length > 0 || (lineage.pendingPurge ?? []).length > 0;
}

export async function readLineage(
  store: ObjectStore,
  dataset: string,
  sourceKey: string,
): Promise<SourceLineage | undefined> {
  return readJsonDocument<SourceLineage>(store, lineageKey(dataset, sourceKey));
}

export async function writeLineage(store: ObjectStore, lineage: SourceLineage): Promise<void> {
  await store.put('processed', lineageKey(lineage.dataset, lineage.sourceKey), JSON.stringify(lineage, null, 2), {
    contentType: 'application/json',
  });
}

/**
 * Orders two S3 event sequencers. They are hexadecimal strings of varying length; S3 documents that they are
 * compared after left-padding the shorter with zeros.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padStart(width, '0');
  const pb = b.toUpperCase().padStart(width, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/**
 * True when the incoming object version is older than the published one: by sequencer when both have one,
 * otherwise by last-modified time. Equal times are not older (the later event wins a tie).
 */
export function isOlderThanPublished(
  incoming: { sequencer: string | undefined; lastModified: Date },
  published: SourceLineage,
): boolean {
  if (incoming.sequencer !== undefined && published.sequencer !== null) {
    return compareSequencers(incoming.sequencer, published.sequencer) < 0;
  }
  return incoming.lastModified.getTime() < Date.parse(published.lastModified);
}
