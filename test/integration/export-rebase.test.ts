import { DEFAULT_EXPORT_LIMITS } from '../../src/domain/export-request.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import { column } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
  withMethod,
} from '../support/export-lake.js';

/**
 * A job whose files change before it reads them (a compaction, an ingest of new or late files) runs on the dataset as
 * it is then, rather than failing DATA_CHANGED: the robustness test saw one compaction fail every queued export.
 * Through the real DuckDB engine, whose staging finds the changed files by their ETags; fails DATA_CHANGED only when
 * the dataset or its columns are gone, or the files keep changing run after run.
 */
const alice = { id: 'alice' };
const DAY = 'event_date=2024-01-01';
let lake: ExportLake;
let table = 0;

beforeAll(async () => {
  lake = await createExportLake();
});

afterAll(async () => {
  await lake.close();
});

/** A new table of `rows` rows in one day, written as two files (`part-a`, `part-b`) as two ingests leave it. */
async function newTable(rows: number): Promise<string> {
  const name = `tickets_${++table}`;
  const half = Math.floor(rows / 2);
  await lake.writeParquet(`${name}/${DAY}/part-a.parquet`, ticketRows(0, half));
  await lake.writeParquet(`${name}/${DAY}/part-b.parquet`, ticketRows(half, rows));
  await lake.catalog.putTable({
    name,
    location: `${name}/`,
    description: '',
    columns: [column('id', 'bigint'), column('title', 'string')],
    partitionKeys: [column('event_date', 'date')],
    origin: 'etl',
  });
  return name;
}

function ticketRows(from: number, to: number): string {
  return `SELECT i::BIGINT AS id, 'ticket ' || i AS title FROM range(${from}, ${to}) t(i)`;
}

/** What a compaction does to the day: one file of the same rows in place of the two. */
async function compact(name: string, rows: number): Promise<void> {
  await lake.writeParquet(`${name}/${DAY}/part-c.parquet`, ticketRows(0, rows));
  await lake.store.delete('processed', `${name}/${DAY}/part-a.parquet`);
  await lake.store.delete('processed', `${name}/${DAY}/part-b.parquet`);
}

/** The real engine, whose run for `name` waits for `gate` first (the job ahead in the queue holds the pool). */
function heldBy(name: string, gate: Promise<void>): (engine: ExportEngine) => ExportEngine {
  return (engine) =>
    withMethod(engine, 'run', (run) => async (job, plan, options) => {
      if (plan.table.name === name) await gate;
      return run(job, plan, options);
    });
}

async function ids(harness: ExportHarness, id: string): Promise<number[]> {
  const job = (await harness.jobs.get(id))!;
  const rows: number[] = [];
  for (const file of job.result!.files) {
    rows.push(
      ...parseCsv(await resultText(lake, file.key))
        .slice(1)
        .map((r) => Number(r[0])),
    );
  }
  return rows.sort((a, b) => a - b);
}

async function outputOf(id: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of lake.store.listAll('exports', exportResultPrefix(id))) keys.push(o.key);
  return keys;
}

