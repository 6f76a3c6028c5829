import { type BenchRecord, median, record, targetMet, throughputRatio } from '../../bench/harness.js';
import { RESULTS_END, RESULTS_START, renderResultsTable, spliceResults } from '../../bench/results-table.js';

const MACHINE = { cores: 2, cpu: 'Test CPU', memoryGiB: 8, node: 'v20.0.0', platform: 'linux-x64' };

function result(name: string, ratio: number, extra: Partial<BenchRecord> = {}): BenchRecord {
  return {
    name,
    rows: 1_000_000,
    inputBytes: 400_000_000,
    outputBytes: 50_000_000,
    oursMedianSeconds: 4,
    baselineMedianSeconds: 4 * ratio,
    ratio,
    target: 0.5,
    oursPeakRssBytes: 512 * 1024 ** 2,
    baselinePeakRssBytes: 2 * 1024 ** 3,
    baseline: 'DuckDB COPY',
    machine: MACHINE,
    date: '2026-01-02T03:04:05.000Z',
    ...extra,
  };
}

describe('median', () => {
  it('takes the middle value of an odd count without reordering the input', () => {
    const values = [3, 1, 2];
    expect(median(values)).toBe(2);
    expect(values).toEqual([3, 1, 2]);
  });

  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('throughputRatio', () => {
  it('is the baseline time over ours, so twice as slow is 0.5', () => {
    expect(throughputRatio(4, 2)).toBe(0.5);
    expect(throughputRatio(1, 3)).toBe(3);
  });

  it('rounds to three decimals', () => {
    expect(throughputRatio(3, 1)).toBe(0.333);
    expect(throughputRatio(3, 2)).toBe(0.667);
  });

  it('refuses a zero or negative time', () => {
    expect(() => throughputRatio(0, 1)).toThrow('times must be positive, got ours 0 s, baseline 1 s');
    expect(() => throughputRatio(1, -1)).toThrow('times must be positive, got ours 1 s, baseline -1 s');
  });
});

describe('record', () => {
  it('takes medians of each side, their ratio, and the largest peak RSS of each side', () => {
    const r = record(
      'etl-jsonl',
      { rows: 10, inputBytes: 100, outputBytes: 50, target: 0.5, baseline: 'DuckDB' },
      {
        ours: [
          { seconds: 5, maxRssBytes: 300 },
          { seconds: 4, maxRssBytes: 500 },
          { seconds: 6, maxRssBytes: 400 },
        ],
        baseline: [
          { seconds: 2, maxRssBytes: 900 },
          { seconds: 3, maxRssBytes: 800 },
          { seconds: 1, maxRssBytes: 700 },
        ],
      },
    );
    expect(r.oursMedianSeconds).toBe(5);
    expect(r.baselineMedianSeconds).toBe(2);
    expect(r.ratio).toBe(0.4);
    expect(r.oursPeakRssBytes).toBe(500);
    expect(r.baselinePeakRssBytes).toBe(900);
    expect(r.name).toBe('etl-jsonl');
  });
});

describe('targetMet', () => {
  it('holds a throughput ratio to a lower bound and a growth factor to an upper bound, both inclusive', () => {
    expect(targetMet({ ratio: 0.8, target: 0.8 })).toBe(true);
    expect(targetMet({ ratio: 0.79, target: 0.8 })).toBe(false);
    expect(targetMet({ ratio: 1.5, target: 1.5, targetBound: 'atMost' })).toBe(true);
    expect(targetMet({ ratio: 1.51, target: 1.5, targetBound: 'atMost' })).toBe(false);
  });
});

describe('renderResultsTable', () => {
  it('writes one row per result sorted by name, with throughput, ratio, target and whether it is met', () => {
    // Small rates keep a decimal; large ones are whole numbers with thousands separators.
    const text = renderResultsTable([
      result('etl-jsonl', 0.25, {
        throughput: { unit: 'rows/s', ours: 250_000, baseline: 1_000_000 },
        summary: '406.2 MB of JSON',
        command: 'BENCH_ROWS=1000000 npm run bench -- etl',
        loadAverage: { before: 0.5, after: 1.25 },
      }),
      result('api', 0.75, { throughput: { unit: 'req/s', ours: 9.6, baseline: 943.2 } }),
    ]);
    const lines = text.split('\n');
    expect(lines[2]).toBe(
      '| api | 1,000,000 | 9.6 req/s | 943 req/s | 0.75× | ≥ 0.5× | yes | 512 MiB | 2.00 GiB | n/a | 2026-01-02 03:04 |',
    );
    expect(lines[3]).toBe(
      '| etl-jsonl | 1,000,000 | 250,000 rows/s | 1,000,000 rows/s | 0.25× | ≥ 0.5× | **no** | 512 MiB | 2.00 GiB | 0.50 → 1.25 | 2026-01-02 03:04 |',
    );
    expect(text).toContain(
      [
        '- **etl-jsonl**: 406.2 MB of JSON',
        '  Baseline: DuckDB COPY.',
        '  Command: `BENCH_ROWS=1000000 npm run bench -- etl`; machine: 2 cores (Test CPU), 8 GiB, Node v20.0.0, linux-x64.',
      ].join('\n'),
    );
  });

  it('shows median seconds for a result without a throughput', () => {
    expect(renderResultsTable([result('memory', 1)]).split('\n')[2]).toBe(
      '| memory | 1,000,000 | 4.000 s | 4.000 s | 1.00× | ≥ 0.5× | yes | 512 MiB | 2.00 GiB | n/a | 2026-01-02 03:04 |',
    );
  });

  it("shows a result's own cells and an upper-bound target, met when the ratio is at most the target", () => {
    const memory = (ratio: number): BenchRecord =>
      result('memory', ratio, {
        target: 1.5,
        targetBound: 'atMost',
        cells: { ours: '226 MiB → 240 MiB', baseline: '107 MiB → 108 MiB' },
      });
    expect(renderResultsTable([memory(1.062)]).split('\n')[2]).toBe(
      '| memory | 1,000,000 | 226 MiB → 240 MiB | 107 MiB → 108 MiB | 1.06× | ≤ 1.5× | yes | 512 MiB | 2.00 GiB | n/a | 2026-01-02 03:04 |',
    );
    expect(renderResultsTable([memory(1.9)]).split('\n')[2]).toContain('| 1.90× | ≤ 1.5× | **no** |');
  });

  it('says so when there are no results', () => {
    expect(renderResultsTable([])).toBe('_No results yet: run `npm run bench`._');
  });
});

describe('spliceResults', () => {
  const doc = [
    '# Results',
    '',
    'Intro by hand.',
    RESULTS_START,
    'old table',
    RESULTS_END,
    '',
    '## Notes',
    'Kept.',
    '',
  ].join('\n');

  it('replaces only what lies between the markers, keeping the notes around them byte for byte', () => {
    expect(spliceResults(doc, 'new table')).toBe(
      ['# Results', '', 'Intro by hand.', RESULTS_START, 'new table', RESULTS_END, '', '## Notes', 'Kept.', ''].join(
        '\n',
      ),
    );
  });

  it('gives the same document when spliced twice with the same table', () => {
    const once = spliceResults(doc, 'table');
    expect(spliceResults(once, 'table')).toBe(once);
  });

  it('appends the markers and the table to a document without markers', () => {
    expect(spliceResults('# Results\n', 'table')).toBe(`# Results\n\n${RESULTS_START}\ntable\n${RESULTS_END}\n`);
  });

  it('refuses a document with only one marker, or the end before the start', () => {
    const message = `the results markers must appear once each, ${RESULTS_START} before ${RESULTS_END}`;
    expect(() => spliceResults(`x\n${RESULTS_START}\ny`, 'table')).toThrow(message);
    expect(() => spliceResults(`${RESULTS_END}\n${RESULTS_START}`, 'table')).toThrow(message);
    expect(() => spliceResults(`${RESULTS_START}${RESULTS_END}${RESULTS_END}`, 'table')).toThrow(message);
  });
});
