import type { ObjectStore } from '../ports/object-store.js';
import { readJsonDocument } from './json-document.js';

/**
 * Where `careplus compact` keeps the journal of a partition it is compacting (lambda/pipeline/compaction-journal.ts):
 * `_pipeline/compactions/<dataset>/<column>=<value>.json`.
 */
export const COMPACTIONS_PREFIX = '_pipeline/compactions/';

/** What a reader needs of a compaction journal (the full record: lambda/pipeline/compaction-journal.ts). */
interface JournalFiles {
  state?: 'uploading' | 'committed';
  outputKeys?: string[];
  inputKeys?: string[];
}

/**
 * The data files a reader of `dataset` must not count now, because a compaction is between writing its merged files
 * and deleting the files they replace (one running, or one that died there, until the next compaction or ingest of
 * the partition finishes it): while its journal says `uploading`, the merged files it names (not committed: a
 * rollback deletes them); once it says `committed`, the inputs it names (their rows are in the merged files). Without
 * this, a listing in that window counts every row of the partition twice (the hands-on test saw a killed compaction
 * double a partition in every count and export until the next compaction).
 *
 * Read AFTER the files are listed: a compaction that starts during the listing has written its journal by the time its
 * merged files can be listed. Not covered: a compaction that deletes its last inputs and its journal between the end
 * of the listing and this read (milliseconds with the lake folder), or starts and ends within one listing (seen on S3,
 * where listing thousands of files takes seconds while `careplus compact` finishes partition after partition: a
 * 12,000-row dataset read 11,972 to 12,019 rows during the run); such a listing counts the
 * partition twice until the compaction's data-version change is seen (DatasetSnapshotCache), and an export planned on
 * it fails to stage the deleted inputs and is planned again.
 *
 * Only for readers that read the files they list. Athena reads a partition's whole folder, so the Athena engine
 * restricts its query to the planned files (`"$path"`); when the plan is too long for that restriction it checks the
 * plan against every file instead (a compaction half-way then fails the check rather than counting twice).
 */
export async function filesHiddenByCompactions(store: ObjectStore, dataset: string): Promise<ReadonlySet<string>> {
  const hidden = new Set<string>();
  for await (const object of store.listAll('processed', `${COMPACTIONS_PREFIX}${dataset}/`)) {
    if (!object.key.endsWith('.json')) continue;
    const journal = await readJsonDocument<JournalFiles>(store, object.key);
    // Finished and removed since the listing: its files are as it left them.
    if (journal === undefined) continue;
    const keys = journal.state === 'uploading' ? journal.outputKeys : journal.inputKeys;
    for (const key of keys ?? []) hidden.add(key);
  }
  return hidden;
}

/**
 * Where an ingest records the files it is about to publish (lambda/pipeline/publish-intent.ts):
 * `_pipeline/intents/<dataset>/<hash of the source key>.json`, the source's lineage (its commit) being
 * `_pipeline/sources/<dataset>/` under the same name.
 */
export const INTENTS_PREFIX = '_pipeline/intents/';
export const LINEAGES_PREFIX = '_pipeline/sources/';

/**
 * The data files a reader of `dataset` must not count now because the publish that put them has not committed (one
 * running, or one that died: kill -9 or a timeout, until the source is ingested again): the files its intent names
 * that the source's lineage does not, and the older version's files a committed publish has yet to delete. Without
 * this, a listing counted them: the hands-on test killed the ingest of a corrected 300,000-row file mid-publish and
 * `rowCount` said 524,797, an export holding 224,797 event ids twice, until the file was ingested again.
 *
 * The intent is read before the lineage: a publish that commits in between shows as committed (its files counted),
 * never the reverse. Read after the files are listed, like the compaction journals.
 */
export async function filesOfUnfinishedPublishes(store: ObjectStore, dataset: string): Promise<ReadonlySet<string>> {
  const hidden = new Set<string>();
  for await (const object of store.listAll('processed', `${INTENTS_PREFIX}${dataset}/`)) {
    if (!object.key.endsWith('.json')) continue;
    // Gone since the listing: that publish committed and cleaned up.
    const intent = await readJsonDocument<{ keys?: string[] }>(store, object.key);
    if (intent === undefined) continue;
    const lineage = await readJsonDocument<{ outputKeys?: string[]; pendingDelete?: string[] }>(
      store,
      LINEAGES_PREFIX + object.key.slice(INTENTS_PREFIX.length),
    );
    const committed = new Set(lineage?.outputKeys ?? []);
    for (const key of [...(intent.keys ?? []), ...(lineage?.pendingDelete ?? [])]) {
      if (!committed.has(key)) hidden.add(key);
    }
  }
  return hidden;
}

/** Every data file a reader of `dataset` leaves out: a half-way compaction's and an unfinished publish's. */
export async function filesHiddenFromReaders(store: ObjectStore, dataset: string): Promise<ReadonlySet<string>> {
  const [compactions, publishes] = await Promise.all([
    filesHiddenByCompactions(store, dataset),
    filesOfUnfinishedPublishes(store, dataset),
  ]);
  if (publishes.size === 0) return compactions;
  return new Set([...compactions, ...publishes]);
}
