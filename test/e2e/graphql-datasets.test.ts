import { mkdir, rm, stat, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import {
  type DatasetFieldsFragment,
  GetDatasetDocument,
  ListDatasetNamesDocument,
  ListDatasetsDocument,
} from '../../src/generated/graphql.js';
import { writeDataVersion } from '../../src/services/data-version.js';
import {
  column,
  CountingStore,
  SUPPORT_COLUMNS,
  SUPPORT_SELECT,
  createTempLake,
  memoryLogger,
  type RunningApi,
  startApi,
  type TempLake,
  writeParquet,
} from '../support/graphql-api-fixture.js';

const CATALOG_TIME = '2024-01-05T00:00:00.000Z';

describe('GraphQL datasets over HTTP', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;
  const logs = memoryLogger();
  /** Sizes and modification times of the real data files, by processed key. */
  const files = new Map<string, { size: number; mtime: Date }>();

  const fileFacts = async (key: string): Promise<void> => {
    const s = await stat(lake.processedPath(key));
    files.set(key, { size: s.size, mtime: s.mtime });
  };
  const sizeOf = (...keys: string[]): number => keys.reduce((n, k) => n + files.get(k)!.size, 0);
  const newest = (...keys: string[]): string =>
    new Date(Math.max(...keys.map((k) => files.get(k)!.mtime.getTime()))).toISOString();

  const SUPPORT_A = 'support_events/event_date=2024-01-01/part-a.parquet';
  const SUPPORT_B = 'support_events/event_date=2024-01-02/part-b.parquet';
  const TICKETS = 'tickets/part-0.parquet';
  const BROKEN_GOOD = 'broken/part-good.parquet';
  const BROKEN_BAD = 'broken/part-bad.parquet';

  beforeAll(async () => {
    lake = await createTempLake(() => new Date(CATALOG_TIME));
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });

    await writeParquet(
      db,
      lake.processedPath(SUPPORT_A),
      SUPPORT_SELECT(`
        (5000000001, 'T-1', 'Insert ticket', '2024-01-01 08:00:00.123456', 2, 10.50, 'alice', false),
        (5000000002, 'T-1', 'Assign seriousness', '2024-01-01 09:30:00', NULL, NULL, 'alice', false),
        (5000000003, 'T-2', 'Insert ticket', '2024-01-01 23:59:59.123', 1, -3.25, NULL, true)`),
    );
    await writeParquet(
      db,
      lake.processedPath(SUPPORT_B),
      SUPPORT_SELECT(`
        (5000000004, 'T-2', 'Closed', '2024-01-02 10:00:00', 4, 999.99, 'bob', true),
        (5000000005, 'T-3', NULL, '2024-01-02 11:00:00', 3, 0.00, 'zoe', NULL)`),
    );
    // Not data: markers and temporary output under `_` and `.` names.
    await writeFile(lake.processedPath('support_events/_SUCCESS'), '');
    await mkdir(dirname(lake.processedPath('support_events/.tmp/part-x.parquet')), { recursive: true });
    await copyFile(lake.processedPath(SUPPORT_A), lake.processedPath('support_events/.tmp/part-x.parquet'));
    await mkdir(dirname(lake.processedPath('support_events/event_date=2024-01-03/_temporary/part-c.parquet')), {
      recursive: true,
    });
    await copyFile(
      lake.processedPath(SUPPORT_A),
      lake.processedPath('support_events/event_date=2024-01-03/_temporary/part-c.parquet'),
    );
    await lake.catalog.putTable({
      name: 'support_events',
      description: 'Support-ticket lifecycle events.',
      columns: SUPPORT_COLUMNS,
      partitionKeys: [column('event_date', 'date', { nullable: false, description: 'Day of the event (UTC).' })],
      location: 'support_events/',
      origin: 'etl',
    });

    await writeParquet(
      db,
      lake.processedPath(TICKETS),
      `SELECT CAST(id AS INTEGER) AS id, CAST(title AS VARCHAR) AS title FROM (VALUES (1, 'Printer'), (2, NULL), (3, 'VPN')) t(id, title)`,
    );
    await lake.catalog.putTable({
      name: 'tickets',
      description: 'One row per ticket.',
      columns: [column('id', 'int', { nullable: false }), column('title', 'string')],
      partitionKeys: [],
      location: 'tickets/',
      origin: 'registered',
    });

    await lake.catalog.putTable({
      name: 'empty_dataset',
      description: 'Declared, never loaded.',
      columns: [column('x', 'double')],
      partitionKeys: [],
      location: 'empty_dataset/',
      origin: 'etl',
    });

    await writeParquet(
      db,
      lake.processedPath(BROKEN_GOOD),
      `SELECT CAST(v AS DOUBLE) AS v FROM (VALUES (1.5), (-2.25)) t(v)`,
    );
    await writeFile(lake.processedPath(BROKEN_BAD), 'not parquet at all');
    await lake.catalog.putTable({
      name: 'broken',
      description: 'Has a corrupt file.',
      columns: [column('v', 'double')],
      partitionKeys: [],
      location: 'broken/',
      origin: 'glue',
    });

    for (const key of [SUPPORT_A, SUPPORT_B, TICKETS, BROKEN_GOOD, BROKEN_BAD]) await fileFacts(key);
    api = await startApi({ catalog: lake.catalog, store: lake.store, logger: logs.logger });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  it('lists every dataset in name order with totalCount and a last page', async () => {
    const { status, data, errors } = await api.client.request(ListDatasetNamesDocument, {});
    expect(status).toBe(200);
    expect(errors).toBeUndefined();
    expect(data!.datasets.nodes.map((n) => n.name)).toEqual(['broken', 'empty_dataset', 'support_events', 'tickets']);
    expect(data!.datasets.totalCount).toBe(4);
    expect(data!.datasets.pageInfo.hasNextPage).toBe(false);
    expect(data!.datasets.pageInfo.endCursor).toBe(Buffer.from('dataset:tickets').toString('base64url'));
  });

  it('serves a dataset with exact figures and column statistics from the Parquet footers', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'support_events' });
    expect(errors).toBeUndefined();
    const stats = (_column: string, nullCount: number | null, min: string | null, max: string | null) => ({
      nullCount,
      min,
      max,
    });
    const base = { precision: null, scale: null, partitionKey: false };
    const expected: DatasetFieldsFragment = {
      name: 'support_events',
      description: 'Support-ticket lifecycle events.',
      origin: 'ETL',
      schemaVersion: 1,
      rowCount: 5,
      sizeBytes: sizeOf(SUPPORT_A, SUPPORT_B),
      fileCount: 2,
      unreadableFileCount: 0,
      lastUpdated: newest(SUPPORT_A, SUPPORT_B),
      columns: [
        {
          ...base,
          name: 'event_id',
          type: 'BIGINT',
          typeText: 'bigint',
          nullable: false,
          description: 'Unique event number.',
          pii: false,
          stats: stats('event_id', 0, '5000000001', '5000000005'),
        },
        {
          ...base,
          name: 'ticket_id',
          type: 'STRING',
          typeText: 'string',
          nullable: false,
          description: '',
          pii: false,
          stats: stats('ticket_id', 0, 'T-1', 'T-3'),
        },
        {
          ...base,
          name: 'activity',
          type: 'STRING',
          typeText: 'string',
          nullable: true,
          description: '',
          pii: false,
          stats: stats('activity', 1, 'Assign seriousness', 'Insert ticket'),
        },
        {
          ...base,
          name: 'event_time',
          type: 'TIMESTAMP',
          typeText: 'timestamp',
          nullable: false,
          description: '',
          pii: false,
          stats: stats('event_time', 0, '2024-01-01T08:00:00.123456Z', '2024-01-02T11:00:00.000000Z'),
        },
        {
          ...base,
          name: 'priority',
          type: 'INT',
          typeText: 'int',
          nullable: true,
          description: '',
          pii: false,
          stats: stats('priority', 1, '1', '4'),
        },
        {
          ...base,
          name: 'amount',
          type: 'DECIMAL',
          typeText: 'decimal(10,2)',
          precision: 10,
          scale: 2,
          nullable: true,
          description: '',
          pii: false,
          stats: stats('amount', 1, '-3.25', '999.99'),
        },
        {
          ...base,
          name: 'customer',
          type: 'STRING',
          typeText: 'string',
          nullable: true,
          description: 'Customer account name.',
          pii: true,
          stats: stats('customer', 1, 'alice', 'zoe'),
        },
        {
          ...base,
          name: 'resolved',
          type: 'BOOLEAN',
          typeText: 'boolean',
          nullable: true,
          description: '',
          pii: false,
          stats: stats('resolved', 1, 'false', 'true'),
        },
      ],
      partitionKeys: [
        {
          name: 'event_date',
          type: 'DATE',
          typeText: 'date',
          precision: null,
          scale: null,
          nullable: false,
          description: 'Day of the event (UTC).',
          pii: false,
          partitionKey: true,
          stats: stats('event_date', 0, '2024-01-01', '2024-01-02'),
        },
      ],
    };
    expect(data!.dataset).toEqual(expected);
  });

  it('gives a dataset without files zero figures and the catalog time as lastUpdated', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'empty_dataset' });
    expect(errors).toBeUndefined();
    expect(data!.dataset).toMatchObject({
      rowCount: 0,
      sizeBytes: 0,
      fileCount: 0,
      unreadableFileCount: 0,
      lastUpdated: CATALOG_TIME,
      columns: [{ name: 'x', type: 'DOUBLE', stats: { nullCount: 0, min: null, max: null } }],
    });
  });

  it('counts a corrupt Parquet file in size and files but not in rows, and logs it', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'broken' });
    expect(errors).toBeUndefined();
    expect(data!.dataset).toMatchObject({
      origin: 'GLUE',
      rowCount: 2,
      sizeBytes: sizeOf(BROKEN_GOOD, BROKEN_BAD),
      fileCount: 2,
      unreadableFileCount: 1,
      columns: [{ name: 'v', stats: { nullCount: 0, min: '-2.25', max: '1.5' } }],
    });
    const warning = logs.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['key'] === BROKEN_BAD);
    expect(warning).toMatchObject({ level: 'warn', msg: 'unreadable Parquet file skipped in statistics' });
  });

  it('filters by search text over names, descriptions and column names', async () => {
    const names = async (filter: Record<string, unknown>): Promise<string[]> => {
      const { data, errors } = await api.client.request(ListDatasetNamesDocument, { filter });
      expect(errors).toBeUndefined();
      return data!.datasets.nodes.map((n) => n.name);
    };
    expect(await names({ search: 'TICKET' })).toEqual(['support_events', 'tickets']);
    expect(await names({ search: 'corrupt' })).toEqual(['broken']);
    expect(await names({ search: 'customer' })).toEqual(['support_events']);
    expect(await names({ hasPii: true })).toEqual(['support_events']);
    expect(await names({ hasPii: false })).toEqual(['broken', 'empty_dataset', 'tickets']);
    expect(await names({ updatedSince: '2024-06-01T00:00:00Z' })).toEqual(['broken', 'support_events', 'tickets']);
    expect(await names({ updatedSince: CATALOG_TIME, hasPii: false, search: 'x' })).toEqual(['empty_dataset']);
    const { data } = await api.client.request(ListDatasetNamesDocument, { filter: { search: 'ticket' }, first: 1 });
    expect(data!.datasets.totalCount).toBe(2);
    expect(data!.datasets.pageInfo.hasNextPage).toBe(true);
  });

  it('answers NOT_FOUND naming an unknown dataset', async () => {
    const { status, data, errors } = await api.client.request(GetDatasetDocument, { name: 'no_such_dataset' });
    expect(status).toBe(200);
    expect(data).toBeNull();
    expect(errors).toEqual([
      {
        message: 'dataset "no_such_dataset" not found',
        path: ['dataset'],
        locations: [{ line: 2, column: 3 }],
        extensions: { code: 'NOT_FOUND' },
      },
    ]);
  });

  it('refuses a page size over the cap with BAD_USER_INPUT naming first, however large', async () => {
    // 1,000,000 would cost far over the limit if counted as asked; it counts as the cap the field enforces.
    for (const first of [101, 1_000_000]) {
      const { data, errors } = await api.client.request(ListDatasetNamesDocument, { first });
      expect(data).toBeNull();
      expect(errors).toHaveLength(1);
      expect(errors![0]!.message).toBe(`first must be between 1 and 100; got ${first}`);
      expect(errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    }
  });

  it('refuses a malformed cursor with BAD_USER_INPUT naming after', async () => {
    for (const after of ['not a cursor!', Buffer.from('partition:x').toString('base64url'), 'AAAA']) {
      const { data, errors } = await api.client.request(ListDatasetNamesDocument, { after });
      expect(data).toBeNull();
      expect(errors).toHaveLength(1);
      expect(errors![0]!.message).toBe(`after is not a valid cursor for this list: "${after}"`);
      expect(errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    }
  });

  it('lists each dataset once until a writer announces a change, and never re-reads an unchanged footer', async () => {
    const counting = new CountingStore(lake.store);
    const second = await startApi({ catalog: lake.catalog, store: counting });
    try {
      const first = await second.client.request(ListDatasetsDocument, {});
      expect(first.errors).toBeUndefined();
      expect(first.data!.datasets.nodes.map((n) => n.rowCount)).toEqual([2, 0, 5, 3]);
      // One listing of the data versions, three per dataset (its files, then its compaction journals and its publish
      // intents: none), one ranged read per data file (its footer).
      expect(Object.fromEntries(counting.calls)).toEqual({ listAll: 13, getBytes: 5 });

      counting.reset();
      const again = await second.client.request(ListDatasetsDocument, {});
      expect(again.data).toEqual(first.data);
      // Only the data versions: every listing and every statistic comes from the snapshots.
      expect(Object.fromEntries(counting.calls)).toEqual({ listAll: 1 });
      expect(second.footers.counters).toEqual({ hits: 0, misses: 5, size: 5 });
      expect(second.datasets.snapshotCounters).toEqual({ hits: 4, listings: 4, size: 4, files: 5 });

      // A rewritten file (a new version, new ETag), announced as every writer does: only its dataset is listed again,
      // only that file's footer is read again.
      await writeParquet(
        db,
        lake.processedPath(TICKETS),
        `SELECT CAST(id AS INTEGER) AS id, CAST('t' AS VARCHAR) AS title FROM range(1, 11) r(id)`,
      );
      await writeDataVersion(lake.store, 'tickets', 'test');
      counting.reset();
      const rewritten = await second.client.request(ListDatasetsDocument, {});
      expect(rewritten.data!.datasets.nodes.map((n) => n.rowCount)).toEqual([2, 0, 5, 10]);
      expect(rewritten.data!.datasets.nodes[3]!.columns[0]!.stats).toEqual({ nullCount: 0, min: '1', max: '10' });
      expect(Object.fromEntries(counting.calls)).toEqual({ listAll: 4, getBytes: 1 });
    } finally {
      await second.stop();
    }
  });

  it('serves a change nobody announced once the listing is older than the time limit, and not before', async () => {
    let now = 0;
    const third = await startApi({
      catalog: lake.catalog,
      store: lake.store,
      snapshots: { revalidateMs: 60_000, now: () => now },
    });
    const extra = 'tickets/part-1.parquet';
    try {
      const before = await third.client.request(ListDatasetsDocument, {});
      expect(before.data!.datasets.nodes.map((n) => n.fileCount)).toEqual([2, 0, 2, 1]);
      // Copied in by a tool that does not announce its change.
      await writeParquet(
        db,
        lake.processedPath(extra),
        `SELECT CAST(11 AS INTEGER) AS id, CAST('u' AS VARCHAR) AS title`,
      );
      now = 59_999;
      const cached = await third.client.request(ListDatasetsDocument, {});
      expect(cached.data).toEqual(before.data);
      now = 60_000;
      const relisted = await third.client.request(ListDatasetsDocument, {});
      expect(relisted.data!.datasets.nodes.map((n) => n.fileCount)).toEqual([2, 0, 2, 2]);
      expect(relisted.data!.datasets.nodes[3]!.rowCount).toBe(before.data!.datasets.nodes[3]!.rowCount! + 1);
    } finally {
      await third.stop();
      await rm(lake.processedPath(extra), { force: true });
    }
  });
});
