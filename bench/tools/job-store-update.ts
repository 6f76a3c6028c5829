import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ExportJobRecord } from '../../src/domain/export-job.js';

/**
 * What a job record update costs on the local store: `StoreJobStore.update` (read the version, read, write with
 * If-Match) against a plain read and write of the same record, 200 of each, 3 alternating rounds:
 * `node dist/bench/tools/job-store-update.js`. Prints milliseconds per update.
 */
async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-job-update-'));
  try {
    const store = new LocalObjectStore(root);
    const jobs = new StoreJobStore(store);
    const record = {
      recordVersion: 1,
      id: 'job-bench',
      status: 'QUEUED',
      engine: 'duckdb',
      dataset: 'events',
      requestedBy: 'key:bench',
      fingerprint: 'f',
      attempts: 0,
      progress: { rowsWritten: 0, rowsEstimated: 0, bytesWritten: 0, fraction: 0 },
    } as unknown as ExportJobRecord;
    await jobs.create(record, () => false);
    const key = `_jobs/records/${record.id}.json`;
    const n = 200;
    for (let round = 1; round <= 3; round++) {
      let t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await jobs.update(record.id, (j) => ({ ...j, attempts: j.attempts + 1 }));
      const conditional = Number(process.hrtime.bigint() - t) / 1e6 / n;
      t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const j = (await jobs.get(record.id))!;
        await store.put('exports', key, JSON.stringify({ ...j, attempts: j.attempts + 1 }));
      }
      const plain = Number(process.hrtime.bigint() - t) / 1e6 / n;
      process.stdout.write(
        `round ${round}: conditional update ${conditional.toFixed(3)} ms, plain read and write ${plain.toFixed(3)} ms\n`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

void main();