describe('an export whose files change before it reads them', () => {
  it('runs a queued job on the compacted files: same rows, its record re-based, its start counted once', async () => {
    const blocker = await newTable(10);
    const name = await newTable(300);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const harness = await createExportHarness(lake, { service: { concurrency: 1 }, wrapEngine: heldBy(blocker, gate) });
    try {
      const ahead = await harness.service.requestExport(alice, { dataset: blocker });
      const queued = await harness.service.requestExport(alice, { dataset: name, columns: ['id', 'title'] });
      const before = (await harness.jobs.get(queued.id))!;
      expect(before.status).toBe('QUEUED');
      await compact(name, 300);
      open();
      await finished(harness.service, alice, ahead.id);
      const ended = await finished(harness.service, alice, queued.id);
      expect(ended).toMatchObject({ status: 'SUCCEEDED', error: null, result: { rowCount: 300 } });
      expect(await ids(harness, queued.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      const record = (await harness.jobs.get(queued.id))!;
      expect(record.dataVersion).not.toBe(before.dataVersion);
      expect(record.fingerprint).not.toBe(before.fingerprint);
      expect(record.estimate.files).toBe(1);
      expect(record.attempts).toBe(1);
      // The same request now is answered by a job of its own on the new version (the re-based one keeps its claim).
      const again = await harness.service.requestExport(alice, { dataset: name, columns: ['id', 'title'] });
      expect(again.id).not.toBe(queued.id);
    } finally {
      open();
      await harness.close();
    }
  });

  it('runs a job on files compacted as it started, and gives up DATA_CHANGED after files that keep changing', async () => {
    const name = await newTable(100);
    let compactions = 0;
    let churn = false;
    let runs = 0;
    const harness = await createExportHarness(lake, {
      wrapEngine: (engine) =>
        withMethod(engine, 'run', (run) => async (job, plan, options) => {
          runs++;
          // Just after the plan was made: the day is compacted (once), or rewritten with more rows (every time).
          if (compactions > 0) {
            compactions--;
            await compact(name, 100);
          }
          if (churn) await lake.writeParquet(`${name}/${DAY}/part-c.parquet`, ticketRows(0, 100 + runs));
          return run(job, plan, options);
        }),
    });
    try {
      compactions = 1;
      const job = await harness.service.requestExport(alice, { dataset: name, columns: ['id'] });
      const ended = await finished(harness.service, alice, job.id);
      expect(ended).toMatchObject({ status: 'SUCCEEDED', result: { rowCount: 100 } });
      expect(runs).toBe(2);
      expect(await ids(harness, job.id)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect((await harness.jobs.get(job.id))!).toMatchObject({ attempts: 1, estimate: { files: 1 } });

      runs = 0;
      churn = true;
      const churned = await harness.service.requestExport(alice, { dataset: name, columns: ['title'] });
      expect(await finished(harness.service, alice, churned.id)).toMatchObject({
        status: 'FAILED',
        error: {
          code: 'DATA_CHANGED',
          message: `dataset "${name}" changed after the export was requested; request it again`,
        },
        result: null,
      });
      // The first run and three runs planned again.
      expect(runs).toBe(4);
      expect(await outputOf(churned.id)).toEqual([]);
    } finally {
      await harness.close();
    }
  });

  it('runs a job again on the compacted files when the compaction commits between its check of the files and the read', async () => {
    const name = await newTable(300);
    let inRun = false;
    let checked = 0;
    // The store as the engine sees it while a compaction commits: once the run has checked both files' ETags, the
    // compaction deletes its inputs (its merged file is already there), before DuckDB opens them.
    const store = new Proxy(lake.store, {
      get(target, prop, receiver) {
        if (prop === 'head') {
          return async (...args: Parameters<typeof target.head>) => {
            const info = await target.head(...args);
            if (inRun && args[1].startsWith(`${name}/`) && ++checked === 2) {
              inRun = false;
              await lake.writeParquet(`${name}/${DAY}/part-c.parquet`, ticketRows(0, 300));
              await target.delete('processed', `${name}/${DAY}/part-a.parquet`);
              await target.delete('processed', `${name}/${DAY}/part-b.parquet`);
            }
            return info;
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    let runs = 0;
    const harness = await createExportHarness(
      { ...lake, store },
      {
        wrapEngine: (engine) =>
          withMethod(engine, 'run', (run) => async (job, plan, options) => {
            inRun = ++runs === 1;
            return run(job, plan, options);
          }),
      },
    );
    try {
      const job = await harness.service.requestExport(alice, { dataset: name, columns: ['id'] });
      const ended = await finished(harness.service, alice, job.id);
      expect(ended).toMatchObject({ status: 'SUCCEEDED', error: null, result: { rowCount: 300 } });
      expect(runs).toBe(2);
      expect(await ids(harness, job.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    } finally {
      await harness.close();
    }
  });

  it('fails a queued job whose dataset is gone, or whose new files are over the limits, with the reason', async () => {
    const blocker = await newTable(10);
    const gone = await newTable(20);
    const grown = await newTable(20);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const harness = await createExportHarness(lake, {
      service: { concurrency: 1, limits: { ...DEFAULT_EXPORT_LIMITS, maxRows: 50 } },
      wrapEngine: heldBy(blocker, gate),
    });
    try {
      const ahead = await harness.service.requestExport(alice, { dataset: blocker });
      const droppedJob = await harness.service.requestExport(alice, { dataset: gone });
      const grownJob = await harness.service.requestExport(alice, { dataset: grown });
      for (const key of ['part-a', 'part-b']) await lake.store.delete('processed', `${gone}/${DAY}/${key}.parquet`);
      await lake.catalog.deleteTable(gone);
      // Rewritten with more rows (a file only added would not be read: the job reads the files it was planned on).
      await lake.writeParquet(`${grown}/${DAY}/part-a.parquet`, ticketRows(100, 170));
      open();
      await finished(harness.service, alice, ahead.id);
      expect((await finished(harness.service, alice, droppedJob.id)).error).toEqual({
        code: 'DATA_CHANGED',
        message: 'the dataset is no longer available as requested: request it again',
      });
      expect((await finished(harness.service, alice, grownJob.id)).error).toEqual({
        code: 'LIMIT_EXCEEDED',
        message:
          'the dataset changed since the request, and the export would produce 80 rows, over the limit of 50: narrow it with partitions or ask for a limit (a where filter is applied while exporting: a filtered result over the limit is cut there and marked truncated)',
      });
      for (const id of [droppedJob.id, grownJob.id]) expect(await outputOf(id)).toEqual([]);
    } finally {
      open();
      await harness.close();
    }
  });
});
