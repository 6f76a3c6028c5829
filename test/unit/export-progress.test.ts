import { jobProgressText } from '../../src/commands/export-progress';

describe('careplus export progress line', () => {
  it('shows rows against the estimate while the job runs, and the exact count alone once it succeeded', () => {
    expect(jobProgressText('running', { rowsWritten: 1234, rowsEstimated: 3300, fraction: 0.375 }, 5678)).toBe(
      'running   [#########...............]  37%  1,234 / 3,300 rows  5,678 rows/s',
    );
    expect(jobProgressText('running', { rowsWritten: 10, rowsEstimated: null, fraction: 0.1 }, undefined)).toMatch(
      / {2}10 \/ \? rows$/,
    );
    // A filtered export: the estimate was the unfiltered upper bound; "410 / 2,773" read as rows gone missing.
    // Rows not counted yet (a filtered export counts them at the end): the estimate is only an upper bound.
    expect(jobProgressText('running', { rowsWritten: 0, rowsEstimated: 3300, fraction: 0.5 }, undefined)).toBe(
      'running   [############............]  50%  up to 3,300 rows',
    );
    expect(jobProgressText('succeeded', { rowsWritten: 410, rowsEstimated: 2773, fraction: 1 }, 900)).toBe(
      'succeeded [########################] 100%  410 rows  900 rows/s',
    );
  });
});
