import type { ExportCaller } from '../../src/domain/export-job.js';
import type { EngineProgress, ExportEngine } from '../../src/ports/export-engine.js';
import { column } from '../support/export-table.js';
import { createExportHarness, createExportLake, type ExportLake, finished } from '../support/export-lake.js';

const caller: ExportCaller = { id: 'analyst-1' };
const ROWS = 2_000_000;

let lake: ExportLake;

beforeAll(async () => {
  lake = await createExportLake();
  await lake.writeParquet(
    'wide/part-0.parquet',
    `SELECT n::BIGINT AS id, 'ticket ' || n || ' ' || md5(n::VARCHAR) AS description, n % 1000 AS bucket
     FROM range(${ROWS}) t(n)`,
  );
  await lake.catalog.putTable({
    name: 'wide',
    description: '',
    columns: [column('id', 'bigint'), column('description', 'string'), column('bucket', 'bigint')],
    partitionKeys: [],
    location: 'wide/',
    origin: 'registered',
  });
}, 120_000);

afterAll(async () => {
  await lake?.close();
});

/** Records every progress report the real engine gives, per job. */
function recording(seen: Map<string, EngineProgress[]>): (engine: ExportEngine) => ExportEngine {
  return (engine) => ({
    kind: engine.kind,
    run: (job, plan, options) => {
      const reports: EngineProgress[] = [];
      seen.set(job.id, reports);
      return engine.run(job, plan, {
        ...options,
        onProgress: (p) => {
          reports.push(p);
          options.onProgress(p);
        },
      });
    },
  });
}

/** The reports whose fraction is below one reported before them. */
function regressions(reports: EngineProgress[]): string[] {
  const out: string[] = [];
  let best = 0;
  for (const [i, p] of reports.entries()) {
    if (p.fraction < best) out.push(`report ${i}: ${p.fraction} after ${best}`);
    best = Math.max(best, p.fraction);
  }
  return out;
}

describe('export progress', () => {
  // DuckDB reports no progress (-1) once a query's last pipeline has finished but before its result reaches the
  // caller, a window that two queries sharing the engine's threads make long enough to be polled in; a poll started
  // before the query returned may also land after the parts' progress. Neither may move a progress bar back.
  it('never goes back while jobs share the engine', async () => {
    const seen = new Map<string, EngineProgress[]>();
    const h = await createExportHarness(lake, {
      service: { concurrency: 2 },
      engine: { progressIntervalMs: 1 },
      wrapEngine: recording(seen),
    });
    try {
      const jobs = await Promise.all(
        [1, 2, 3, 4].map((k) =>
          h.service.requestExport(caller, {
            dataset: 'wide',
            where: [{ column: 'bucket', op: 'NE', values: [k] }],
          }),
        ),
      );
      for (const job of jobs) expect((await finished(h.service, caller, job.id)).status).toBe('SUCCEEDED');
      expect(seen.size).toBe(4);
      for (const job of jobs) {
        const reports = seen.get(job.id) ?? [];
        // Polled every millisecond: many reports while the query runs, so the check has something to check.
        expect(reports.filter((p) => p.fraction > 0 && p.fraction < 0.9).length).toBeGreaterThan(3);
        expect(regressions(reports)).toEqual([]);
        expect(reports[reports.length - 1]?.fraction).toBe(1);
      }
    } finally {
      await h.close();
    }
  }, 120_000);
});
