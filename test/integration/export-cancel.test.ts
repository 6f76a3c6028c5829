import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ExportCaller, type ExportJobView, exportResultPrefix } from '../../src/domain/export-job.js';
import { column } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  withMethod,
} from '../support/export-lake.js';

const caller: ExportCaller = { id: 'analyst-1' };
const ROWS = 3_000_000;

let lake: ExportLake;
let harness: ExportHarness;

beforeAll(async () => {
  lake = await createExportLake();
  const half = ROWS / 2;
  for (const [i, day] of ['2024-01-01', '2024-01-02'].entries()) {
    await lake.writeParquet(
      `big/event_date=${day}/part-${i}.parquet`,
      `SELECT (${i * half} + n)::BIGINT AS id, 'customer ' || (hash(n) % 100000) AS customer,
              'a fairly long description of ticket ' || n || ' with some padding text' AS description,
              (n % 1000) / 7.0 AS amount
       FROM range(${half}) t(n)`,
    );
  }
  await lake.catalog.putTable({
    name: 'big',
    description: '',
    columns: [
      column('id', 'bigint'),
      column('customer', 'string'),
      column('description', 'string'),
      column('amount', 'double'),
    ],
    partitionKeys: [column('event_date', 'date')],
    location: 'big/',
    origin: 'etl',
  });
  harness = await createExportHarness(lake, { service: { concurrency: 1 } });
}, 120_000);

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

/** Resolves with the first state that satisfies `until`. */
async function waitFor(id: string, until: (v: ExportJobView) => boolean): Promise<ExportJobView> {
  for await (const view of await harness.service.watchExport(caller, id)) if (until(view)) return view;
  throw new Error('the job finished before the state was seen');
}

async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of lake.store.listAll('exports', prefix)) keys.push(o.key);
  return keys;
}

