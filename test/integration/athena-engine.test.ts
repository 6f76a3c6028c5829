import { AthenaClient } from '@aws-sdk/client-athena';
import { athenaRequestToken, createAthenaExportEngine } from '../../src/adapters/aws/athena-export-engine.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/domain/errors.js';
import { type ExportCaller, exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportPlan } from '../../src/domain/export-plan.js';
import { type ExportRequestInput, normalizeExportRequest } from '../../src/domain/export-request.js';
import { type EngineProgress, ExportCancelledError, ExportFailedError } from '../../src/ports/export-engine.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { type AthenaLake, BUCKETS, createAthenaLake, WORKGROUP } from '../support/athena-lake.js';
import { finished, parseCsv } from '../support/export-lake.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * The Athena engine's protocol behaviour, through the real AthenaClient against the Athena stand-in: idempotent
 * starts, cancellation, failures and their job errors, the workgroup's scan cut-off, parameters kept out of the SQL,
 * the data-version check, the result location (the job's own prefix, or an enforced workgroup's, and the cleanup of
 * what an interrupted start left), and the factory.
 */

const notes = typesTable({
  name: 'notes',
  columns: [column('id', 'bigint'), column('note', 'string'), column('score', 'double')],
  location: 'notes/',
});
const broken = typesTable({ name: 'broken', columns: [column('id', 'bigint')], location: 'broken/' });
const shifting = typesTable({ name: 'shifting', columns: [column('id', 'bigint')], location: 'shifting/' });
const caller: ExportCaller = { id: 'analyst-1' };
/** The enforced workgroup's result location in the exports bucket. */
const ENFORCED_PREFIX = 'athena-results/';

let lake: AthenaLake;
let planner: ExportPlanner;

beforeAll(async () => {
  lake = await createAthenaLake({
    workgroups: {
      [WORKGROUP]: {},
      tiny: { bytesScannedCutoffPerQuery: 100 },
      enforced: {
        enforceWorkGroupConfiguration: true,
        outputLocation: `s3://${BUCKETS.exports}/${ENFORCED_PREFIX}`,
        encryptionOption: 'SSE_S3',
      },
    },
  });
  for (const [i, day] of ['2024-01-01', '2024-01-02', '2024-01-03'].entries()) {
    await lake.writeParquet(
      `notes/event_date=${day}/part-${i}.parquet`,
      `SELECT (${i * 10} + n)::BIGINT AS id, 'note "' || n || '", ok' AS note, n / 4 AS score FROM range(10) t(n)`,
    );
  }
  await lake.registerTable(notes);
  await lake.writeParquet('broken/event_date=2024-01-01/part-0.parquet', 'SELECT 1::BIGINT AS id');
  await lake.writeBytes('broken/event_date=2024-01-02/part-1.parquet', Buffer.from('PAR1 this is not parquet PAR1'));
  await lake.registerTable(broken);
  await lake.writeParquet('shifting/event_date=2024-01-01/part-0.parquet', 'SELECT 1::BIGINT AS id');
  await lake.registerTable(shifting);
  planner = new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));
}, 60_000);

afterAll(async () => {
  await lake?.close();
});

afterEach(() => {
  lake.athena.settings.runningMs = 20;
});

async function planOf(input: Partial<ExportRequestInput> = {}, table = notes): Promise<ExportPlan> {
  const request = normalizeExportRequest({ dataset: table.name, orderBy: [{ column: 'id' }], ...input }, table);
  return planner.plan(table, request, 1_000_000);
}

function runOptions(signal = new AbortController().signal, progress: EngineProgress[] = []) {
  return { signal, onProgress: (p: EngineProgress) => progress.push(p) };
}

function starts(token: string) {
  return lake.athena.requests.filter(
    (r) => r.operation === 'StartQueryExecution' && r.input['ClientRequestToken'] === token,
  );
}

