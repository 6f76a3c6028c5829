import { randomBytes } from 'node:crypto';
import type { Logger } from '../ports/logger.js';
import type { ObjectStore } from '../ports/object-store.js';

/**
 * The data version of a dataset: a small object in the processed bucket, `_pipeline/data-versions/<dataset>.json`,
 * rewritten by every writer AFTER it changes the dataset's data files or registered partitions (the ETL's publish,
 * `careplus compact`, `careplus register`). Its ETag is the change signal: the API caches each dataset's listing and
 * statistics under the version it read before listing (see DatasetSnapshotCache), and one HEAD per dataset per
 * request tells it whether that listing is still current, whichever process (a Lambda, `careplus ingest`) wrote.
 *
 * Each write holds a fresh random nonce, so its ETag differs from every earlier one (S3's ETag is the MD5 of the
 * bytes; the local store's changes with the inode of each rename-based write). It lives under `_pipeline/`, which the
 * ETL may write in AWS; the API may read this prefix of it (infra/careplus-stack.ts, LAKE_PREFIXES.dataVersions).
 */
export const DATA_VERSION_PREFIX = '_pipeline/data-versions/';

export function dataVersionKey(dataset: string): string {
  return `${DATA_VERSION_PREFIX}${encodeURIComponent(dataset)}.json`;
}

/** The body of a data version object: for people reading the lake; readers use only the ETag. */
export interface DataVersionRecord {
  dataset: string;
  /** ISO 8601: when the writer finished its change. */
  changedAt: string;
  /** Who changed the data: a run id, `compact`, `register`. */
  by: string;
  /** Random, so that every write has new bytes and a new ETag. */
  nonce: string;
}

/** A data version as read: its ETag (the version) and when it was written (the change it announced). */
export interface DataVersion {
  etag: string;
  changedAt: Date;
}

/**
 * The current data version of a dataset (the ETag of its data version object), or null when no writer has written
 * one (data written before data versions existed, or by tools outside this project: readers then re-list after a
 * time limit instead).
 */
export async function readDataVersion(store: ObjectStore, dataset: string): Promise<string | null> {
  return (await readDataVersionDated(store, dataset))?.etag ?? null;
}

/** readDataVersion with the time of the change: the object's `lastModified`. */
export async function readDataVersionDated(store: ObjectStore, dataset: string): Promise<DataVersion | null> {
  const info = await store.head('processed', dataVersionKey(dataset));
  return info === undefined ? null : { etag: info.etag, changedAt: info.lastModified };
}

/**
 * The current data versions of every dataset that has one, by dataset name, from one listing: for requests that need
 * many datasets (one LIST instead of a HEAD each). Same values as readDataVersion (a listing's ETag is the object's).
 */
export async function readDataVersions(store: ObjectStore): Promise<Map<string, string>> {
  return new Map([...(await readDataVersionsDated(store))].map(([name, v]) => [name, v.etag]));
}

/** readDataVersions with the time of each change. */
export async function readDataVersionsDated(store: ObjectStore): Promise<Map<string, DataVersion>> {
  const versions = new Map<string, DataVersion>();
  for await (const object of store.listAll('processed', DATA_VERSION_PREFIX)) {
    const name = object.key.slice(DATA_VERSION_PREFIX.length);
    if (!name.endsWith('.json') || name.includes('/')) continue;
    versions.set(decodeURIComponent(name.slice(0, -'.json'.length)), {
      etag: object.etag,
      changedAt: object.lastModified,
    });
  }
  return versions;
}

/**
 * Announces that the data of a dataset changed: call it after the change is complete (files put or deleted,
 * partitions registered), also after a failed change that had already put or deleted something. Throws when the
 * store does; see markDataChanged for writers that must not fail on it.
 */
export async function writeDataVersion(
  store: ObjectStore,
  dataset: string,
  by: string,
  now: Date = new Date(),
): Promise<void> {
  const record: DataVersionRecord = {
    dataset,
    changedAt: now.toISOString(),
    by,
    nonce: randomBytes(12).toString('hex'),
  };
  await store.put('processed', dataVersionKey(dataset), JSON.stringify(record), { contentType: 'application/json' });
}

/**
 * writeDataVersion for writers whose change is already committed when they announce it (the ETL's publish,
 * compaction): it never throws. A failed write is logged, and readers see the change when their cached listing
 * reaches its time limit (DatasetSnapshotOptions.revalidateMs).
 */
export async function markDataChanged(
  store: ObjectStore,
  dataset: string,
  by: string,
  logger: Logger,
  now: Date = new Date(),
): Promise<void> {
  try {
    await writeDataVersion(store, dataset, by, now);
  } catch (err) {
    logger.warn('could not write the data version of a dataset: readers see the change after their time limit', {
      dataset,
      error: String(err),
    });
  }
}
