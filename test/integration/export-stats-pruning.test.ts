import type { ExportCaller } from '../../src/domain/export-job.js';
import type { ExportPlan } from '../../src/domain/export-plan.js';
import {
  DEFAULT_EXPORT_LIMITS,
  type ExportRequestInput,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DuckDbExportEngine } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports/object-store.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
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
import { column, typesTable } from '../support/export-table.js';

/**
 * Pruning by Parquet footer statistics after partition pruning: the estimate counts, and the DuckDB engine reads, only
 * the files whose min/max/null counts allow a row of the `where`; the rows are those of the export of every file,
 * filtered. Four files over two partitions, with ranges that do not overlap, and the cases where a file must be kept
 * whatever its neighbours' statistics say: a column added after the file was written, a column whose values hold NaN
 * (DuckDB writes no bounds then), text too long for DuckDB to write bounds.
 */
const caller: ExportCaller = { id: 'analyst' };

function ticketsTable(name: string): TableDefinition {
  return typesTable({
    name,
    columns: [
      column('id', 'bigint', { nullable: false }),
      column('ticket_id', 'string'),
      column('priority', 'int'),
      column('score', 'double'),
      column('opened_at', 'timestamp'),
      column('assignee', 'string'),
      // Added after the first file was written: that file has no such column.
      column('note', 'string'),
    ],
    partitionKeys: [column('event_date', 'date')],
    location: `${name}/`,
    origin: 'registered',
  });
}

const LONG_TICKET = 'Z'.repeat(10_001);
const FILES = {
  // No `note`: written before it was added.
  a: {
    path: 'event_date=2024-01-01/part-a.parquet',
    sql: `SELECT * FROM (VALUES
      (1::BIGINT, 'T-100', 1, 1.0::DOUBLE, TIMESTAMP '2024-01-01 08:00:00', 'ann'),
      (2, 'T-101', 2, 1.5, TIMESTAMP '2024-01-01 09:00:00', 'bob'),
      (3, 'T-102', 1, 2.0, TIMESTAMP '2024-01-01 10:00:00', 'ann'),
      (4, 'T-103', 2, 1.25, TIMESTAMP '2024-01-01 11:00:00', NULL)
    ) v(id, ticket_id, priority, score, opened_at, assignee)`,
  },
  // `assignee` only nulls.
  b: {
    path: 'event_date=2024-01-01/part-b.parquet',
    sql: `SELECT * FROM (VALUES
      (5::BIGINT, 'T-200', 3, 3.0::DOUBLE, TIMESTAMP '2024-01-01 12:00:00', NULL::VARCHAR, 'note-05'),
      (6, 'T-201', 4, 3.5, TIMESTAMP '2024-01-01 13:00:00', NULL, 'note-06'),
      (7, 'T-202', 3, 4.0, TIMESTAMP '2024-01-01 14:00:00', NULL, 'note-07'),
      (8, 'T-203', 4, 3.25, TIMESTAMP '2024-01-01 15:00:00', NULL, 'note-08')
    ) v(id, ticket_id, priority, score, opened_at, assignee, note)`,
  },
  // A NaN score: DuckDB writes no bounds for `score`. Some notes null.
  c: {
    path: 'event_date=2024-01-02/part-a.parquet',
    sql: `SELECT * FROM (VALUES
      (9::BIGINT, 'X-300', 5, 5.0::DOUBLE, TIMESTAMP '2024-01-02 08:00:00', 'cy', 'note-09'),
      (10, 'X-301', 6, 'NaN'::DOUBLE, TIMESTAMP '2024-01-02 09:00:00', NULL, NULL),
      (11, 'X-302', 5, 6.0, TIMESTAMP '2024-01-02 10:00:00', 'cy', 'note-11'),
      (12, 'X-303', 6, 5.5, TIMESTAMP '2024-01-02 11:00:00', NULL, NULL)
    ) v(id, ticket_id, priority, score, opened_at, assignee, note)`,
  },
  // A ticket_id over DuckDB's 10,000 bytes for text statistics: no bounds for `ticket_id`.
  d: {
    path: 'event_date=2024-01-02/part-b.parquet',
    sql: `SELECT * FROM (VALUES
      (13::BIGINT, 'T-400', 7, 7.0::DOUBLE, TIMESTAMP '2024-01-02 12:00:00', 'dee', 'note-13'),
      (14, '${LONG_TICKET}', 8, 7.5, TIMESTAMP '2024-01-02 13:00:00', 'dee', 'note-14'),
      (15, 'T-402', 7, 8.0, TIMESTAMP '2024-01-02 14:00:00', 'eve', 'note-15'),
      (16, 'T-403', 8, 7.25, TIMESTAMP '2024-01-02 15:00:00', 'eve', 'note-16')
    ) v(id, ticket_id, priority, score, opened_at, assignee, note)`,
  },
};
type FileName = keyof typeof FILES;

