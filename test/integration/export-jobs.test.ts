import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ConflictError, LimitExceededError, NotFoundError } from '../../src/domain/errors.js';
import { type ExportCaller, type ExportJobRecord, exportResultPrefix } from '../../src/domain/export-job.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { ExportFailedError } from '../../src/ports/export-engine.js';
import { DownloadLinkExpiredError } from '../../src/services/download-links.js';
import { column } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  followJob,
  parseCsv,
  resultText,
  withMethod,
} from '../support/export-lake.js';

const alice: ExportCaller = { id: 'alice' };
const bob: ExportCaller = { id: 'bob' };
const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03'];
const ROWS_PER_DAY = 100;

let lake: ExportLake;
let harness: ExportHarness;

function dayRows(offset: number): string {
  return `SELECT (${offset} + i)::BIGINT AS id, 'ticket ' || (${offset} + i) AS title, (i % 4)::INTEGER AS priority
          FROM range(${ROWS_PER_DAY}) t(i)`;
}

async function writeDay(day: string, offset: number): Promise<void> {
  await lake.writeParquet(`tickets/event_date=${day}/part-${day}.parquet`, dayRows(offset));
}

beforeAll(async () => {
  lake = await createExportLake();
  for (const [i, day] of DAYS.entries()) await writeDay(day, i * ROWS_PER_DAY);
  const table = {
    description: '',
    columns: [column('id', 'bigint'), column('title', 'string'), column('priority', 'int')],
    partitionKeys: [column('event_date', 'date')],
    origin: 'etl' as const,
  };
  await lake.catalog.putTable({ ...table, name: 'tickets', location: 'tickets/' });
  await lake.writeParquet('broken/event_date=2024-01-01/part-a.parquet', dayRows(0));
  const corrupt = lake.store.localPath('processed', 'broken/event_date=2024-01-02/part-b.parquet');
  await mkdir(dirname(corrupt), { recursive: true });
  await writeFile(corrupt, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from('PAR1')]));
  await lake.catalog.putTable({ ...table, name: 'broken', location: 'broken/' });
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function caught(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of lake.store.listAll('exports', prefix)) keys.push(o.key);
  return keys;
}