describe('cancelling exports', () => {
  it('stops a running query and removes its partial output', async () => {
    const requestedAt = Date.now();
    const job = await harness.service.requestExport(caller, { dataset: 'big', orderBy: [{ column: 'customer' }] });
    const running = await waitFor(job.id, (v) => v.status === 'RUNNING' && v.progress.fraction > 0);
    const firstProgressMs = Date.now() - requestedAt;
    expect(running.progress.rowsEstimated).toBe(ROWS);
    const cancelledAt = Date.now();
    const cancelled = await harness.service.cancelExport(caller, job.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.result).toBeNull();
    expect(cancelled.error).toBeNull();
    // The query was interrupted, not waited for.
    expect(Date.now() - cancelledAt).toBeLessThan(3000);
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(existsSync(join(lake.root, 'staging', job.id))).toBe(false);
    expect((await harness.jobs.get(job.id))!.status).toBe('CANCELLED');
    // The first progress report comes while the query runs, long before it ends.
    expect(firstProgressMs).toBeLessThan(5_000);
    expect(running.progress.rowsWritten).toBeLessThan(ROWS);
  });

  it('releases a job for one request while another answered with it still waits, and cancels it at the last', async () => {
    const input = { dataset: 'big', columns: ['id', 'customer'], orderBy: [{ column: 'customer' }] };
    const job = await harness.service.requestExportJob(caller, input);
    const again = await harness.service.requestExportJob(caller, input);
    expect({ created: job.created, reused: !again.created, same: again.job.id === job.job.id }).toEqual({
      created: true,
      reused: true,
      same: true,
    });
    const id = job.job.id;
    expect(job.waiter).not.toBe(again.waiter);
    expect((await harness.jobs.get(id))!.waiting).toEqual([job.waiter, again.waiter]);
    // The request that made it lets go first, twice (a retried call): the other still waits, and it runs on.
    expect((await harness.service.releaseExport(caller, id, job.waiter)).status).toMatch(/^(QUEUED|RUNNING)$/);
    expect((await harness.service.releaseExport(caller, id, job.waiter)).status).toMatch(/^(QUEUED|RUNNING)$/);
    expect((await harness.jobs.get(id))!.waiting).toEqual([again.waiter]);
    await waitFor(id, (v) => v.status === 'RUNNING' && v.progress.fraction > 0);
    // Its release is the last: cancelled, its partial output removed.
    const released = await harness.service.releaseExport(caller, id, again.waiter);
    expect({ status: released.status, result: released.result }).toEqual({ status: 'CANCELLED', result: null });
    expect(await storedKeys(exportResultPrefix(id))).toEqual([]);
    // Another caller cannot release it, and a finished job is returned as it is.
    await expect(harness.service.releaseExport({ id: 'mallory' }, id, again.waiter)).rejects.toThrow(
      `export "${id}" not found`,
    );
    expect((await harness.service.releaseExport(caller, id, again.waiter)).status).toBe('CANCELLED');
  });

  it('counts concurrent repeats of one keyed request as one waiter: its release cancels the job', async () => {
    const input = {
      dataset: 'big',
      columns: ['id', 'customer'],
      orderBy: [{ column: 'id' }],
      idempotencyKey: 'k-once',
    };
    const answers = await Promise.all(Array.from({ length: 5 }, () => harness.service.requestExportJob(caller, input)));
    const id = answers[0]!.job.id;
    expect(answers.every((a) => a.job.id === id && a.waiter === answers[0]!.waiter)).toBe(true);
    expect((await harness.jobs.get(id))!.waiting).toEqual([answers[0]!.waiter]);
    expect((await harness.service.releaseExport(caller, id, answers[0]!.waiter)).status).toBe('CANCELLED');
  });

  it('takes a queued job out of the queue without running it', async () => {
    const first = await harness.service.requestExport(caller, { dataset: 'big', columns: ['id', 'description'] });
    const second = await harness.service.requestExport(caller, { dataset: 'big', columns: ['id'] });
    expect(second.status).toBe('QUEUED');
    // A subscriber waiting on a quiet job can leave at once.
    const updates = await harness.service.watchExport(caller, second.id);
    expect((await updates.next()).value).toMatchObject({ status: 'QUEUED' });
    const waiting = updates.next();
    await updates.return!();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    const cancelled = await harness.service.cancelExport(caller, second.id);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', startedAt: null });
    await harness.service.cancelExport(caller, first.id);
    expect((await harness.service.getExport(caller, first.id)).status).toBe('CANCELLED');
  });

  it('puts a running job back in the queue at shutdown, for the next process to run', async () => {
    const other = await createExportHarness(lake);
    const job = await other.service.requestExport(caller, { dataset: 'big', columns: ['id', 'customer'] });
    await (async () => {
      for await (const v of await other.service.watchExport(caller, job.id)) if (v.status === 'RUNNING') return;
    })();
    await other.close();
    const stored = (await other.jobs.get(job.id))!;
    expect(stored).toMatchObject({ status: 'QUEUED', attempts: 0, startedAt: null, result: null });
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
    const next = await createExportHarness(lake);
    try {
      expect((await next.service.recover()).requeued).toEqual([job.id]);
      expect((await finished(next.service, caller, job.id)).result).toMatchObject({ rowCount: ROWS });
    } finally {
      await next.close();
    }
  });

  /**
   * The process that took the export runner lease over recovers the first one's job at once; the first learns of it
   * only at its next renewal (up to 10 s later), and its run may fail meanwhile (the new holder's recovery clears the
   * job's staging folder). Neither the first's records nor its cleanup may touch the new run.
   */
  it.each([0, 1500])(
    'writes nothing about a job another process took over, learning of it %i ms later',
    async (delayMs) => {
      // Every change the first process makes to a job record after its job was taken over.
      const late: string[] = [];
      let takenOver = false;
      const first = await createExportHarness(lake, {
        jobs: (store) =>
          withMethod(
            store,
            'update',
            (update) => (id, change) =>
              update(id, (j) => {
                const next = change(j);
                if (takenOver && next !== j) late.push(`${j.status}->${next.status}`);
                return next;
              }),
          ),
      });
      // Other columns each time: the same request would re-use the job the other case finished.
      const columns = delayMs === 0 ? ['id', 'description'] : ['description', 'id'];
      const job = await first.service.requestExport(caller, { dataset: 'big', columns });
      await (async () => {
        for await (const v of await first.service.watchExport(caller, job.id)) {
          if (v.status === 'RUNNING' && v.progress.fraction > 0) return;
        }
      })();
      const next = await createExportHarness(lake);
      try {
        expect((await next.service.recover()).requeued).toEqual([job.id]);
        takenOver = true;
        await new Promise((r) => setTimeout(r, delayMs));
        const stopping = Date.now();
        await first.service.abandon();
        // The query was interrupted, not waited for.
        expect(Date.now() - stopping).toBeLessThan(3000);
        const done = await finished(next.service, caller, job.id);
        expect({ status: done.status, error: done.error }).toEqual({ status: 'SUCCEEDED', error: null });
        expect(done.result).toMatchObject({ rowCount: ROWS });
        expect(late).toEqual([]);
        expect((await next.jobs.get(job.id))!.attempts).toBe(2);
        // Its files are the second run's, all of them.
        const files = done.result!.files.map((f) => f.name);
        expect(
          (await storedKeys(exportResultPrefix(job.id))).map((k) => k.slice(k.lastIndexOf('/') + 1)).sort(),
        ).toEqual([...files, 'manifest.json'].sort());
      } finally {
        await next.close();
        await first.close();
      }
    },
    60_000,
  );

  it('exports a sorted result well over the engine memory limit (DuckDB spills to disk)', async () => {
    const small = await createExportHarness(lake, { memoryLimit: '192MB' });
    try {
      const job = await small.service.requestExport(caller, { dataset: 'big', orderBy: [{ column: 'description' }] });
      const done = await finished(small.service, caller, job.id);
      expect(done.error).toBeNull();
      expect(done.result).toMatchObject({ rowCount: ROWS });
      expect(done.result!.bytes).toBeGreaterThan(1.5 * 192 * 1024 * 1024);
    } finally {
      await small.close();
    }
  }, 120_000);

  it('keeps the engine usable after a cancellation, with checksums of large results right', async () => {
    const job = await harness.service.requestExport(caller, { dataset: 'big', columns: ['id', 'amount'] });
    const done = await finished(harness.service, caller, job.id);
    expect(done.result).toMatchObject({ rowCount: ROWS, truncated: false });
    // One part, hashed while DuckDB wrote it: the checksum must still be that of the stored bytes.
    const [file] = (await harness.jobs.get(job.id))!.result!.files;
    const hash = createHash('sha256');
    for await (const chunk of await lake.store.getStream('exports', file!.key)) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(file!.sha256);
    expect(file!.bytes).toBeGreaterThan(40_000_000);
    // A finished job cannot be cancelled: it is returned as it is.
    expect((await harness.service.cancelExport(caller, job.id)).status).toBe('SUCCEEDED');
  });
});