async function writeTickets(lake: ExportLake, name: string): Promise<void> {
  for (const file of Object.values(FILES)) await lake.writeParquet(`${name}/${file.path}`, file.sql);
  await lake.catalog.putTable(ticketsTable(name));
}

let lake: ExportLake;
let harness: ExportHarness;
/** The keys of the files each run of the DuckDB engine was given to read. */
const reads: string[][] = [];
/** Every row of `tickets`, by the export of all its files, header first. */
let everything: (string | null)[][];

beforeAll(async () => {
  lake = await createExportLake();
  await writeTickets(lake, 'tickets');
  harness = await createExportHarness(lake, {
    wrapEngine: (engine) =>
      withMethod(engine, 'run', (run): ExportEngine['run'] => (job, plan, options) => {
        reads.push(plan.files.map((f) => f.key));
        return run(job, plan, options);
      }),
  });
  everything = await exportRows({ dataset: 'tickets' });
  expect(everything).toHaveLength(17);
}, 60_000);

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function exportRows(input: ExportRequestInput): Promise<(string | null)[][]> {
  const job = await harness.service.requestExport(caller, { orderBy: [{ column: 'id' }], ...input });
  const done = await finished(harness.service, caller, job.id);
  expect(done.status).toBe('SUCCEEDED');
  const stored = (await harness.jobs.get(done.id))!.result!;
  return parseCsv(Buffer.concat(await Promise.all(stored.files.map((f) => resultText(lake, f.key)))));
}

/** The export of every file, filtered here by `keep` on the named column's cell. */
function expected(name: string, keep: (cell: string | null) => boolean): (string | null)[][] {
  const [header, ...rows] = everything;
  const at = header!.indexOf(name);
  return [header!, ...rows.filter((r) => keep(r[at] ?? null))];
}

async function sizeOf(files: FileName[]): Promise<number> {
  let bytes = 0;
  for (const f of files) bytes += (await lake.store.head('processed', `tickets/${FILES[f].path}`))!.size;
  return bytes;
}

/** Estimates and exports `where`; returns what the estimate said, which files the engine read, and the rows. */
async function run(where: ExportRequestInput['where']) {
  const input: ExportRequestInput = { dataset: 'tickets', where };
  const estimate = await harness.service.estimateExport(caller, input);
  const before = reads.length;
  const rows = await exportRows(input);
  expect(reads.length).toBe(before + 1);
  return {
    estimate,
    read: reads
      .at(-1)!
      .map((key) => key.slice('tickets/'.length))
      .sort(),
    rows,
  };
}

async function estimateOf(files: FileName[]) {
  const partitions = new Set(files.map((f) => FILES[f].path.split('/')[0]));
  return {
    rows: 4 * files.length,
    bytesToScan: await sizeOf(files),
    partitions: partitions.size,
    files: files.length,
    unreadableFiles: 0,
  };
}

const paths = (files: FileName[]): string[] => files.map((f) => FILES[f].path).sort();

