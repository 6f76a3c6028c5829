import { downloadProgressText, jobProgressText, RateMeter } from '../../src/commands/export-progress';

describe('careplus export progress line', () => {
  it('shows rows against the estimate while the job runs, and the exact count alone once it succeeded', () => {
    expect(
      jobProgressText('running', { rowsWritten: 1234, rowsEstimated: 3300, fraction: 0.375 }, { perSecond: 5678 }),
    ).toBe('running   [#########...............]  37%  1,234 / 3,300 rows  5,678 rows/s');
    expect(jobProgressText('running', { rowsWritten: 10, rowsEstimated: null, fraction: 0.1 }, undefined)).toMatch(
      / {2}10 \/ \? rows$/,
    );
    // A filtered export: the estimate was the unfiltered upper bound; "410 / 2,773" read as rows gone missing.
    // Rows not counted yet (a filtered export counts them at the end): the estimate is only an upper bound.
    expect(jobProgressText('running', { rowsWritten: 0, rowsEstimated: 3300, fraction: 0.5 }, undefined)).toBe(
      'running   [############............]  50%  up to 3,300 rows',
    );
    expect(
      jobProgressText('succeeded', { rowsWritten: 410, rowsEstimated: 2773, fraction: 1 }, { perSecond: 900 }),
    ).toBe('succeeded [########################] 100%  410 rows  900 rows/s');
  });
});

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('careplus export rate', () => {
  it('is the rate over the last seconds, not the average since the start', () => {
    const c = clock();
    const meter = new RateMeter(c.now, 5_000, 3_000);
    meter.record(0);
    // 10 s at 1 MB/s, then 5 s at 10 MB/s: the average since the start would be 4 MB/s.
    for (let i = 0; i < 10; i++) {
      c.advance(1_000);
      meter.record((i + 1) * 1e6);
    }
    for (let i = 0; i < 5; i++) {
      c.advance(1_000);
      meter.record(10e6 + (i + 1) * 10e6);
    }
    expect(meter.pace()).toEqual({ perSecond: 10e6 });
  });

  it('falls as soon as the count stops, then says how long nothing came instead of a rate', () => {
    const c = clock();
    const meter = new RateMeter(c.now, 5_000, 3_000);
    meter.record(0);
    for (let i = 0; i < 10; i++) {
      c.advance(500);
      meter.record((i + 1) * 1e6);
    }
    expect(meter.pace()).toEqual({ perSecond: 2e6 });
    c.advance(2_500);
    // Half the window without a byte: half the rate.
    expect(meter.pace()).toEqual({ perSecond: 1e6 });
    c.advance(500);
    expect(meter.pace()).toEqual({ idleSeconds: 3 });
    c.advance(9_000);
    expect(meter.pace()).toEqual({ idleSeconds: 12 });
    expect(downloadProgressText('part-00000.csv', 10e6, 45.6e6, meter.pace())).toBe(
      'download part-00000.csv  10.0 / 45.6 MB  stalled 12 s',
    );
    // Bytes again: a rate again, over the window (the stall in it included).
    c.advance(1_000);
    meter.record(15e6);
    expect(meter.pace()).toEqual({ perSecond: 1e6 });
  });

  it('says a stall before the first byte (a server that does not answer), and gives no rate for too short a time', () => {
    const c = clock();
    const meter = new RateMeter(c.now, 5_000, 3_000);
    expect(meter.pace()).toBeUndefined();
    meter.record(4e6); // What an earlier run left: not a rate.
    c.advance(100);
    expect(meter.pace()).toBeUndefined();
    c.advance(3_900);
    expect(meter.pace()).toEqual({ idleSeconds: 4 });
  });

  it('starts again when the count goes back (a download that starts over)', () => {
    const c = clock();
    const meter = new RateMeter(c.now, 5_000, 3_000);
    meter.record(0);
    c.advance(1_000);
    meter.record(50e6);
    c.advance(1_000);
    meter.record(1e6);
    c.advance(1_000);
    meter.record(3e6);
    expect(meter.pace()).toEqual({ perSecond: 2e6 });
  });

  it('restarts after a pause that was no stall (a part joined to the output), its rate from then on', () => {
    const c = clock();
    const meter = new RateMeter(c.now, 5_000, 3_000);
    meter.record(0);
    c.advance(1_000);
    meter.record(8e6);
    c.advance(10_000);
    meter.restart(8e6);
    expect(meter.pace()).toBeUndefined();
    c.advance(1_000);
    expect(meter.pace()).toEqual({ perSecond: 0 });
    meter.record(10e6);
    expect(meter.pace()).toEqual({ perSecond: 2e6 });
  });

  it('shows the rate, or the stall, on the download and job lines', () => {
    expect(downloadProgressText('part-00000.csv', 12.34e6, 45.6e6, { perSecond: 7.8e6 })).toBe(
      'download part-00000.csv  12.3 / 45.6 MB  7.8 MB/s',
    );
    expect(downloadProgressText('part-00000.csv', 0, 45.6e6, undefined)).toBe('download part-00000.csv  0.0 / 45.6 MB');
    // A result under a megabyte in kB, not `0.0 / 0.0 MB`; its rate in the unit of its own size.
    expect(downloadProgressText('part-00000.csv', 9_100, 18_432, { perSecond: 750_000 })).toBe(
      'download part-00000.csv  9.1 / 18.4 kB  750.0 kB/s',
    );
    expect(downloadProgressText('part-00000.csv', 18_432, 18_432, { perSecond: 2.5e6 })).toBe(
      'download part-00000.csv  18.4 / 18.4 kB  2.5 MB/s',
    );
    expect(
      jobProgressText('running', { rowsWritten: 1234, rowsEstimated: 3300, fraction: 0.375 }, { idleSeconds: 7 }),
    ).toBe('running   [#########...............]  37%  1,234 / 3,300 rows  no new rows for 7 s');
  });
});
