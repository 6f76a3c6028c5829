import { aggregateColumnStatistics } from '../../src/services/column-statistics.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { column } from '../support/export-table.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

let lake: ExportLake;

beforeAll(async () => {
  lake = await createExportLake();
  // One column, two writers: DECIMAL(10,2) and DECIMAL(12,4) (registration types it decimal(12,4)).
  await lake.writeParquet(
    'scales/part-a.parquet',
    `SELECT * FROM (VALUES (99999999.99::DECIMAL(10,2)), (-0.5)) t(amount)`,
  );
  await lake.writeParquet(
    'scales/part-b.parquet',
    `SELECT * FROM (VALUES (1.2500::DECIMAL(12,4)), (-0.0050)) t(amount)`,
  );
});

afterAll(async () => {
  await lake?.close();
});

describe('decimal statistics over files of different scales', () => {
  it('compares and writes each file bound at its own scale', async () => {
    const footers = new ParquetFooterCache(lake.store);
    const files = [];
    for (const key of ['scales/part-a.parquet', 'scales/part-b.parquet']) {
      const object = (await lake.store.head('processed', key))!;
      const footer = await footers.read('processed', object);
      if (!footer.ok) throw new Error(`unreadable ${key}`);
      files.push(footer.file);
    }
    // The unscaled integers were compared as they are and written at the catalog's scale: 9999999999 (99999999.99 at
    // scale 2) became the max 999999.9999, which no row holds.
    expect(aggregateColumnStatistics(column('amount', 'decimal(12,4)'), files)).toEqual({
      nullCount: 0,
      min: '-0.5000',
      max: '99999999.9900',
    });
    // A catalog of a smaller scale writes a bound that it holds exactly, and no text for one it does not.
    expect(aggregateColumnStatistics(column('amount', 'decimal(10,2)'), files)).toEqual({
      nullCount: 0,
      min: '-0.50',
      max: '99999999.99',
    });
    expect(aggregateColumnStatistics(column('amount', 'decimal(10,2)'), [files[1]!])).toEqual({
      nullCount: 0,
      min: null,
      max: '1.25',
    });
  });
});