describe('pruning files by their footer statistics', () => {
  it('estimates and reads only the files whose ranges may match, with the rows of the export of every file', async () => {
    const got = await run([{ column: 'priority', op: 'BETWEEN', values: [3, 4] }]);
    expect(got.estimate).toEqual(await estimateOf(['b']));
    expect(got.read).toEqual(paths(['b']));
    expect(got.rows).toEqual(expected('priority', (v) => v === '3' || v === '4'));

    const range = await run([
      { column: 'opened_at', op: 'GTE', values: ['2024-01-01T11:00:00Z'] },
      { column: 'opened_at', op: 'LT', values: ['2024-01-02T09:00:00Z'] },
    ]);
    expect(range.read).toEqual(paths(['a', 'b', 'c']));
    expect(range.rows).toEqual(
      expected('opened_at', (v) => v! >= '2024-01-01T11:00:00.000000Z' && v! < '2024-01-02T09:00:00.000000Z'),
    );
    expect(range.rows.map((r) => r[0])).toEqual(['id', '4', '5', '6', '7', '8', '9']);
  });

  it('counts in bytesToScan only the column chunks the export reads, and each file whole besides them', async () => {
    // By DuckDB's own reading of each footer: a file's size less the compressed chunks of the columns not read.
    const unread = async (file: FileName, read: string[]): Promise<number> => {
      const path = lake.store.localPath('processed', `tickets/${FILES[file].path}`).replace(/'/g, "''");
      const list = read.map((c) => `'${c}'`).join(', ');
      const rows = await lake.fixtures.withConnection(async (c) =>
        (
          await c.runAndReadAll(
            `SELECT coalesce(sum(total_compressed_size), 0)::BIGINT AS b FROM parquet_metadata('${path}')
             WHERE path_in_schema NOT IN (${list})`,
          )
        ).getRowObjectsJS(),
      );
      return Number(rows[0]!['b']);
    };
    const files: FileName[] = ['a', 'b', 'c', 'd'];
    const all = await harness.service.estimateExport(caller, { dataset: 'tickets' });
    expect(all.bytesToScan).toBe(await sizeOf(files));

    // `id` written, `priority` filtered on, `opened_at` sorted by: the rest of each file is not read.
    const read = ['id', 'priority', 'opened_at'];
    const narrow = await harness.service.estimateExport(caller, {
      dataset: 'tickets',
      columns: ['id'],
      where: [{ column: 'priority', op: 'GTE', values: [1] }],
      orderBy: [{ column: 'opened_at' }],
    });
    let expected = await sizeOf(files);
    for (const f of files) expected -= await unread(f, read);
    expect(narrow.bytesToScan).toBe(expected);
    expect(narrow.bytesToScan).toBeLessThan(all.bytesToScan!);
    expect(narrow.files).toBe(4);
  });

  it('prunes a text prefix by its range, and keeps a file whose text has no bounds', async () => {
    const got = await run([{ column: 'ticket_id', op: 'STARTS_WITH', values: ['T-2'] }]);
    expect(got.estimate).toEqual(await estimateOf(['b', 'd']));
    expect(got.read).toEqual(paths(['b', 'd']));
    expect(got.rows).toEqual(expected('ticket_id', (v) => v!.startsWith('T-2')));
    expect(got.rows).toHaveLength(5);

    // Below every file's range, but the last file's ticket_id has no statistics: it is read, and nothing matches.
    const none = await run([{ column: 'ticket_id', op: 'EQ', values: ['Q-1'] }]);
    expect(none.read).toEqual(paths(['d']));
    expect(none.rows).toEqual([everything[0]]);
  });

  it('keeps a file written before a column was added, for IS_NULL and for EQ on that column', async () => {
    const nulls = await run([{ column: 'note', op: 'IS_NULL' }]);
    expect(nulls.estimate).toEqual(await estimateOf(['a', 'c']));
    expect(nulls.read).toEqual(paths(['a', 'c']));
    expect(nulls.rows).toEqual(expected('note', (v) => v === null));
    expect(nulls.rows.map((r) => r[0])).toEqual(['id', '1', '2', '3', '4', '10', '12']);

    const equal = await run([{ column: 'note', op: 'EQ', values: ['note-06'] }]);
    expect(equal.read).toEqual(paths(['a', 'b']));
    expect(equal.rows).toEqual(expected('note', (v) => v === 'note-06'));
    expect(equal.rows).toHaveLength(2);
  });

  it('prunes a file whose column holds only nulls for IS_NOT_NULL', async () => {
    const got = await run([{ column: 'assignee', op: 'IS_NOT_NULL' }]);
    expect(got.estimate).toEqual(await estimateOf(['a', 'c', 'd']));
    expect(got.read).toEqual(paths(['a', 'c', 'd']));
    expect(got.rows).toEqual(expected('assignee', (v) => v !== null));
  });

  it('keeps a file holding NaN for GT, and prunes doubles below their lower bound', async () => {
    // NaN is above every double in DuckDB: the NaN row matches `> 5`, and no upper bound rules a double file out.
    const above = await run([{ column: 'score', op: 'GT', values: [5] }]);
    expect(above.read).toEqual(paths(['a', 'b', 'c', 'd']));
    expect(above.rows).toEqual(expected('score', (v) => v === 'nan' || Number(v) > 5));
    expect(above.rows.map((r) => r[0])).toEqual(['id', '10', '11', '12', '13', '14', '15', '16']);

    const below = await run([{ column: 'score', op: 'LT', values: [2.5] }]);
    expect(below.read).toEqual(paths(['a', 'c']));
    expect(below.rows).toEqual(expected('score', (v) => v !== 'nan' && Number(v) < 2.5));
  });

  it('reads nothing when every file is ruled out, and writes the header alone', async () => {
    const got = await run([{ column: 'priority', op: 'GT', values: [100] }]);
    expect(got.estimate).toEqual({ rows: 0, bytesToScan: 0, partitions: 0, files: 0, unreadableFiles: 0 });
    expect(got.read).toEqual([]);
    expect(got.rows).toEqual([everything[0]]);
  });
});

describe('the data version of a plan pruned by statistics', () => {
  const table = ticketsTable('versions');
  const planner = (): ExportPlanner => new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));
  const planOf = (where: ExportRequestInput['where']): Promise<ExportPlan> =>
    planner().plan(
      table,
      normalizeExportRequest({ dataset: 'versions', where }, table, DEFAULT_EXPORT_LIMITS),
      1_000_000,
      { exact: true },
    );

  it('is that of the partition-pruned files: a pruned file, or a new one beside it, that changes is seen', async () => {
    await writeTickets(lake, 'versions');
    const where: ExportRequestInput['where'] = [{ column: 'priority', op: 'LTE', values: [2] }];
    const plan = await planOf(where);
    expect(plan.files.map((f) => f.key)).toEqual([`versions/${FILES.a.path}`]);
    expect(plan.partitionFiles).toHaveLength(4);
    // The same files whatever the where: the version does not depend on what statistics pruned.
    expect(plan.dataVersion).toBe((await planOf([])).dataVersion);
    expect((await planOf(where)).dataVersion).toBe(plan.dataVersion);

    // A new file that statistics prune too, in the partition whose files they all pruned.
    await lake.writeParquet('versions/event_date=2024-01-02/part-c.parquet', `SELECT 17::BIGINT AS id, 9 AS priority`);
    const added = await planOf(where);
    expect(added.files.map((f) => f.key)).toEqual([`versions/${FILES.a.path}`]);
    expect(added.dataVersion).not.toBe(plan.dataVersion);

    // A pruned file rewritten so that it now holds a match.
    await lake.writeParquet(`versions/${FILES.b.path}`, `SELECT 5::BIGINT AS id, 1 AS priority`);
    const rewritten = await planOf(where);
    expect(rewritten.files.map((f) => f.key).sort()).toEqual([`versions/${FILES.a.path}`, `versions/${FILES.b.path}`]);
    expect(rewritten.dataVersion).not.toBe(added.dataVersion);
  });

  it('runs a DuckDB plan on the data it was planned on when a file its statistics pruned was rewritten since', async () => {
    await writeTickets(lake, 'staged');
    const staged = ticketsTable('staged');
    const where: ExportRequestInput['where'] = [{ column: 'priority', op: 'LTE', values: [2] }];
    const request = normalizeExportRequest({ dataset: 'staged', where }, staged, DEFAULT_EXPORT_LIMITS);
    const planned = await planner().plan(staged, request, 1_000_000);
    expect(planned.files.map((f) => f.key)).toEqual([`staged/${FILES.a.path}`]);
    const engine = await DuckDbExportEngine.create(harness.engineDb, lake.store, {
      stagingDir: join(lake.root, 'staged-engine'),
    });
    const options = { signal: new AbortController().signal, onProgress: () => undefined };
    expect((await engine.run({ id: 'staged-1' }, planned, options)).rowCount).toBe(4);

    // A pruned file rewritten with a matching row: the old plan is the data version before it (the file held no row
    // of the result then), and is neither read nor refused; the service plans a job again when the version moved.
    await lake.writeParquet(`staged/${FILES.d.path}`, `SELECT 17::BIGINT AS id, 1 AS priority`);
    expect((await engine.run({ id: 'staged-2' }, planned, options)).rowCount).toBe(4);
    const again = await planner().plan(staged, request, 1_000_000);
    expect(again.dataVersion).not.toBe(planned.dataVersion);
    expect((await engine.run({ id: 'staged-3' }, again, options)).rowCount).toBe(5);
  });
});

