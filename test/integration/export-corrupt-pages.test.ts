import { readFile, writeFile } from 'node:fs/promises';
import { type ExportCaller, exportResultPrefix } from '../../src/domain/export-job.js';
import { column } from '../support/export-table.js';
import { createExportHarness, createExportLake, type ExportLake, finished } from '../support/export-lake.js';

/**
 * A Parquet file whose footer reads but whose pages do not (a bit flip, a bad copy). DuckDB's error then names no
 * file ("Invalid Error: don't know what type: ...", "TProtocolException: Invalid data"), and the job failed as
 * ENGINE_ERROR "the query engine failed", as if the engine were at fault; a corrupt file is DATA_CORRUPT.
 */
const caller: ExportCaller = { id: 'analyst-1' };
let lake: ExportLake;

beforeAll(async () => {
  lake = await createExportLake();
  const key = 'pages/event_date=2024-01-01/part-a.parquet';
  await lake.writeParquet(key, `SELECT n::BIGINT AS id, 'label ' || n AS label FROM range(10000) t(n)`);
  // The first page header and the start of its data overwritten; the footer (at the end) is left as it was.
  const path = lake.store.localPath('processed', key);
  const bytes = await readFile(path);
  bytes.fill(0x41, 4, 68);
  await writeFile(path, bytes);
  await lake.catalog.putTable({
    name: 'pages',
    description: '',
    columns: [column('id', 'bigint'), column('label', 'string')],
    partitionKeys: [column('event_date', 'date')],
    location: 'pages/',
    origin: 'etl',
  });
}, 60_000);

afterAll(async () => {
  await lake?.close();
});

it('fails a job on a Parquet file with a readable footer and corrupt pages as DATA_CORRUPT, leaving no result', async () => {
  const h = await createExportHarness(lake);
  try {
    const estimate = await h.service.estimateExport(caller, { dataset: 'pages' });
    // The footer reads: the pre-flight estimate cannot tell.
    expect(estimate).toMatchObject({ rows: 10000, files: 1, unreadableFiles: 0 });
    const job = await finished(h.service, caller, (await h.service.requestExport(caller, { dataset: 'pages' })).id);
    expect(job.status).toBe('FAILED');
    expect(job.error).toEqual({
      code: 'DATA_CORRUPT',
      message: 'a data file of dataset "pages" is not readable Parquet',
    });
    expect(job.result).toBeNull();
    const left: string[] = [];
    for await (const o of lake.store.listAll('exports', exportResultPrefix(job.id))) left.push(o.key);
    expect(left).toEqual([]);
  } finally {
    await h.close();
  }
}, 60_000);
