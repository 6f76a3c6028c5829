import type { ExportCaller } from '../../src/domain/export-job.js';
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
const ROWS = 30_000;
const PART_BYTES = 200_000;

let lake: ExportLake;
let harness: ExportHarness;

beforeAll(async () => {
  lake = await createExportLake();
  // Text with quotes, delimiters and newlines, so that a naive cut at a newline would split a record.
  const rows = (from: number, to: number): string =>
    `SELECT i::BIGINT AS id, 'row ' || i || CASE WHEN i % 3 = 0 THEN E'\\nwith "quotes", and a newline' ELSE '' END AS note
     FROM range(${from}, ${to}) t(i)`;
  await lake.writeParquet('notes/day=2024-01-01/part-a.parquet', rows(0, ROWS / 2));
  await lake.writeParquet('notes/day=2024-01-02/part-b.parquet', rows(ROWS / 2, ROWS));
  await lake.catalog.putTable({
    name: 'notes',
    description: '',
    columns: [column('id', 'bigint'), column('note', 'string')],
    partitionKeys: [column('day', 'date')],
    location: 'notes/',
    origin: 'etl',
  });
  harness = await createExportHarness(lake, { engine: { partSizeBytes: PART_BYTES, gzipBlockBytes: 64 * 1024 } });
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function run(input: Parameters<ExportHarness['service']['requestExport']>[1]) {
  const job = await finished(harness.service, caller, (await harness.service.requestExport(caller, input)).id);
  expect(job.status).toBe('SUCCEEDED');
  const files = (await harness.jobs.get(job.id))!.result!.files;
  return { job, texts: await Promise.all(files.map((f) => resultText(lake, f.key))) };
}

describe('result parts', () => {
  it('splits a large result into parts on record boundaries, each with the header, in order', async () => {
    const { job, texts } = await run({ dataset: 'notes', columns: ['id', 'note'], orderBy: [{ column: 'id' }] });
    expect(texts.length).toBeGreaterThan(3);
    const ids: number[] = [];
    texts.forEach((text, i) => {
      const rows = parseCsv(text);
      expect(rows[0]).toEqual(['id', 'note']);
      expect(job.result!.files[i]!.rowCount).toBe(rows.length - 1);
      for (const r of rows.slice(1)) ids.push(Number(r[0]));
      // Every part but the last reaches the configured size, and exceeds it by less than one record plus a header.
      if (i < texts.length - 1) expect(text.length).toBeGreaterThanOrEqual(PART_BYTES);
    });
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i));
    expect(job.result!.rowCount).toBe(ROWS);
    expect(job.result!.files.map((f) => f.name).slice(0, 2)).toEqual(['part-00000.csv', 'part-00001.csv']);
    const note = parseCsv(texts[0]!).find((r) => r[0] === '3')![1];
    expect(note).toBe('row 3\nwith "quotes", and a newline');
  });

  it('gzips every part, with a BOM at the start of each', async () => {
    const { job, texts } = await run({
      dataset: 'notes',
      columns: ['id', 'note'],
      orderBy: [{ column: 'id', direction: 'DESC' }],
      compression: 'GZIP',
      csv: { bom: true },
    });
    expect(texts.length).toBeGreaterThan(3);
    expect(job.result!.files.every((f) => f.name.endsWith('.csv.gz'))).toBe(true);
    const ids: number[] = [];
    for (const text of texts) {
      expect([...text.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const rows = parseCsv(text.subarray(3));
      expect(rows[0]).toEqual(['id', 'note']);
      for (const r of rows.slice(1)) ids.push(Number(r[0]));
    }
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => ROWS - 1 - i));
  });

  it('reads only the partitions asked for', async () => {
    const { job, texts } = await run({
      dataset: 'notes',
      partitions: { values: ['2024-01-02'] },
      limit: 5,
      orderBy: [{ column: 'id' }],
    });
    expect(job.estimate).toEqual({
      rows: ROWS / 2,
      bytesToScan: job.estimate.bytesToScan,
      partitions: 1,
      files: 1,
      unreadableFiles: 0,
    });
    expect(parseCsv(texts[0]!).map((r) => r[0])).toEqual(['id', '15000', '15001', '15002', '15003', '15004']);
    expect(job.result).toMatchObject({ rowCount: 5, truncated: true });
  });
});