describe('a file rewritten with the same size between its listing and its footer read', () => {
  it('is kept as listed, its new footer is not cached under the listed ETag, and the run refuses it', async () => {
    const table = typesTable({
      name: 'rewritten',
      columns: [column('id', 'bigint', { nullable: false }), column('priority', 'int')],
      partitionKeys: [column('event_date', 'date')],
      location: 'rewritten/',
      origin: 'registered',
    });
    const key = 'rewritten/event_date=2024-01-01/part-a.parquet';
    // Written as the ETL writes: a new file put in place (a new inode), not bytes changed in place.
    const write = async (sql: string): Promise<ObjectInfo> => {
      const file = join(lake.root, `rewritten-${randomUUID()}.parquet`);
      await lake.fixtures.withConnection((c) => c.run(`COPY (${sql}) TO '${file}' (FORMAT parquet)`));
      return lake.store.putFile('processed', key, file);
    };
    const old = await write(`SELECT * FROM (VALUES (1::BIGINT, 1), (2::BIGINT, 2)) v(id, priority)`);
    // The rewrite lands as the table's listing ends, before any footer is read: a writer racing the planner.
    let rewritten: Promise<ObjectInfo> | undefined;
    const racing = withMethod(
      lake.store as ObjectStore,
      'listAll',
      (listAll): ObjectStore['listAll'] =>
        async function* (bucket, prefix, options) {
          yield* listAll(bucket, prefix, options);
          if (prefix !== table.location) return;
          rewritten ??= write(`SELECT * FROM (VALUES (1::BIGINT, 7), (2::BIGINT, 8)) v(id, priority)`);
          await rewritten;
        },
    );
    const footers = new ParquetFooterCache(lake.store);
    const where: ExportRequestInput['where'] = [{ column: 'priority', op: 'LTE', values: [2] }];
    const request = normalizeExportRequest({ dataset: 'rewritten', where }, table, DEFAULT_EXPORT_LIMITS);
    const plan = await new ExportPlanner(racing, footers).plan(table, request, 1_000_000, { exact: true });
    const now = (await rewritten)!;
    expect(now.size).toBe(old.size);
    expect(now.etag).not.toBe(old.etag);

    // The listed version holds both rows of the result: the file stays in the plan, its footer unread.
    const planned = {
      key,
      etag: old.etag,
      size: old.size,
      rowCount: null,
      partitionValues: { event_date: '2024-01-01' },
    };
    expect(plan.files).toEqual([planned]);
    // Its rows unknown: the job is capped as for an unreadable file, but the file is not called unreadable (the run
    // plans it again rather than fail DATA_CORRUPT).
    expect(plan.estimate).toEqual({ rows: 0, bytesToScan: old.size, partitions: 1, files: 1, unreadableFiles: 0 });
    expect(plan.effectiveLimit).toBe(1_000_000);
    // Under the listed ETag the cache holds nothing (asked again, it reads again, and again finds the file changed);
    // under the new ETag it holds the new bytes' statistics.
    const changed = {
      ok: false,
      file: {
        key,
        etag: old.etag,
        sizeBytes: old.size,
        lastModified: old.lastModified,
        changed: true,
        error: 'the file changed or was removed after it was listed',
      },
    };
    await expect(footers.read('processed', old)).resolves.toEqual(changed);
    const current = await footers.read('processed', now);
    expect(current.ok && current.file.columns.find((c) => c.name === 'priority')).toMatchObject({ min: 7, max: 8 });
    expect(footers.counters).toEqual({ hits: 0, misses: 3, size: 1 });

    // The run checks the planned ETag of the file it was to read, and refuses rather than export without its rows.
    const engine = await DuckDbExportEngine.create(harness.engineDb, lake.store, {
      stagingDir: join(lake.root, 'rewritten-engine'),
    });
    const options = { signal: new AbortController().signal, onProgress: () => undefined };
    await expect(engine.run({ id: 'rewritten-1' }, plan, options)).rejects.toMatchObject({
      name: 'ExportFailedError',
      code: 'DATA_CHANGED',
    });
  });
});

