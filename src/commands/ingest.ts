import { stat } from 'node:fs/promises';
import type { Runtime } from '../composition.js';
import type { RunRecord } from '../domain/run-record.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestLocalFile } from '../../lambda/pipeline/ingest-local-file.js';
import { etlDataset } from './etl-dataset.js';

export function formatRun(file: string, run: RunRecord): string {
  const counts = `read ${run.rowsRead}, written ${run.rowsWritten}, rejected ${run.rowsRejected}, duplicate ${run.rowsDuplicate}`;
  switch (run.status) {
    case 'SUCCEEDED':
      return [`${file}: ${counts}`, ...(run.warnings ?? []).map((w) => `  warning: ${w}`)].join('\n');
    case 'SKIPPED':
      return `${file}: skipped (${run.error?.message ?? 'already processed'})`;
    default:
      return `${file}: FAILED ${run.error?.reason ?? 'error'}: ${run.error?.message ?? 'unknown error'} (${counts})`;
  }
}

/**
 * `careplus ingest <files> --dataset <name> [--force]`: each file goes to the raw bucket, then through the same
 * per-object function the Lambda runs. Prints one line per file; returns how many files failed as a whole.
 */
export async function ingest(
  rt: Runtime,
  files: string[],
  dataset: string,
  options: {
    /** Asked before each file: true stops there (Ctrl-C). */
    stopRequested?: () => boolean;
    /** Reprocess files already processed at the same version (`--force`). */
    force?: boolean;
    /** Replace what the same path published when it was ingested on an earlier day (`--replace`). */
    replace?: boolean;
  } = {},
): Promise<number> {
  const stopRequested = options.stopRequested ?? (() => false);
  await etlDataset(rt, dataset, 'ingested into');
  const deps = etlDepsOf(rt);
  let failed = 0;
  for (const [i, file] of files.entries()) {
    if (stopRequested()) {
      process.stdout.write(`interrupted: ${files.length - i} of ${files.length} files not ingested\n`);
      break;
    }
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      // Said plainly, before the file is staged (whose error would name the lake's staging folder).
      const why = info?.isDirectory()
        ? 'not_a_file: a folder; pass the files in it'
        : info === undefined
          ? 'not_found: no such file'
          : 'not_a_file: not a regular file';
      process.stdout.write(`${file}: FAILED ${why}\n`);
      failed += 1;
      continue;
    }
    const run = await ingestLocalFile(deps, file, dataset, {
      ...(options.force === true ? { force: true } : {}),
      ...(options.replace === true ? { replaceEarlier: true } : {}),
    });
    if (run.status === 'FAILED') failed += 1;
    process.stdout.write(formatRun(file, run) + '\n');
  }
  return failed;
}
