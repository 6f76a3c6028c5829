import { count, memory, rate } from './format.js';
import { type BenchRecord, targetMet, targetText } from './harness.js';

export const RESULTS_START = '<!-- results:start -->';
export const RESULTS_END = '<!-- results:end -->';

/**
 * The generated part of bench/RESULTS.md: one table row per result (sorted by name), then one line per result
 * with its summary, baseline, command and machine. Pure: the same records give the same text.
 */
export function renderResultsTable(records: readonly BenchRecord[]): string {
  const sorted = [...records].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (sorted.length === 0) return '_No results yet: run `npm run bench`._';
  const header = [
    '| benchmark | rows | ours | baseline | ratio | target | met | ours peak RSS | baseline peak RSS | load (1 min) before → after | date (UTC) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | :---: | --- |',
  ];
  const rows = sorted.map((r) =>
    [
      '',
      ` ${r.name} `,
      ` ${count(r.rows)} `,
      ` ${throughputCell(r, 'ours')} `,
      ` ${throughputCell(r, 'baseline')} `,
      ` ${r.ratio.toFixed(2)}× `,
      ` ${targetText(r)} `,
      ` ${targetMet(r) ? 'yes' : '**no**'} `,
      ` ${memory(r.oursPeakRssBytes)} `,
      ` ${memory(r.baselinePeakRssBytes)} `,
      ` ${r.loadAverage ? `${r.loadAverage.before.toFixed(2)} → ${r.loadAverage.after.toFixed(2)}` : 'n/a'} `,
      ` ${r.date.slice(0, 16).replace('T', ' ')} `,
      '',
    ].join('|'),
  );
  const notes = sorted.map((r) => {
    const parts = [
      `- **${r.name}**: ${r.summary ?? ''}`.trimEnd(),
      `  Baseline: ${r.baseline}.`,
      `  Command: \`${r.command ?? 'unknown'}\`; machine: ${machineText(r.machine)}.`,
    ];
    return parts.join('\n');
  });
  return [...header, ...rows, '', ...notes].join('\n');
}

/** The result's own `cells`, else `throughput` in its unit, else the median seconds. */
function throughputCell(r: BenchRecord, side: 'ours' | 'baseline'): string {
  if (r.cells !== undefined) return r.cells[side];
  if (r.throughput !== undefined) return `${rate(r.throughput[side])} ${r.throughput.unit}`;
  const seconds = side === 'ours' ? r.oursMedianSeconds : r.baselineMedianSeconds;
  return `${seconds.toFixed(3)} s`;
}

function machineText(m: Record<string, string | number>): string {
  return `${m['cores']} cores (${m['cpu']}), ${m['memoryGiB']} GiB, Node ${m['node']}, ${m['platform']}`;
}

/**
 * Replaces what lies between the results markers with `generated`, keeping everything else (hand-written notes)
 * byte for byte. A document without markers gets them appended; one with a single marker, or with the end before
 * the start, is refused rather than guessed at.
 */
export function spliceResults(doc: string, generated: string): string {
  const start = doc.indexOf(RESULTS_START);
  const end = doc.indexOf(RESULTS_END);
  if (start < 0 && end < 0) {
    const sep = doc === '' || doc.endsWith('\n') ? '' : '\n';
    return `${doc}${sep}\n${RESULTS_START}\n${generated}\n${RESULTS_END}\n`;
  }
  if (start < 0 || end < 0 || end < start) {
    throw new Error(`the results markers must appear once each, ${RESULTS_START} before ${RESULTS_END}`);
  }
  if (doc.indexOf(RESULTS_START, start + 1) >= 0 || doc.indexOf(RESULTS_END, end + 1) >= 0) {
    throw new Error(`the results markers must appear once each, ${RESULTS_START} before ${RESULTS_END}`);
  }
  return `${doc.slice(0, start + RESULTS_START.length)}\n${generated}\n${doc.slice(end)}`;
}