describe('pruning a double column stored as FLOAT', () => {
  it('keeps a FLOAT file beside a DOUBLE file, and the export compares its values as the doubles they are', async () => {
    // A registered table whose `score` one writer stored as DOUBLE and another as FLOAT. 0.2 as a float is
    // 0.20000000298023224, above the double 0.2, which is what its footer bounds say. DuckDB, reading it beside a
    // DOUBLE file, pushed `score <= 0.2` into the FLOAT column's scan with 0.2 rounded to a float, and the row matched;
    // the export's query no longer lets it (export-sql.ts predicateSql). The file is still not pruned on its bounds.
    const floats = typesTable({
      name: 'floats',
      columns: [column('id', 'bigint', { nullable: false }), column('score', 'double')],
      partitionKeys: [column('event_date', 'date')],
      location: 'floats/',
      origin: 'registered',
    });
    await lake.writeParquet(
      'floats/event_date=2024-01-01/part-a.parquet',
      `SELECT 1::BIGINT AS id, 0.1::DOUBLE AS score`,
    );
    await lake.writeParquet(
      'floats/event_date=2024-01-01/part-b.parquet',
      `SELECT 2::BIGINT AS id, 0.2::FLOAT AS score`,
    );
    await lake.catalog.putTable(floats);
    const normalize = (input: ExportRequestInput) => normalizeExportRequest(input, floats, DEFAULT_EXPORT_LIMITS);
    const where: ExportRequestInput['where'] = [{ column: 'score', op: 'LTE', values: [0.2] }];
    const request = normalize({ dataset: 'floats', where, orderBy: [{ column: 'id' }] });
    const planner = new ExportPlanner(lake.store, new ParquetFooterCache(lake.store));
    const plan = await planner.plan(floats, request, 1_000_000, { exact: true });
    // A row filter of the access policy turns statistics pruning off: the same where over every file.
    const always = normalize({ dataset: 'floats', where: [{ column: 'id', op: 'IS_NOT_NULL' }] }).where;
    const unpruned = await planner.plan(floats, { ...request, rowFilter: always }, 1_000_000, { exact: true });
    expect(unpruned.files).toHaveLength(2);

    const engine = await DuckDbExportEngine.create(harness.engineDb, lake.store, {
      stagingDir: join(lake.root, 'floats-engine'),
    });
    const options = { signal: new AbortController().signal, onProgress: () => undefined };
    const rowsOf = async (id: string, p: ExportPlan) => {
      const result = await engine.run({ id }, p, options);
      return parseCsv(Buffer.concat(await Promise.all(result.files.map((f) => resultText(lake, f.key)))));
    };
    const all = await rowsOf('floats-all', unpruned);
    expect(all.map((r) => r[0])).toEqual(['id', '1']);
    expect(plan.files.map((f) => f.key).sort()).toEqual(unpruned.files.map((f) => f.key).sort());
    expect(await rowsOf('floats-pruned', plan)).toEqual(all);
  });
});

