import { ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';

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
 * of the listing and this read (milliseconds), or starts and ends within one listing; such a listing counts the
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
    let journal: JournalFiles;
    try {
      journal = JSON.parse(Buffer.from(await store.getBytes('processed', object.key)).toString('utf8')) as JournalFiles;
    } catch (err) {
      // Finished and removed since the listing: its files are as it left them.
      if (err instanceof ObjectNotFoundError) continue;
      throw err;
    }
    const keys = journal.state === 'uploading' ? journal.outputKeys : journal.inputKeys;
    for (const key of keys ?? []) hidden.add(key);
  }
  return hidden;
}
