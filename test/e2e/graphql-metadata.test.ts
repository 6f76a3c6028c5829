import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition.js';
import { emptyRunOutcome, type RunRecord } from '../../src/domain/run-record.js';
import {
  GetDatasetDocument,
  GetDatasetFreshnessDocument,
  GetPipelineDocument,
  ListPartitionsDocument,
  ListPipelineRunsDocument,
  type ListPipelineRunsQuery,
  PreviewDatasetDocument,
} from '../../src/generated/graphql.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';
import {
  column,
  CountingStore,
  createTempLake,
  memoryLogger,
  type RunningApi,
  startApi,
  SUPPORT_COLUMNS,
  SUPPORT_SELECT,
  type TempLake,
  writeParquet,
} from '../support/graphql-api-fixture.js';
import type { GraphQLResult } from '../support/graphql-client.js';

const NOW = new Date('2024-01-03T06:00:00.000Z');
const A = 'support_events/event_date=2024-01-01/part-a.parquet';
const B = 'support_events/event_date=2024-01-02/part-b.parquet';
const D = 'support_events/event_date=2024-01-04/part-d.parquet';

/** A store that behaves as a remote one: no local paths, so DuckDB reads need staged copies. */
class RemoteLikeStore extends CountingStore {
  override localPath(): string | undefined {
    return undefined;
  }
}

function run(partial: Partial<RunRecord> & Pick<RunRecord, 'runId' | 'dataset' | 'status' | 'startedAt'>): RunRecord {
  return {
    ...emptyRunOutcome(),
    sourceBucket: 'raw',
    sourceKey: `${partial.dataset}/2024/01/01/${partial.runId}.csv`,
    sourceVersion: `v-${partial.runId}`,
    schemaVersion: 1,
    ...partial,
  };
}

/** The run record key the ETL uses: `_pipeline/runs/<dataset>/<yyyyMMddTHHmmssSSSZ>-<runId>.json`. */
function runKey(r: RunRecord): string {
  const compact = r.startedAt.replace(/[-:.]/g, '');
  return `_pipeline/runs/${r.dataset}/${compact}-${r.runId}.json`;
}

