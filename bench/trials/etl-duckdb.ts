import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { loadConfig } from '../../src/config.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';
import { baselineCopySql } from '../etl-baseline-sql.js';
import { runTrial } from '../harness.js';

/**
 * One timed run of the BASELINE: `node etl-duckdb.js <events.jsonl[.gz]> <work folder> <expected rows> [single |
 * partitioned]`. DuckDB with the same memory limit and threads as the ETL's default configuration; the timed
 * part is the one COPY statement. Prints one TrialResult line.
 */
async function main(): Promise<void> {
  const [input, workRoot, expectedRows, layoutArg] = process.argv.slice(2);
  const layout = layoutArg === 'partitioned' ? 'partitioned' : 'single';
  if (input === undefined || workRoot === undefined || expectedRows === undefined) {
    throw new Error('usage: etl-duckdb.js <events file> <work folder> <expected rows>');
  }
  await mkdir(workRoot, { recursive: true });
  const dir = await mkdtemp(join(workRoot, 'etl-duckdb-'));
  const config = loadConfig({ CAREPLUS_LAKE_DIR: dir }, dir);
  const def = (await DatasetRegistry.load(config.datasetsDir)).get('support_events');
  const db = await DuckDbDatabase.create({
    memoryLimit: config.duckdb.memoryLimit,
    threads: config.duckdb.threads,
    tempDirectory: join(dir, 'duckdb-tmp'),
  });
  const output = join(dir, layout === 'single' ? 'events.parquet' : 'events');
  try {
    await runTrial(async () => {
      const rows = await db.withConnection(async (c) => {
        const result = await c.run(baselineCopySql(def, input, output, { gzip: input.endsWith('.gz'), layout }));
        return result.rowsChanged;
      });
      if (rows !== Number(expectedRows)) throw new Error(`COPY wrote ${rows} rows, expected ${expectedRows}`);
      const files = layout === 'single' ? [output] : await parquetFiles(output);
      let outputBytes = 0;
      for (const f of files) outputBytes += (await stat(f)).size;
      return { rowsWritten: rows, outputBytes, outputFiles: files.length };
    });
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function parquetFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.parquet')).map((e) => join(e.parentPath, e.name));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
