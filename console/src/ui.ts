import { ApiError } from './api.js';
import { type Child, h } from './dom.js';
import { formatCount, formatCountOf } from './format.js';

/** Shared page parts: headings, tables, status badges, error and loading messages. */

export function pageHeader(title: string, ...extra: Child[]): HTMLElement {
  return h('header', { class: 'page-header' }, h('h1', { id: 'page-title', tabindex: '-1' }, title), ...extra);
}

export function loading(what: string): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

/** An error box announced to assistive technology; names the API's code when there is one. */
export function errorBox(err: unknown, context?: string): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof ApiError ? err.code : undefined;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, context ?? 'Something went wrong'),
    h('p', {}, message),
    code !== undefined ? h('p', { class: 'muted' }, `Code: ${code}`) : null,
  );
}

export interface Column<T> {
  header: string;
  cell: (row: T) => Child | Child[];
  /** Right-aligned numbers. */
  numeric?: boolean;
}

/** A table with a caption (its accessible name) and column headers; `rowAttrs` tags rows for tests and styling. */
export function table<T>(
  caption: string,
  columns: Column<T>[],
  rows: readonly T[],
  rowAttrs?: (row: T) => Record<string, string>,
): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col', class: c.numeric === true ? 'num' : undefined }, c.header)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length === 0
          ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'Nothing to show.'))
          : rows.map((row) =>
              h(
                'tr',
                rowAttrs?.(row) ?? {},
                columns.map((c) => h('td', { class: c.numeric === true ? 'num' : undefined }, c.cell(row))),
              ),
            ),
      ),
    ),
  );
}

/** One page of a connection, as the API's paged lists answer. */
export interface Page<T> {
  nodes: readonly T[];
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

export interface PagedTableOptions<T> {
  /** What a row is, for the caption, the button and the announcement: "partition" (plural by an added "s"). */
  noun: string;
  columns: Column<T>[];
  first: Page<T>;
  /** The page after `after`. */
  next: (after: string | null, signal: AbortSignal) => Promise<Page<T>>;
  signal: AbortSignal;
  rowAttrs?: (row: T) => Record<string, string>;
  /** The caption for `shown` rows of `total`; by default "First 50 of 120 partitions" or "120 partitions". */
  caption?: (shown: number, total: number) => string;
}

/**
 * A table shown a page at a time: "Show more <noun>" appends the next page's rows below, the caption says how many
 * of how many are shown, and a status line announces each page (and takes the focus once the button is gone).
 */
export function pagedTable<T>(options: PagedTableOptions<T>): HTMLElement[] {
  const { noun, columns, first, signal, rowAttrs } = options;
  const caption =
    options.caption ??
    ((shown: number, total: number): string =>
      total > shown ? `First ${formatCount(shown)} of ${formatCountOf(total, noun)}` : formatCountOf(total, noun));
  const view = table(caption(first.nodes.length, first.totalCount), columns, first.nodes, rowAttrs);
  let shown = first.nodes.length;
  let cursor = first.pageInfo.endCursor ?? null;
  const status = h('p', { role: 'status', class: 'muted', tabindex: '-1' });
  const more = h('button', { type: 'button', class: 'show-more' }, `Show more ${noun}s`);
  more.hidden = !first.pageInfo.hasNextPage;
  more.addEventListener('click', () => {
    more.disabled = true;
    options
      .next(cursor, signal)
      .then((page) => {
        if (signal.aborted) return;
        // Rows built as the first page's were, moved into its table.
        const rows = table('', columns, page.nodes, rowAttrs).querySelectorAll('tbody tr');
        view.querySelector('tbody')?.append(...rows);
        shown += page.nodes.length;
        cursor = page.pageInfo.endCursor ?? null;
        view.querySelector('caption')!.textContent = caption(shown, page.totalCount);
        status.textContent = `${formatCountOf(page.nodes.length, `more ${noun}`)} shown.`;
        more.hidden = !page.pageInfo.hasNextPage;
        more.disabled = false;
        // The button the focus was on is gone once the last page is in: the focus goes to what was said.
        if (more.hidden) status.focus();
      })
      .catch((err: unknown) => {
        if (signal.aborted) return;
        more.disabled = false;
        status.replaceChildren(errorBox(err, `Could not load more ${noun}s`));
      });
  });
  return [view, more, status];
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'neutral';

export function badge(label: string, tone: Tone): HTMLElement {
  return h('span', { class: `badge badge-${tone}` }, label);
}

/** Export job and pipeline statuses as badges. */
export function statusBadge(status: string): HTMLElement {
  const tone: Tone =
    status === 'SUCCEEDED' || status === 'HEALTHY'
      ? 'ok'
      : status === 'FAILED' || status === 'FAILING' || status === 'CANCELLED'
        ? 'bad'
        : status === 'RUNNING' || status === 'QUEUED'
          ? 'info'
          : status === 'STALE' || status === 'DEGRADED' || status === 'EXPIRED'
            ? 'warn'
            : 'neutral';
  return badge(status, tone);
}

/** A definition list of label/value pairs. */
export function facts(pairs: [string, Child | Child[]][]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', {}, value))),
  );
}

export function link(href: string, label: Child, attrs: Record<string, string> = {}): HTMLAnchorElement {
  return h('a', { href, ...attrs }, label);
}

/** Route links keep names safe in the hash. */
export function datasetHref(name: string): string {
  return `#/datasets/${encodeURIComponent(name)}`;
}
export function exportFormHref(name: string): string {
  return `#/datasets/${encodeURIComponent(name)}/export`;
}
export function jobHref(id: string): string {
  return `#/exports/${encodeURIComponent(id)}`;
}
