import { gql } from './api.js';
import { h, replace } from './dom.js';
import { ConsoleExportsDocument, type ConsoleExportsQuery } from '../../src/generated/graphql.js';
import { refusedExport } from './me.js';
import { formatBytes, formatCount, formatTime } from './format.js';
import { datasetHref, errorBox, jobHref, link, loading, pageHeader, statusBadge, table } from './ui.js';

type Job = ConsoleExportsQuery['exports']['nodes'][number];

const PAGE_SIZE = 25;

/** The caller's export history, newest first, a page at a time. */
export async function renderExports(main: HTMLElement, signal: AbortSignal): Promise<void> {
  replace(main, pageHeader('My exports'), loading('your exports'));
  if (await refusedExport(main, signal)) return;
  const jobs: Job[] = [];
  const holder = h('div', {});
  const more = h('button', { type: 'button' }, 'Load more');
  let after: string | null = null;
  let total = 0;
  const loadPage = async (): Promise<void> => {
    const page = (await gql(ConsoleExportsDocument, { first: PAGE_SIZE, after }, signal)).exports;
    jobs.push(...page.nodes);
    total = page.totalCount;
    after = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
    replace(holder, historyTable(jobs, total));
  };
  more.addEventListener('click', () => {
    more.disabled = true;
    loadPage()
      .catch((err: unknown) => {
        if (!signal.aborted) holder.append(errorBox(err, 'Could not load more exports'));
      })
      .finally(() => (more.disabled = false));
  });
  try {
    await loadPage();
  } catch (err) {
    if (signal.aborted) return;
    replace(main, pageHeader('My exports'), errorBox(err, 'Could not load your exports'));
    return;
  }
  if (signal.aborted) return;
  replace(main, pageHeader('My exports'), holder, more);
}

function historyTable(jobs: readonly Job[], total: number): HTMLElement {
  return table(
    `${formatCount(total)} export${total === 1 ? '' : 's'}, newest first`,
    [
      { header: 'Requested', cell: (j) => link(jobHref(j.id), formatTime(j.createdAt)) },
      { header: 'Dataset', cell: (j) => link(datasetHref(j.dataset), j.dataset) },
      { header: 'Status', cell: (j) => statusBadge(j.status) },
      { header: 'Filters', cell: (j) => describeFilters(j) },
      { header: 'Rows', cell: (j) => formatCount(j.result?.rowCount ?? j.progress.rowsWritten), numeric: true },
      { header: 'Size', cell: (j) => (j.result === null ? '—' : formatBytes(j.result.bytes)), numeric: true },
      {
        header: 'File',
        cell: (j) =>
          j.status === 'SUCCEEDED'
            ? (j.result?.files ?? []).map((f) =>
                f.url === null ? null : h('a', { href: f.url, download: f.name }, f.name),
              )
            : '—',
      },
    ],
    jobs,
    (j) => ({ 'data-job': j.id }),
  );
}

function describeFilters(job: Job): string {
  const where = job.request.where;
  if (where.length === 0) return 'all rows';
  return where.map((p) => `${p.column} ${p.op} ${p.values.map((v) => String(v)).join(', ')}`.trim()).join('; ');
}
