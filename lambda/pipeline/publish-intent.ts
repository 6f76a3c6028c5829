import { readJsonDocument } from '../../src/services/json-document.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { publishIntentKey } from './lake-keys.js';

/**
 * The files a source is about to publish, recorded before the first of them is put: a run that dies mid-publish
 * (a Lambda timeout: no rollback) leaves files no lineage names, and without this record a later version of the
 * source took them for another source's rows (dropping its own as duplicates) and never removed them. The next
 * publish of the source counts them as its own: it replaces them or deletes them with its older outputs, and
 * locks their partitions. Keys of every unfinished attempt accumulate until a publish commits.
 */
export interface PublishIntent {
  dataset: string;
  sourceKey: string;
  /** Data and quarantine keys the unfinished publishes meant to write (some may not exist). */
  keys: string[];
  /** Partition values of those keys, to lock before touching them. */
  partitions: string[];
}

export async function readPublishIntent(
  store: ObjectStore,
  dataset: string,
  sourceKey: string,
): Promise<PublishIntent | undefined> {
  return readJsonDocument<PublishIntent>(store, publishIntentKey(dataset, sourceKey));
}

export async function writePublishIntent(store: ObjectStore, intent: PublishIntent): Promise<void> {
  await store.put('processed', publishIntentKey(intent.dataset, intent.sourceKey), JSON.stringify(intent), {
    contentType: 'application/json',
  });
}

export async function removePublishIntent(store: ObjectStore, dataset: string, sourceKey: string): Promise<void> {
  await store.delete('processed', publishIntentKey(dataset, sourceKey));
}
