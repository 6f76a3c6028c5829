import { type ExportCaller, exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import type { ExportService } from '../../src/services/export-service.js';
import { type AthenaLake, createAthenaLake } from '../support/athena-lake.js';
import { finished } from '../support/export-lake.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * The two engines on what a lake holds after its tables changed: files written before a nullable column was added
 * (Athena, reading Parquet by column name, reads the column as null in them, as DuckDB's union by name does), and a
 * partition folder `__HIVE_DEFAULT_PARTITION__` (Hive's, and so Athena's, null partition value). Found by a hands-on
 * run of the AWS path: every export of a dataset the ETL had given a new column failed on the Athena stand-in
 * (a DuckDB binder error for the column missing in the older files), and a null partition came out as the text
 * `__HIVE_DEFAULT_PARTITION__`, so the differential tests could not hold the engines to the same bytes there.
 */

const evolved = typesTable({
  name: 'evolved',
  location: 'evolved/',
  columns: [column('id', 'bigint', { nullable: false }), column('name', 'string'), column('channel', 'string')],
});
const tenants = typesTable({
  name: 'tenants',
  location: 'tenants/',
  columns: [column('id', 'bigint', { nullable: false }), column('score', 'double')],
  partitionKeys: [column('tenant', 'string')],
  origin: 'registered',
});

const duckdbCaller: ExportCaller = { id: 'duckdb' };
const athenaCaller: ExportCaller = { id: 'athena' };

describe('the Athena engine writes the DuckDB engine’s bytes on evolved tables and null partitions', () => {
  let lake: AthenaLake;
  let duckdb: ExportService;
  let athena: ExportService;

  beforeAll(async () => {
    lake = await createAthenaLake({ hiveTimestampPrecision: 6 });
    // Written before `channel` was added to the table: no such column in the file.
    await lake.writeParquet(
      'evolved/event_date=2024-01-01/part-a.parquet',
      `SELECT * FROM (VALUES (1::BIGINT, 'one'), (2, NULL)) v(id, name)`,
    );
    await lake.writeParquet(
      'evolved/event_date=2024-01-02/part-b.parquet',
      `SELECT * FROM (VALUES (3::BIGINT, 'three', 'web'), (4, 'four', NULL)) v(id, name, channel)`,
    );
    await lake.writeParquet(
      'evolved/event_date=2024-01-02/part-c.parquet',
      `SELECT * FROM (VALUES (5::BIGINT, 'five')) v(id, name)`,
    );
    await lake.registerTable(evolved);
    await lake.writeParquet('tenants/tenant=acme/part-0.parquet', `SELECT 1::BIGINT AS id, 1.5::DOUBLE AS score`);
    await lake.writeParquet(
      'tenants/tenant=__HIVE_DEFAULT_PARTITION__/part-0.parquet',
      `SELECT 2::BIGINT AS id, 2.5::DOUBLE AS score`,
    );
    await lake.registerTable(tenants);
    duckdb = lake.service(await lake.duckdbEngine());
    athena = lake.service(lake.athenaEngine());
  }, 60_000);

  afterAll(async () => {
    await lake?.close();
  });

  async function csv(service: ExportService, caller: ExportCaller, input: ExportRequestInput): Promise<string> {
    const requested = await service.requestExport(caller, input, null);
    const job = await finished(service, caller, requested.id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'SUCCEEDED', error: null });
    const texts = await Promise.all(
      job.result!.files.map((f) => lake.resultFile(`${exportResultPrefix(job.id)}${f.name}`).then((r) => r.text)),
    );
    return Buffer.concat(texts).toString('utf8');
  }

  async function same(input: ExportRequestInput): Promise<string> {
    const want = await csv(duckdb, duckdbCaller, input);
    expect(await csv(athena, athenaCaller, input)).toBe(want);
    return want;
  }

  it('reads a column added after a file was written as null in that file', async () => {
    expect(await same({ dataset: 'evolved', orderBy: [{ column: 'id' }] })).toBe(
      'id,name,channel,event_date\n' +
        '1,one,,2024-01-01\n2,,,2024-01-01\n3,three,web,2024-01-02\n4,four,,2024-01-02\n5,five,,2024-01-02\n',
    );
    expect(
      await same({
        dataset: 'evolved',
        columns: ['id', 'channel'],
        where: [{ column: 'channel', op: 'IS_NULL' }],
        orderBy: [{ column: 'id', direction: 'DESC' }],
      }),
    ).toBe('id,channel\n5,\n4,\n2,\n1,\n');
    expect(
      await same({ dataset: 'evolved', columns: ['id'], where: [{ column: 'channel', op: 'EQ', values: ['web'] }] }),
    ).toBe('id\n3\n');
  });

  it('reads the partition value __HIVE_DEFAULT_PARTITION__ as null', async () => {
    expect(await same({ dataset: 'tenants', orderBy: [{ column: 'id' }] })).toBe(
      'id,score,tenant\n1,1.5,acme\n2,2.5,\n',
    );
    expect(await same({ dataset: 'tenants', columns: ['id'], where: [{ column: 'tenant', op: 'IS_NULL' }] })).toBe(
      'id\n2\n',
    );
  });
});
