import { readJsonDocument } from '../../src/services/json-document.js';
import { ObjectChangedError, type ObjectStore } from '../../src/ports/object-store.js';
import { runPool } from '../../src/domain/run-pool.js';
import { lineageKey, lineagePrefix } from './lake-keys.js';

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
  /**
   * Sources whose rows were dropped as this source's (same day and event key; this one was published first), by their
   * source key, with the partitions where that happened. Written by the losing source's run (a compare-and-swap, under
   * the lock of those partitions, before its own commit). Once this source's keys in a partition may have shrunk (a
   * newer version, a definition change, files of an older version deleted), the losers go to `pendingReruns`: the
   * rows they dropped may be no one's now.
   */
  losers?: Record<string, string[]>;
  /**
   * Losers (source keys) to reprocess, as `careplus ingest --force` would: recorded at the commit that may have shrunk
   * this source's keys, taken out one by one as each re-run ends; what a run that died left here, the next run of
   * this source (any version, even one it skips) reprocesses.
   */
  pendingReruns?: string[];
}

/** Whether losers of this source are still to reprocess (see SourceLineage.pendingReruns). */
export function hasPendingReruns(lineage: SourceLineage | undefined): boolean {
  return (lineage?.pendingReruns ?? []).length > 0;
}

/**
 * The lineage with its losers moved to `pendingReruns`: what it holds may no longer cover the keys they dropped.
 * Unchanged when it has no losers.
 */
export function withLosersPending(lineage: SourceLineage): SourceLineage {
  const { losers, ...rest } = lineage;
  const keys = Object.keys(losers ?? {});
  if (keys.length === 0) return lineage;
  return { ...rest, pendingReruns: [...new Set([...(lineage.pendingReruns ?? []), ...keys])].sort() };
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

/** Lineage reads in flight at once when every lineage of a dataset is read. */
const READ_CONCURRENCY = 8;

/** Every source's lineage of a dataset: one listing, then a read of each. */
export async function listLineages(store: ObjectStore, dataset: string): Promise<SourceLineage[]> {
  const keys: string[] = [];
  for await (const obj of store.listAll('processed', lineagePrefix(dataset))) keys.push(obj.key);
  const read = await runPool(keys, READ_CONCURRENCY, (key) => readJsonDocument<SourceLineage>(store, key));
  return read.filter((l): l is SourceLineage => l !== undefined);
}

/** Compare-and-swap attempts at one lineage before giving up. */
const UPDATE_ATTEMPTS = 20;

/**
 * Changes a lineage as it is now, by a write conditional on its etag (another run or a compaction may write it
 * meanwhile: their changes are kept). `change` returns undefined to leave it as it is; an absent lineage is left
 * absent. True when a change was written.
 */
export async function updateLineage(
  store: ObjectStore,
  key: string,
  change: (current: SourceLineage) => SourceLineage | undefined,
): Promise<boolean> {
  for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
    const head = await store.head('processed', key);
    if (head === undefined) return false;
    const current = await readJsonDocument<SourceLineage>(store, key);
    if (current === undefined) continue;
    const next = change(current);
    if (next === undefined) return false;
    try {
      await store.put('processed', key, JSON.stringify(next, null, 2), {
        contentType: 'application/json',
        ifMatch: head.etag,
      });
      return true;
    } catch (err) {
      if (!(err instanceof ObjectChangedError)) throw err;
    }
  }
  throw new Error(`the lineage ${key} kept changing while it was updated`);
}

/**
 * Orders two S3 event sequencers. They are hexadecimal strings of varying length; S3 documents (its user guide's
 * "Event message structure", and its knowledge center) that the shorter is right-padded with zeros, then the two are
 * compared as text. (Left-padded, any longer sequencer looked later: a newer version whose sequencer was shorter was
 * skipped as stale.)
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padEnd(width, '0');
  const pb = b.toUpperCase().padEnd(width, '0');
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
