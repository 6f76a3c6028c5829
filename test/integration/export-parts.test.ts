import { createHash } from 'node:crypto';
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

async function run(input: Parameters<ExportHarness['service']['requestExport']>[1], on = harness, by = caller) {
  const job = await finished(on.service, by, (await on.service.requestExport(by, input)).id);
  expect(job.status).toBe('SUCCEEDED');
  const files = (await on.jobs.get(job.id))!.result!.files;
  // Every part is exactly what the job says: size and checksum of the bytes as stored.
  for (const f of files) {
    const stored = Buffer.from(await lake.store.getBytes('exports', f.key));
    expect({ name: f.name, bytes: stored.length, sha256: createHash('sha256').update(stored).digest('hex') }).toEqual({
      name: f.name,
      bytes: f.bytes,
      sha256: f.sha256,
    });
  }
  return { job, texts: await Promise.all(files.map((f) => resultText(lake, f.key))) };
}

/** The parts joined into one CSV: the header of every part after the first dropped. */
function joined(texts: Buffer[]): Buffer {
  return Buffer.concat(texts.map((t, i) => (i === 0 ? t : t.subarray(t.indexOf(0x0a) + 1))));
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

  it('cuts plain parts whose bytes joined are exactly the one-part export of the same request', async () => {
    const input = { dataset: 'notes', columns: ['id', 'note'], orderBy: [{ column: 'id' as const }] };
    const { texts } = await run(input);
    const single = await createExportHarness(lake);
    try {
      // Another caller: the same request of the same caller would answer with the job above.
      const { texts: whole } = await run(input, single, { id: 'analyst-2' });
      expect(whole).toHaveLength(1);
      expect(texts.length).toBeGreaterThan(3);
      expect(joined(texts).equals(whole[0]!)).toBe(true);
    } finally {
      await single.close();
    }
  });

  it('ends the last plain part at the row cap when a limit cuts a result of several parts', async () => {
    const { job, texts } = await run({
      dataset: 'notes',
      columns: ['id', 'note'],
      orderBy: [{ column: 'id' }],
      limit: 20_000,
    });
    expect(job.result).toMatchObject({ rowCount: 20_000, truncated: true });
    expect(texts.length).toBeGreaterThan(2);
    const ids = parseCsv(joined(texts))
      .slice(1)
      .map((r) => Number(r[0]));
    expect(ids).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
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
