import type { ObjectStore } from '../../src/ports/object-store.js';
import { lineageKey } from './lake-keys.js';
import { COMPACTIONS_PREFIX } from '../../src/services/compaction-view.js';
import { type SourceLineage, readLineage, updateLineage, writeLineage } from './source-lineage.js';

/**
 * What a compaction of one partition is about to do once its merged files are in place: the lineages to point at them
 * and the input files to delete. Written before it starts doing either, so a compaction that dies half-way is finished
 * by the next compaction of the partition, or by the next ingest that locks it.
 */
export interface CompactionJournal {
  /**
   * `uploading`: written before the first merged file is put, naming them (`outputKeys`); a compaction that dies
   * then is rolled back (its merged files deleted), else they would stay beside their inputs, every row twice.
   * `committed` (or absent, as earlier versions wrote it): every merged file is in place; lineages and deletions
   * follow.
   */
  state?: 'uploading' | 'committed';
  outputKeys?: string[];
  inputKeys: string[];
  lineages: SourceLineage[];
}

/**
 * Applies a journal left by a compaction (this one, or one that died): lineages, then input deletion; a journal of
 * a compaction that died while uploading is rolled back instead. Says which it did; undefined when there was no journal. The caller holds the
 * partition's lock: the compaction that wrote it died, or stalled past its lease and then cannot commit over the
 * rollback (its commit is a write conditional on its `uploading` journal). A lineage is written only if the source
 * still has the version the compaction saw: a journal replayed after a newer version was published must not put the
 * older one back.
 */
export async function finishJournal(store: ObjectStore, journalKey: string): Promise<JournalOutcome | undefined> {
  if (!(await store.head('processed', journalKey))) return undefined;
  const journal = JSON.parse(
    Buffer.from(await store.getBytes('processed', journalKey)).toString('utf8'),
  ) as CompactionJournal;
  if (journal.state === 'uploading') {
    // Died before its commit: the merged files go, the inputs stay the partition's.
    for (const key of journal.outputKeys ?? []) await store.delete('processed', key);
    await store.delete('processed', journalKey);
    return 'rolled-back';
  }
  const inputs = new Set(journal.inputKeys);
  // Every input lies in the journal's partition: its folder is where the merged files went.
  const first = journal.inputKeys[0];
  const folder = first === undefined ? undefined : first.slice(0, first.lastIndexOf('/') + 1);
  for (const l of journal.lineages) {
    if (folder === undefined) {
      const current = await readLineage(store, l.dataset, l.sourceKey);
      if (current !== undefined && current.runId === l.runId && current.version === l.version)
        await writeLineage(store, l);
      continue;
    }
    await applyToLineage(store, l, inputs, folder);
  }
  for (const key of journal.inputKeys) await store.delete('processed', key);
  await store.delete('processed', journalKey);
  return 'completed';
}

/** What finishJournal did with a journal a compaction left: undid its upload, or finished its committed merge. */
export type JournalOutcome = 'rolled-back' | 'completed';

/**
 * Applies a compaction of one partition to a source's lineage as it is now, not as the compaction read it when it
 * started: a compaction of another partition (its own lock) may have rewritten the same lineage meanwhile, and writing
 * the whole lineage read before would put back that partition's inputs, deleted by now, and drop its merged files
 * (the source's rows there were then never purged by its next version). The source's entries in this partition
 * become those the journal names; the write is conditional on the lineage not having changed since it was read
 * (updateLineage).
 */
async function applyToLineage(
  store: ObjectStore,
  planned: SourceLineage,
  inputs: ReadonlySet<string>,
  folder: string,
): Promise<void> {
  const inFolder = (k: string): boolean => k.startsWith(folder) && !k.slice(folder.length).includes('/');
  await updateLineage(store, lineageKey(planned.dataset, planned.sourceKey), (current) =>
    current.runId !== planned.runId || current.version !== planned.version
      ? undefined
      : {
          ...current,
          outputKeys: current.outputKeys.filter((k) => !inputs.has(k)),
          compacted: [
            ...new Set([
              ...(current.compacted ?? []).filter((k) => !inputs.has(k) && !inFolder(k)),
              ...(planned.compacted ?? []).filter(inFolder),
            ]),
          ].sort(),
        },
  );
}

/** Where a compaction of one partition keeps its journal while it applies it. */
export function compactionJournalKey(dataset: string, partitionColumn: string, partition: string): string {
  return `${COMPACTIONS_PREFIX}${dataset}/${partitionColumn}=${partition}.json`;
}

/** The partition value of a journal key (see compactionJournalKey). */
export function journalPartition(dataset: string, partitionColumn: string, journalKey: string): string | undefined {
  const head = `${COMPACTIONS_PREFIX}${dataset}/${partitionColumn}=`;
  return journalKey.startsWith(head) && journalKey.endsWith('.json') ? journalKey.slice(head.length, -5) : undefined;
}

/** The journal keys a dataset has now (a compaction running or dead in one of its partitions), by one listing. */
export async function compactionJournals(store: ObjectStore, dataset: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const obj of store.listAll('processed', `${COMPACTIONS_PREFIX}${dataset}/`)) keys.push(obj.key);
  return keys;
}

/**
 * Finishes the journals (of `listed`, see compactionJournals) of compactions that died half-way in these partitions
 * (the caller holds their locks, so none of them is running), so that an ingest reads the lineages and files they
 * leave as they are meant to be. True when there was one.
 */
export async function finishCompactionJournals(
  store: ObjectStore,
  dataset: string,
  partitionColumn: string,
  partitions: readonly string[],
  listed: readonly string[],
): Promise<boolean> {
  if (listed.length === 0) return false;
  const wanted = new Set(partitions.map((p) => compactionJournalKey(dataset, partitionColumn, p)));
  const found = listed.filter((k) => wanted.has(k));
  for (const key of found) await finishJournal(store, key);
  return found.length > 0;
}
