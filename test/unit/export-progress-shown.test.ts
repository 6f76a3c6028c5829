import { ExportProgress } from '../../src/graphql/types/export-progress.type';

/**
 * What a running job shows of its row count. The engine's running figure is the scanned fraction of the estimate,
 * which counts the files' rows: right for an unfiltered export, an overstatement for one with a `where` (a hands-on
 * test saw 2,142,660 rows fall back to the real 600,782 when the job finished), and a leak under a row filter.
 */
describe('ExportProgress as shown to the caller', () => {
  const running = { rowsWritten: 2_142_660, rowsEstimated: 3_000_000, bytesWritten: 59_000_000, fraction: 0.7 };

  it('shows the running estimate of an unfiltered export', () => {
    expect(ExportProgress.from(running, false, false, false)).toMatchObject({
      rowsWritten: 2_142_660,
      rowsEstimated: 3_000_000,
      fraction: 0.7,
    });
  });

  it('shows 0 rows until the exact count for an export with a where, keeping the fraction and the upper bound', () => {
    expect(ExportProgress.from(running, false, false, true)).toMatchObject({
      rowsWritten: 0,
      rowsEstimated: 3_000_000,
      fraction: 0.7,
    });
    expect(ExportProgress.from({ ...running, rowsWritten: 600_782, fraction: 1 }, false, true, true)).toMatchObject({
      rowsWritten: 600_782,
    });
  });

  it('shows neither the estimate nor the running figure under a row filter', () => {
    expect(ExportProgress.from(running, true, false, false)).toMatchObject({ rowsWritten: 0, rowsEstimated: null });
  });
});
