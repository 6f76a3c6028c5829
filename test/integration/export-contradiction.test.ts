import { exportResultPrefix, type ExportCaller } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import { normalizeExportRequest } from '../../src/domain/export-request.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { type AthenaLake, createAthenaLake } from '../support/athena-lake.js';
import { finished } from '../support/export-lake.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * A `where` whose predicates on one column contradict each other (export-where-contradiction.ts) plans no file: the
 * job gives the header alone with either engine, and the Athena engine asks no query (Trino would read nothing for
 * it, which a query restricted to the planned files takes for a `"$path"` that matched none, and runs again).
 */

const notes = typesTable({
  name: 'notes',
  columns: [column('id', 'bigint'), column('note', 'string'), column('score', 'double')],
  location: 'notes/',
});
/** One file holds `score` as FLOAT, the other as DOUBLE (with bounds that keep it read for a `score` of 0.2). */
const floats = typesTable({
  name: 'floats',
  columns: [column('id', 'bigint'), column('score', 'double')],
  location: 'floats/',
});
const caller: ExportCaller = { id: 'analyst-1' };
const CONTRADICTION: ExportRequestInput['where'] = [
  { column: 'id', op: 'EQ', values: [1] },
  { column: 'id', op: 'EQ', values: [2] },
];

let lake: AthenaLake;

beforeAll(async () => {
  lake = await createAthenaLake();
  for (const [i, day] of ['2024-01-01', '2024-01-02', '2024-01-03'].entries()) {
    await lake.writeParquet(
      `notes/event_date=${day}/part-${i}.parquet`,
      `SELECT (${i * 10} + n)::BIGINT AS id, 'note ' || n AS note, n / 4 AS score FROM range(10) t(n)`,
    );
  }
  await lake.registerTable(notes);
  await lake.writeParquet('floats/event_date=2024-01-01/part-0.parquet', 'SELECT 1::BIGINT AS id, 0.2::FLOAT AS score');
  await lake.writeParquet(
    'floats/event_date=2024-01-01/part-1.parquet',
    'SELECT * FROM (VALUES (2::BIGINT, 0.1::DOUBLE), (3, 5.0)) v(id, score)',
  );
  await lake.registerTable(floats);
}, 60_000);

afterAll(async () => {
  await lake?.close();
});

function queriesStarted(): number {
  return lake.athena.requests.filter((r) => r.operation === 'StartQueryExecution').length;
}

/** Runs the request as a job of the service over `engine`: the job and its files' text, unzipped. */
async function exportOf(engine: ExportEngine, input: Omit<ExportRequestInput, 'dataset'>, dataset = 'notes') {
  const service = lake.service(engine);
  const requested = await service.requestExport(caller, { dataset, ...input });
  const job = await finished(service, caller, requested.id);
  const texts = await Promise.all(
    (job.result?.files ?? []).map(async (f) =>
      (await lake.resultFile(`${exportResultPrefix(job.id)}${f.name}`)).text.toString('utf8'),
    ),
  );
  return { job, texts };
}

describe.each<[string, () => Promise<ExportEngine>, number]>([
  ['athena', () => Promise.resolve(lake.athenaEngine({ partSizeBytes: 64 })), 1],
  ['duckdb', () => lake.duckdbEngine({ partSizeBytes: 64 }), 0],
])('a contradictory where with the %s engine', (_, engineOf, queriesPerExport) => {
  it.each<[string, ExportRequestInput['compression']]>([
    ['plain', 'NONE'],
    ['gzip', 'GZIP'],
  ])('gives the header alone (%s), in parts of 64 bytes, and starts no Athena query', async (_name, compression) => {
    const before = queriesStarted();
    const { job, texts } = await exportOf(await engineOf(), { where: CONTRADICTION, compression });
    expect({ status: job.status, error: job.error }).toEqual({ status: 'SUCCEEDED', error: null });
    expect(job.estimate).toMatchObject({ rows: 0, files: 0, bytesToScan: 0, partitions: 0 });
    expect(job.result).toMatchObject({ rowCount: 0, truncated: false });
    expect(texts).toEqual(['id,note,score,event_date\n']);
    expect(job.result!.files[0]!.name.endsWith(compression === 'GZIP' ? '.csv.gz' : '.csv')).toBe(true);
    expect(queriesStarted()).toBe(before);
  });

  it('reads the files for predicates on one column that leave a value (IN (1, 2) and >= 2), and exports its row', async () => {
    const before = queriesStarted();
    const { job, texts } = await exportOf(await engineOf(), {
      columns: ['id'],
      where: [
        { column: 'id', op: 'IN', values: [1, 2] },
        { column: 'id', op: 'GTE', values: [2] },
      ],
    });
    expect(job.status).toBe('SUCCEEDED');
    expect(job.estimate.files).toBe(1);
    expect(texts.join('')).toBe('id\n2\n');
    expect(queriesStarted()).toBe(before + queriesPerExport);
  });
});

describe('the planner', () => {
  const planner = (): ExportPlanner => new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));

  it('plans no file for a contradictory where, and still fingerprints the files it would have read', async () => {
    const request = normalizeExportRequest({ dataset: 'notes', where: CONTRADICTION }, notes);
    const plan = await planner().plan(notes, request, 1_000_000);
    expect(plan.files).toEqual([]);
    expect(plan.partitionFiles).toHaveLength(3);
    expect(plan.estimate).toEqual({ rows: 0, bytesToScan: 0, partitions: 0, files: 0, unreadableFiles: 0 });
    expect(plan.effectiveLimit).toBeNull();
  });

  it("judges the caller's where alone under a row filter, never with it", async () => {
    const grant = {
      allowedColumns: null,
      maskedColumns: [],
      rowFilter: [{ column: 'id', op: 'LT' as const, values: [5] }],
    };
    const planOf = async (where: ExportRequestInput['where']) =>
      (await planner().plan(notes, normalizeExportRequest({ dataset: 'notes', where }, notes, undefined, grant), 1e6))
        .estimate.files;
    // Contradicting the row filter tells nothing: every file of the partitions, as for any request under it.
    expect(await planOf([{ column: 'id', op: 'GT', values: [20] }])).toBe(3);
    // Contradicting itself, whatever the row filter: none.
    expect(await planOf([...CONTRADICTION!])).toBe(0);
  });
});

describe('a double compared as a float', () => {
  it('compares a FLOAT file read beside a DOUBLE file by the double its value is, not by the value rounded to a float', async () => {
    // DuckDB pushed each comparison into the FLOAT file's scan with the value rounded to a float: its 0.2 matched both
    // `IN (0.2)` and `= 0.20000000298023224`, which as doubles have no value in common. The first is not judged a
    // contradiction of the second (the judgement stays conservative), and the engine now keeps no row for both.
    const ids = async (where: ExportRequestInput['where']): Promise<string> => {
      const { job, texts } = await exportOf(await lake.duckdbEngine(), { columns: ['id'], where }, 'floats');
      expect(job.status).toBe('SUCCEEDED');
      return texts.join('');
    };
    expect(await ids([{ column: 'score', op: 'EQ', values: [0.20000000298023224] }])).toBe('id\n1\n');
    expect(await ids([{ column: 'score', op: 'IN', values: [0.2] }])).toBe('id\n');
    expect(
      await ids([
        { column: 'score', op: 'IN', values: [0.2] },
        { column: 'score', op: 'EQ', values: [0.20000000298023224] },
      ]),
    ).toBe('id\n');
  });
});
