import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ExportJobRecord } from '../../src/domain/export-job.js';

/**
 * What a page of `exports(first: 20)` costs the job store on the local store for a caller with many jobs: the
 * requester's listing plus the page's 20 records (`listRequesterEntries` and 20 `get`s, what `ExportService` reads
 * since the fourteenth session) against every record of the caller (`listByRequester`, what it read before):
 * `node dist/bench/tools/exports-listing.js [jobs=400]`. Prints milliseconds of 3 alternating rounds of 5 pages each.
 */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 400);
  const root = await mkdtemp(join(tmpdir(), 'careplus-exports-listing-'));
  try {
    const store = new LocalObjectStore(root);
    const jobs = new StoreJobStore(store);
    const start = Date.UTC(2026, 10, 1);
    for (let i = 0; i < count; i++) {
      const record = {
        recordVersion: 1,
        id: `job-${String(i).padStart(6, '0')}`,
        status: 'SUCCEEDED',
        engine: 'duckdb',
        dataset: 'events',
        requestedBy: 'key:bench',
        fingerprint: `f${i}`,
        attempts: 1,
        createdAt: new Date(start + i * 60_000).toISOString(),
        progress: { rowsWritten: 10, rowsEstimated: 10, bytesWritten: 100, fraction: 1 },
      } as unknown as ExportJobRecord;
      await jobs.create(record, () => false);
    }
    for (let round = 1; round <= 3; round++) {
      let t = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) {
        const entries = await jobs.listRequesterEntries('key:bench');
        const page = entries.sort((a, b) => (a.order < b.order ? -1 : 1)).slice(0, 20);
        const records = await Promise.all(page.map((e) => jobs.get(e.id)));
        if (records.some((r) => r === undefined)) throw new Error('a record of the page is missing');
      }
      const paged = Number(process.hrtime.bigint() - t) / 1e6 / 5;
      t = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) {
        const all = await jobs.listByRequester('key:bench');
        if (all.length !== count) throw new Error(`expected ${count} jobs, read ${all.length}`);
      }
      const whole = Number(process.hrtime.bigint() - t) / 1e6 / 5;
      process.stdout.write(
        `round ${round}, ${count} jobs: listing + page of 20 ${paged.toFixed(1)} ms, every record ${whole.toFixed(1)} ms\n`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
