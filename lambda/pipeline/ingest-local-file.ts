import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { RunRecord } from '../../src/domain/run-record.js';
import type { ObjectInfo } from '../../src/ports/object-store.js';
import type { EtlDeps } from './etl-deps.js';
import { ingestObjectReported, type IngestOptions, resourceFailure, unrecordedFailure } from './ingest-object.js';

/**
 * The raw key a local file lands at: `<rawPrefix><yyyy>/<mm>/<dd>/<folder>-<hash>/<file name>`, dated today (UTC),
 * in a folder named after the file's own folder and a hash of its full path. The same file ingested again the same
 * day is the same source (skipped if unchanged, replaced if changed); a file of the same name from another folder
 * is another source (both keep their rows) instead of silently replacing the first.
 */
export function rawKeyForLocalFile(rawPrefix: string, filePath: string, today: Date): string {
  const iso = today.toISOString();
  const dir = dirname(resolve(filePath));
  const label =
    basename(dir)
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .slice(0, 40) || 'root';
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 8);
  return `${rawPrefix}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${label}-${hash}/${basename(filePath)}`;
}

/**
 * `careplus ingest <file> --dataset <name>`: puts the file into the raw bucket as the dataset's raw layout wants
 * it, then runs the same per-object function as the Lambda. Re-ingesting an unchanged file the same day is
 * skipped as already processed; a changed file replaces what the earlier version published. A file that is already
 * an object of the raw bucket (a local lake's `raw/` folder) under the dataset's raw prefix is ingested as that
 * object, in place: `--force` on a raw file that failed tries that object again (it was copied to a new key of
 * today's, another source).
 */
export async function ingestLocalFile(
  deps: EtlDeps,
  filePath: string,
  dataset: string,
  options: IngestOptions & {
    /**
     * Land the file where the same path was ingested last, on whatever day (`--replace`): a corrected file then
     * replaces what that version published. Dated today, it would be another source, whose rows lose to the earlier
     * version's (first published wins). When that version was the same bytes delivered again on later days, every
     * copy is replaced, the first one publishing the correction.
     */
    replaceEarlier?: boolean;
  } = {},
): Promise<RunRecord> {
  const def = deps.registry.get(dataset);
  const { replaceEarlier, ...ingest } = options;
  // In place only where the raw pass (`npm start`, the S3 trigger) would ingest it with this dataset too: under the
  // dataset's own raw prefix (and no other dataset's longer one). Elsewhere in the bucket it is copied as any file.
  const inRaw = await rawKeyOfFile(deps, filePath);
  if (inRaw !== undefined && deps.registry.forRawKey(inRaw)?.name === dataset) {
    return ingestObjectReported(deps, { key: inRaw, dataset }, ingest);
  }
  const today = rawKeyForLocalFile(def.rawPrefix, filePath, (deps.now ?? (() => new Date()))());
  // With --replace: the latest version of the path, and the earlier days' copies of the same bytes just before it (the
  // same file delivered again on later days). The first of those published the rows; the copies, later sources,
  // published only duplicates, and would bring back from their old bytes every row the correction removes.
  const keys = replaceEarlier === true ? await lastRawCopiesOf(deps, def.rawPrefix, today) : [];
  const replacedNothing = replaceEarlier === true && keys.length === 0;
  if (keys.length === 0) keys.push(today);
  for (const key of keys) {
    try {
      await deps.store.putFile('raw', key, filePath);
    } catch (err) {
      const resource = resourceFailure(err);
      if (resource === undefined) throw err;
      return unrecordedFailure(
        deps,
        { key, dataset },
        {
          reason: resource.reason,
          message: `the file could not be put into the raw bucket: ${resource.message}`,
        },
      );
    }
  }
  // The first copy replaces what the path published; the later ones, now the same bytes, publish only duplicates.
  const [first, ...copies] = keys as [string, ...string[]];
  const run = await ingestObjectReported(deps, { key: first, dataset }, ingest);
  for (const key of copies) await ingestObjectReported(deps, { key, dataset }, ingest);
  // Said, not left to the counts: a correction given from another folder than the original's is a new source whose
  // rows are all dropped as duplicates, and `written 0` alone does not tell why.
  if (replacedNothing) return { ...run, warnings: [...(run.warnings ?? []), REPLACED_NOTHING] };
  return run;
}

/** The note of a `--replace` that found no earlier ingest of the same path. */
export const REPLACED_NOTHING =
  '--replace replaced nothing: no file was ingested from this path before (the same folder and name), so this one is a new source, whose rows published before by other files are dropped as duplicates; give a corrected file by the path its original was ingested from';

/** The raw bucket's key of a file inside the bucket's own folder (a local store), or undefined. */
async function rawKeyOfFile(deps: EtlDeps, filePath: string): Promise<string | undefined> {
  const anyKey = deps.store.localPath('raw', 'k');
  if (anyKey === undefined) return undefined;
  const bucket = dirname(anyKey);
  const [root, file] = await Promise.all([
    realpath(bucket).catch(() => undefined),
    realpath(filePath).catch(() => resolve(filePath)),
  ]);
  if (root === undefined) return undefined;
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith('..') || resolve(root, rel) !== file) return undefined;
  return rel.split(sep).join('/');
}

/**
 * The raw keys of the same local path as `today` (the same `<folder>-<hash>/<file>` under any `yyyy/mm/dd`) that hold
 * what the path was ingested as last: its latest key (by day) and, before it, the run of earlier days' keys holding
 * the same bytes, oldest first; empty when the path was never ingested. Lists the dataset's raw prefix and reads the
 * keys of the latest one's size: meant for the CLI.
 */
async function lastRawCopiesOf(deps: EtlDeps, rawPrefix: string, today: string): Promise<string[]> {
  const tail = today.split('/').slice(-2).join('/');
  const shape = /^\d{4}\/\d{2}\/\d{2}\/$/;
  const same: ObjectInfo[] = [];
  for await (const o of deps.store.listAll('raw', rawPrefix)) {
    const day = o.key.slice(rawPrefix.length, o.key.length - tail.length);
    if (o.key.endsWith(`/${tail}`) && shape.test(day)) same.push(o);
  }
  same.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const latest = same.pop();
  if (latest === undefined) return [];
  const copies = [latest.key];
  const digest = await sha256Of(deps, latest.key);
  for (let i = same.length - 1; i >= 0; i--) {
    const o = same[i]!;
    if (o.size !== latest.size || (await sha256Of(deps, o.key)) !== digest) break;
    copies.unshift(o.key);
  }
  return copies;
}

async function sha256Of(deps: EtlDeps, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await deps.store.getStream('raw', key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
