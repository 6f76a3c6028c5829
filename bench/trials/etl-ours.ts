import { copyFile, link, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { createRuntime } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import { runTrial } from '../harness.js';
import { PhaseCaptureLogger } from './phase-capture-logger.js';

/**
 * One timed run of OUR ETL: `node etl-ours.js <events.jsonl[.gz]> <work folder>`. A fresh local lake with the
 * file at a raw key of support_events, wired by the product's composition root with its default settings; the
 * timed part is `ingestObject` (pre-pass, validation, quarantine, de-duplication, partitioned Parquet, catalog,
 * run record). Prints one TrialResult line; fails unless every row was published.
 */
async function main(): Promise<void> {
  const [input, workRoot, expectedRows] = process.argv.slice(2);
  if (input === undefined || workRoot === undefined || expectedRows === undefined) {
    throw new Error('usage: etl-ours.js <events file> <work folder> <expected rows>');
  }
  await mkdir(workRoot, { recursive: true });
  const lake = await mkdtemp(join(workRoot, 'etl-ours-'));
  const logger = new PhaseCaptureLogger();
  const config = loadConfig({ CAREPLUS_LAKE_DIR: lake, CAREPLUS_LOG_LEVEL: 'info' }, lake);
  const rt = await createRuntime(config, { logger });
  try {
    const key = `support_events/2024/01/01/${basename(input)}`;
    const rawPath = rt.store.localPath('raw', key);
    if (rawPath === undefined) throw new Error('the benchmark lake must be a local store');
    await mkdir(dirname(rawPath), { recursive: true });
    // A hard link is an instant copy on the same file system; the ETL only reads the raw object.
    await link(input, rawPath).catch(() => copyFile(input, rawPath));
    await runTrial(async () => {
      const run = await ingestObject(etlDepsOf(rt), { key });
      if (run.status !== 'SUCCEEDED' || run.rowsWritten !== Number(expectedRows)) {
        throw new Error(`ingest did not publish every row: ${JSON.stringify({ ...run, outputKeys: undefined })}`);
      }
      return {
        rowsWritten: run.rowsWritten,
        rowsRejected: run.rowsRejected,
        outputBytes: run.bytesWritten,
        outputFiles: run.outputKeys.length,
        ...logger.phases(),
      };
    });
  } finally {
    await rt.close();
    await rm(lake, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