/** The code and message a run fails with. */
async function failureOf(run: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ExportFailedError)) throw new Error(`expected an ExportFailedError, got ${String(err)}`);
  return { code: err.code, message: err.message };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('idempotent starts', () => {
  it('starts one query when the SDK repeats StartQueryExecution after a lost response', async () => {
    const token = athenaRequestToken({ id: 'job-lost-response', attempts: 1 }, 0);
    lake.athena.dropResponses('StartQueryExecution', 1);
    const result = await lake
      .athenaEngine()
      .run({ id: 'job-lost-response', attempts: 1 }, await planOf(), runOptions());
    expect(result.rowCount).toBe(30);
    expect(starts(token)).toHaveLength(2);
    expect(lake.athena.executions().filter((x) => x.token === token)).toHaveLength(1);
  });

  it("runs a new query for a new start of the job, never the first start's", async () => {
    const engine = lake.athenaEngine();
    const plan = await planOf({ limit: 5 });
    await engine.run({ id: 'job-restarted', attempts: 1 }, plan, runOptions());
    await engine.run({ id: 'job-restarted', attempts: 2 }, plan, runOptions());
    const tokens = lake.athena
      .executions()
      .filter((x) =>
        [
          athenaRequestToken({ id: 'job-restarted', attempts: 1 }, 0),
          athenaRequestToken({ id: 'job-restarted', attempts: 2 }, 0),
        ].includes(x.token!),
      );
    expect(tokens.map((x) => x.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(athenaRequestToken({ id: 'job-restarted', attempts: 1 }, 0)).toMatch(/^export-[0-9a-f]{64}$/);
  });

  it('runs a new query for a run planned again within a start (its files changed), never the run before it', async () => {
    const engine = lake.athenaEngine();
    const plan = await planOf({ limit: 6 });
    const start = { id: 'job-rebased', attempts: 1, startedAt: '2024-05-01T10:00:00.000Z' };
    await engine.run(start, plan, runOptions());
    await engine.run({ ...start, rebases: 1 }, plan, runOptions());
    const tokens = [athenaRequestToken(start, 0), athenaRequestToken({ ...start, rebases: 1 }, 0)];
    expect(new Set(tokens).size).toBe(2);
    // A job never planned again keeps the token it had before runs could be (`rebases` absent or 0 is the same).
    expect(athenaRequestToken({ ...start, rebases: 0 }, 0)).toBe(tokens[0]);
    const executions = lake.athena.executions().filter((x) => tokens.includes(x.token!));
    expect(executions.map((x) => x.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });
});

/**
 * A table of ids whose first day holds `files` (key → ids) and whose second day holds one file of ids 100 to 104,
 * registered in Glue; a journal of a compaction of the first day when one is given.
 */
async function lakeTable(
  name: string,
  files: Record<string, string>,
  journal?: { state: 'uploading' | 'committed'; outputKeys: string[]; inputKeys: string[] },
) {
  const table = typesTable({ name, columns: [column('id', 'bigint')], location: `${name}/` });
  const day = `${name}/event_date=2024-01-01/`;
  for (const [file, ids] of Object.entries(files)) {
    await lake.writeParquet(`${day}${file}`, `SELECT i::BIGINT AS id FROM ${ids} t(i)`);
  }
  await lake.writeParquet(
    `${name}/event_date=2024-01-02/part-9.parquet`,
    'SELECT i::BIGINT AS id FROM range(100, 105) t(i)',
  );
  await lake.registerTable(table);
  if (journal !== undefined) {
    await lake.store.put(
      'processed',
      `_pipeline/compactions/${name}/event_date=2024-01-01.json`,
      JSON.stringify({
        state: journal.state,
        outputKeys: journal.outputKeys.map((f) => `${day}${f}`),
        inputKeys: journal.inputKeys.map((f) => `${day}${f}`),
        lineages: [],
      }),
    );
  }
  return { table, day };
}

/** The CSV text of a run's result (one part). */
async function csvOf(result: { files: { key: string }[] }): Promise<string> {
  expect(result.files).toHaveLength(1);
  return (await lake.resultFile(result.files[0]!.key)).text.toString('utf8');
}

/** Ids 0 to 9 of the first day, then 100 to 104 of the second, each once, as the export writes them (header first). */
const ALL_IDS = [
  'id,event_date',
  ...Array.from({ length: 10 }, (_, i) => `${i},2024-01-01`),
  ...[100, 101, 102, 103, 104].map((i) => `${i},2024-01-02`),
  '',
].join('\n');

describe('a compaction half-way through a partition', () => {
  it.each<{
    state: 'uploading' | 'committed';
    files: Record<string, string>;
    journal: { outputKeys: string[]; inputKeys: string[] };
    planned: string[];
  }>([
    {
      // Killed while uploading: its merged copy of the same rows beside the inputs, the journal naming it.
      state: 'uploading',
      files: {
        'part-0.parquet': 'range(5)',
        'part-1.parquet': 'range(5, 10)',
        'part-compacted-x.parquet': 'range(10)',
      },
      journal: { outputKeys: ['part-compacted-x.parquet'], inputKeys: ['part-0.parquet', 'part-1.parquet'] },
      planned: ['part-0.parquet', 'part-1.parquet'],
    },
    {
      // Committed, its inputs not yet deleted: the merged file holds their rows.
      state: 'committed',
      files: {
        'part-0.parquet': 'range(5)',
        'part-1.parquet': 'range(5, 10)',
        'part-compacted-y.parquet': 'range(10)',
      },
      journal: { outputKeys: ['part-compacted-y.parquet'], inputKeys: ['part-0.parquet', 'part-1.parquet'] },
      planned: ['part-compacted-y.parquet'],
    },
  ])(
    'exports each row once, the bytes the DuckDB engine writes, reading only the planned files (journal $state)',
    async ({ state, files, journal, planned }) => {
      const name = `halfway_${state}`;
      const { table, day } = await lakeTable(name, files, { state, ...journal });
      const plan = await planOf({}, table);
      // The plan leaves out what the journal hides.
      expect(plan.files.map((f) => f.key)).toEqual([
        ...planned.map((f) => `${day}${f}`),
        `${name}/event_date=2024-01-02/part-9.parquet`,
      ]);
      const athena = await lake.athenaEngine().run({ id: `job-${name}` }, plan, runOptions());
      const duckdb = await (await lake.duckdbEngine()).run({ id: `job-${name}-duckdb` }, plan, runOptions());
      expect(athena.rowCount).toBe(15);
      expect(await csvOf(athena)).toBe(ALL_IDS);
      expect(await csvOf(athena)).toBe(await csvOf(duckdb));
      // The query names the planned files, each an execution parameter.
      const execution = lake.athena.executions().at(-1)!;
      expect(execution.sql).toContain(` WHERE "src"."$path" IN (${plan.files.map(() => '?').join(', ')}) ORDER BY `);
      expect(execution.sql).not.toContain('s3://');
      expect(execution.parameters).toEqual(plan.files.map((f) => `'s3://${BUCKETS.processed}/${f.key}'`));
    },
  );

  it('runs the query again unrestricted when Athena read none of the planned files, rather than export nothing', async () => {
    const { table } = await lakeTable('path_mismatch', { 'part-0.parquet': 'range(10)' });
    const plan = await planOf({}, table);
    expect(plan.estimate.bytesToScan).toBeGreaterThan(0);
    const before = lake.athena.executions().length;
    // URIs of another bucket: as if Athena named the table's files otherwise than s3://<bucket>/<key>.
    const engine = lake.athenaEngine({ processedBucket: `${BUCKETS.processed}-elsewhere` });
    const result = await engine.run({ id: 'job-path-mismatch' }, plan, runOptions());
    expect(await csvOf(result)).toBe(ALL_IDS);
    const [restricted, unrestricted, ...more] = lake.athena.executions().slice(before);
    expect(more).toEqual([]);
    expect(restricted!.sql).toContain('"src"."$path" IN (');
    expect(restricted!.dataScannedInBytes).toBe(0);
    expect(unrestricted!.sql).not.toContain('$path');
    expect(unrestricted!.token).not.toBe(restricted!.token);
    expect(unrestricted!.dataScannedInBytes).toBeGreaterThan(0);
  });

  it('holds the unrestricted second query to the old check: a half-way compaction fails it, naming the compaction', async () => {
    const { table } = await lakeTable(
      'path_mismatch_halfway',
      { 'part-0.parquet': 'range(10)', 'part-compacted-w.parquet': 'range(10)' },
      { state: 'uploading', outputKeys: ['part-compacted-w.parquet'], inputKeys: ['part-0.parquet'] },
    );
    const plan = await planOf({}, table);
    const engine = lake.athenaEngine({ processedBucket: `${BUCKETS.processed}-elsewhere` });
    const failure = await failureOf(engine.run({ id: 'job-path-mismatch-halfway' }, plan, runOptions()));
    expect(failure.code).toBe('DATA_CHANGED');
    expect(failure.message).toContain('a compaction of dataset "path_mismatch_halfway" is half-way');
  });

  it('fails DATA_CHANGED, as before, when the plan has more files than the query may name: Athena would read the rows twice', async () => {
    const { table } = await lakeTable(
      'halfway_long',
      { 'part-0.parquet': 'range(10)', 'part-compacted-z.parquet': 'range(10)' },
      { state: 'uploading', outputKeys: ['part-compacted-z.parquet'], inputKeys: ['part-0.parquet'] },
    );
    const plan = await planOf({}, table);
    expect(plan.files).toHaveLength(2);
    const before = lake.athena.executions().length;
    expect(
      await failureOf(lake.athenaEngine({ maxRestrictedFiles: 1 }).run({ id: 'job-halfway-long' }, plan, runOptions())),
    ).toEqual({
      code: 'DATA_CHANGED',
      message:
        'a compaction of dataset "halfway_long" is half-way (running, or stopped): Athena would read its rows twice; request the export again once it is done (run careplus compact for the dataset again to finish a stopped one)',
    });
    expect(lake.athena.executions()).toHaveLength(before);
  });

  it('fails DATA_CHANGED, as before, when a planned key is not plain: Athena may write its "$path" otherwise', async () => {
    const { table } = await lakeTable(
      'halfway_spaced',
      { 'part 0.parquet': 'range(10)', 'part-compacted-s.parquet': 'range(10)' },
      { state: 'uploading', outputKeys: ['part-compacted-s.parquet'], inputKeys: ['part 0.parquet'] },
    );
    const plan = await planOf({}, table);
    expect(plan.files.map((f) => f.key)).toContain('halfway_spaced/event_date=2024-01-01/part 0.parquet');
    expect(await failureOf(lake.athenaEngine().run({ id: 'job-halfway-spaced' }, plan, runOptions()))).toEqual({
      code: 'DATA_CHANGED',
      message:
        'a compaction of dataset "halfway_spaced" is half-way (running, or stopped): Athena would read its rows twice; request the export again once it is done (run careplus compact for the dataset again to finish a stopped one)',
    });
  });
});

describe('a file added to a partition the export reads, after the request', () => {
  it('is not read: the job exports the data it was planned on, the bytes the DuckDB engine writes', async () => {
    const { table, day } = await lakeTable('growing', { 'part-0.parquet': 'range(10)' });
    const plan = await planOf({}, table);
    await lake.writeParquet(`${day}part-late.parquet`, 'SELECT 7::BIGINT AS id');
    const athena = await lake.athenaEngine().run({ id: 'job-growing' }, plan, runOptions());
    const duckdb = await (await lake.duckdbEngine()).run({ id: 'job-growing-duckdb' }, plan, runOptions());
    expect(await csvOf(athena)).toBe(ALL_IDS);
    expect(await csvOf(athena)).toBe(await csvOf(duckdb));
    expect(athena.rowCount).toBe(15);
  });

  it('fails DATA_CHANGED when the plan has more files than the query may name: Athena would read it', async () => {
    const { table, day } = await lakeTable('growing_long', { 'part-0.parquet': 'range(10)' });
    const plan = await planOf({}, table);
    await lake.writeParquet(`${day}part-late.parquet`, 'SELECT 7::BIGINT AS id');
    expect(
      await failureOf(lake.athenaEngine({ maxRestrictedFiles: 1 }).run({ id: 'job-growing-long' }, plan, runOptions())),
    ).toEqual({
      code: 'DATA_CHANGED',
      message: 'dataset "growing_long" changed after the export was requested; request it again',
    });
  });
});

describe('a start refused over the account’s query quota', () => {
  it('is sent again with the same token after a wait, and one query runs', async () => {
    const job = { id: 'job-throttled', attempts: 1 };
    const token = athenaRequestToken(job, 0);
    // More refusals than the SDK's own three attempts take.
    lake.athena.throttleStarts(5);
    const result = await lake.athenaEngine({ busyRetryMs: [10, 10, 10] }).run(job, await planOf(), runOptions());
    expect(result.rowCount).toBe(30);
    expect(starts(token).length).toBeGreaterThan(5);
    expect(lake.athena.executions().filter((x) => x.token === token)).toHaveLength(1);
  });

  it('fails ENGINE_ERROR, with nothing started, when Athena still refuses it after the last wait', async () => {
    const job = { id: 'job-throttled-for-good', attempts: 1 };
    lake.athena.throttleStarts(20);
    try {
      expect(await failureOf(lake.athenaEngine({ busyRetryMs: [10] }).run(job, await planOf(), runOptions()))).toEqual({
        code: 'ENGINE_ERROR',
        message: 'the query engine is running too many queries; request the export again later',
      });
      expect(lake.athena.executions().filter((x) => x.token === athenaRequestToken(job, 0))).toEqual([]);
    } finally {
      lake.athena.throttleStarts(0);
    }
  });
});

describe('a job put back at shutdown', () => {
  it('gets a query of its own when it starts again with the same attempt count', async () => {
    lake.athena.settings.runningMs = 30_000;
    const controller = new AbortController();
    const plan = await planOf({ limit: 4 });
    const first = { id: 'job-shutdown', attempts: 1, startedAt: '2024-05-01T10:00:00.000Z' };
    const stopped = lake.athenaEngine().run(first, plan, runOptions(controller.signal));
    const token = athenaRequestToken(first, 0);
    await until(() => lake.athena.executions().some((x) => x.token === token && x.state === 'RUNNING'), 'the query');
    controller.abort();
    await expect(stopped).rejects.toBeInstanceOf(ExportCancelledError);
    lake.athena.settings.runningMs = 20;
    // The service does not count a start a shutdown interrupted: the next start has the same count.
    const again = { id: 'job-shutdown', attempts: 1, startedAt: '2024-05-01T10:05:00.000Z' };
    const result = await lake.athenaEngine().run(again, plan, runOptions());
    expect(result.rowCount).toBe(4);
    const states = lake.athena
      .executions()
      .filter((x) => x.token === token || x.token === athenaRequestToken(again, 0))
      .map((x) => x.state);
    expect(states).toEqual(['CANCELLED', 'SUCCEEDED']);
  });
});

describe('cancellation', () => {
  it('stops the query with StopQueryExecution and leaves no file of the job', async () => {
    lake.athena.settings.runningMs = 30_000;
    const controller = new AbortController();
    const before = lake.athena.executions().length;
    const running = lake
      .athenaEngine()
      .run({ id: 'job-cancel', attempts: 1 }, await planOf(), runOptions(controller.signal));
    await until(() => lake.athena.executions()[before]?.state === 'RUNNING', 'the query to run');
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(ExportCancelledError);
    const execution = lake.athena.executions()[before]!;
    expect(execution.state).toBe('CANCELLED');
    expect(
      lake.athena.requests.filter(
        (r) => r.operation === 'StopQueryExecution' && r.input['QueryExecutionId'] === execution.id,
      ),
    ).toHaveLength(1);
    expect(await lake.exportKeys(exportResultPrefix('job-cancel'))).toEqual([]);
    expect(await lake.exportKeys('_athena/job-cancel/')).toEqual([]);
  });

  it('cancels through the service: the job ends CANCELLED without a result', async () => {
    lake.athena.settings.runningMs = 30_000;
    const service = lake.service(lake.athenaEngine());
    const before = lake.athena.executions().length;
    const job = await service.requestExport(caller, { dataset: 'notes', columns: ['id'] });
    await until(() => lake.athena.executions()[before]?.state === 'RUNNING', 'the query to run');
    const cancelled = await service.cancelExport(caller, job.id);
    expect({ status: cancelled.status, result: cancelled.result }).toEqual({ status: 'CANCELLED', result: null });
    expect(lake.athena.executions()[before]!.state).toBe('CANCELLED');
    expect(await lake.exportKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(await lake.exportKeys(`_athena/${job.id}/`)).toEqual([]);
  });
});

describe('failures', () => {
  it('reports a data file Athena cannot read as DATA_CORRUPT, naming no bucket, key or SQL', async () => {
    const service = lake.service(lake.athenaEngine());
    const requested = await service.requestExport(caller, { dataset: 'broken' });
    const job = await finished(service, caller, requested.id);
    expect({ status: job.status, error: job.error }).toEqual({
      status: 'FAILED',
      error: {
        code: 'DATA_CORRUPT',
        message:
          'a data file of dataset "broken" could not be read by the query engine (Athena error category USER, type 1001)',
      },
    });
    // Athena's own reason names the object and its bucket; none of it reaches the job.
    const execution = lake.athena.executions().at(-1)!;
    expect(execution.stateChangeReason).toContain(`s3://${BUCKETS.processed}/broken/`);
    for (const leak of ['s3://', BUCKETS.processed, BUCKETS.exports, 'SELECT', '"src"', 'HIVE_']) {
      expect(job.error!.message).not.toContain(leak);
    }
    expect(await lake.exportKeys(exportResultPrefix(job.id))).toEqual([]);
    expect(await lake.exportKeys(`_athena/${job.id}/`)).toEqual([]);
  });

  it('starts a query again, with a new token, when Athena says its failure is retryable', async () => {
    lake.athena.injectFailures({
      ErrorCategory: 1,
      ErrorType: 200,
      Retryable: true,
      message: 'INTERNAL_ERROR: s3://x',
    });
    const result = await lake.athenaEngine().run({ id: 'job-retryable', attempts: 1 }, await planOf(), runOptions());
    expect(result.rowCount).toBe(30);
    const executions = lake.athena
      .executions()
      .filter((x) => x.token?.startsWith('export-') && x.sql.includes('notes'));
    const mine = [
      athenaRequestToken({ id: 'job-retryable', attempts: 1 }, 0),
      athenaRequestToken({ id: 'job-retryable', attempts: 1 }, 1),
    ].map((token) => executions.find((x) => x.token === token)?.state);
    expect(mine).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it('fails with the category and type, saying when a new request may succeed', async () => {
    const engine = lake.athenaEngine();
    lake.athena.injectFailures({
      ErrorCategory: 2,
      ErrorType: 1000,
      Retryable: false,
      message: 'SYNTAX_ERROR: line 1:8: SELECT "src"."id" FROM "careplus"."notes"',
    });
    expect(await failureOf(engine.run({ id: 'job-user-error' }, await planOf(), runOptions()))).toEqual({
      code: 'ENGINE_ERROR',
      message: 'the query engine failed (Athena error category USER, type 1000)',
    });
    lake.athena.injectFailures(
      { ErrorCategory: 1, ErrorType: 5, Retryable: true, message: 'resources exhausted' },
      { ErrorCategory: 1, ErrorType: 5, Retryable: true, message: 'resources exhausted' },
    );
    expect(await failureOf(engine.run({ id: 'job-exhausted' }, await planOf(), runOptions()))).toEqual({
      code: 'ENGINE_ERROR',
      message:
        'the query engine ran out of resources (Athena error category SYSTEM, type 5); requesting the export again may succeed',
    });
    expect(await lake.exportKeys('_athena/job-exhausted/')).toEqual([]);
  });

  it("surfaces the workgroup's bytes-scanned cut-off as LIMIT_EXCEEDED", async () => {
    const service = lake.service(lake.athenaEngine({ workgroup: 'tiny' }));
    const requested = await service.requestExport(caller, { dataset: 'notes', columns: ['note'] });
    const job = await finished(service, caller, requested.id);
    expect({ status: job.status, error: job.error }).toEqual({
      status: 'FAILED',
      error: {
        code: 'LIMIT_EXCEEDED',
        message:
          "the export would scan more data than the query engine allows for one query (the workgroup's bytes-scanned cut-off): narrow it with partitions or where",
      },
    });
    expect(lake.athena.executions().at(-1)).toMatchObject({
      workGroup: 'tiny',
      state: 'FAILED',
      stateChangeReason: 'Bytes scanned limit was exceeded',
    });
  });

  it('refuses to run on data that changed since the plan, before asking Athena', async () => {
    const plan = await planOf();
    await lake.writeParquet('broken/event_date=2024-01-01/part-0.parquet', 'SELECT 2::BIGINT AS id');
    const brokenPlan = await planOf({}, broken);
    await lake.writeParquet('broken/event_date=2024-01-01/part-0.parquet', 'SELECT 3::BIGINT AS id');
    const before = lake.athena.executions().length;
    expect(await failureOf(lake.athenaEngine().run({ id: 'job-changed' }, brokenPlan, runOptions()))).toEqual({
      code: 'DATA_CHANGED',
      message: 'dataset "broken" changed after the export was requested; request it again',
    });
    expect(lake.athena.executions()).toHaveLength(before);
    expect(plan.files).toHaveLength(3);
  });
});

describe('queries', () => {
  it('sends every client value as an execution parameter, never in the SQL text', async () => {
    const needle = "zz-needle-'zz";
    const service = lake.service(lake.athenaEngine());
    const requested = await service.requestExport(caller, {
      dataset: 'notes',
      where: [
        { column: 'note', op: 'CONTAINS', values: [needle] },
        // LTE, not GTE: a bound over every id would have statistics prune every file, and Athena not be asked.
        { column: 'id', op: 'LTE', values: ['12345678901'] },
      ],
      partitions: { from: '2024-01-02' },
    });
    const job = await finished(service, caller, requested.id);
    expect(job.status).toBe('SUCCEEDED');
    const execution = lake.athena.executions().at(-1)!;
    expect(execution.sql).toContain('?');
    for (const literal of ['zz-needle', '12345678901', '2024-01-02']) expect(execution.sql).not.toContain(literal);
    // Then the planned files' URIs (the "$path" restriction): the two days from 2024-01-02.
    expect(execution.parameters).toEqual([
      "BIGINT '12345678901'",
      "'zz-needle-''zz'",
      "DATE '2024-01-02'",
      `'s3://${BUCKETS.processed}/notes/event_date=2024-01-02/part-1.parquet'`,
      `'s3://${BUCKETS.processed}/notes/event_date=2024-01-03/part-2.parquet'`,
    ]);
  });

  it('runs a plan pruned by statistics: Athena reads only the files left, and is not asked when none is', async () => {
    const plan = await planOf({ where: [{ column: 'id', op: 'BETWEEN', values: [12, 14] }] });
    expect(plan.files.map((f) => f.key)).toEqual(['notes/event_date=2024-01-02/part-1.parquet']);
    expect(plan.partitionFiles).toHaveLength(3);
    expect(plan.estimate).toMatchObject({ rows: 10, files: 1 });
    const result = await lake.athenaEngine().run({ id: 'job-stats-pruned' }, plan, runOptions());
    expect(result.rowCount).toBe(3);
    const execution = lake.athena.executions().at(-1)!;
    expect(execution.parameters.slice(2)).toEqual([`'s3://${BUCKETS.processed}/${plan.files[0]!.key}'`]);
    // Every file ruled out by its statistics, none by partition: the header alone, without a query.
    const none = await planOf({ where: [{ column: 'id', op: 'GT', values: [1000] }] });
    expect(none.files).toEqual([]);
    const before = lake.athena.executions().length;
    expect((await lake.athenaEngine().run({ id: 'job-stats-pruned-all' }, none, runOptions())).rowCount).toBe(0);
    expect(lake.athena.executions()).toHaveLength(before);
  });

  it('leaves a file its statistics pruned alone when restricted, and holds an unrestricted query to it', async () => {
    // Day 1: ids 0-9 (pruned by `id >= 100`); day 2: ids 100-104 (read).
    const { table, day } = await lakeTable('pruned_rewritten', { 'part-0.parquet': 'range(10)' });
    const plan = await planOf({ where: [{ column: 'id', op: 'GTE', values: [100] }] }, table);
    expect(plan.files.map((f) => f.key)).toEqual(['pruned_rewritten/event_date=2024-01-02/part-9.parquet']);
    // The pruned file rewritten since the plan, now with a matching row.
    await lake.writeParquet(`${day}part-0.parquet`, 'SELECT 500::BIGINT AS id');
    // Restricted, the plan's data version: the file held no row of the result when planned (as the DuckDB engine).
    const restricted = await lake.athenaEngine().run({ id: 'job-pruned-rewritten' }, plan, runOptions());
    expect(await csvOf(restricted)).toBe(
      ['id,event_date', ...[100, 101, 102, 103, 104].map((i) => `${i},2024-01-02`), ''].join('\n'),
    );
    // Unrestricted, Athena would read the rewritten file: the job is refused rather than mix versions.
    const unrestricted = lake.athenaEngine({ maxRestrictedFiles: 0 });
    expect(await failureOf(unrestricted.run({ id: 'job-pruned-rewritten-all' }, plan, runOptions()))).toEqual({
      code: 'DATA_CHANGED',
      message: 'dataset "pruned_rewritten" changed after the export was requested; request it again',
    });
  });

  it('keeps a file whose microseconds Athena rounds into the range of a timestamp predicate', async () => {
    // Athena reads a Hive timestamp to the millisecond, rounded: 00:00:00.123600 is .124 there, which is at or after
    // .123700; the file's footer bounds (microseconds) are below it. Pruned by them, the restricted query would not
    // read the file, and lose the row the query over every file returns.
    const micros = typesTable({
      name: 'micros',
      columns: [column('id', 'bigint'), column('opened_at', 'timestamp')],
      location: 'micros/',
    });
    await lake.writeParquet(
      'micros/event_date=2024-01-01/part-0.parquet',
      `SELECT 1::BIGINT AS id, TIMESTAMP '2024-01-01 00:00:00.123600' AS opened_at`,
    );
    await lake.writeParquet(
      'micros/event_date=2024-01-01/part-1.parquet',
      `SELECT 2::BIGINT AS id, TIMESTAMP '2024-01-02 00:00:00' AS opened_at`,
    );
    await lake.registerTable(micros);
    const where: ExportRequestInput['where'] = [
      { column: 'opened_at', op: 'GTE', values: ['2024-01-01T00:00:00.123700Z'] },
    ];
    const request = normalizeExportRequest({ dataset: 'micros', where, orderBy: [{ column: 'id' }] }, micros);
    // A row filter of the access policy turns statistics pruning off: the same where over every file.
    const always = normalizeExportRequest({ dataset: 'micros', where: [{ column: 'id', op: 'IS_NOT_NULL' }] }, micros);
    const unpruned = await planner.plan(micros, { ...request, rowFilter: always.where }, 1_000_000);
    const all = await csvOf(await lake.athenaEngine().run({ id: 'job-micros-all' }, unpruned, runOptions()));
    expect(all.split('\n').map((line) => line.split(',')[0])).toEqual(['id', '1', '2', '']);
    const plan = await planner.plan(micros, request, 1_000_000);
    expect(plan.files).toHaveLength(2);
    expect(await csvOf(await lake.athenaEngine().run({ id: 'job-micros-pruned' }, plan, runOptions()))).toBe(all);
  });

  it('gives the header alone, without a query, for a double above NaN, when a file has no bounds to prune by', async () => {
    // No double is above NaN (DuckDB's order, which the query follows). A file holding NaN has no double bounds in its
    // footer (DuckDB writes none then), so statistics cannot prune it; the Athena query's `FALSE` then has Trino plan
    // no scan, and a restricted query that read nothing looked like one whose "$path" matched none of its files.
    const nans = typesTable({
      name: 'nans',
      columns: [column('id', 'bigint'), column('score', 'double')],
      location: 'nans/',
    });
    await lake.writeParquet(
      'nans/event_date=2024-01-01/part-0.parquet',
      `SELECT 1::BIGINT AS id, 'NaN'::DOUBLE AS score`,
    );
    await lake.writeParquet(
      'nans/event_date=2024-01-01/part-1.parquet',
      `SELECT 2::BIGINT AS id, 0.5::DOUBLE AS score`,
    );
    await lake.registerTable(nans);
    const plan = await planOf({ where: [{ column: 'score', op: 'GT', values: ['NaN'] }] }, nans);
    const before = lake.athena.executions().length;
    const result = await lake.athenaEngine().run({ id: 'job-above-nan' }, plan, runOptions());
    expect(result.rowCount).toBe(0);
    expect(await csvOf(result)).toBe('id,score,event_date\n');
    expect(lake.athena.executions()).toHaveLength(before);
    expect(plan.estimate).toMatchObject({ rows: 0, files: 0 });
  });

  it('reports progress that only grows and ends at 1 with the exact rows', async () => {
    const progress: EngineProgress[] = [];
    const result = await lake
      .athenaEngine()
      .run({ id: 'job-progress' }, await planOf(), runOptions(undefined, progress));
    expect(progress.length).toBeGreaterThan(1);
    progress.slice(1).forEach((p, i) => expect(p.fraction).toBeGreaterThanOrEqual(progress[i]!.fraction));
    expect(progress.at(-1)).toEqual({ rowsWritten: 30, bytesWritten: result.bytes, fraction: 1 });
  });
});

describe('where Athena writes', () => {
  const resultsOf = (jobId: string) => lake.exportKeys(`_athena/${jobId}/`);

  it("asks for the job's own prefix, where a workgroup that does not enforce its configuration writes", async () => {
    await lake.athenaEngine().run({ id: 'job-own-prefix' }, await planOf({ limit: 2 }), runOptions());
    const execution = lake.athena.executions().at(-1)!;
    expect(execution.requestedOutputLocation).toBe(`s3://${BUCKETS.exports}/_athena/job-own-prefix/`);
    expect(execution.outputLocation).toBe(`s3://${BUCKETS.exports}/_athena/job-own-prefix/${execution.id}.csv`);
    expect(await resultsOf('job-own-prefix')).toEqual([]);
  });

  it('reads the result where an enforced workgroup put it, the same bytes, and removes it and its metadata', async () => {
    const plan = await planOf({ columns: ['id', 'note'], csv: { quoteAll: true } });
    const own = await lake.athenaEngine().run({ id: 'job-not-enforced' }, plan, runOptions());
    const enforced = await lake.athenaEngine({ workgroup: 'enforced' }).run({ id: 'job-enforced' }, plan, runOptions());
    const execution = lake.athena.executions().at(-1)!;
    // Athena ignored the engine's OutputLocation and applied the workgroup's location and encryption.
    expect(execution).toMatchObject({
      workGroup: 'enforced',
      state: 'SUCCEEDED',
      requestedOutputLocation: `s3://${BUCKETS.exports}/_athena/job-enforced/`,
      outputLocation: `s3://${BUCKETS.exports}/${ENFORCED_PREFIX}${execution.id}.csv`,
      resultEncryption: 'SSE_S3',
    });
    expect((await lake.resultFile(enforced.files[0]!.key)).stored).toEqual(
      (await lake.resultFile(own.files[0]!.key)).stored,
    );
    expect(parseCsv((await lake.resultFile(enforced.files[0]!.key)).text)[1]).toEqual(['0', 'note "0", ok']);
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([]);
    expect(await resultsOf('job-enforced')).toEqual([]);
  });

  it('removes the result from the enforced location when the job fails after its query', async () => {
    lake.athena.settings.runningMs = 500;
    const plan = await planOf({}, shifting);
    const running = lake.athenaEngine({ workgroup: 'enforced' }).run({ id: 'job-shifted' }, plan, runOptions());
    const before = lake.athena.executions().length;
    await until(() => lake.athena.executions()[before]?.state === 'RUNNING', 'the query to run');
    await lake.writeParquet('shifting/event_date=2024-01-01/part-0.parquet', 'SELECT 2::BIGINT AS id');
    expect(await failureOf(running)).toEqual({
      code: 'DATA_CHANGED',
      message: 'dataset "shifting" changed after the export was requested; request it again',
    });
    expect(lake.athena.executions()[before]!.state).toBe('SUCCEEDED');
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([]);
    expect(await resultsOf('job-shifted')).toEqual([]);
    expect(await lake.exportKeys(exportResultPrefix('job-shifted'))).toEqual([]);
  });

  it('leaves nothing in the enforced location when the job is cancelled', async () => {
    lake.athena.settings.runningMs = 30_000;
    const controller = new AbortController();
    const before = lake.athena.executions().length;
    const running = lake
      .athenaEngine({ workgroup: 'enforced' })
      .run({ id: 'job-enforced-cancel' }, await planOf(), runOptions(controller.signal));
    await until(() => lake.athena.executions()[before]?.state === 'RUNNING', 'the query to run');
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(ExportCancelledError);
    expect(lake.athena.executions()[before]!.state).toBe('CANCELLED');
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([]);
    expect(await resultsOf('job-enforced-cancel')).toEqual([]);
  });

  it('removes, on the next start of the job, the result an interrupted start left in the enforced location', async () => {
    // The first start's cleanup cannot delete (as if it died before it): its result and its query's record stay.
    const deletesFail = Object.assign(Object.create(lake.store) as typeof lake.store, {
      delete: () => Promise.reject(new Error('the store is unreachable')),
    });
    const plan = await planOf({ limit: 3 });
    await lake
      .athenaEngine({ workgroup: 'enforced', store: deletesFail })
      .run({ id: 'job-left', attempts: 1 }, plan, runOptions());
    const first = lake.athena.executions().at(-1)!;
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([
      `${ENFORCED_PREFIX}${first.id}.csv`,
      `${ENFORCED_PREFIX}${first.id}.csv.metadata`,
    ]);
    expect(await resultsOf('job-left')).toEqual([`_athena/job-left/${first.id}.query`]);
    const result = await lake
      .athenaEngine({ workgroup: 'enforced' })
      .run({ id: 'job-left', attempts: 2 }, plan, runOptions());
    expect(result.rowCount).toBe(3);
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([]);
    expect(await resultsOf('job-left')).toEqual([]);
  });

  it('stops, on the next start of the job, a query an interrupted start left running', async () => {
    lake.athena.settings.runningMs = 30_000;
    // The first start loses Athena after starting its query, so it can neither follow nor stop it.
    const unreachable = new AthenaClient({
      region: 'us-east-1',
      endpoint: lake.athena.endpoint,
      credentials: { accessKeyId: 'TEST', secretAccessKey: 'TEST' },
      maxAttempts: 1,
    });
    lake.athena.dropResponses('GetQueryExecution', 2);
    const before = lake.athena.executions().length;
    try {
      expect(
        await failureOf(
          lake
            .athenaEngine({ workgroup: 'enforced', client: unreachable })
            .run({ id: 'job-lost', attempts: 1 }, await planOf(), runOptions()),
        ),
      ).toEqual({ code: 'ENGINE_ERROR', message: 'the query engine could not be reached' });
    } finally {
      unreachable.destroy();
    }
    const lost = lake.athena.executions()[before]!;
    expect(['QUEUED', 'RUNNING']).toContain(lost.state);
    expect(await resultsOf('job-lost')).toEqual([`_athena/job-lost/${lost.id}.query`]);
    // The next start reads nothing new (pruning leaves no file), but first cleans up after the one before.
    const result = await lake
      .athenaEngine({ workgroup: 'enforced' })
      .run({ id: 'job-lost', attempts: 2 }, await planOf({ partitions: { values: ['2023-12-31'] } }), runOptions());
    expect(result.rowCount).toBe(0);
    expect(lake.athena.executions()[before]!.state).toBe('CANCELLED');
    expect(lake.athena.executions()).toHaveLength(before + 1);
    expect(
      lake.athena.requests.filter(
        (r) => r.operation === 'StopQueryExecution' && r.input['QueryExecutionId'] === lost.id,
      ),
    ).toHaveLength(1);
    expect(await lake.exportKeys(ENFORCED_PREFIX)).toEqual([]);
    expect(await resultsOf('job-lost')).toEqual([]);
  });
});

describe('createAthenaExportEngine', () => {
  const env = {
    CAREPLUS_ENGINE: 'athena',
    CAREPLUS_ATHENA_WORKGROUP: 'careplus-exports',
    CAREPLUS_STORAGE: 's3',
    CAREPLUS_S3_RAW_BUCKET: 'r',
    CAREPLUS_S3_PROCESSED_BUCKET: 'p',
    CAREPLUS_S3_EXPORTS_BUCKET: 'e',
    CAREPLUS_CATALOG: 'glue',
    CAREPLUS_GLUE_DATABASE: 'careplus',
  };

  it('builds the engine from the configuration', () => {
    const engine = createAthenaExportEngine(loadConfig(env), lake.store, { client: lake.athenaClient });
    expect(engine.kind).toBe('athena');
  });

  it('refuses a configuration Athena cannot work with', () => {
    expect(() => createAthenaExportEngine(loadConfig({ ...env, CAREPLUS_CATALOG: 'local' }), lake.store)).toThrow(
      new ConfigError('CAREPLUS_ENGINE=athena needs CAREPLUS_CATALOG=glue: Athena queries the Glue tables'),
    );
    expect(() => createAthenaExportEngine(loadConfig({ ...env, CAREPLUS_STORAGE: 'local' }), lake.store)).toThrow(
      new ConfigError('CAREPLUS_ENGINE=athena needs CAREPLUS_STORAGE=s3: Athena reads and writes Amazon S3'),
    );
  });
});