describe('pruning on text bounds that start with a byte order mark', () => {
  it('keeps a file whose largest text starts with U+FEFF for values between that text without it and it', async () => {
    // Text from a spreadsheet's CSV often keeps Excel's BOM in its first field. U+FEFF is EF BB BF in UTF-8, above
    // every ASCII letter: this file's max is '\uFEFF=bom'. A decoder that drops a leading BOM read it as '=bom', below
    // 'cr', and pruned the file for every value above '=bom'.
    const boms = typesTable({
      name: 'boms',
      columns: [column('id', 'bigint', { nullable: false }), column('note', 'string')],
      partitionKeys: [],
      location: 'boms/',
      origin: 'registered',
    });
    await lake.writeParquet(
      'boms/part-a.parquet',
      `SELECT * FROM (VALUES (1::BIGINT, 'cr'), (2, chr(65279) || '=bom'), (3, '+1')) v(id, note)`,
    );
    await lake.catalog.putTable(boms);
    const exportedIds = async (where: ExportRequestInput['where']) => {
      const input = { dataset: 'boms', columns: ['id'], where, orderBy: [{ column: 'id' }] };
      const job = await finished(harness.service, caller, (await harness.service.requestExport(caller, input)).id);
      expect(job.status).toBe('SUCCEEDED');
      const [file] = (await harness.jobs.get(job.id))!.result!.files;
      return parseCsv(await resultText(lake, file!.key)).map((r) => r[0]);
    };
    expect(await exportedIds([{ column: 'note', op: 'STARTS_WITH', values: ['c'] }])).toEqual(['id', '1']);
    expect(await exportedIds([{ column: 'note', op: 'EQ', values: ['\uFEFF=bom'] }])).toEqual(['id', '2']);
    expect(await exportedIds([{ column: 'note', op: 'GT', values: ['=bom'] }])).toEqual(['id', '1', '2']);
  });
});
