import type { ExportCaller } from '../../src/domain/export-job.js';
import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import type { TableDefinition } from '../../src/domain/table.js';
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
  const job = await finished(
    harness.service,
    caller,
    (await harness.service.requestExport(caller, { dataset: name, orderBy: [{ column: 'id' }] })).id,
  );
  expect(job.status).toBe('SUCCEEDED');
  const [file] = (await harness.jobs.get(job.id))!.result!.files;
  return parseCsv(await resultText(lake, file!.key));
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
