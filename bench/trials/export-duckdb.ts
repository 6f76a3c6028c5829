import { readFile, stat } from 'node:fs/promises';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import type { ExportBaselineSpec } from '../export-baseline-sql.js';
import { runTrial } from '../harness.js';

/**
 * One timed run of the BASELINE of the `export` and `memory` benchmarks: `node export-duckdb.js <spec.json>`.
 * DuckDB in a process of its own with the settings our export engine gives its instance (memory limit, threads,
 * spill folder, `preserve_insertion_order = false`, time zone UTC), so the two differ only in what lies around the
 * query; the timed part is the one COPY. Prints one TrialResult line with the rows and bytes written and the
 * process's peak RSS before the COPY (the instance at rest), so the COPY's own share can be told apart.
 */
async function main(): Promise<void> {
  const [specPath] = process.argv.slice(2);
  if (specPath === undefined) throw new Error('usage: export-duckdb.js <spec.json>');
  const spec = JSON.parse(await readFile(specPath, 'utf8')) as ExportBaselineSpec;
  const db = await DuckDbDatabase.create({
    memoryLimit: spec.memoryLimit,
    threads: spec.threads,
    tempDirectory: spec.tempDirectory,
  });
  try {
    await db.withConnection(async (c) => {
      await c.run('SET GLOBAL preserve_insertion_order = false');
      await c.run("SET GLOBAL TimeZone = 'UTC'");
    });
    const restingRssBytes = process.resourceUsage().maxRSS * 1024;
    await runTrial(async () => {
      const rows = await db.withConnection(async (c) => {
        const reader = await c.runAndReadAll(spec.sql);
        return Number(reader.getRows()[0]?.[0] ?? 0);
      });
      return { rows, outputBytes: (await stat(spec.output)).size, restingRssBytes };
    });
  } finally {
    db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
