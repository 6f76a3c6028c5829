import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchDeletePartitionCommand,
  CreateTableCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTableVersionsCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import type { Column } from '@aws-sdk/client-glue';
import { GlueCatalog } from '../../src/adapters/aws/glue-catalog';
import { LocalCatalog } from '../../src/adapters/local/local-catalog';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store';
import type { PartitionRecord, TableColumn, TableDefinition } from '../../src/domain/table';
import type { Catalog } from '../../src/ports/catalog';
import type { Logger } from '../../src/ports/logger';
import { startGlueStandIn } from '../support/glue-standin';
import type { GlueStandIn } from '../support/glue-standin';

const DATABASE = 'careplus';
const PROCESSED = 'careplus-processed';

interface Harness {
  catalog: Catalog;
  setTime(iso: string): void;
  close(): Promise<void>;
}

interface Subject {
  name: string;
  start(): Promise<Harness>;
}

function clock(): { now: () => Date; setTime(iso: string): void } {
  let current = new Date('2024-01-01T00:00:00.000Z');
  return { now: () => current, setTime: (iso) => (current = new Date(iso)) };
}

function glueClient(endpoint: string): GlueClient {
  return new GlueClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

const subjects: Subject[] = [
  {
    name: 'LocalCatalog',
    async start() {
      const root = await mkdtemp(join(tmpdir(), 'careplus-local-catalog-'));
      const c = clock();
      return {
        catalog: new LocalCatalog(new LocalObjectStore(root), c.now),
        setTime: c.setTime,
        close: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'GlueCatalog on the Glue stand-in',
    async start() {
      // Pages of at most 2, as Glue may return fewer items than asked: every paging loop in the adapter runs.
      const standin = await startGlueStandIn({ databases: [DATABASE], maxPageSize: 2 });
      const client = glueClient(standin.endpoint);
      const c = clock();
      return {
        catalog: new GlueCatalog(client, DATABASE, PROCESSED, { now: c.now }),
        setTime: c.setTime,
        async close() {
          client.destroy();
          await standin.stop();
        },
      };
    },
  },
];

function column(name: string, type: string, extra?: Partial<TableColumn>): TableColumn {
  const kind = type.startsWith('decimal') ? 'decimal' : (type as TableColumn['kind']);
  return { name, type, kind, nullable: true, description: '', pii: false, ...extra };
}

const COLUMNS_V1: TableColumn[] = [
  column('event_id', 'string', { nullable: false, description: 'Unique event id' }),
  column('case_id', 'bigint', { nullable: false }),
  column('customer_email', 'string', { pii: true, description: 'Customer e-mail address' }),
  column('amount', 'decimal(10,2)'),
  column('event_time', 'timestamp'),
];
const COLUMNS_V2: TableColumn[] = [
  ...COLUMNS_V1,
  column('channel', 'string', { description: 'Where the ticket came in' }),
];

function tableInput(
  name: string,
  columns: TableColumn[] = COLUMNS_V1,
): Omit<TableDefinition, 'schemaVersion' | 'updatedAt'> {
  return {
    name,
    description: `Support events (${name})`,
    columns,
    partitionKeys: [column('event_date', 'date', { nullable: false })],
    location: `${name}/`,
    origin: 'etl',
  };
}

function partition(table: string, date: string): PartitionRecord {
  return { values: { event_date: date }, location: `${table}/event_date=${date}/` };
}

const T1 = '2024-03-01T10:00:00.000Z';
const T2 = '2024-03-02T10:00:00.000Z';
const T3 = '2024-03-03T10:00:00.000Z';

describe.each(subjects)('Catalog contract: $name', (subject) => {
  let h: Harness;

  beforeEach(async () => {
    h = await subject.start();
  });

  afterEach(async () => {
    await h.close();
  });

  it('creates a table at schema version 1', async () => {
    h.setTime(T1);
    const put = await h.catalog.putTable(tableInput('support_events'));
    const expected: TableDefinition = { ...tableInput('support_events'), schemaVersion: 1, updatedAt: T1 };
    expect(put).toEqual(expected);
    expect(await h.catalog.getTable('support_events')).toEqual(expected);
    expect(await h.catalog.schemaVersions('support_events')).toEqual([
      { version: 1, columns: COLUMNS_V1, createdAt: T1 },
    ]);
  });

  it('keeps version 1 and its time when the same definition is put again', async () => {
    h.setTime(T1);
    await h.catalog.putTable(tableInput('support_events'));
    h.setTime(T2);
    const again = await h.catalog.putTable(tableInput('support_events'));
    expect(again).toEqual({ ...tableInput('support_events'), schemaVersion: 1, updatedAt: T1 });
    expect(await h.catalog.getTable('support_events')).toEqual(again);
    expect(await h.catalog.schemaVersions('support_events')).toEqual([
      { version: 1, columns: COLUMNS_V1, createdAt: T1 },
    ]);
  });

  it('records version 2 when a column is added, and lists both versions with their exact columns', async () => {
    h.setTime(T1);
    await h.catalog.putTable(tableInput('support_events'));
    h.setTime(T3);
    const v2 = await h.catalog.putTable(tableInput('support_events', COLUMNS_V2));
    const expected: TableDefinition = { ...tableInput('support_events', COLUMNS_V2), schemaVersion: 2, updatedAt: T3 };
    expect(v2).toEqual(expected);
    expect(await h.catalog.getTable('support_events')).toEqual(expected);
    expect(await h.catalog.schemaVersions('support_events')).toEqual([
      { version: 1, columns: COLUMNS_V1, createdAt: T1 },
      { version: 2, columns: COLUMNS_V2, createdAt: T3 },
    ]);
  });

  it('keeps the day partition source it was given, and drops it when a put comes without one', async () => {
    h.setTime(T1);
    const withSource = { ...tableInput('support_events'), dayPartitionSource: 'event_time' };
    expect((await h.catalog.putTable(withSource)).dayPartitionSource).toBe('event_time');
    expect(await h.catalog.getTable('support_events')).toEqual({ ...withSource, schemaVersion: 1, updatedAt: T1 });
    await h.catalog.putTable(tableInput('support_events'));
    expect(await h.catalog.getTable('support_events')).toEqual({
      ...tableInput('support_events'),
      schemaVersion: 1,
      updatedAt: T1,
    });
  });

  it('keeps the event key it was given, and drops it when a put comes without one', async () => {
    h.setTime(T1);
    const withKey = { ...tableInput('support_events'), eventKey: ['event_id', 'ticket_id'] };
    expect((await h.catalog.putTable(withKey)).eventKey).toEqual(['event_id', 'ticket_id']);
    expect(await h.catalog.getTable('support_events')).toEqual({ ...withKey, schemaVersion: 1, updatedAt: T1 });
    await h.catalog.putTable({ ...withKey, eventKey: ['event_id'] });
    expect((await h.catalog.getTable('support_events'))!.eventKey).toEqual(['event_id']);
    await h.catalog.putTable(tableInput('support_events'));
    expect(await h.catalog.getTable('support_events')).toEqual({
      ...tableInput('support_events'),
      schemaVersion: 1,
      updatedAt: T1,
    });
  });

  it('changes the description without a new schema version', async () => {
    h.setTime(T1);
    await h.catalog.putTable(tableInput('support_events'));
    h.setTime(T2);
    const edited = await h.catalog.putTable({ ...tableInput('support_events'), description: 'Renamed' });
    expect(edited.schemaVersion).toBe(1);
    expect(edited.updatedAt).toBe(T1);
    expect((await h.catalog.getTable('support_events'))?.description).toBe('Renamed');
    expect((await h.catalog.schemaVersions('support_events')).map((v) => v.version)).toEqual([1]);
  });

  it('registers partitions idempotently and pages through them two at a time, in order, each once', async () => {
    await h.catalog.putTable(tableInput('support_events'));
    const dates = ['2024-03-04', '2024-03-01', '2024-03-05', '2024-03-03', '2024-03-02'];
    await h.catalog.addPartitions(
      'support_events',
      dates.map((d) => partition('support_events', d)),
    );
    // Again, with overlap: existing partitions are not an error and are not duplicated.
    await h.catalog.addPartitions('support_events', [
      partition('support_events', '2024-03-02'),
      partition('support_events', '2024-03-05'),
    ]);

    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await h.catalog.listPartitions('support_events', {
        maxResults: 2,
        ...(token !== undefined ? { token } : {}),
      });
      pages.push(page.partitions.map((p) => p.values['event_date']!));
      token = page.nextToken;
      if (pages.length > 5) throw new Error('partition listing does not end');
    } while (token !== undefined);
    expect(pages).toEqual([['2024-03-01', '2024-03-02'], ['2024-03-03', '2024-03-04'], ['2024-03-05']]);

    const all = await h.catalog.listPartitions('support_events');
    expect(all).toEqual({
      partitions: ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'].map((d) =>
        partition('support_events', d),
      ),
      nextToken: undefined,
    });
  });

  it('removes the records of partitions that hold no files any more; unknown ones are not an error', async () => {
    await h.catalog.putTable(tableInput('support_events'));
    await h.catalog.addPartitions(
      'support_events',
      ['2024-03-01', '2024-03-02', '2024-03-03'].map((d) => partition('support_events', d)),
    );
    await h.catalog.removePartitions('support_events', [
      { values: { event_date: '2024-03-02' } },
      { values: { event_date: '2024-03-09' } },
    ]);
    await h.catalog.removePartitions('support_events', []);
    await h.catalog.removePartitions('no_such_table', [{ values: { event_date: '2024-03-01' } }]);
    expect((await h.catalog.listPartitions('support_events')).partitions).toEqual(
      ['2024-03-01', '2024-03-03'].map((d) => partition('support_events', d)),
    );
  });

  it('tells whether a table has a registered partition', async () => {
    expect(await h.catalog.hasPartitions('no_such_table')).toBe(false);
    await h.catalog.putTable(tableInput('support_events'));
    expect(await h.catalog.hasPartitions('support_events')).toBe(false);
    await h.catalog.addPartitions('support_events', [partition('support_events', '2024-03-01')]);
    expect(await h.catalog.hasPartitions('support_events')).toBe(true);
    await h.catalog.removePartitions('support_events', [{ values: { event_date: '2024-03-01' } }]);
    expect(await h.catalog.hasPartitions('support_events')).toBe(false);
  });

  it('answers undefined and empty lists for an unknown table', async () => {
    expect(await h.catalog.getTable('no_such_table')).toBeUndefined();
    expect(await h.catalog.schemaVersions('no_such_table')).toEqual([]);
    expect((await h.catalog.listPartitions('no_such_table')).partitions).toEqual([]);
  });

  it('lists tables sorted by name', async () => {
    for (const name of ['zeta_events', 'alpha_events', 'mid_events']) await h.catalog.putTable(tableInput(name));
    expect((await h.catalog.listTables()).map((t) => t.name)).toEqual(['alpha_events', 'mid_events', 'zeta_events']);
    expect((await h.catalog.listTables())[0]).toEqual(await h.catalog.getTable('alpha_events'));
  });

  it('deletes a table with its partitions; deleting an unknown table is not an error', async () => {
    h.setTime(T1);
    await h.catalog.putTable(tableInput('support_events'));
    await h.catalog.putTable(tableInput('other_events'));
    await h.catalog.addPartitions('support_events', [partition('support_events', '2024-03-01')]);
    await h.catalog.deleteTable('support_events');
    expect(await h.catalog.getTable('support_events')).toBeUndefined();
    expect((await h.catalog.listTables()).map((t) => t.name)).toEqual(['other_events']);
    expect((await h.catalog.listPartitions('support_events')).partitions).toEqual([]);
    await expect(h.catalog.deleteTable('support_events')).resolves.toBeUndefined();

    h.setTime(T2);
    const recreated = await h.catalog.putTable(tableInput('support_events', COLUMNS_V2));
    expect(recreated.schemaVersion).toBe(1);
    expect(await h.catalog.schemaVersions('support_events')).toEqual([
      { version: 1, columns: COLUMNS_V2, createdAt: T2 },
    ]);
    expect((await h.catalog.listPartitions('support_events')).partitions).toEqual([]);
  });
});

describe('GlueCatalog against the Glue stand-in', () => {
  let standin: GlueStandIn;
  let client: GlueClient;
  let catalog: GlueCatalog;
  let warnings: { msg: string; fields?: Record<string, unknown> }[];

  beforeEach(async () => {
    standin = await startGlueStandIn({ databases: [DATABASE], maxPageSize: 2 });
    client = glueClient(standin.endpoint);
    warnings = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (msg, fields) => warnings.push({ msg, ...(fields !== undefined ? { fields } : {}) }),
      error: () => undefined,
      child: () => logger,
    };
    catalog = new GlueCatalog(client, DATABASE, PROCESSED, {
      now: () => new Date(T1),
      logger,
    });
  });

  afterEach(async () => {
    client.destroy();
    await standin.stop();
  });

  const hiveColumns = (cols: [string, string][]): Column[] => cols.map(([Name, Type]) => ({ Name, Type }));

  it('shows a Parquet table someone else created, with Hive types mapped and nested columns left out', async () => {
    // "Someone else": a crawler or Athena DDL, through the real Glue API.
    await client.send(
      new CreateTableCommand({
        DatabaseName: DATABASE,
        TableInput: {
          Name: 'crawled_orders',
          Description: 'Found by a crawler',
          TableType: 'EXTERNAL_TABLE',
          Parameters: { classification: 'parquet' },
          StorageDescriptor: {
            Columns: [
              { Name: 'order_code', Type: 'varchar(10)', Comment: 'Order code' },
              { Name: 'quantity', Type: 'smallint' },
              { Name: 'tags', Type: 'array<string>' },
              { Name: 'price', Type: 'decimal(12,2)' },
              { Name: 'ratio', Type: 'float' },
            ],
            Location: 's3://careplus-processed/external/orders',
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
          PartitionKeys: hiveColumns([['dt', 'string']]),
        },
      }),
    );
    await client.send(
      new CreateTableCommand({
        DatabaseName: DATABASE,
        TableInput: {
          Name: 'raw_csv_drop',
          TableType: 'EXTERNAL_TABLE',
          Parameters: { classification: 'csv' },
          StorageDescriptor: {
            Columns: hiveColumns([['a', 'string']]),
            Location: 's3://somewhere-else/csv/',
            InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' },
          },
        },
      }),
    );
    await catalog.putTable(tableInput('support_events'));

    const tables = await catalog.listTables();
    expect(tables.map((t) => t.name)).toEqual(['crawled_orders', 'support_events']);
    const crawled = tables[0]!;
    const created = (await client.send(new GetTableCommand({ DatabaseName: DATABASE, Name: 'crawled_orders' }))).Table!;
    expect(crawled).toEqual({
      name: 'crawled_orders',
      description: 'Found by a crawler',
      columns: [
        column('order_code', 'string', { description: 'Order code' }),
        column('quantity', 'int'),
        column('price', 'decimal(12,2)'),
        column('ratio', 'float'),
      ],
      partitionKeys: [column('dt', 'string')],
      location: 'external/orders/',
      origin: 'glue',
      schemaVersion: 1,
      updatedAt: created.UpdateTime!.toISOString(),
    });
    expect(await catalog.getTable('raw_csv_drop')).toBeUndefined();
    expect(warnings).toEqual([
      {
        msg: 'glue catalog: skipped',
        fields: {
          reason:
            'column "tags" of Glue table "crawled_orders" is skipped: Glue type "array<string>" is a nested array type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
        },
      },
    ]);
    // Three tables at two per page: GetTables was called twice, following NextToken.
    expect(standin.calls.filter((c) => c === 'GetTables')).toEqual(['GetTables', 'GetTables']);
  });

  it('shows only the declared tables when limited to them, and asks Glue for no other name', async () => {
    await catalog.putTable(tableInput('support_events'));
    await catalog.putTable(tableInput('other_team'));
    const declared = new GlueCatalog(client, DATABASE, PROCESSED, { onlyTables: new Set(['support_events']) });
    expect((await declared.listTables()).map((t) => t.name)).toEqual(['support_events']);
    expect((await declared.getTable('support_events'))?.name).toBe('support_events');
    const before = standin.calls.length;
    // A deployment's role may not read other tables: Glue would answer AccessDenied, not "not found".
    expect(await declared.getTable('other_team')).toBeUndefined();
    expect(await declared.getTable('support_event')).toBeUndefined();
    expect(standin.calls.length).toBe(before);
  });

  it('writes a Parquet table Athena can read, with our facts in Parameters', async () => {
    await catalog.putTable(tableInput('support_events'));
    const t = (await client.send(new GetTableCommand({ DatabaseName: DATABASE, Name: 'support_events' }))).Table!;
    expect(t.TableType).toBe('EXTERNAL_TABLE');
    expect(t.Description).toBe('Support events (support_events)');
    expect(t.Parameters).toEqual({
      EXTERNAL: 'TRUE',
      classification: 'parquet',
      'careplus.origin': 'etl',
      'careplus.description': 'Support events (support_events)',
      'careplus.schema_version': '1',
      'careplus.schema_created_at': T1,
    });
    expect(t.StorageDescriptor).toEqual({
      Columns: [
        {
          Name: 'event_id',
          Type: 'string',
          Comment: 'Unique event id',
          Parameters: {
            'careplus.description': 'Unique event id',
            'careplus.pii': 'false',
            'careplus.nullable': 'false',
          },
        },
        {
          Name: 'case_id',
          Type: 'bigint',
          Parameters: { 'careplus.description': '', 'careplus.pii': 'false', 'careplus.nullable': 'false' },
        },
        {
          Name: 'customer_email',
          Type: 'string',
          Comment: 'Customer e-mail address',
          Parameters: {
            'careplus.description': 'Customer e-mail address',
            'careplus.pii': 'true',
            'careplus.nullable': 'true',
          },
        },
        {
          Name: 'amount',
          Type: 'decimal(10,2)',
          Parameters: { 'careplus.description': '', 'careplus.pii': 'false', 'careplus.nullable': 'true' },
        },
        {
          Name: 'event_time',
          Type: 'timestamp',
          Parameters: { 'careplus.description': '', 'careplus.pii': 'false', 'careplus.nullable': 'true' },
        },
      ],
      Location: 's3://careplus-processed/support_events/',
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
        Parameters: { 'serialization.format': '1' },
      },
      Compressed: false,
      StoredAsSubDirectories: false,
    });
    expect(t.PartitionKeys).toEqual([
      {
        Name: 'event_date',
        Type: 'date',
        Parameters: { 'careplus.description': '', 'careplus.pii': 'false', 'careplus.nullable': 'false' },
      },
    ]);
  });

  it('makes no write for an identical definition and archives a Glue version only for a new schema', async () => {
    await catalog.putTable(tableInput('support_events'));
    await catalog.putTable(tableInput('support_events'));
    await catalog.putTable({ ...tableInput('support_events'), description: 'Edited' });
    await catalog.putTable(tableInput('support_events', COLUMNS_V2));
    expect(standin.calls.filter((c) => c === 'CreateTable' || c === 'UpdateTable')).toEqual([
      'CreateTable',
      'UpdateTable',
      'UpdateTable',
    ]);
    expect(await catalog.schemaVersions('support_events')).toEqual([
      { version: 1, columns: COLUMNS_V1, createdAt: T1 },
      { version: 2, columns: COLUMNS_V2, createdAt: T1 },
    ]);
    // Glue itself holds two versions: the description edit replaced version 1 in place (SkipArchive).
    const raw = await client.send(new GetTableVersionsCommand({ DatabaseName: DATABASE, TableName: 'support_events' }));
    expect(raw.TableVersions?.map((v) => [v.VersionId, v.Table?.Parameters?.['careplus.schema_version']])).toEqual([
      ['2', '2'],
      ['1', '1'],
    ]);
    expect(raw.TableVersions?.[1]?.Table?.Description).toBe('Edited');
  });

  it('registers partitions with the table storage and their own s3 location, in batches of 100', async () => {
    await catalog.putTable(tableInput('support_events'));
    const days = Array.from({ length: 230 }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10));
    await catalog.addPartitions(
      'support_events',
      days.map((d) => partition('support_events', d)),
    );
    expect(standin.calls.filter((c) => c === 'BatchCreatePartition')).toEqual([
      'BatchCreatePartition',
      'BatchCreatePartition',
      'BatchCreatePartition',
    ]);
    const first = await client.send(
      new GetPartitionsCommand({ DatabaseName: DATABASE, TableName: 'support_events', MaxResults: 1 }),
    );
    expect(first.Partitions?.[0]?.Values).toEqual(['2024-01-01']);
    expect(first.Partitions?.[0]?.StorageDescriptor?.Location).toBe(
      's3://careplus-processed/support_events/event_date=2024-01-01/',
    );
    expect(first.Partitions?.[0]?.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe(
      'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
    );
    const all = await catalog.listPartitions('support_events');
    expect(all.partitions.map((p) => p.values['event_date'])).toEqual(days);
  });

  it("gives a partition registered again after a schema change the table's columns of now, as Athena reads its files with them", async () => {
    await catalog.putTable(tableInput('support_events'));
    await catalog.addPartitions('support_events', [partition('support_events', '2024-03-01')]);
    // Version 2 adds a column; a file written into the same day holds it, and the ETL registers the day again.
    await catalog.putTable(tableInput('support_events', COLUMNS_V2));
    await catalog.addPartitions('support_events', [
      partition('support_events', '2024-03-01'),
      partition('support_events', '2024-03-02'),
    ]);
    const out = await client.send(new GetPartitionsCommand({ DatabaseName: DATABASE, TableName: 'support_events' }));
    const columns = (out.Partitions ?? []).map((p) => [
      p.Values?.[0],
      p.StorageDescriptor?.Columns?.map((c) => c.Name),
      p.StorageDescriptor?.Location,
    ]);
    const v2 = COLUMNS_V2.map((c) => c.name);
    expect(columns).toEqual([
      ['2024-03-01', v2, 's3://careplus-processed/support_events/event_date=2024-03-01/'],
      ['2024-03-02', v2, 's3://careplus-processed/support_events/event_date=2024-03-02/'],
    ]);
  });

  it('fails, naming it, when Glue cannot update a partition registered again (removed meanwhile)', async () => {
    await catalog.putTable(tableInput('support_events'));
    await catalog.addPartitions('support_events', [partition('support_events', '2024-03-01')]);
    // Another writer removes the partition between this one's create (it exists) and its update.
    const other = glueClient(standin.endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchUpdatePartitionCommand') {
          await other.send(
            new BatchDeletePartitionCommand({
              DatabaseName: DATABASE,
              TableName: 'support_events',
              PartitionsToDelete: [{ Values: ['2024-03-01'] }],
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    try {
      await expect(
        catalog.addPartitions('support_events', [partition('support_events', '2024-03-01')]),
      ).rejects.toThrow(
        'Glue did not update 1 partition(s) of table "support_events"; first ["2024-03-01"]: EntityNotFoundException: Partition not found.',
      );
    } finally {
      other.destroy();
    }
  });

  it('removes partitions in batches of 25, as BatchDeletePartition takes them', async () => {
    await catalog.putTable(tableInput('support_events'));
    const days = Array.from({ length: 60 }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10));
    await catalog.addPartitions(
      'support_events',
      days.map((d) => partition('support_events', d)),
    );
    await catalog.removePartitions(
      'support_events',
      days.slice(0, 55).map((d) => ({ values: { event_date: d } })),
    );
    expect(standin.calls.filter((c) => c === 'BatchDeletePartition')).toHaveLength(3);
    expect((await catalog.listPartitions('support_events')).partitions.map((p) => p.values['event_date'])).toEqual(
      days.slice(55),
    );
  });

  it('refuses partitions whose keys do not match the table, naming them', async () => {
    await catalog.putTable(tableInput('support_events'));
    await expect(
      catalog.addPartitions('support_events', [{ values: { day: '2024-01-01' }, location: 'support_events/x/' }]),
    ).rejects.toThrow(
      'partition {"day":"2024-01-01"} does not match the partition keys (event_date) of table "support_events"',
    );
    await expect(catalog.addPartitions('no_such_table', [partition('no_such_table', '2024-01-01')])).rejects.toThrow(
      'cannot add partitions: table "no_such_table" is not in the Glue catalog',
    );
  });

  it('refuses to replace a table that is not Parquet', async () => {
    await client.send(
      new CreateTableCommand({
        DatabaseName: DATABASE,
        TableInput: {
          Name: 'support_events',
          Parameters: { classification: 'csv' },
          StorageDescriptor: {
            Columns: hiveColumns([['a', 'string']]),
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' },
          },
        },
      }),
    );
    await expect(catalog.putTable(tableInput('support_events'))).rejects.toThrow(
      'refusing to replace Glue table "support_events": its storage is not Parquet',
    );
  });
});
