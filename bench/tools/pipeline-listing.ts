import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { DatasetService } from '../../src/services/dataset-service.js';
import { PipelineService, type PipelineScope } from '../../src/services/pipeline-service.js';
import { runRecordKey } from '../../lambda/pipeline/lake-keys.js';
import { newRunRecord } from '../../lambda/pipeline/run-records.js';
import { loadBenchConfig } from '../config.js';

/**
 * Time of a `pipelineRuns(dataset, first: 20)` query over many run records on the local store, with the run
 * listing as it is (`fullListingMs` 10 minutes: between whole listings only the last day's keys are listed) and as
 * it was (a whole listing per query, `fullListingMs: 0`): `node dist/bench/tools/pipeline-listing.js [records=20000]`.
 * The records (one dataset, one a minute from 2024-01-01, all older than a day) are made once in
 * bench/data/pipeline-runs-<n>/. Prints the times of 6 queries in one process each way; the first reads every
 * record (cold), the rest find them cached.
 */
async function main(): Promise<void> {
  const config = loadBenchConfig(process.env, []);
  const records = Number(process.argv[2] ?? 20_000);
  const root = join(config.dataDir, `pipeline-runs-${records}`);
  const store = new LocalObjectStore(root);
  if (!existsSync(join(root, 'ready'))) {
    await mkdir(root, { recursive: true });
    const start = Date.UTC(2024, 0, 1);
    for (let i = 0; i < records; i++) {
      const startedAt = new Date(start + i * 60_000);
      const run = { ...newRunRecord({ runId: `r${i}`, dataset: 'events', sourceKey: `events/${i}.jsonl`, startedAt }) };
      await store.put(
        'processed',
        runRecordKey('events', startedAt, run.runId),
        JSON.stringify({ ...run, status: 'SUCCEEDED' }),
      );
    }
    await writeFile(join(root, 'ready'), '');
  }
  const scope: PipelineScope = { visible: () => true, view: (table) => ({ table, grant: null, statistics: true }) };
  for (const [what, fullListingMs] of [
    ['a whole listing per query (before)', 0],
    ['the last day between whole listings', 600_000],
  ] as const) {
    const pipeline = new PipelineService({
      store,
      catalog: new LocalCatalog(store),
      // Not used by pipelineRuns.
      datasets: {} as DatasetService,
      logger: new JsonLogger('silent'),
      fullListingMs,
    });
    const times: string[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const page = await pipeline.listRuns({ dataset: 'events', first: 20 }, pipeline.createLoaders(), scope);
      if (page.edges.length !== Math.min(20, records)) throw new Error(`expected 20 runs, got ${page.edges.length}`);
      times.push((performance.now() - started).toFixed(0));
    }
    process.stdout.write(`${records} run records, ${what}: ${times.join(', ')} ms\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
