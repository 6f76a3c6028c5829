import { readFile, writeFile } from 'node:fs/promises';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import type { ExportCaller } from '../../src/domain/export-job.js';
import {
  DEFAULT_EXPORT_LIMITS,
  type ExportRequestInput,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { DatasetService } from '../../src/services/dataset-service.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { column } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
} from '../support/export-lake.js';

const caller: ExportCaller = { id: 'analyst-1' };

const table = (name: string): Omit<TableDefinition, 'schemaVersion' | 'updatedAt'> => ({
  name,
  description: '',
  columns: [column('id', 'bigint'), column('note', 'string'), column('amount', 'decimal(10,2)')],
  partitionKeys: [column('day', 'date')],
  location: `${name}/`,
  origin: 'etl',
});

let lake: ExportLake;
let harness: ExportHarness;

beforeAll(async () => {
  lake = await createExportLake();
  const rows = (from: number, to: number): string =>
    `SELECT i::BIGINT AS id, 'note ' || i AS note, (i / 4)::DECIMAL(10,2) AS amount FROM range(${from}, ${to}) t(i)`;
  await lake.writeParquet('same/day=2024-01-01/part-a.parquet', rows(0, 3));
  await lake.writeParquet('same/day=2024-01-02/part-b.parquet', rows(3, 6));
  // An older file written before `amount` existed, with its columns in another order.
  await lake.writeParquet(
    'evolved/day=2024-01-01/part-a.parquet',
    `SELECT 'old ' || i AS note, i::BIGINT AS id FROM range(0, 3) t(i)`,
  );
  await lake.writeParquet('evolved/day=2024-01-02/part-b.parquet', rows(3, 6));
  await lake.catalog.putTable(table('same'));
  await lake.catalog.putTable(table('evolved'));
  // Two decimal scales in files that annotate them with the DECIMAL converted type only, as writers before Parquet's
  // logical types did (parquet-mr before 1.11, Spark 2): the footers differ only in the schema elements' scale.
  await lake.writeParquet('scales/part-a.parquet', `SELECT * FROM (VALUES (1, 1.25::DECIMAL(10,2))) t(id, amount)`);
  await lake.writeParquet('scales/part-b.parquet', `SELECT * FROM (VALUES (2, 0.0050::DECIMAL(10,4))) t(id, amount)`);
  await withoutDecimalLogicalType(lake.store.localPath('processed', 'scales/part-a.parquet')!, 2, 10);
  await withoutDecimalLogicalType(lake.store.localPath('processed', 'scales/part-b.parquet')!, 4, 10);
  // Nanoseconds, as pandas and Spark write timestamps; two of them before 1970.
  await lake.writeParquet(
    'nanos/part-a.parquet',
    `SELECT * FROM (VALUES (1, TIMESTAMP_NS '1969-12-31 23:59:59.9999995'), (2, TIMESTAMP_NS '2024-01-02 03:04:05.123456789'),
       (3, TIMESTAMP_NS '1960-06-30 23:59:59.999999999'), (4, NULL)) t(id, happened_at)`,
  );
  await lake.catalog.putTable({
    ...table('nanos'),
    columns: [column('id', 'int'), column('happened_at', 'timestamp')],
    partitionKeys: [],
  });
  await lake.catalog.putTable({
    ...table('scales'),
    columns: [column('id', 'int'), column('amount', 'decimal(12,4)')],
    partitionKeys: [],
  });
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function plan(name: string) {
  const t = (await lake.catalog.getTable(name))!;
  const request = normalizeExportRequest({ dataset: name }, t, DEFAULT_EXPORT_LIMITS);
  return new ExportPlanner(lake.store, new ParquetFooterCache(lake.store)).plan(t, request, 1000);
}

async function exported(name: string): Promise<(string | null)[][]> {
  return parseCsv(await exportedBytes({ dataset: name, orderBy: [{ column: 'id' }] }));
}

/** The CSV bytes of an export that must succeed. */
async function exportedBytes(input: ExportRequestInput): Promise<Buffer> {
  const job = await finished(harness.service, caller, (await harness.service.requestExport(caller, input)).id);
  expect({ status: job.status, error: job.error ?? null }).toEqual({ status: 'SUCCEEDED', error: null });
  const [file] = (await harness.jobs.get(job.id))!.result!.files;
  return resultText(lake, file!.key);
}

describe('files of a dataset with one schema or several', () => {
  it('plans files whose footers show the same columns and types as sharing one schema', async () => {
    expect((await plan('same')).uniformSchema).toBe(true);
    expect(await exported('same')).toEqual([
      ['id', 'note', 'amount', 'day'],
      ['0', 'note 0', '0.00', '2024-01-01'],
      ['1', 'note 1', '0.25', '2024-01-01'],
      ['2', 'note 2', '0.50', '2024-01-01'],
      ['3', 'note 3', '0.75', '2024-01-02'],
      ['4', 'note 4', '1.00', '2024-01-02'],
      ['5', 'note 5', '1.25', '2024-01-02'],
    ]);
  });

  it('matches columns by name when an older file lacks a column or orders them differently', async () => {
    expect((await plan('evolved')).uniformSchema).toBe(false);
    expect(await exported('evolved')).toEqual([
      ['id', 'note', 'amount', 'day'],
      ['0', 'old 0', null, '2024-01-01'],
      ['1', 'old 1', null, '2024-01-01'],
      ['2', 'old 2', null, '2024-01-01'],
      ['3', 'note 3', '0.75', '2024-01-02'],
      ['4', 'note 4', '1.00', '2024-01-02'],
      ['5', 'note 5', '1.25', '2024-01-02'],
    ]);
  });
});

/**
 * Removes the DECIMAL logical type of a file's decimal column (DuckDB writes both it and the converted type), leaving
 * converted_type DECIMAL with its scale and precision. Nothing points into the footer, so it may shrink.
 */
async function withoutDecimalLogicalType(path: string, scale: number, precision: number): Promise<void> {
  const file = await readFile(path);
  const length = file.readUInt32LE(file.length - 8);
  const start = file.length - 8 - length;
  // SchemaElement field 10 (logicalType, a struct) holding union field 5 (DecimalType: scale, precision as zigzag
  // i32), then the two structs' stops: thrift compact protocol.
  const logicalType = Buffer.from([0x2c, 0x5c, 0x15, scale * 2, 0x15, precision * 2, 0x00, 0x00]);
  const at = file.indexOf(logicalType, start);
  if (at < 0) throw new Error(`no DECIMAL(${precision},${scale}) logical type in ${path}`);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(length - logicalType.length, 0);
  tail.write('PAR1', 4, 'latin1');
  await writeFile(
    path,
    Buffer.concat([file.subarray(0, at), file.subarray(at + logicalType.length, file.length - 8), tail]),
  );
}

describe('files whose decimal column has different scales', () => {
  it('reads each file at its own scale when only the schema elements tell the scales apart', async () => {
    const files = ['a', 'b'].map((f) => `'${lake.store.localPath('processed', `scales/part-${f}.parquet`)!}'`);
    const described = await lake.fixtures.withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT scale, logical_type FROM parquet_schema([${files.join(', ')}]) WHERE name = 'amount' ORDER BY file_name`,
        )
      ).getRowObjectsJson(),
    );
    expect(described).toEqual([
      { scale: '2', logical_type: null },
      { scale: '4', logical_type: null },
    ]);
    expect(await exported('scales')).toEqual([
      ['id', 'amount'],
      ['1', '1.2500'],
      ['2', '0.0050'],
    ]);
    const equal = await exportedBytes({
      dataset: 'scales',
      where: [{ column: 'amount', op: 'EQ', values: ['0.005'] }],
    });
    expect(parseCsv(equal)).toEqual([
      ['id', 'amount'],
      ['2', '0.0050'],
    ]);
    expect((await plan('scales')).uniformSchema).toBe(false);
  });
});

describe('timestamps a file holds with nanoseconds', () => {
  it('exports and compares them cut to the microsecond below, before 1970 too', async () => {
    expect(await exported('nanos')).toEqual([
      ['id', 'happened_at'],
      ['1', '1969-12-31T23:59:59.999999Z'],
      ['2', '2024-01-02T03:04:05.123456Z'],
      ['3', '1960-06-30T23:59:59.999999Z'],
      ['4', null],
    ]);
    const before1970 = await exportedBytes({
      dataset: 'nanos',
      where: [{ column: 'happened_at', op: 'LT', values: ['1970-01-01'] }],
      orderBy: [{ column: 'id' }],
    });
    expect(parseCsv(before1970)).toEqual([
      ['id', 'happened_at'],
      ['1', '1969-12-31T23:59:59.999999Z'],
      ['3', '1960-06-30T23:59:59.999999Z'],
    ]);
    const t = (await lake.catalog.getTable('nanos'))!;
    const datasets = new DatasetService({
      catalog: lake.catalog,
      store: lake.store,
      footers: new ParquetFooterCache(lake.store),
      logger: new JsonLogger('silent'),
      duckdb: harness.engineDb,
    });
    const preview = await datasets.preview(t, null, { limit: 1, columns: ['happened_at'] }, datasets.createLoaders());
    expect(preview.rows).toEqual([{ happened_at: '1969-12-31T23:59:59.999999Z' }]);
  });
});

describe('a partition written before a nullable column was added', () => {
  // Only the day=2024-01-01 file of `evolved` predates `amount`: a filter on that day leaves no file with the column.
  const oldDay = { values: ['2024-01-01'] };
  const byId = [{ column: 'id' }];
  let mixed: Buffer;

  beforeAll(async () => {
    // The reference: the same rows read together with a file that has the column (DuckDB fills them by name).
    mixed = await exportedBytes({ dataset: 'evolved', where: [{ column: 'amount', op: 'IS_NULL' }], orderBy: byId });
    expect(parseCsv(mixed)).toEqual([
      ['id', 'note', 'amount', 'day'],
      ['0', 'old 0', null, '2024-01-01'],
      ['1', 'old 1', null, '2024-01-01'],
      ['2', 'old 2', null, '2024-01-01'],
    ]);
  });

  it('plans only files without the column', async () => {
    const t = (await lake.catalog.getTable('evolved'))!;
    const request = normalizeExportRequest({ dataset: 'evolved', partitions: oldDay }, t, DEFAULT_EXPORT_LIMITS);
    const planned = await new ExportPlanner(lake.store, new ParquetFooterCache(lake.store)).plan(t, request, 1000);
    expect(planned.files.map((f) => f.key)).toEqual(['evolved/day=2024-01-01/part-a.parquet']);
    expect(planned.missingColumns).toEqual(['amount']);
  });

  it('exports the default columns with the new column empty, as the mixed case does', async () => {
    const bytes = await exportedBytes({ dataset: 'evolved', partitions: oldDay, orderBy: byId });
    expect(bytes.toString('utf8')).toBe(mixed.toString('utf8'));
  });

  it('filters and orders on the new column as on a column of nulls', async () => {
    const isNull = await exportedBytes({
      dataset: 'evolved',
      partitions: oldDay,
      where: [{ column: 'amount', op: 'IS_NULL' }],
      orderBy: [{ column: 'amount', direction: 'DESC' }, ...byId],
    });
    expect(isNull.toString('utf8')).toBe(mixed.toString('utf8'));
    const greater = await exportedBytes({
      dataset: 'evolved',
      partitions: oldDay,
      where: [{ column: 'amount', op: 'GT', values: ['0.50'] }],
    });
    expect(parseCsv(greater)).toEqual([['id', 'note', 'amount', 'day']]);
    const only = await exportedBytes({
      dataset: 'evolved',
      partitions: oldDay,
      columns: ['amount', 'id'],
      where: [{ column: 'amount', op: 'IS_NOT_NULL' }],
    });
    expect(parseCsv(only)).toEqual([['amount', 'id']]);
  });

  it('previews the new column as null when the rows asked for come from files without it', async () => {
    const footers = new ParquetFooterCache(lake.store);
    const logger = new JsonLogger('silent');
    const datasets = new DatasetService({
      catalog: lake.catalog,
      store: lake.store,
      footers,
      logger,
      duckdb: harness.engineDb,
    });
    const t = (await lake.catalog.getTable('evolved'))!;
    // Three rows: the oldest file (first by key) holds them all, so it is the only one read.
    const preview = await datasets.preview(t, null, { limit: 3 }, datasets.createLoaders());
    expect(preview.rows).toEqual([
      { id: '0', note: 'old 0', amount: null, day: '2024-01-01' },
      { id: '1', note: 'old 1', amount: null, day: '2024-01-01' },
      { id: '2', note: 'old 2', amount: null, day: '2024-01-01' },
    ]);
    // The same rows as when a file with the column is read along.
    const all = await datasets.preview(t, null, { limit: 6 }, datasets.createLoaders());
    expect(all.rows.filter((r) => r.day === '2024-01-01')).toEqual(preview.rows);
    const amountOnly = await datasets.preview(t, null, { limit: 2, columns: ['amount'] }, datasets.createLoaders());
    expect(amountOnly.rows).toEqual([{ amount: null }, { amount: null }]);
  });
});