describe('export jobs', () => {
  it('answers 20 identical concurrent requests with one job', async () => {
    const input = {
      dataset: 'tickets',
      columns: ['id', 'title'],
      where: [{ column: 'priority', op: 'EQ' as const, values: [1] }],
    };
    const jobs = await Promise.all(Array.from({ length: 20 }, () => harness.service.requestExport(alice, input)));
    const ids = new Set(jobs.map((j) => j.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const done = await finished(harness.service, alice, id!);
    expect(done.result!.rowCount).toBe(75);
    let records = 0;
    for await (const j of harness.jobs.listAll())
      if (j.request.where.length === 1 && j.request.where[0]!.values[0] === 1) records += 1;
    expect(records).toBe(1);
    // Asked again once finished, on the same data: the same job, with a fresh link.
    const again = await harness.service.requestExport(alice, input);
    expect(again.id).toBe(id);
    expect(again.status).toBe('SUCCEEDED');
    expect(again.result!.files[0]!.url).toMatch(/^http:\/\/api\.test\/downloads\//);
  });

  it('runs a new job when the data changed since', async () => {
    const input = { dataset: 'tickets', partitions: { values: ['2024-01-03'] } };
    const first = await finished(harness.service, alice, (await harness.service.requestExport(alice, input)).id);
    expect(first.result!.rowCount).toBe(100);
    // Another request reading other partitions is unaffected by a change here, and vice versa.
    await writeDay('2024-01-03', 1000);
    const second = await harness.service.requestExport(alice, input);
    expect(second.id).not.toBe(first.id);
    const done = await finished(harness.service, alice, second.id);
    const ids = parseCsv(await resultText(lake, `${exportResultPrefix(done.id)}part-00000.csv`))
      .slice(1)
      .map((r) => Number(r[0]));
    expect(Math.min(...ids)).toBe(1000);
  });

  it('re-uses a job after a policy change that leaves the request as it was, and not after one that does not', async () => {
    // A request no other test makes: the harness and its jobs are shared.
    const input = { dataset: 'tickets', columns: ['id', 'priority'], limit: 290 };
    const open = { allowedColumns: null, maskedColumns: [], rowFilter: [] };
    const first = await finished(harness.service, alice, (await harness.service.requestExport(alice, input, open)).id);
    // `title` masked now: this request does not read it.
    const titleMasked = { ...open, maskedColumns: [{ column: 'title', method: 'redact' as const }] };
    expect((await harness.service.requestExport(alice, input, titleMasked)).id).toBe(first.id);
    // A row filter now: another result, another job.
    const filtered = { ...open, rowFilter: [{ column: 'priority', op: 'EQ' as const, values: [1] }] };
    const other = await harness.service.requestExport(alice, input, filtered);
    expect(other.id).not.toBe(first.id);
    expect((await finished(harness.service, alice, other.id)).result!.rowCount).toBeLessThan(first.result!.rowCount);
  });

  it('returns the job of an idempotency key for the same request, and refuses it for another', async () => {
    const input = { dataset: 'tickets', columns: ['id'], idempotencyKey: 'key-123' };
    const first = await harness.service.requestExport(alice, input);
    const again = await harness.service.requestExport(alice, { ...input });
    expect(again.id).toBe(first.id);
    const err = await caught(() => harness.service.requestExport(alice, { ...input, columns: ['id', 'title'] }));
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toBe('idempotencyKey: this key was already used for a different export request');
    // Keys are per caller: Bob's use of the same key is his own.
    const bobs = await harness.service.requestExport(bob, { ...input, columns: ['id', 'title'] });
    expect(bobs.id).not.toBe(first.id);
    await finished(harness.service, alice, first.id);
    await finished(harness.service, bob, bobs.id);
  });

  it('gives an idempotency key whose job failed or was cancelled to a new job, once among concurrent retries', async () => {
    const input = { dataset: 'tickets', columns: ['id'], limit: 11, idempotencyKey: 'retry-after-cancel' };
    const first = await harness.service.requestExport(alice, input);
    expect((await harness.service.cancelExport(alice, first.id)).status).toBe('CANCELLED');
    // Five retries at once with the key: one new job, which the key now names, for all of them.
    const retries = await Promise.all(Array.from({ length: 5 }, () => harness.service.requestExport(alice, input)));
    const ids = new Set(retries.map((r) => r.id));
    expect(ids.size).toBe(1);
    const [second] = [...ids];
    expect(second).not.toBe(first.id);
    expect((await harness.jobs.findByIdempotencyKey(alice.id, 'retry-after-cancel'))?.jobId).toBe(second);
    expect((await finished(harness.service, alice, second!)).result!.rowCount).toBe(11);
    // A job that succeeded keeps its key: the same request is answered with it.
    expect((await harness.service.requestExport(alice, input)).id).toBe(second);
    // A different request with the key is still refused, even after the key's job failed.
    const err = await caught(() => harness.service.requestExport(alice, { ...input, limit: 12 }));
    expect(err.message).toBe('idempotencyKey: this key was already used for a different export request');
  });

  it('runs only the job of the request that took an idempotency key, when two different ones race for it', async () => {
    const listed = async () => (await harness.service.listExports(alice, { first: 100 })).edges.map((e) => e.node.id);
    const before = new Set(await listed());
    const a = { dataset: 'tickets', columns: ['id'], limit: 17, idempotencyKey: 'race-key' };
    const b = { ...a, columns: ['id', 'title'] };
    const answers = await Promise.allSettled([
      harness.service.requestExport(alice, a),
      harness.service.requestExport(alice, b),
    ]);
    const won = answers.filter((r) => r.status === 'fulfilled');
    const lost = answers.filter((r) => r.status === 'rejected');
    expect([won.length, lost.length]).toEqual([1, 1]);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value;
    await finished(harness.service, alice, winner.id);
    // The losing request's job was cancelled before anything ran it, and is not in alice's list (she was refused;
    // it listed as a CANCELLED job she never made).
    expect((await listed()).filter((id) => !before.has(id))).toEqual([winner.id]);
  });

  /** A job whose result could not be recorded: FAILED STORAGE_ERROR, no result, and no file left behind. */
  async function expectUnrecordedResult(job: { id: string; status: string; error: unknown; result: unknown }) {
    expect({ status: job.status, error: job.error, result: job.result }).toEqual({
      status: 'FAILED',
      error: { code: 'STORAGE_ERROR', message: 'the export result could not be recorded; request it again' },
      result: null,
    });
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
  }

  it('records a result the store refused twice; when it keeps refusing, removes the files and fails STORAGE_ERROR', async () => {
    let refuse = 2;
    let refused = 0;
    const flaky = await createExportHarness(lake, {
      service: { finalWriteRetryMs: [1, 1] },
      jobs: (inner) =>
        withMethod(
          inner,
          'update',
          (update) => (id, change) =>
            update(id, (j) => {
              const next = change(j);
              if (next.status === 'SUCCEEDED' && refused < refuse) {
                refused += 1;
                throw new Error('the store is unavailable');
              }
              return next;
            }),
        ),
    });
    try {
      const ok = await flaky.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 7 });
      const done = await finished(flaky.service, alice, ok.id);
      expect([done.status, done.result?.rowCount]).toEqual(['SUCCEEDED', 7]);
      expect(refused).toBe(2);

      refuse = Number.POSITIVE_INFINITY;
      const lost = await flaky.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 8 });
      const failed = await finished(flaky.service, alice, lost.id);
      await expectUnrecordedResult(failed);
    } finally {
      await flaky.close();
    }
  });

  it("fails STORAGE_ERROR when the result cannot be written, leaving no file, and logs the store's reason", async () => {
    const lines: string[] = [];
    // The exports volume full: every write of a result part fails as the file system says.
    const full = withMethod(lake.store, 'put', (put) => (bucket, key, body, options) => {
      if (bucket === 'exports' && key.startsWith('results/')) {
        return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      }
      return put(bucket, key, body, options);
    });
    const failing = await createExportHarness(lake, {
      engineStore: full,
      engine: { logger: new JsonLogger('warn', (l) => lines.push(l)) },
    });
    try {
      const job = await failing.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 9 });
      const failed = await finished(failing.service, alice, job.id);
      // The client is told what failed, not the volume's state.
      expect({ status: failed.status, error: failed.error, result: failed.result }).toEqual({
        status: 'FAILED',
        error: { code: 'STORAGE_ERROR', message: 'the export result could not be stored' },
        result: null,
      });
      expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
      // The operator is told why: the log carried only the client's message before.
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged.filter((l) => l['msg'] === 'export engine failed')).toEqual([
        expect.objectContaining({
          jobId: job.id,
          code: 'STORAGE_ERROR',
          error: 'the export result could not be stored (cause: ENOSPC: no space left on device, write)',
        }),
      ]);
    } finally {
      await failing.close();
    }
  });

  /**
   * A harness whose job store refuses every final record (any state but QUEUED and RUNNING) while `refusing` is
   * set, counting the refusals; `inner` is the store itself, as another process would reach it. The engine's final
   * write is tried twice more at once, then every 20 ms in the background.
   */
  async function refusingFinalRecords(): Promise<{
    harness: ExportHarness;
    inner: JobStore;
    state: { refusing: boolean; refused: number };
  }> {
    const state = { refusing: true, refused: 0 };
    let inner: JobStore | undefined;
    const harness = await createExportHarness(lake, {
      service: { finalWriteRetryMs: [1, 1], finalWriteBackgroundMs: 20 },
      jobs: (store) => {
        inner = store;
        return withMethod(
          store,
          'update',
          (update) => (id, change) =>
            update(id, (j) => {
              const next = change(j);
              if (state.refusing && next.status !== 'RUNNING' && next.status !== 'QUEUED') {
                state.refused += 1;
                throw new Error('the store is unavailable');
              }
              return next;
            }),
        );
      },
    });
    return { harness, inner: inner!, state };
  }

  async function until(done: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('ends a job whose final record the store refused through every try once the store is back, without a restart', async () => {
    const { harness: flaky, inner, state } = await refusingFinalRecords();
    try {
      const job = await flaky.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 9 });
      // SUCCEEDED refused three times, then the FAILED that follows it three times, then in the background.
      await until(() => state.refused >= 7);
      expect((await inner.get(job.id))?.status).toBe('RUNNING');
      state.refusing = false;
      await until(async () => (await inner.get(job.id))?.status !== 'RUNNING');
      const ended = await flaky.service.getExport(alice, job.id);
      await expectUnrecordedResult(ended);
    } finally {
      await flaky.close();
    }
  });

  it('never writes a late final record over a job another process has ended meanwhile', async () => {
    const { harness: flaky, inner, state } = await refusingFinalRecords();
    try {
      // It fails (a corrupt file), and its FAILED record is refused three times, then in the background.
      const job = await flaky.service.requestExport(alice, { dataset: 'broken', columns: ['id'] });
      await until(() => state.refused >= 4);
      expect((await inner.get(job.id))?.status).toBe('RUNNING');
      // Its requester cancels it through another process, whose store calls go through.
      await inner.update(job.id, (j) => ({ ...j, status: 'CANCELLED', finishedAt: new Date().toISOString() }));
      state.refusing = false;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await inner.get(job.id))?.status).toBe('CANCELLED');
    } finally {
      await flaky.close();
    }
  });

  it('cancels the job it made when the idempotency key cannot be bound, so a retry gets a job that runs', async () => {
    let failBind = true;
    const flaky = await createExportHarness(lake, {
      jobs: (inner) =>
        withMethod(inner, 'bindIdempotencyKey', (bind) => (...args) => {
          if (failBind) {
            failBind = false;
            return Promise.reject(new Error('the store is unavailable'));
          }
          return bind(...args);
        }),
    });
    try {
      const input = { dataset: 'tickets', columns: ['id'], limit: 3, idempotencyKey: 'bind-fails' };
      await expect(flaky.service.requestExport(alice, input)).rejects.toThrow('the store is unavailable');
      const listed = async () =>
        (await flaky.service.listExports(alice)).edges.map((e) => e.node).filter((j) => j.request.limit === 3);
      // The job the refused request made is cancelled (never handed out again) and not listed.
      expect(await listed()).toEqual([]);
      const retry = await flaky.service.requestExport(alice, input);
      expect((await finished(flaky.service, alice, retry.id)).status).toBe('SUCCEEDED');
      expect((await listed()).map((j) => j.id)).toEqual([retry.id]);
    } finally {
      await flaky.close();
    }
  });

  it('keeps a result whose SUCCEEDED record landed though the store reported an error', async () => {
    const flaky = await createExportHarness(lake, {
      service: { finalWriteRetryMs: [1, 1] },
      jobs: (inner) =>
        withMethod(inner, 'update', (update) => async (id, change) => {
          const written = await update(id, change);
          if (written.status === 'SUCCEEDED') throw new Error('the store timed out');
          return written;
        }),
    });
    try {
      const job = await flaky.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 4 });
      const done = await finished(flaky.service, alice, job.id);
      expect([done.status, done.result?.rowCount]).toEqual(['SUCCEEDED', 4]);
      expect(await storedKeys(exportResultPrefix(job.id))).toEqual([
        `${exportResultPrefix(job.id)}manifest.json`,
        `${exportResultPrefix(job.id)}part-00000.csv`,
      ]);
    } finally {
      await flaky.close();
    }
  });

  it("answers another caller's job exactly as a missing one", async () => {
    const job = await harness.service.requestExport(alice, { dataset: 'tickets', columns: ['title'] });
    await finished(harness.service, alice, job.id);
    for (const id of [job.id, 'no-such-job', '../_jobs/records/x']) {
      for (const call of [
        () => harness.service.getExport(bob, id),
        () => harness.service.cancelExport(bob, id),
        () => harness.service.watchExport(bob, id),
      ]) {
        const err = await caught(call);
        expect(err).toBeInstanceOf(NotFoundError);
        expect(err.message).toBe(`export "${id}" not found`);
      }
    }
    expect((await harness.service.listExports(bob)).edges.every((e) => e.node.requestedBy === 'bob')).toBe(true);
  });

  it("never answers a caller with another caller's job, even for the same request under the same grant", async () => {
    // A request no other test makes: the harness and its jobs are shared.
    const input = { dataset: 'tickets', columns: ['id', 'title'], limit: 37 };
    const grant = { allowedColumns: null, maskedColumns: [], rowFilter: [] };
    const alices = await finished(
      harness.service,
      alice,
      (await harness.service.requestExport(alice, input, grant)).id,
    );
    expect(alices.status).toBe('SUCCEEDED');
    // Bob's identical request has the same fingerprint, but jobs are found by requester and fingerprint: his own.
    const bobs = await harness.service.requestExportJob(bob, input, grant);
    expect(bobs.created).toBe(true);
    expect(bobs.job.id).not.toBe(alices.id);
    expect(bobs.job.requestedBy).toBe('bob');
    await finished(harness.service, bob, bobs.job.id);
    // Alice asking again is answered with her own.
    expect((await harness.service.requestExport(alice, input, grant)).id).toBe(alices.id);
  });

  it("lists only the caller's jobs, newest first, by status, a page at a time", async () => {
    const carol: ExportCaller = { id: 'carol' };
    const made: string[] = [];
    for (const limit of [1, 2, 3]) {
      const job = await harness.service.requestExport(carol, { dataset: 'tickets', limit });
      await finished(harness.service, carol, job.id);
      made.push(job.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    // A page reads the records of its own jobs only, not every job of the caller's.
    const reads = jest.spyOn(harness.jobs, 'get');
    const first = await harness.service.listExports(carol, { first: 2 });
    expect(reads.mock.calls.map(([id]) => id).sort()).toEqual([made[2], made[1]].sort());
    reads.mockRestore();
    expect(first.edges.map((e) => e.node.id)).toEqual([made[2], made[1]]);
    expect(first.hasNextPage).toBe(true);
    expect(first.totalCount).toBe(3);
    const second = await harness.service.listExports(carol, { first: 2, after: first.endCursor });
    expect(second.edges.map((e) => e.node.id)).toEqual([made[0]]);
    expect(second.hasNextPage).toBe(false);
    expect((await harness.service.listExports(carol, { status: 'FAILED' })).totalCount).toBe(0);
    expect((await harness.service.listExports(carol, { status: 'SUCCEEDED' })).totalCount).toBe(3);
  });

  it('lists the jobs whose records are there when a listed job has lost its record (a sweep half-way)', async () => {
    const dave: ExportCaller = { id: 'dave' };
    const made: string[] = [];
    for (const limit of [4, 5]) {
      const job = await harness.service.requestExport(dave, { dataset: 'tickets', limit });
      await finished(harness.service, dave, job.id);
      made.push(job.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    await lake.store.delete('exports', `_jobs/records/${made[1]}.json`);
    const page = await harness.service.listExports(dave, { first: 1 });
    expect(page.edges.map((e) => e.node.id)).toEqual([made[0]]);
    expect(page.totalCount).toBe(1);
  });

  it('reports QUEUED, RUNNING and SUCCEEDED in order to a subscriber, with progress', async () => {
    const job = await harness.service.requestExport(alice, { dataset: 'tickets', columns: ['id', 'priority'] });
    const seen = await followJob(harness.service, alice, job.id);
    // Every event tells something new: no state (status, progress, timestamps) twice in a row.
    const states = seen.map((s) => JSON.stringify([s.status, s.progress, s.startedAt, s.finishedAt, s.error]));
    expect(states.filter((s, i) => i > 0 && states[i - 1] === s)).toEqual([]);
    const statuses = seen.map((s) => s.status).filter((s, i, all) => i === 0 || all[i - 1] !== s);
    expect(statuses[statuses.length - 1]).toBe('SUCCEEDED');
    expect(statuses.slice(-2)).toEqual(['RUNNING', 'SUCCEEDED']);
    const last = seen[seen.length - 1]!;
    expect(last.progress).toEqual({
      rowsWritten: 300,
      rowsEstimated: 300,
      bytesWritten: last.result!.bytes,
      fraction: 1,
    });
    expect(last.startedAt!.getTime()).toBeGreaterThanOrEqual(last.createdAt.getTime());
    expect(last.finishedAt!.getTime()).toBeGreaterThanOrEqual(last.startedAt!.getTime());
  });

  it('estimates from Parquet footers after partition pruning', async () => {
    const estimate = await harness.service.estimateExport(alice, {
      dataset: 'tickets',
      partitions: { from: '2024-01-02' },
    });
    expect(estimate).toMatchObject({ rows: 200, partitions: 2, files: 2, unreadableFiles: 0 });
    expect(estimate.bytesToScan).toBeGreaterThan(0);
  });

  it('writes a header-only file when partition pruning leaves nothing to read', async () => {
    const job = await finished(
      harness.service,
      alice,
      (await harness.service.requestExport(alice, { dataset: 'tickets', partitions: { values: ['2030-01-01'] } })).id,
    );
    expect(job.estimate).toEqual({ rows: 0, bytesToScan: 0, partitions: 0, files: 0, unreadableFiles: 0 });
    expect(job.result).toMatchObject({ rowCount: 0, truncated: false });
    expect((await resultText(lake, `${exportResultPrefix(job.id)}part-00000.csv`)).toString()).toBe(
      'id,title,priority,event_date\n',
    );
  });

  it('refuses an unknown dataset as NOT_FOUND', async () => {
    const err = await caught(() => harness.service.requestExport(alice, { dataset: 'nope' }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('dataset "nope" not found');
  });

  it('fails a job on a corrupt Parquet file with DATA_CORRUPT and leaves no result', async () => {
    const estimate = await harness.service.estimateExport(alice, { dataset: 'broken' });
    expect(estimate).toMatchObject({ rows: 100, files: 2, unreadableFiles: 1 });
    const job = await finished(
      harness.service,
      alice,
      (await harness.service.requestExport(alice, { dataset: 'broken' })).id,
    );
    expect(job.status).toBe('FAILED');
    expect(job.error).toEqual({
      code: 'DATA_CORRUPT',
      message: 'a data file of dataset "broken" (partition event_date=2024-01-02) is not readable Parquet',
    });
    expect(job.result).toBeNull();
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
    await expect(harness.service.resolveDownload(job.id, 'part-00000.csv')).rejects.toThrow('export file not found');
    // A caller that reads the partition key masked is not told which partition it is.
    const masked = await harness.service.requestExport(
      alice,
      { dataset: 'broken' },
      {
        allowedColumns: null,
        maskedColumns: [{ column: 'event_date', method: 'redact' }],
        rowFilter: [],
      },
    );
    expect((await finished(harness.service, alice, masked.id)).error).toEqual({
      code: 'DATA_CORRUPT',
      message: 'a data file of dataset "broken" is not readable Parquet',
    });
  });

  it('issues verifiable links that expire, and serves only files of a succeeded job', async () => {
    const job = await finished(
      harness.service,
      alice,
      (await harness.service.requestExport(alice, { dataset: 'tickets', columns: ['priority'] })).id,
    );
    const file = job.result!.files[0]!;
    expect(file.urlExpiresAt!.getTime() - Date.now()).toBeGreaterThan(3590_000);
    expect(harness.links.verifyUrl(file.url!)).toEqual({ jobId: job.id, fileName: 'part-00000.csv' });
    await expect(harness.service.resolveDownload(job.id, 'part-00000.csv')).resolves.toEqual({
      key: `${exportResultPrefix(job.id)}part-00000.csv`,
      bytes: file.bytes,
      fileName: 'part-00000.csv',
      job: { requestedBy: alice.id, dataset: 'tickets', request: (await harness.jobs.get(job.id))!.request },
    });
    await expect(harness.service.resolveDownload(job.id, 'manifest.json')).rejects.toThrow('export file not found');
    const { HmacDownloadLinks } = await import('../../src/services/download-links.js');
    const later = new HmacDownloadLinks({
      secret: (await import('../support/export-lake.js')).LINK_SECRET,
      baseUrl: 'http://api.test',
      now: () => new Date(Date.now() + 2 * 3600_000),
    });
    expect(() => later.verifyUrl(file.url!)).toThrow(DownloadLinkExpiredError);
    // Reading the job again gives a fresh link.
    const reread = await harness.service.getExport(alice, job.id);
    expect(reread.result!.files[0]!.url).not.toBeNull();
    const manifest = JSON.parse(
      Buffer.from(await lake.store.getBytes('exports', `${exportResultPrefix(job.id)}manifest.json`)).toString(),
    );
    expect(manifest).toMatchObject({
      dataset: 'tickets',
      rowCount: 300,
      truncated: false,
      files: [{ name: 'part-00000.csv' }],
    });
  });
});

describe('jobs that run out of memory beside others', () => {
  it('runs a job that ran out of memory or disk beside other jobs again, alone, and it succeeds', async () => {
    // The real engine, wrapped: the first run of the `title` export fails as DuckDB does when the jobs running in
    // one engine share its memory limit (the hands-on test saw 7 of 8 sorted exports fail so at concurrency 4).
    let running = 0;
    let maxBesideRetry = 0;
    let failedOnce = false;
    const alone = await createExportHarness(lake, {
      service: { concurrency: 2 },
      wrapEngine: (engine) =>
        withMethod(engine, 'run', (run) => async (job, plan, options) => {
          running++;
          try {
            // The other job holds the engine a while, so that the hungry one starts beside it.
            if (plan.request.orderBy.length > 0) await new Promise((r) => setTimeout(r, 500));
            if (plan.request.columns.some((c) => c.name === 'title')) {
              if (!failedOnce && running > 1) {
                failedOnce = true;
                throw new ExportFailedError('ENGINE_ERROR', 'the query engine ran out of memory or disk space', {
                  outOfResources: true,
                });
              }
              maxBesideRetry = Math.max(maxBesideRetry, running);
            }
            return await run(job, plan, options);
          } finally {
            running--;
          }
        }),
    });
    try {
      const slow = { dataset: 'tickets', columns: ['id'], orderBy: [{ column: 'id', direction: 'DESC' as const }] };
      const other = await alone.service.requestExport(alice, slow);
      const hungry = await alone.service.requestExport(alice, { dataset: 'tickets', columns: ['id', 'title'] });
      const third = await alone.service.requestExport(alice, { dataset: 'tickets', columns: ['id'], limit: 3 });
      const ended = await Promise.all([other, hungry, third].map((j) => finished(alone.service, alice, j.id)));
      expect(ended.map((j) => j.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      expect(failedOnce).toBe(true);
      // Its second run had nothing beside it, and its first start was not counted.
      expect(maxBesideRetry).toBe(1);
      expect((await alone.jobs.get(hungry.id))!.attempts).toBe(1);
    } finally {
      await alone.close();
    }
  });
});

describe('a cancel that meets an out-of-memory failure', () => {
  it('is not run again alone: the requester asked it to stop', async () => {
    let hungryRuns = 0;
    let started: () => void = () => undefined;
    const hungryStarted = new Promise<void>((r) => (started = r));
    const harnessed = await createExportHarness(lake, {
      service: { concurrency: 2 },
      wrapEngine: (engine) =>
        withMethod(engine, 'run', (run) => async (job, plan, options) => {
          if (plan.request.orderBy.length > 0) await new Promise((r) => setTimeout(r, 800));
          if (plan.request.columns.some((c) => c.name === 'title')) {
            hungryRuns++;
            started();
            // It runs out of memory just as its requester cancels it.
            await new Promise<void>((r) => options.signal?.addEventListener('abort', () => r(), { once: true }));
            throw new ExportFailedError('ENGINE_ERROR', 'the query engine ran out of memory or disk space', {
              outOfResources: true,
            });
          }
          return run(job, plan, options);
        }),
    });
    try {
      const other = await harnessed.service.requestExport(alice, {
        dataset: 'tickets',
        columns: ['id'],
        orderBy: [{ column: 'id', direction: 'DESC' as const }],
        limit: 5,
      });
      const hungry = await harnessed.service.requestExport(alice, {
        dataset: 'tickets',
        columns: ['id', 'title'],
        limit: 4,
      });
      await hungryStarted;
      const cancelled = await harnessed.service.cancelExport(alice, hungry.id);
      expect(cancelled.status).not.toBe('QUEUED');
      await finished(harnessed.service, alice, other.id);
      await harnessed.service.whenIdle();
      expect(['CANCELLED', 'FAILED']).toContain((await harnessed.jobs.get(hungry.id))!.status);
      expect(hungryRuns).toBe(1);
    } finally {
      await harnessed.close();
    }
  });
});

describe('export limits', () => {
  let limited: ExportHarness;
  beforeAll(async () => {
    limited = await createExportHarness(lake, {
      service: {
        limits: { maxRows: 150, maxScanBytes: 10_000_000, maxPredicates: 10, maxValues: 10, maxTextLength: 500 },
      },
    });
  });
  afterAll(async () => limited.close());

  it('refuses an unfiltered export over the row limit', async () => {
    const err = await caught(() => limited.service.requestExport(alice, { dataset: 'tickets' }));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err.message).toBe(
      'the export would produce 300 rows, over the limit of 150: narrow it with partitions or ask for a limit (a where filter is applied while exporting: a filtered result over the limit is cut there and marked truncated)',
    );
  });

  it('refuses an export reading more bytes than allowed', async () => {
    const tight = await createExportHarness(lake, {
      service: { limits: { maxRows: 1000, maxScanBytes: 100, maxPredicates: 10, maxValues: 10, maxTextLength: 500 } },
    });
    try {
      const estimate = await tight.service.estimateExport(alice, { dataset: 'tickets' });
      const err = await caught(() => tight.service.requestExport(alice, { dataset: 'tickets' }));
      expect(err).toBeInstanceOf(LimitExceededError);
      expect(err.message).toBe(
        `the export would read ${estimate.bytesToScan} bytes of Parquet, over the limit of 100: narrow it with partitions or where`,
      );
      // Under a row filter the caller is not shown whole-file sizes: nor in the refusal.
      const filtered = {
        allowedColumns: null,
        maskedColumns: [],
        rowFilter: [{ column: 'priority', op: 'EQ' as const, values: [1] }],
      };
      const hidden = await caught(() => tight.service.requestExport(alice, { dataset: 'tickets' }, filtered));
      expect(hidden).toBeInstanceOf(LimitExceededError);
      expect(hidden.message).toBe(
        'the export would read more Parquet than the limit of 100 bytes: narrow it with partitions or where',
      );
    } finally {
      await tight.close();
    }
  });

  it('cuts a filtered export at the row limit and says so', async () => {
    const job = await finished(
      limited.service,
      alice,
      (
        await limited.service.requestExport(alice, {
          dataset: 'tickets',
          where: [{ column: 'priority', op: 'LT', values: [3] }],
        })
      ).id,
    );
    expect(job.result).toMatchObject({ rowCount: 150, truncated: true });
  });

  it('does not flag a result that fits its limit exactly', async () => {
    const job = await finished(
      limited.service,
      alice,
      (
        await limited.service.requestExport(alice, {
          dataset: 'tickets',
          partitions: { values: ['2024-01-01'] },
          limit: 100,
        })
      ).id,
    );
    expect(job.result).toMatchObject({ rowCount: 100, truncated: false });
  });
});

describe('retention and restarts', () => {
  it('expires old results: files deleted, no links, and a new request runs again', async () => {
    const input = { dataset: 'tickets', columns: ['id'], orderBy: [{ column: 'id' }] };
    const job = await finished(harness.service, alice, (await harness.service.requestExport(alice, input)).id);
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([
      `${exportResultPrefix(job.id)}manifest.json`,
      `${exportResultPrefix(job.id)}part-00000.csv`,
    ]);
    expect(job.expiresAt!.getTime() - job.finishedAt!.getTime()).toBe(7 * 24 * 3600 * 1000);
    // A copy where earlier versions kept results (`<job-id>/` at the root) goes too.
    await lake.store.put('exports', `${job.id}/part-00000.csv`, 'id\n1\n');
    const expired = await harness.service.expireOlderThan(new Date(Date.now() + 1000));
    expect(expired).toContain(job.id);
    expect(await storedKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(await storedKeys(`${job.id}/`)).toEqual([]);
    const view = await harness.service.getExport(alice, job.id);
    expect(view.status).toBe('EXPIRED');
    expect(view.result!.files[0]!.url).toBeNull();
    const again = await harness.service.requestExport(alice, input);
    expect(again.id).not.toBe(job.id);
    await finished(harness.service, alice, again.id);
  });

  it('does not hand out a result whose files were removed outside retention: it is marked EXPIRED and the request runs again', async () => {
    const input = { dataset: 'tickets', columns: ['id', 'title'], orderBy: [{ column: 'id' }] };
    const job = await finished(harness.service, alice, (await harness.service.requestExport(alice, input)).id);
    expect(job.status).toBe('SUCCEEDED');
    expect((await harness.service.requestExport(alice, input)).id).toBe(job.id);
    // Removed by hand (or a lifecycle rule): its links answered 404 for good, and every identical request got it.
    for (const key of await storedKeys(exportResultPrefix(job.id))) await lake.store.delete('exports', key);
    const again = await harness.service.requestExport(alice, input);
    expect(again.id).not.toBe(job.id);
    expect((await harness.service.getExport(alice, job.id)).status).toBe('EXPIRED');
    const rerun = await finished(harness.service, alice, again.id);
    expect(rerun.status).toBe('SUCCEEDED');
    expect(rerun.result!.rowCount).toBe(job.result!.rowCount);
    // A request with an idempotency key whose job's files are gone: that job is EXPIRED, and the key goes to a new one.
    const keyed = { ...input, columns: ['id'], idempotencyKey: 'gone-files' };
    const bound = await finished(harness.service, alice, (await harness.service.requestExport(alice, keyed)).id);
    for (const key of await storedKeys(exportResultPrefix(bound.id))) await lake.store.delete('exports', key);
    const back = await harness.service.requestExport(alice, keyed);
    expect(back.id).not.toBe(bound.id);
    expect((await harness.service.getExport(alice, bound.id)).status).toBe('EXPIRED');
    expect((await harness.jobs.findByIdempotencyKey(alice.id, 'gone-files'))?.jobId).toBe(back.id);
    expect((await finished(harness.service, alice, back.id)).status).toBe('SUCCEEDED');
    // A store that does not answer the check does not fail the request: the result is reused.
    const flaky = await createExportHarness(lake, {
      store: withMethod(lake.store, 'head', (head) => async (bucket, key) => {
        if (bucket === 'exports' && key.startsWith(exportResultPrefix(again.id))) throw new Error('SlowDown');
        return head(bucket, key);
      }),
    });
    try {
      expect((await flaky.service.requestExport(alice, input)).id).toBe(again.id);
    } finally {
      await flaky.close();
    }
  });

  it('says EXPIRED once past its expiry before any sweep ran (AWS: the bucket lifecycle deletes the files)', async () => {
    let now = new Date();
    const clocked = await createExportHarness(lake, { now: () => now });
    try {
      const input = { dataset: 'tickets', columns: ['id'], partitions: { values: ['2024-01-03'] } };
      const job = await finished(clocked.service, alice, (await clocked.service.requestExport(alice, input)).id);
      expect(job.status).toBe('SUCCEEDED');
      const file = job.result!.files[0]!.name;
      await expect(clocked.service.resolveDownload(job.id, file)).resolves.toMatchObject({ fileName: file });

      now = new Date(job.expiresAt!.getTime());
      const view = await clocked.service.getExport(alice, job.id);
      expect({ status: view.status, url: view.result!.files[0]!.url }).toEqual({ status: 'EXPIRED', url: null });
      // The record itself is untouched: no sweep ran.
      expect((await clocked.jobs.get(job.id))!.status).toBe('SUCCEEDED');
      await expect(clocked.service.resolveDownload(job.id, file)).rejects.toThrow(NotFoundError);
      const listed = await clocked.service.listExports(alice, { status: 'EXPIRED' });
      expect(listed.edges.map((e) => e.node.id)).toContain(job.id);
      const succeeded = await clocked.service.listExports(alice, { status: 'SUCCEEDED' });
      expect(succeeded.edges.map((e) => e.node.id)).not.toContain(job.id);
      // The same request is new work, not the expired job handed out again.
      const again = await clocked.service.requestExport(alice, input);
      expect(again.id).not.toBe(job.id);
      expect((await finished(clocked.service, alice, again.id)).status).toBe('SUCCEEDED');
    } finally {
      await clocked.close();
    }
  });

  it('forgets jobs that ended more than 30 days past retention, and a key whose job is gone starts a new one', async () => {
    let now = new Date();
    const clocked = await createExportHarness(lake, { now: () => now });
    try {
      const input = { dataset: 'tickets', columns: ['id'], limit: 4, idempotencyKey: 'monthly' };
      const cancelled = await clocked.service.requestExport(alice, input);
      await clocked.service.cancelExport(alice, cancelled.id);
      const kept = await finished(clocked.service, alice, (await clocked.service.requestExport(alice, input)).id);
      expect(kept.id).not.toBe(cancelled.id);
      const retentionDays = 7; // the default
      // 29 days past retention: still listed.
      now = new Date(Date.now() + (retentionDays + 29) * 86_400_000);
      await clocked.service.expireDue();
      expect((await clocked.jobs.get(cancelled.id))?.status).toBe('CANCELLED');
      expect((await clocked.jobs.get(kept.id))?.status).toBe('EXPIRED');
      // 31 days past: gone, the EXPIRED one at the sweep after it was marked (its end is as old).
      now = new Date(Date.now() + (retentionDays + 31) * 86_400_000);
      await clocked.service.expireDue();
      for (const id of [cancelled.id, kept.id]) expect(await clocked.jobs.get(id)).toBeUndefined();
      // A link of a forgotten job is to a result expired by retention (the download route words its refusal so).
      expect(await clocked.service.resultExpired(kept.id)).toBe(true);
      const listed = (await clocked.service.listExports(alice, { first: 100 })).edges.map((e) => e.node.id);
      expect(listed).not.toContain(cancelled.id);
      expect(listed).not.toContain(kept.id);
      expect(await clocked.jobs.findByIdempotencyKey(alice.id, 'monthly')).toBeUndefined();
      const again = await clocked.service.requestExport(alice, input);
      expect([cancelled.id, kept.id]).not.toContain(again.id);
      await finished(clocked.service, alice, again.id);
      // A key whose job's record is gone while the key stays (an AWS lifecycle rule takes them apart): a new job too.
      await lake.store.delete('exports', `_jobs/records/${again.id}.json`);
      const afterLoss = await clocked.service.requestExport(alice, input);
      expect(afterLoss.id).not.toBe(again.id);
      expect((await clocked.jobs.findByIdempotencyKey(alice.id, 'monthly'))?.jobId).toBe(afterLoss.id);
      await finished(clocked.service, alice, afterLoss.id);
    } finally {
      await clocked.close();
    }
  });

  it('recovers after a restart: re-runs interrupted jobs, on their data as it is now, and fails those interrupted too often', async () => {
    const make = async (input: Parameters<ExportHarness['service']['requestExport']>[1]): Promise<string> =>
      (await finished(harness.service, alice, (await harness.service.requestExport(alice, input)).id)).id;
    const running = await make({
      dataset: 'tickets',
      columns: ['title'],
      partitions: { values: ['2024-01-01'] },
      limit: 7,
    });
    const queued = await make({
      dataset: 'tickets',
      columns: ['title'],
      partitions: { values: ['2024-01-01'] },
      limit: 8,
    });
    const tooOften = await make({
      dataset: 'tickets',
      columns: ['title'],
      partitions: { values: ['2024-01-01'] },
      limit: 9,
    });
    const changed = await make({ dataset: 'tickets', columns: ['title'], partitions: { values: ['2024-01-02'] } });
    // What a process that died mid-way leaves: records QUEUED or RUNNING, a partial part, no manifest.
    const crash = async (id: string, status: 'QUEUED' | 'RUNNING', attempts: number): Promise<void> => {
      await harness.jobs.update(id, (j): ExportJobRecord => ({
        ...j,
        status,
        attempts,
        result: null,
        finishedAt: null,
        expiresAt: null,
        startedAt: status === 'RUNNING' ? j.startedAt : null,
      }));
      await lake.store.delete('exports', `${exportResultPrefix(id)}manifest.json`);
      await lake.store.put('exports', `${exportResultPrefix(id)}part-00000.csv`, 'title\npartial');
      // The engine's own folder: DuckDB's partial CSV in the killed run's folder, as a killed process leaves it.
      await mkdir(join(lake.root, 'staging', id, '0123456789ab', 'out'), { recursive: true });
      await writeFile(join(lake.root, 'staging', id, '0123456789ab', 'out', 'result.csv'), 'title\npartial');
    };
    await crash(running, 'RUNNING', 1);
    await crash(queued, 'QUEUED', 0);
    await crash(tooOften, 'RUNNING', 2);
    await crash(changed, 'RUNNING', 1);
    await writeDay('2024-01-02', 5000);

    const before = await harness.jobs.get(changed);
    const restarted = await createExportHarness(lake);
    try {
      const outcome = await restarted.service.recover();
      expect(outcome.requeued.sort()).toEqual([running, queued, changed].sort());
      expect(outcome.failed).toEqual([tooOften]);
      const r = await finished(restarted.service, alice, running);
      expect(r).toMatchObject({ status: 'SUCCEEDED', result: { rowCount: 7 } });
      expect((await restarted.jobs.get(running))!.attempts).toBe(2);
      expect(parseCsv(await resultText(lake, `${exportResultPrefix(running)}part-00000.csv`))).toHaveLength(8);
      expect((await finished(restarted.service, alice, queued)).result!.rowCount).toBe(8);
      expect(await restarted.service.getExport(alice, tooOften)).toMatchObject({
        status: 'FAILED',
        error: { code: 'INTERRUPTED', message: 'interrupted by restart too often: request it again' },
        result: null,
      });
      // Its day was rewritten while no process ran it: it runs on the day as it is now, its record re-based on it.
      expect(await finished(restarted.service, alice, changed)).toMatchObject({ status: 'SUCCEEDED', error: null });
      const titles = parseCsv(await resultText(lake, `${exportResultPrefix(changed)}part-00000.csv`)).slice(1);
      expect(titles).toHaveLength(ROWS_PER_DAY);
      expect(titles[0]).toEqual(['ticket 5000']);
      const rebased = (await restarted.jobs.get(changed))!;
      expect(rebased.dataVersion).not.toBe(before!.dataVersion);
      expect(rebased.fingerprint).not.toBe(before!.fingerprint);
      expect(rebased.attempts).toBe(2);
      expect(await storedKeys(exportResultPrefix(tooOften))).toEqual([]);
      // A job that ended without running again leaves nothing in the engine's folder either.
      expect(existsSync(join(lake.root, 'staging', tooOften))).toBe(false);
    } finally {
      await restarted.close();
    }
  });
});
