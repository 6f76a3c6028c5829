import type { ObjectStore } from '../ports/object-store.js';
import { generateSampleFiles } from './sample-files.js';
import type { SampleManifest } from './sample-manifest.js';
import type { SampleOptions } from './sample-options.js';

/**
 * Writes the sample raw files into the raw bucket (one atomic put each, in key order) and returns the manifest. A file
 * already there with the same bytes (the days an earlier, shorter or equal, sample wrote) is left as it is: written
 * again it would be a new version of the object, which the ETL reads as a new upload (the planted empty file failed
 * again, as a new failure, instead of being skipped as failed before).
 */
export async function writeSample(store: ObjectStore, options: SampleOptions = {}): Promise<SampleManifest> {
  const { files, manifest } = generateSampleFiles(options);
  for (const [key, bytes] of files) {
    if (await holds(store, key, bytes)) continue;
    const contentType = key.endsWith('.gz') ? 'application/gzip' : 'text/csv; charset=utf-8';
    await store.put('raw', key, bytes, { contentType });
  }
  return manifest;
}

async function holds(store: ObjectStore, key: string, bytes: Uint8Array): Promise<boolean> {
  const info = await store.head('raw', key);
  if (info === undefined || info.size !== bytes.length) return false;
  return Buffer.from(await store.getBytes('raw', key)).equals(bytes);
}
