import { basename } from 'node:path';
import type { RunRecord } from '../../src/domain/run-record.js';
import type { EtlDeps } from './etl-deps.js';
import { ingestObject, type IngestOptions } from './ingest-object.js';

/** The raw key a local file lands at: `<rawPrefix><yyyy>/<mm>/<dd>/<file name>`, dated today (UTC). */
export function rawKeyForLocalFile(rawPrefix: string, filePath: string, today: Date): string {
  const iso = today.toISOString();
  return `${rawPrefix}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${basename(filePath)}`;
}

/**
 * `careplus ingest <file> --dataset <name>`: puts the file into the raw bucket as the dataset's raw layout wants
 * it, then runs the same per-object function as the Lambda. Re-ingesting an unchanged file the same day is
 * skipped as already processed; a changed file replaces what the earlier version published.
 */
export async function ingestLocalFile(
  deps: EtlDeps,
  filePath: string,
  dataset: string,
  options: IngestOptions = {},
): Promise<RunRecord> {
  const def = deps.registry.get(dataset);
  const key = rawKeyForLocalFile(def.rawPrefix, filePath, (deps.now ?? (() => new Date()))());
  await deps.store.putFile('raw', key, filePath);
  return ingestObject(deps, { key, dataset }, options);
}
