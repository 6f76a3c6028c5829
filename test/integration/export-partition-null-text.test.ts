import type { ExportCaller } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import { column, typesTable } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
} from '../support/export-lake.js';

// A registered dataset partitioned by a text key: `NULL` and `null` are text in Hive's layout (only
// `__HIVE_DEFAULT_PARTITION__` is a null), as the partition listing and the Athena engine read them.
const table = typesTable({
  name: 'regions',
  columns: [column('id', 'bigint', { nullable: false })],
  partitionKeys: [column('region', 'string')],
  location: 'regions/',
  origin: 'registered',
});
const caller: ExportCaller = { id: 'analyst-1' };

let lake: ExportLake;
let harness: ExportHarness;

beforeAll(async () => {
  lake = await createExportLake();
  const folders = ['north', 'NULL', 'null', '__HIVE_DEFAULT_PARTITION__'];
  for (const [i, folder] of folders.entries()) {
    await lake.writeParquet(`regions/region=${folder}/part-a.parquet`, `SELECT ${i + 1}::BIGINT AS id`);
  }
  await lake.catalog.putTable(table);
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function rowsOf(input: Partial<ExportRequestInput>): Promise<(string | null)[][]> {
  const requested = await harness.service.requestExport(caller, {
    dataset: 'regions',
    columns: ['id', 'region'],
    orderBy: [{ column: 'id' }],
    ...input,
  });
  const job = await finished(harness.service, caller, requested.id);
  expect(job.error).toBeNull();
  const files = (await harness.jobs.get(job.id))!.result!.files;
  return parseCsv(await resultText(lake, files[0]!.key)).slice(1);
}

describe('text partition values that spell NULL', () => {
  it('exports them as text; only the Hive null folder is a null', async () => {
    expect(await rowsOf({})).toEqual([
      ['1', 'north'],
      ['2', 'NULL'],
      ['3', 'null'],
      ['4', null],
    ]);
  });

  it('filters on them as text', async () => {
    expect(await rowsOf({ where: [{ column: 'region', op: 'EQ', values: ['NULL'] }] })).toEqual([['2', 'NULL']]);
    expect(await rowsOf({ partitions: { values: ['null', 'north'] } })).toEqual([
      ['1', 'north'],
      ['3', 'null'],
    ]);
    expect(await rowsOf({ where: [{ column: 'region', op: 'IS_NULL' }] })).toEqual([['4', null]]);
  });
});
