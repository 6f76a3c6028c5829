import { gql } from './api.js';
import { h, replace } from './dom.js';
import {
  ConsoleDatasetDocument,
  type ConsoleDatasetQuery,
  type ConsolePartitionPageFragment,
  ConsolePartitionsDocument,
} from '../../src/generated/graphql.js';
import { loadMe, mayExport } from './me.js';
import { formatBytes, formatCount, formatCountOf, formatDuration, formatTime } from './format.js';
import { badge, errorBox, exportFormHref, facts, link, loading, pageHeader, pagedTable, table } from './ui.js';

type Dataset = ConsoleDatasetQuery['dataset'];

/** Partitions listed on the page; the total says how many more there are. */
const PARTITIONS_SHOWN = 50;

/** One dataset: summary, freshness, columns with types, PII flags and statistics, and its partitions. */
export async function renderDataset(main: HTMLElement, name: string, signal: AbortSignal): Promise<void> {
  replace(main, pageHeader(name), loading('the dataset'));
  let dataset: Dataset;
  try {
    // The caller is known before the page decides whether to offer an export (a failed read offers none).
    const [answer] = await Promise.all([
      gql(ConsoleDatasetDocument, { name, partitions: PARTITIONS_SHOWN }, signal),
      loadMe().catch(() => undefined),
    ]);
    dataset = answer.dataset;
  } catch (err) {
    if (signal.aborted) return;
    replace(main, pageHeader(name), errorBox(err, 'Could not load the dataset'));
    return;
  }
  if (signal.aborted) return;
  const d = dataset;
  const f = d.freshness;
  replace(
    main,
    pageHeader(
      d.name,
      h('p', { class: 'lede' }, d.description),
      mayExport()
        ? h('p', {}, link(exportFormHref(d.name), 'Export this dataset…', { class: 'button primary' }))
        : null,
    ),
    h(
      'section',
      { 'aria-labelledby': 'summary-h' },
      h('h2', { id: 'summary-h' }, 'Summary'),
      facts([
        ['Rows', formatCount(d.rowCount)],
        ['Size', formatBytes(d.sizeBytes)],
        [
          'Files',
          d.unreadableFileCount > 0
            ? `${formatCount(d.fileCount)} (${d.unreadableFileCount} unreadable)`
            : formatCount(d.fileCount),
        ],
        ['Schema version', String(d.schemaVersion)],
        ['Origin', d.origin],
        ['Last updated', formatTime(d.lastUpdated)],
        [
          'Partitioned by',
          d.partitionKeys.length === 0
            ? 'not partitioned'
            : d.partitionKeys.map((k) => `${k.name} (${k.typeText})`).join(', '),
        ],
      ]),
    ),
    h(
      'section',
      { 'aria-labelledby': 'freshness-h' },
      h('h2', { id: 'freshness-h' }, 'Freshness'),
      facts([
        ['State', f.stale ? badge('STALE', 'warn') : badge('FRESH', 'ok')],
        [
          'Newest event',
          f.newestEventTime === null
            ? '—'
            : `${formatTime(f.newestEventTime)} (${formatDuration(f.eventLagSeconds)} ago)`,
        ],
        [
          'Newest write',
          f.newestWriteTime === null
            ? '—'
            : `${formatTime(f.newestWriteTime)} (${formatDuration(f.writeLagSeconds)} ago)`,
        ],
        ['Event time column', f.eventTimeColumn ?? '—'],
        [
          'Expected every',
          f.expectedIntervalMinutes === null ? 'not set' : formatDuration(f.expectedIntervalMinutes * 60),
        ],
      ]),
    ),
    h(
      'section',
      { 'aria-labelledby': 'columns-h' },
      h('h2', { id: 'columns-h' }, 'Columns'),
      table(
        d.columns.some((c) => c.stats === null)
          ? `${formatCountOf(d.columns.length, 'column')} (statistics hidden where your access does not include them)`
          : formatCountOf(d.columns.length, 'column'),
        [
          { header: 'Column', cell: (c) => h('code', {}, c.name) },
          { header: 'Type', cell: (c) => c.typeText },
          {
            header: 'Flags',
            cell: (c) => [
              c.pii ? badge('PII', 'warn') : null,
              c.mask !== null ? badge(`masked: ${c.mask.toLowerCase()}`, 'neutral') : null,
              c.partitionKey ? badge('partition key', 'info') : null,
              c.nullable ? null : badge('required', 'neutral'),
            ],
          },
          { header: 'Nulls', cell: (c) => formatCount(c.stats?.nullCount), numeric: true },
          { header: 'Min', cell: (c) => c.stats?.min ?? '—' },
          { header: 'Max', cell: (c) => c.stats?.max ?? '—' },
          { header: 'Description', cell: (c) => c.description },
        ],
        d.columns,
        (c) => ({ 'data-column': c.name }),
      ),
    ),
    partitionsSection(d.name, d.partitions, signal),
  );
}

type PartitionRow = ConsolePartitionPageFragment['nodes'][number];

const PARTITION_COLUMNS = [
  { header: 'Partition', cell: (p: PartitionRow) => h('code', {}, p.name) },
  { header: 'Rows', cell: (p: PartitionRow) => formatCount(p.rowCount), numeric: true },
  { header: 'Size', cell: (p: PartitionRow) => formatBytes(p.sizeBytes), numeric: true },
  { header: 'Files', cell: (p: PartitionRow) => formatCount(p.fileCount), numeric: true },
  { header: 'Last written', cell: (p: PartitionRow) => formatTime(p.lastModified) },
];

/**
 * The partitions, a page at a time: "Show more partitions" adds the next page below (a dataset of a year of days
 * showed its first 50 and no way to the others).
 */
function partitionsSection(name: string, first: ConsolePartitionPageFragment, signal: AbortSignal): HTMLElement {
  const parts = pagedTable({
    noun: 'partition',
    columns: PARTITION_COLUMNS,
    first,
    next: async (after, pageSignal) =>
      (await gql(ConsolePartitionsDocument, { name, first: PARTITIONS_SHOWN, after }, pageSignal)).dataset.partitions,
    signal,
  });
  return h('section', { 'aria-labelledby': 'partitions-h' }, h('h2', { id: 'partitions-h' }, 'Partitions'), parts);
}
