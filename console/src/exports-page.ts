import { gql } from './api.js';
import { h, replace } from './dom.js';
import { ConsoleExportsDocument, type ConsoleExportsQuery } from '../../src/generated/graphql.js';
import { refusedExport } from './me.js';
import { formatBytes, formatCount, formatCountOf, formatTime } from './format.js';
import { datasetHref, errorBox, jobHref, link, loading, type Page, pageHeader, pagedTable, statusBadge } from './ui.js';

type Job = ConsoleExportsQuery['exports']['nodes'][number];

const PAGE_SIZE = 25;

/** The caller's export history, newest first, a page at a time. */
export async function renderExports(main: HTMLElement, signal: AbortSignal): Promise<void> {
  replace(main, pageHeader('My exports'), loading('your exports'));
  if (await refusedExport(main, signal)) return;
  const page = async (after: string | null, pageSignal: AbortSignal): Promise<Page<Job>> =>
    (await gql(ConsoleExportsDocument, { first: PAGE_SIZE, after }, pageSignal)).exports;
  let first: Page<Job>;
  try {
    first = await page(null, signal);
  } catch (err) {
    if (signal.aborted) return;
    replace(main, pageHeader('My exports'), errorBox(err, 'Could not load your exports'));
    return;
  }
  if (signal.aborted) return;
  replace(main, pageHeader('My exports'), historyTable(first, page, signal));
}

function historyTable(
  first: Page<Job>,
  next: (after: string | null, signal: AbortSignal) => Promise<Page<Job>>,
  signal: AbortSignal,
): HTMLElement[] {
  return pagedTable({
    noun: 'export',
    caption: (shown, total) =>
      total > shown
        ? `Newest ${formatCount(shown)} of ${formatCountOf(total, 'export')}`
        : `${formatCountOf(total, 'export')}, newest first`,
    columns: [
      // Every row's links say whose they are: a screen reader's list of links showed the same names many times.
      {
        header: 'Requested',
        cell: (j) =>
          link(jobHref(j.id), formatTime(j.createdAt), {
            'aria-label': `Export of ${j.dataset} requested ${formatTime(j.createdAt)}`,
          }),
      },
      { header: 'Dataset', cell: (j) => link(datasetHref(j.dataset), j.dataset) },
      { header: 'Status', cell: (j) => statusBadge(j.status) },
      { header: 'Filters', cell: (j) => describeFilters(j) },
      // A job still going shows the rows so far; one that ended without a result (cancelled, failed, expired) has
      // none to show: the rows it had written before it stopped are in no file.
      {
        header: 'Rows',
        cell: (j) =>
          j.result !== null
            ? formatCount(j.result.rowCount)
            : j.status === 'QUEUED' || j.status === 'RUNNING'
              ? formatCount(j.progress.rowsWritten)
              : '—',
        numeric: true,
      },
      { header: 'Size', cell: (j) => (j.result === null ? '—' : formatBytes(j.result.bytes)), numeric: true },
      {
        header: 'File',
        cell: (j) =>
          j.status === 'SUCCEEDED'
            ? (j.result?.files ?? []).map((f) =>
                f.url === null
                  ? null
                  : h(
                      'a',
                      {
                        href: f.url,
                        download: f.name,
                        'aria-label': `Download ${f.name} of the ${j.dataset} export requested ${formatTime(j.createdAt)}`,
                      },
                      f.name,
                    ),
              )
            : '—',
      },
    ],
    first,
    next,
    signal,
    rowAttrs: (j) => ({ 'data-job': j.id }),
  });
}

/**
 * Which rows the export asked for: its predicates, its partitions and its row limit (an export of one partition, or
 * of its first rows, said "all rows").
 */
function describeFilters(job: Job): string {
  const { where, partitions, limit } = job.request;
  const parts = where.map((p) => `${p.column} ${p.op} ${p.values.map((v) => String(v)).join(', ')}`.trim());
  if (partitions !== null) {
    const bounds = [
      partitions.values !== null ? `in ${partitions.values.map((v) => String(v)).join(', ')}` : null,
      partitions.from !== null ? `from ${String(partitions.from)}` : null,
      partitions.to !== null ? `to ${String(partitions.to)}` : null,
    ].filter((b) => b !== null);
    parts.push(`partitions ${partitions.column} ${bounds.join(' ')}`.trim());
  }
  const rows = parts.length === 0 ? 'all rows' : parts.join('; ');
  return limit === null ? rows : `${rows}; at most ${formatCountOf(limit, 'row')}`;
}
