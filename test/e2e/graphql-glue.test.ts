import { join } from 'node:path';
import { CreateTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { GlueCatalog } from '../../src/adapters/aws/glue-catalog';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database';
import { JsonLogger } from '../../src/adapters/local/json-logger';
import { partitionName } from '../../src/adapters/local/local-catalog';
import { GetDatasetDocument, ListDatasetNamesDocument, ListPartitionsDocument } from '../../src/generated/graphql';
import { startGlueStandIn, type GlueStandIn } from '../support/glue-standin';
import {
  SUPPORT_COLUMNS,
  SUPPORT_SELECT,
  column,
  createTempLake,
  startApi,
  writeParquet,
  type RunningApi,
  type TempLake,
} from '../support/graphql-api-fixture';

/** The API over the Glue catalog (real GlueClient → Glue protocol stand-in) serves the same fields as over the local one. */
describe('GraphQL metadata over the Glue catalog', () => {
  let lake: TempLake;
  let db: DuckDbDatabase;
  let glue: GlueStandIn;
  let api: RunningApi;
  const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03'];

  beforeAll(async () => {
    lake = await createTempLake();
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(lake.root, 'duckdb') });
    // Pages of two, so every paging loop over NextToken runs.
    glue = await startGlueStandIn({ databases: ['careplus'], maxPageSize: 2 });
    const client = new GlueClient({
      endpoint: glue.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const catalog = new GlueCatalog(client, 'careplus', 'careplus-processed', { logger: new JsonLogger('silent') });
    await catalog.putTable({
      name: 'support_events',
      description: 'Support events',
      columns: SUPPORT_COLUMNS,
      partitionKeys: [column('event_date', 'date', { nullable: false })],
      location: 'support_events/',
      origin: 'etl',
    });
    for (const [i, day] of DAYS.entries()) {
      await writeParquet(
        db,
        lake.processedPath(`support_events/event_date=${day}/part-${i}.parquet`),
        SUPPORT_SELECT(`(${i + 1}, 'T-${i}', 'Insert ticket', '${day} 08:00:00', 1, 1.00, 'c', false)`),
      );
    }
    await catalog.addPartitions(
      'support_events',
      DAYS.map((d) => ({ values: { event_date: d }, location: `support_events/${partitionName({ event_date: d })}/` })),
    );
    await client.send(
      new CreateTableCommand({
        DatabaseName: 'careplus',
        TableInput: {
          Name: 'crawled_orders',
          TableType: 'EXTERNAL_TABLE',
          Parameters: { classification: 'parquet' },
          StorageDescriptor: {
            Columns: [
              { Name: 'order_code', Type: 'varchar(10)' },
              { Name: 'quantity', Type: 'smallint' },
              { Name: 'price', Type: 'decimal(12,2)' },
            ],
            Location: 's3://careplus-processed/external/orders/',
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      }),
    );
    api = await startApi({ catalog, store: lake.store });
  });

  afterAll(async () => {
    await api.stop();
    await glue.stop();
    db.close();
    await lake.remove();
  });

  it('lists our tables and Parquet tables someone else created, in name order', async () => {
    const res = await api.client.request(ListDatasetNamesDocument, { first: 10 });
    expect(res.errors).toBeUndefined();
    expect(res.data!.datasets.nodes.map((n) => n.name)).toEqual(['crawled_orders', 'support_events']);
  });

  it('serves columns with Hive types mapped to the API column types', async () => {
    const res = await api.client.request(GetDatasetDocument, { name: 'crawled_orders' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.dataset.origin).toBe('GLUE');
    expect(res.data!.dataset.columns.map((c) => [c.name, c.type, c.typeText])).toEqual([
      ['order_code', 'STRING', 'string'],
      ['quantity', 'INT', 'int'],
      ['price', 'DECIMAL', 'decimal(12,2)'],
    ]);
  });

  it('serves row counts from the files and pages through partitions registered in Glue', async () => {
    const ds = await api.client.request(GetDatasetDocument, { name: 'support_events' });
    expect(ds.data!.dataset.rowCount).toBe(3);
    expect(ds.data!.dataset.fileCount).toBe(3);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await api.client.request(ListPartitionsDocument, {
        name: 'support_events',
        first: 2,
        ...(after !== undefined ? { after } : {}),
      });
      expect(page.errors).toBeUndefined();
      const conn = page.data!.dataset.partitions;
      expect(conn.totalCount).toBe(3);
      for (const p of conn.nodes) {
        seen.push(p.values.map((v) => `${v.key}=${v.value}`).join('/'));
        expect(p.rowCount).toBe(1);
      }
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor!;
    }
    expect(seen).toEqual(DAYS.map((d) => `event_date=${d}`));
    expect(glue.calls.filter((c) => c === 'GetPartitions').length).toBeGreaterThan(1);
  });
});
