import type { ObjectStore } from '../ports/object-store.js';
import { generateSampleFiles } from './sample-files.js';
import type { SampleManifest } from './sample-manifest.js';
import type { SampleOptions } from './sample-options.js';

/** Writes the sample raw files into the raw bucket (one atomic put each, in key order) and returns the manifest. */
export async function writeSample(store: ObjectStore, options: SampleOptions = {}): Promise<SampleManifest> {
  const { files, manifest } = generateSampleFiles(options);
  for (const [key, bytes] of files) {
    const contentType = key.endsWith('.gz') ? 'application/gzip' : 'text/csv; charset=utf-8';
    await store.put('raw', key, bytes, { contentType });
  }
  return manifest;
}
