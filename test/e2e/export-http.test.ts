import { createHash, randomUUID } from 'node:crypto';
import {
  CancelExportDocument,
  EstimateExportDocument,
  GetExportDocument,
  ListExportsDocument,
  RequestExportDocument,
} from '../../src/generated/graphql.js';
import {
  TICKET_COLUMNS,
  TICKETS_PER_DAY,
  ticketRowsAsText,
  writeEvents,
  writeTickets,
} from '../support/export-api-data.js';
import { type ExportApi, fetchBytes, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';

/** Rows of the `big` dataset: enough that a cancel lands while the export runs. */
const BIG_ROWS = 5_000_000;

let lake: ExportLake;
let api: ExportApi;
let daySizes: number[];

beforeAll(async () => {
  lake = await createExportLake();
  daySizes = await writeTickets(lake);
  await writeEvents(lake, 'big', BIG_ROWS);
  api = await startExportApi({ root: lake.root });
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
});

describe('exports over HTTP', () => {
  it('exports a dataset and serves the CSV behind its signed link, equal to the Parquet rows', async () => {
    const requested = await api.client('alice').request(RequestExportDocument, {
      input: { dataset: 'tickets', orderBy: [{ column: 'id' }] },
    });
    expect(requested.errors).toBeUndefined();
    const job = requested.data!.requestExport;
    expect(job).toMatchObject({
      dataset: 'tickets',
      engine: 'DUCKDB',
      requestedBy: 'alice',
      result: null,
      error: null,
      estimate: { rows: 300, partitions: 3, files: 3, unreadableFiles: 0 },
      request: {
        dataset: 'tickets',
        columns: TICKET_COLUMNS,
        where: [],
        partitions: null,
        orderBy: [{ column: 'id', direction: 'ASC' }],
        limit: null,
        compression: 'NONE',
        csv: { header: true, delimiter: ',', quoteAll: false, nullText: '', bom: false, neutralizeFormulas: true },
        idempotencyKey: null,
      },
    });
    expect(['QUEUED', 'RUNNING']).toContain(job.status);

    const done = await api.finished(job.id, 'alice');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.progress).toMatchObject({ rowsWritten: 300, rowsEstimated: 300, fraction: 1 });
    expect(done.result).toMatchObject({ rowCount: 300, truncated: false });
    expect(done.result!.files).toHaveLength(1);
    const file = done.result!.files[0]!;
    expect(file.name).toBe('part-00000.csv');
    expect(file.url!.startsWith(`${api.server.url}/downloads/${job.id}/part-00000.csv?expires=`)).toBe(true);
    expect(Date.parse(file.urlExpiresAt!) - Date.now()).toBeGreaterThan(3500 * 1000);

    const download = await fetchBytes(file.url!);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="part-00000.csv"');
    expect(download.headers.get('accept-ranges')).toBe('bytes');
    expect(download.headers.get('content-length')).toBe(String(file.bytes));
    expect(download.headers.get('etag')).toMatch(/^".+"$/);
    expect(download.body.length).toBe(file.bytes);
    expect(createHash('sha256').update(download.body).digest('hex')).toBe(file.sha256);

    const [header, ...rows] = parseCsv(download.body);
    expect(header).toEqual(TICKET_COLUMNS);
    expect(rows).toEqual(await ticketRowsAsText(lake));
    expect(rows).toHaveLength(3 * TICKETS_PER_DAY);
  });

  it('answers 20 identical concurrent requests with one job', async () => {
    const input = {
      dataset: 'tickets',
      columns: ['id', 'title'],
      where: [{ column: 'priority', op: 'EQ', values: [2] }],
    };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        api
          .client('alice')
          .raw<{ requestExport: { id: string; reused: boolean } }>(
            'mutation($input: ExportRequestInput!) { requestExport(input: $input) { id reused } }',
            { input },
          ),
      ),
    );
    for (const a of answers) expect(a.errors).toBeUndefined();
    const ids = new Set(answers.map((a) => a.data!.requestExport.id));
    expect(ids.size).toBe(1);
    // Exactly one request started it; the others are told they were answered with an existing job.
    expect(answers.map((a) => a.data!.requestExport.reused).sort()).toEqual([false, ...Array(19).fill(true)]);
    const [id] = [...ids];
    const done = await api.finished(id!, 'alice');
    expect(done.result!.rowCount).toBe(3 * 25);
    // Asked again once finished: still the same job, no new work.
    const again = await api
      .client('alice')
      .raw<{ requestExport: { id: string; status: string; reused: boolean } }>(
        'mutation($input: ExportRequestInput!) { requestExport(input: $input) { id status reused } }',
        { input },
      );
    expect(again.data!.requestExport).toEqual({ id, status: 'SUCCEEDED', reused: true });
    // Read otherwise, a job does not say.
    const read = await api
      .client('alice')
      .raw<{ export: { reused: boolean | null } }>('query($id: ID!) { export(id: $id) { reused } }', { id });
    expect(read.data!.export.reused).toBeNull();
  });

  it("lists only the caller's own jobs, newest first", async () => {
    const bobs = await api.client('bob').request(RequestExportDocument, {
      input: { dataset: 'tickets', partitions: { values: ['2024-01-02'] } },
    });
    const bobId = bobs.data!.requestExport.id;
    await api.finished(bobId, 'bob');

    const bobList = await api.client('bob').request(ListExportsDocument, {});
    expect(bobList.data!.exports.totalCount).toBe(1);
    expect(bobList.data!.exports.edges.map((e) => e.node)).toEqual([
      { id: bobId, status: 'SUCCEEDED', dataset: 'tickets', createdAt: expect.any(String) },
    ]);

    const aliceList = await api.client('alice').request(ListExportsDocument, { first: 100 });
    const aliceIds = aliceList.data!.exports.edges.map((e) => e.node.id);
    expect(aliceIds).not.toContain(bobId);
    const created = aliceList.data!.exports.edges.map((e) => Date.parse(e.node.createdAt));
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const succeeded = await api.client('bob').request(ListExportsDocument, { status: 'CANCELLED' });
    expect(succeeded.data!.exports).toMatchObject({ totalCount: 0, edges: [] });
  });

  it("answers NOT_FOUND for another caller's job and for a missing id, alike", async () => {
    const alices = await api.client('alice').request(RequestExportDocument, {
      input: { dataset: 'tickets', limit: 10 },
    });
    const id = alices.data!.requestExport.id;
    const missing = randomUUID();
    for (const probe of [id, missing]) {
      const read = await api.client('bob').request(GetExportDocument, { id: probe });
      expect(read.data).toBeNull();
      expect(read.errors).toEqual([
        {
          message: `export "${probe}" not found`,
          path: ['export'],
          locations: expect.any(Array),
          extensions: { code: 'NOT_FOUND' },
        },
      ]);
      const cancel = await api.client('bob').request(CancelExportDocument, { id: probe });
      expect(cancel.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
        ['NOT_FOUND', `export "${probe}" not found`],
      ]);
    }
    // The fixture's test admin (no credentials sent) is someone else too: jobs belong to their requester.
    const admin = await api.client().request(GetExportDocument, { id });
    expect(admin.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await api.finished(id, 'alice')).status).toBe('SUCCEEDED');
  });

  it('cancels a running export, removes its partial output and never links it', async () => {
    const requested = await api.client('alice').request(RequestExportDocument, { input: { dataset: 'big' } });
    const id = requested.data!.requestExport.id;
    for (;;) {
      const job = (await api.client('alice').request(GetExportDocument, { id })).data!.export;
      if (job.status === 'RUNNING') break;
      expect(job.status).toBe('QUEUED');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cancelled = await api.client('alice').request(CancelExportDocument, { id });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelExport).toMatchObject({ id, status: 'CANCELLED', result: null, error: null });
    expect(cancelled.data!.cancelExport.finishedAt).not.toBeNull();

    const leftovers: string[] = [];
    for await (const o of lake.store.listAll('exports', exportResultPrefix(id))) leftovers.push(o.key);
    expect(leftovers).toEqual([]);

    const again = await api.client('alice').request(CancelExportDocument, { id });
    expect(again.data!.cancelExport).toMatchObject({ id, status: 'CANCELLED', result: null });
    const read = await api.client('alice').request(GetExportDocument, { id });
    expect(read.data!.export).toMatchObject({ status: 'CANCELLED', result: null });
  });

  it('estimates an export from the Parquet footers after partition pruning', async () => {
    const estimate = await api.client('alice').request(EstimateExportDocument, {
      dataset: 'tickets',
      input: { partitions: { values: ['2024-01-01', '2024-01-03'] } },
    });
    expect(estimate.errors).toBeUndefined();
    expect(estimate.data!.dataset.estimateExport).toEqual({
      rows: 2 * TICKETS_PER_DAY,
      bytesToScan: daySizes[0]! + daySizes[2]!,
      partitions: 2,
      files: 2,
      unreadableFiles: 0,
    });
    // One column of the two files: only its chunks (and the footers) are read.
    const projected = await api.client('alice').request(EstimateExportDocument, {
      dataset: 'tickets',
      input: { partitions: { values: ['2024-01-01', '2024-01-03'] }, columns: ['id'] },
    });
    const narrow = projected.data!.dataset.estimateExport;
    expect(narrow).toMatchObject({ rows: 2 * TICKETS_PER_DAY, partitions: 2, files: 2 });
    expect(narrow.bytesToScan).toBeGreaterThan(0);
    expect(narrow.bytesToScan).toBeLessThan(daySizes[0]! + daySizes[2]!);
    const all = await api.client('alice').request(EstimateExportDocument, { dataset: 'tickets' });
    expect(all.data!.dataset.estimateExport).toMatchObject({ rows: 300, partitions: 3, files: 3 });
  });

  it('refuses an idempotency key reused for another request with CONFLICT', async () => {
    const key = `key-${randomUUID()}`;
    const first = await api.client('alice').request(RequestExportDocument, {
      input: { dataset: 'tickets', limit: 5, idempotencyKey: key },
    });
    expect(first.errors).toBeUndefined();
    const same = await api.client('alice').request(RequestExportDocument, {
      input: { dataset: 'tickets', limit: 5, idempotencyKey: key },
    });
    expect(same.data!.requestExport.id).toBe(first.data!.requestExport.id);
    const other = await api.client('alice').request(RequestExportDocument, {
      input: { dataset: 'tickets', limit: 6, idempotencyKey: key },
    });
    expect(other.data).toBeNull();
    expect(other.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['CONFLICT', 'idempotencyKey: this key was already used for a different export request'],
    ]);
    await api.finished(first.data!.requestExport.id, 'alice');
  });
});
