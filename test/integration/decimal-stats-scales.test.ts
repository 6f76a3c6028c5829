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
  // A column widened from int to decimal(12,2) and from bigint to decimal(21,2) (widenings the ETL allows): files
  // written before the change hold plain integers, the later ones decimals.
  await lake.writeParquet(
    'widened/part-a.parquet',
    `SELECT * FROM (VALUES (5::INTEGER, -9::BIGINT), (300, 7)) t(n, b)`,
  );
  await lake.writeParquet(
    'widened/part-b.parquet',
    `SELECT * FROM (VALUES (1.25::DECIMAL(12,2), 8.5::DECIMAL(21,2))) t(n, b)`,
  );
});

afterAll(async () => {
  await lake?.close();
});

async function footersOf(keys: string[]) {
  const footers = new ParquetFooterCache(lake.store);
  const files = [];
  for (const key of keys) {
    const object = (await lake.store.head('processed', key))!;
    const footer = await footers.read('processed', object);
    if (!footer.ok) throw new Error(`unreadable ${key}`);
    files.push(footer.file);
  }
  return files;
}

describe('decimal statistics over files of different scales', () => {
  it('compares the integers of files written before a column was widened to a decimal at scale 0', async () => {
    // Both orders: the integers were compared as unscaled decimals (5 as 0.05, -9 as -0.09), so n's min was 5.00
    // (1.25 is smaller) and b's min -0.09 (the row holds -9).
    for (const keys of [
      ['widened/part-a.parquet', 'widened/part-b.parquet'],
      ['widened/part-b.parquet', 'widened/part-a.parquet'],
    ]) {
      const files = await footersOf(keys);
      expect(aggregateColumnStatistics(column('n', 'decimal(12,2)'), files)).toEqual({
        nullCount: 0,
        min: '1.25',
        max: '300.00',
      });
      expect(aggregateColumnStatistics(column('b', 'decimal(21,2)'), files)).toEqual({
        nullCount: 0,
        min: '-9.00',
        max: '8.50',
      });
    }
    // A column of integers only is written as it was.
    const ints = await footersOf(['widened/part-a.parquet']);
    expect(aggregateColumnStatistics(column('n', 'int'), ints)).toEqual({ nullCount: 0, min: '5', max: '300' });
    expect(aggregateColumnStatistics(column('b', 'bigint'), ints)).toEqual({ nullCount: 0, min: '-9', max: '7' });
  });

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
