import { ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';

/**
 * A JSON document of the pipeline's bookkeeping in the processed bucket (lineage, publish intent, failure memo,
 * compaction journal), or undefined when there is none. One GET: a missing document is its 404, not a HEAD asked
 * first.
 */
export async function readJsonDocument<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.getBytes('processed', key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}