describe('GraphQL dataset metadata and pipeline status over HTTP', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let api: RunningApi;
  const logs = memoryLogger();
  const sizes = new Map<string, number>();

  const runs = [
    run({
      runId: 'run-1',
      dataset: 'support_events',
      status: 'SUCCEEDED',
      startedAt: '2024-01-02T00:00:00.000Z',
      finishedAt: '2024-01-02T00:00:01.500Z',
      durationMs: 1500,
      rowsRead: 4,
      rowsWritten: 3,
      rowsRejected: 1,
      bytesRead: 400,
      bytesWritten: 1200,
      outputKeys: [A],
      quarantineKey: '_quarantine/support_events/run-1.jsonl',
      partitions: ['event_date=2024-01-01'],
    }),
    run({
      runId: 'run-2',
      dataset: 'support_events',
      status: 'SUCCEEDED',
      startedAt: '2024-01-03T00:00:00.000Z',
      finishedAt: '2024-01-03T00:00:02.000Z',
      durationMs: 2000,
      rowsRead: 5,
      rowsWritten: 3,
      rowsRejected: 2,
      quarantineKey: '_quarantine/support_events/run-2.jsonl',
      outputKeys: [B, D],
      partitions: ['event_date=2024-01-02', 'event_date=2024-01-04'],
    }),
    run({
      runId: 'run-3',
      dataset: 'support_events',
      status: 'FAILED',
      startedAt: '2024-01-03T05:00:00.000Z',
      finishedAt: '2024-01-03T05:00:00.100Z',
      durationMs: 100,
      schemaVersion: null,
      error: {
        reason: 'truncated_gzip',
        message: 'support_events/2024/01/03/events.jsonl.gz: unexpected end of gzip data',
      },
    }),
    run({
      runId: 'run-h',
      dataset: 'helpdesk_events',
      status: 'FAILED',
      startedAt: '2024-01-02T12:00:00.000Z',
      // Every record rejected: the run quarantined nothing (no file was published), so none counts as quarantined.
      rowsRead: 3,
      rowsRejected: 3,
      error: { reason: 'no_valid_records', message: 'none of its 3 record(s) is valid; nothing was published from it' },
    }),
  ];

  beforeAll(async () => {
    lake = await createTempLake(() => new Date('2024-01-01T00:00:00.000Z'));
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });
    await writeParquet(
      db,
      lake.processedPath(A),
      SUPPORT_SELECT(`
        (5000000001, 'T-1', 'Insert ticket', '2024-01-01 08:00:00.123456', 2, 10.50, 'alice', false),
        (5000000002, 'T-1', 'Assign seriousness', '2024-01-01 09:30:00', NULL, NULL, 'alice', false),
        (5000000003, 'T-2', 'Insert ticket', '2024-01-01 23:59:59.123', 1, -3.25, NULL, true)`),
    );
    await writeParquet(
      db,
      lake.processedPath(B),
      SUPPORT_SELECT(`
        (5000000004, 'T-2', 'Closed', '2024-01-02 10:00:00', 4, 999.99, 'bob', true),
        (5000000005, 'T-3', NULL, '2024-01-02 11:00:00', 3, 0.00, 'zoe', NULL)`),
    );
    await writeParquet(
      db,
      lake.processedPath(D),
      SUPPORT_SELECT(`(5000000006, 'T-4', 'Wait', '2024-01-01 12:00:00', 1, 1.00, 'eve', false)`),
    );
    // Fixed write times make freshness exact: A on Jan 2, D on Jan 2 12:00, B (the newest) on Jan 3.
    const times: [string, string][] = [
      [A, '2024-01-02T00:00:00.000Z'],
      [D, '2024-01-02T12:00:00.000Z'],
      [B, '2024-01-03T00:00:00.000Z'],
    ];
    for (const [key, at] of times) {
      await utimes(lake.processedPath(key), new Date(at), new Date(at));
      sizes.set(key, (await stat(lake.processedPath(key))).size);
    }
    await lake.catalog.putTable({
      name: 'support_events',
      description: 'Support-ticket lifecycle events.',
      columns: SUPPORT_COLUMNS,
      partitionKeys: [column('event_date', 'date', { nullable: false })],
      location: 'support_events/',
      origin: 'etl',
    });
    // Jan 1 and Jan 2 have files; Jan 3 is registered without files; Jan 4 has files but is not registered.
    await lake.catalog.addPartitions('support_events', [
      { values: { event_date: '2024-01-01' }, location: 'support_events/event_date=2024-01-01/' },
      { values: { event_date: '2024-01-02' }, location: 'support_events/event_date=2024-01-02/' },
      { values: { event_date: '2024-01-03' }, location: 'support_events/event_date=2024-01-03/' },
    ]);
    await lake.catalog.putTable({
      name: 'tickets',
      description: 'Registered, not loaded by the ETL.',
      columns: [column('id', 'int')],
      partitionKeys: [],
      location: 'tickets/',
      origin: 'registered',
    });
    for (const r of runs) await lake.store.put('processed', runKey(r), JSON.stringify(r));
    await lake.store.put('processed', '_pipeline/runs/support_events/garbage.json', '{ not json');
    await writeFile(join(lake.root, 'unrelated.txt'), 'x');

    const registry = DatasetRegistry.of([
      parseDatasetDefinition(
        {
          name: 'support_events',
          formats: ['csv'],
          columns: [
            { name: 'event_id', type: 'bigint', nullable: false, description: 'Declared in the definition.' },
            { name: 'ticket_id', type: 'string', nullable: false, pii: true },
            { name: 'event_time', type: 'timestamp', nullable: false, description: 'When it happened (UTC).' },
          ],
          partition: { column: 'event_date', source: 'event_time' },
          eventKey: ['event_id'],
          expectedIntervalMinutes: 1440,
        },
        'support_events.yaml',
      ),
    ]);
    api = await startApi({
      catalog: lake.catalog,
      store: lake.store,
      logger: logs.logger,
      registry,
      duckdb: db,
      clock: () => NOW,
    });
  });

  afterAll(async () => {
    await api?.stop();
    db?.close();
    await lake?.remove();
  });

  it('completes column descriptions and PII flags from the dataset definition', async () => {
    const { data, errors } = await api.client.request(GetDatasetDocument, { name: 'support_events' });
    expect(errors).toBeUndefined();
    const byName = new Map(data!.dataset.columns.map((c) => [c.name, c]));
    // The catalog's own description wins; an empty one is filled in; PII when either says so.
    expect(byName.get('event_id')).toMatchObject({ description: 'Unique event number.', pii: false });
    expect(byName.get('event_time')).toMatchObject({ description: 'When it happened (UTC).', pii: false });
    expect(byName.get('ticket_id')).toMatchObject({ description: '', pii: true });
    expect(byName.get('customer')).toMatchObject({ description: 'Customer account name.', pii: true });
  });

  it('reports freshness from the event-time statistics and the newest file write', async () => {
    const { data, errors } = await api.client.request(GetDatasetFreshnessDocument, { name: 'support_events' });
    expect(errors).toBeUndefined();
    expect(data!.dataset.freshness).toEqual({
      eventTimeColumn: 'event_time',
      newestEventTime: '2024-01-02T11:00:00.000Z',
      newestWriteTime: '2024-01-03T00:00:00.000Z',
      eventLagSeconds: 19 * 3600,
      writeLagSeconds: 6 * 3600,
      expectedIntervalMinutes: 1440,
      stale: false,
    });
    const tickets = await api.client.request(GetDatasetFreshnessDocument, { name: 'tickets' });
    expect(tickets.data!.dataset.freshness).toEqual({
      eventTimeColumn: null,
      newestEventTime: null,
      newestWriteTime: null,
      eventLagSeconds: null,
      writeLagSeconds: null,
      expectedIntervalMinutes: null,
      stale: false,
    });
  });

  it('lists catalog partitions and partitions found in files, with figures and the runs that wrote them', async () => {
    const { data, errors } = await api.client.request(ListPartitionsDocument, { name: 'support_events' });
    expect(errors).toBeUndefined();
    expect(data!.dataset.partitions).toEqual({
      totalCount: 4,
      pageInfo: { hasNextPage: false, endCursor: Buffer.from('partition:event_date=2024-01-04').toString('base64url') },
      nodes: [
        {
          name: 'event_date=2024-01-01',
          values: [{ key: 'event_date', value: '2024-01-01' }],
          rowCount: 3,
          sizeBytes: sizes.get(A),
          fileCount: 1,
          unreadableFileCount: 0,
          lastModified: '2024-01-02T00:00:00.000Z',
          registered: true,
          producedBy: [{ runId: 'run-1', status: 'SUCCEEDED' }],
        },
        {
          name: 'event_date=2024-01-02',
          values: [{ key: 'event_date', value: '2024-01-02' }],
          rowCount: 2,
          sizeBytes: sizes.get(B),
          fileCount: 1,
          unreadableFileCount: 0,
          lastModified: '2024-01-03T00:00:00.000Z',
          registered: true,
          producedBy: [{ runId: 'run-2', status: 'SUCCEEDED' }],
        },
        {
          name: 'event_date=2024-01-03',
          values: [{ key: 'event_date', value: '2024-01-03' }],
          rowCount: 0,
          sizeBytes: 0,
          fileCount: 0,
          unreadableFileCount: 0,
          lastModified: null,
          registered: true,
          producedBy: [],
        },
        {
          name: 'event_date=2024-01-04',
          values: [{ key: 'event_date', value: '2024-01-04' }],
          rowCount: 1,
          sizeBytes: sizes.get(D),
          fileCount: 1,
          unreadableFileCount: 0,
          lastModified: '2024-01-02T12:00:00.000Z',
          registered: false,
          producedBy: [{ runId: 'run-2', status: 'SUCCEEDED' }],
        },
      ],
    });
  });

  it('pages and filters partitions by typed bounds', async () => {
    const names = async (variables: Record<string, unknown>): Promise<string[]> => {
      const { data, errors } = await api.client.raw<{ dataset: { partitions: { nodes: { name: string }[] } } }>(
        'query ($f: [PartitionFilter!], $first: Int, $after: String) { dataset(name: "support_events") { partitions(filter: $f, first: $first, after: $after) { nodes { name } } } }',
        variables,
      );
      expect(errors).toBeUndefined();
      return data!.dataset.partitions.nodes.map((n) => n.name);
    };
    expect(await names({ first: 2 })).toEqual(['event_date=2024-01-01', 'event_date=2024-01-02']);
    const cursor = Buffer.from('partition:event_date=2024-01-02').toString('base64url');
    expect(await names({ first: 2, after: cursor })).toEqual(['event_date=2024-01-03', 'event_date=2024-01-04']);
    expect(await names({ f: [{ key: 'event_date', gte: '2024-01-02', lte: '2024-01-03' }] })).toEqual([
      'event_date=2024-01-02',
      'event_date=2024-01-03',
    ]);
    expect(await names({ f: [{ key: 'event_date', in: ['2024-01-04', '2024-01-01'] }] })).toEqual([
      'event_date=2024-01-01',
      'event_date=2024-01-04',
    ]);
    expect(await names({ f: [{ key: 'event_date', eq: '2023-12-31' }] })).toEqual([]);
  });

  it('refuses a partition filter on an unknown key or with a value of the wrong type', async () => {
    const unknown = await api.client.request(ListPartitionsDocument, {
      name: 'support_events',
      filter: [{ key: 'region', eq: 'eu' }],
    });
    expect(unknown.errors).toEqual([
      expect.objectContaining({
        message: 'filter.key "region" is not a partition key of dataset "support_events"; partition keys: event_date',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    const wrongType = await api.client.request(ListPartitionsDocument, {
      name: 'support_events',
      filter: [{ key: 'event_date', gte: 'yesterday' }],
    });
    expect(wrongType.errors).toEqual([
      expect.objectContaining({
        message: 'filter.gte for "event_date": "yesterday" is not a date (yyyy-mm-dd)',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    const overCap = await api.client.request(ListPartitionsDocument, { name: 'support_events', first: 101 });
    expect(overCap.errors![0]).toMatchObject({
      message: 'first must be between 1 and 100; got 101',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('previews typed rows from the first files, partition values included', async () => {
    const { data, errors } = await api.client.request(PreviewDatasetDocument, { name: 'support_events', limit: 2 });
    expect(errors).toBeUndefined();
    expect(data!.dataset.preview).toEqual({
      columns: [...SUPPORT_COLUMNS.map((c) => c.name), 'event_date'],
      rows: [
        {
          event_id: '5000000001',
          ticket_id: 'T-1',
          activity: 'Insert ticket',
          event_time: '2024-01-01T08:00:00.123456Z',
          priority: 2,
          amount: '10.50',
          customer: 'alice',
          resolved: false,
          event_date: '2024-01-01',
        },
        {
          event_id: '5000000002',
          ticket_id: 'T-1',
          activity: 'Assign seriousness',
          event_time: '2024-01-01T09:30:00.000000Z',
          priority: null,
          amount: null,
          customer: 'alice',
          resolved: false,
          event_date: '2024-01-01',
        },
      ],
    });
    const picked = await api.client.request(PreviewDatasetDocument, {
      name: 'support_events',
      limit: 4,
      columns: ['event_date', 'amount'],
    });
    expect(picked.data!.dataset.preview).toEqual({
      columns: ['event_date', 'amount'],
      rows: [
        { event_date: '2024-01-01', amount: '10.50' },
        { event_date: '2024-01-01', amount: null },
        { event_date: '2024-01-01', amount: '-3.25' },
        { event_date: '2024-01-02', amount: '999.99' },
      ],
    });
  });

  it('refuses a preview over the row cap, of an unknown column or naming a column twice', async () => {
    const over = await api.client.request(PreviewDatasetDocument, { name: 'support_events', limit: 101 });
    expect(over.errors![0]).toMatchObject({
      message: 'limit must be between 0 and 100; got 101',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const unknown = await api.client.request(PreviewDatasetDocument, { name: 'support_events', columns: ['nope'] });
    expect(unknown.errors![0]).toMatchObject({
      message: 'columns: unknown column "nope" in dataset "support_events"',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    // As an export request answers it (a duplicate used to be dropped without a word).
    const twice = await api.client.request(PreviewDatasetDocument, {
      name: 'support_events',
      columns: ['event_id', 'event_id'],
    });
    expect(twice.errors![0]).toMatchObject({
      message: 'columns[1]: "event_id" is listed twice',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('stages only the files a preview needs when the store is remote, and removes them', async () => {
    const remote = new RemoteLikeStore(lake.store as ObjectStore);
    const staging = join(lake.root, 'staging');
    const second = await startApi({ catalog: lake.catalog, store: remote, duckdb: db, stagingDir: staging });
    try {
      const { data, errors } = await second.client.request(PreviewDatasetDocument, {
        name: 'support_events',
        limit: 1,
        columns: ['event_id', 'event_date'],
      });
      expect(errors).toBeUndefined();
      expect(data!.dataset.preview.rows).toEqual([{ event_id: '5000000001', event_date: '2024-01-01' }]);
      expect(remote.count('getFile')).toBe(1);
      expect(await readdir(staging)).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('reports pipeline health per dataset over a window', async () => {
    const { data, errors } = await api.client.request(GetPipelineDocument, { windowHours: 24 });
    expect(errors).toBeUndefined();
    expect(data!.pipeline.windowStart).toBe('2024-01-02T06:00:00.000Z');
    expect(data!.pipeline.windowEnd).toBe('2024-01-03T06:00:00.000Z');
    expect(data!.pipeline.datasets).toEqual([
      {
        dataset: 'helpdesk_events',
        health: 'FAILING',
        runCount: 1,
        failureCount: 1,
        rowsQuarantined: 0,
        lastRun: { runId: 'run-h', status: 'FAILED' },
        lastSuccess: null,
        lastFailure: { runId: 'run-h', error: { reason: 'no_valid_records' } },
        freshness: null,
      },
      {
        dataset: 'support_events',
        health: 'FAILING',
        runCount: 2,
        failureCount: 1,
        rowsQuarantined: 2,
        lastRun: { runId: 'run-3', status: 'FAILED' },
        lastSuccess: { runId: 'run-2', status: 'SUCCEEDED' },
        lastFailure: { runId: 'run-3', error: { reason: 'truncated_gzip' } },
        freshness: expect.objectContaining({ writeLagSeconds: 21600, stale: false }),
      },
      {
        dataset: 'tickets',
        health: 'NO_RUNS',
        runCount: 0,
        failureCount: 0,
        rowsQuarantined: 0,
        lastRun: null,
        lastSuccess: null,
        lastFailure: null,
        freshness: expect.objectContaining({ stale: false }),
      },
    ]);
    const wide = await api.client.request(GetPipelineDocument, { windowHours: 48, dataset: 'support_events' });
    expect(wide.data!.pipeline.datasets).toEqual([
      expect.objectContaining({ dataset: 'support_events', runCount: 3, failureCount: 1, rowsQuarantined: 3 }),
    ]);
    const skipped = logs.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'unreadable run record skipped');
    expect(skipped).toMatchObject({ key: '_pipeline/runs/support_events/garbage.json' });
  });

  it('marks a dataset STALE when no file was written within its expected interval', async () => {
    const later = await startApi({
      catalog: lake.catalog,
      store: lake.store,
      registry: DatasetRegistry.of([
        parseDatasetDefinition(
          {
            name: 'tickets',
            formats: ['csv'],
            columns: [{ name: 'at', type: 'timestamp', nullable: false }],
            partition: { source: 'at' },
            eventKey: ['at'],
            expectedIntervalMinutes: 60,
          },
          'tickets.yaml',
        ),
      ]),
      clock: () => NOW,
    });
    try {
      const { data } = await later.client.request(GetPipelineDocument, { dataset: 'tickets' });
      expect(data!.pipeline.datasets).toEqual([
        expect.objectContaining({
          dataset: 'tickets',
          health: 'STALE',
          freshness: expect.objectContaining({ expectedIntervalMinutes: 60, stale: true, newestWriteTime: null }),
        }),
      ]);
    } finally {
      await later.stop();
    }
  });

  it('lists pipeline runs newest first with exact records, filters and paging', async () => {
    const all = await api.client.request(ListPipelineRunsDocument, {});
    expect(all.errors).toBeUndefined();
    expect(all.data!.pipelineRuns.totalCount).toBe(4);
    expect(all.data!.pipelineRuns.nodes.map((r) => r.runId)).toEqual(['run-3', 'run-2', 'run-h', 'run-1']);
    expect(all.data!.pipelineRuns.nodes[3]).toEqual({
      runId: 'run-1',
      dataset: 'support_events',
      status: 'SUCCEEDED',
      sourceKey: 'support_events/2024/01/01/run-1.csv',
      sourceVersion: 'v-run-1',
      rowsRead: 4,
      rowsWritten: 3,
      rowsRejected: 1,
      rowsDuplicate: 0,
      bytesRead: 400,
      bytesWritten: 1200,
      outputKeys: [A],
      quarantineKey: '_quarantine/support_events/run-1.jsonl',
      partitions: ['event_date=2024-01-01'],
      schemaVersion: 1,
      startedAt: '2024-01-02T00:00:00.000Z',
      finishedAt: '2024-01-02T00:00:01.500Z',
      durationMs: 1500,
      error: null,
    });
    expect(all.data!.pipelineRuns.nodes[0]!.error).toEqual({
      reason: 'truncated_gzip',
      message: 'support_events/2024/01/03/events.jsonl.gz: unexpected end of gzip data',
    });

    const ids = async (variables: Record<string, unknown>): Promise<string[]> => {
      const { data, errors } = await api.client.request(ListPipelineRunsDocument, variables);
      expect(errors).toBeUndefined();
      return data!.pipelineRuns.nodes.map((r) => r.runId);
    };
    expect(await ids({ status: 'FAILED' })).toEqual(['run-3', 'run-h']);
    expect(await ids({ dataset: 'support_events', since: '2024-01-02T12:00:00Z' })).toEqual(['run-3', 'run-2']);
    expect(await ids({ dataset: 'tickets' })).toEqual([]);

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { data }: GraphQLResult<ListPipelineRunsQuery> = await api.client.request(ListPipelineRunsDocument, {
        first: 3,
        after,
      });
      seen.push(...data!.pipelineRuns.nodes.map((r) => r.runId));
      if (!data!.pipelineRuns.pageInfo.hasNextPage) break;
      after = data!.pipelineRuns.pageInfo.endCursor;
    }
    expect(seen).toEqual(['run-3', 'run-2', 'run-h', 'run-1']);
  });

  it('answers NOT_FOUND for the runs of an unknown dataset', async () => {
    const { errors } = await api.client.request(ListPipelineRunsDocument, { dataset: 'nope' });
    expect(errors).toEqual([
      expect.objectContaining({ message: 'dataset "nope" not found', extensions: { code: 'NOT_FOUND' } }),
    ]);
  });
});
