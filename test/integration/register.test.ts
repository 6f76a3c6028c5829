import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database';
import { BadInputError } from '../../src/domain/errors';
import {
  columnTypeFromDuckDb,
  hivePartitionNames,
  registerParquetDataset,
} from '../../src/services/parquet-registration';
import {
  createExportHarness,
  createExportLake,
  finished,
  parseCsv,
  resultText,
  type ExportLake,
} from '../support/export-lake';
import { join } from 'node:path';
import { exportResultPrefix } from '../../src/domain/export-job.js';

describe('registering existing Parquet data as a dataset', () => {
  let lake: ExportLake;
  let db: DuckDbDatabase;

  beforeAll(async () => {
    lake = await createExportLake();
    db = await DuckDbDatabase.create({ memoryLimit: '512MB', threads: 1, tempDirectory: join(lake.root, 'reg-tmp') });
    await lake.writeParquet(
      'legacy/tickets/region=eu/a.parquet',
      `SELECT i::INTEGER AS id, 'T-' || i AS code, (i * 1.5)::DECIMAL(9,2) AS amount, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS opened,
              (i % 2 = 0) AS urgent, i::UBIGINT AS big, i::TINYINT AS small FROM range(1, 4) t(i)`,
    );
    await lake.writeParquet(
      'legacy/tickets/region=us/b.parquet',
      `SELECT i::INTEGER AS id, 'T-' || i AS code, (i * 1.5)::DECIMAL(9,2) AS amount, TIMESTAMP '2024-02-01 00:00:00' AS opened,
              false AS urgent, i::UBIGINT AS big, i::TINYINT AS small FROM range(10, 12) t(i)`,
    );
    await lake.writeParquet('legacy/tickets/_tmp/ignored.parquet', `SELECT 1 AS nope`);
    await lake.writeParquet('legacy/nested/x.parquet', `SELECT 1 AS id, ['a', 'b'] AS tags, {'k': 1} AS props`);
  });

  afterAll(async () => {
    db.close();
    await lake.close();
  });

  it('infers columns, types and partition keys from the footers and Hive folders', async () => {
    const { table, files } = await registerParquetDataset(
      { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
      'legacy_tickets',
      'legacy/tickets',
    );
    expect(files).toBe(2);
    expect(table.origin).toBe('registered');
    expect(table.location).toBe('legacy/tickets/');
    expect(table.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'int'],
      ['code', 'string'],
      ['amount', 'decimal(9,2)'],
      ['opened', 'timestamp'],
      ['urgent', 'boolean'],
      ['big', 'decimal(38,0)'],
      ['small', 'int'],
    ]);
    expect(table.partitionKeys.map((c) => [c.name, c.type, c.nullable])).toEqual([['region', 'string', false]]);
    const partitions = await lake.catalog.listPartitions('legacy_tickets');
    expect(partitions.partitions).toEqual([
      { values: { region: 'eu' }, location: 'legacy/tickets/region=eu/' },
      { values: { region: 'us' }, location: 'legacy/tickets/region=us/' },
    ]);
  });

  it('exports a registered dataset like an ETL-produced one', async () => {
    const harness = await createExportHarness(lake);
    try {
      const caller = { id: 'analyst' };
      const job = await harness.service.requestExport(caller, {
        dataset: 'legacy_tickets',
        columns: ['id', 'code', 'amount', 'region'],
        where: [{ column: 'region', op: 'EQ', values: ['us'] }],
        orderBy: [{ column: 'id', direction: 'ASC' }],
      });
      const done = await finished(harness.service, caller, job.id);
      expect(done.status).toBe('SUCCEEDED');
      const text = await resultText(lake, `${exportResultPrefix(job.id)}${done.result!.files[0]!.name}`);
      expect(parseCsv(text)).toEqual([
        ['id', 'code', 'amount', 'region'],
        ['10', 'T-10', '15.00', 'us'],
        ['11', 'T-11', '16.50', 'us'],
      ]);
    } finally {
      await harness.close();
    }
  });

  it('refuses nested columns, naming each column and its type', async () => {
    await expect(
      registerParquetDataset(
        { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
        'nested',
        'legacy/nested/',
      ),
    ).rejects.toThrow(
      new BadInputError(
        'cannot register "nested": column "tags": nested type VARCHAR[] is not supported: flatten it before registering; ' +
          'column "props": nested type STRUCT(k INTEGER) is not supported: flatten it before registering',
      ),
    );
    expect(await lake.catalog.getTable('nested')).toBeUndefined();
  });

  it('refuses a prefix with no Parquet files', async () => {
    await expect(
      registerParquetDataset(
        { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
        'empty',
        'nothing/here/',
      ),
    ).rejects.toThrow('no Parquet files under "nothing/here/" in the processed bucket');
  });

  it('maps DuckDB types and refuses binary', () => {
    expect(columnTypeFromDuckDb('DECIMAL(18,4)')).toEqual({
      ok: true,
      type: { kind: 'decimal', precision: 18, scale: 4 },
    });
    expect(columnTypeFromDuckDb('TIMESTAMP WITH TIME ZONE')).toEqual({ ok: true, type: { kind: 'timestamp' } });
    expect(columnTypeFromDuckDb('BLOB')).toEqual({ ok: false, reason: 'type BLOB has no CSV-safe mapping' });
    expect(columnTypeFromDuckDb('MAP(VARCHAR, INTEGER)')).toEqual({
      ok: false,
      reason: 'nested type MAP(VARCHAR, INTEGER) is not supported: flatten it before registering',
    });
  });

  it('refuses files whose partition folders disagree', () => {
    expect(() => hivePartitionNames(['a=1/x.parquet', 'b=2/y.parquet'])).toThrow(
      'inconsistent partition folders: "a" and "b"',
    );
  });
});
