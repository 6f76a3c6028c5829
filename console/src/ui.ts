import { ApiError } from './api.js';
import { type Child, h } from './dom.js';

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
