import { gql } from './api.js';
import { h, replace } from './dom.js';
import { ConsoleDatasetsDocument, type ConsoleDatasetsQuery } from '../../src/generated/graphql.js';
import { loadMe, mayExport } from './me.js';
import { formatBytes, formatCount, formatCountOf, formatTime } from './format.js';
import { datasetHref, errorBox, exportFormHref, link, loading, type Page, pageHeader, pagedTable } from './ui.js';

type DatasetRow = ConsoleDatasetsQuery['datasets']['nodes'][number];

/** How long typing pauses before the list is searched again, in ms. */
const SEARCH_DELAY_MS = 250;
/** Datasets per page: "Show more datasets" adds the next (the list stopped at the first 100 with no way on). */
const DATASETS_SHOWN = 50;

/** The datasets the caller may see, searchable by name, description or column name. */
export function renderDatasets(main: HTMLElement, initialSearch: string, signal: AbortSignal): void {
  const search = h('input', {
    id: 'dataset-search',
    type: 'search',
    name: 'q',
    value: initialSearch,
    autocomplete: 'off',
    placeholder: 'name, description or column',
  });
  const results = h('div', { 'aria-live': 'polite', 'aria-busy': 'false' });
  const form = h(
    'form',
    { class: 'search', role: 'search' },
    h('label', { for: 'dataset-search' }, 'Search datasets'),
    search,
  );
  replace(main, pageHeader('Datasets'), form, results);

  let timer: number | undefined;
  let current: AbortController | undefined;
  const load = (): void => {
    current?.abort();
    const request = new AbortController();
    current = request;
    signal.addEventListener('abort', () => request.abort(), { once: true });
    const term = search.value.trim();
    // Keep the search in the address, so reload and back restore it without adding history entries.
    history.replaceState(null, '', term === '' ? '#/datasets' : `#/datasets?q=${encodeURIComponent(term)}`);
    results.setAttribute('aria-busy', 'true');
    replace(results, loading('datasets'));
    // The caller is known before the table decides whether to offer exports (a failed read offers none).
    Promise.all([
      gql(ConsoleDatasetsDocument, { search: term === '' ? null : term, first: DATASETS_SHOWN }, request.signal),
      loadMe().catch(() => undefined),
    ])
      .then(([data]) => {
        results.setAttribute('aria-busy', 'false');
        replace(results, datasetTable(data.datasets, term, request.signal));
      })
      .catch((err: unknown) => {
        if (request.signal.aborted) return;
        results.setAttribute('aria-busy', 'false');
        replace(results, errorBox(err, 'Could not load the datasets'));
      });
  };
  search.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(load, SEARCH_DELAY_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    load();
  });
  signal.addEventListener('abort', () => window.clearTimeout(timer), { once: true });
  load();
}

function datasetTable(first: Page<DatasetRow>, term: string, signal: AbortSignal): HTMLElement[] {
  const search = term === '' ? null : term;
  return pagedTable({
    noun: 'dataset',
    caption: (shown, total) => {
      const count = formatCountOf(total, 'dataset');
      const of = total > shown ? `First ${formatCount(shown)} of ${count}` : count;
      return term === '' ? of : `${of} matching “${term}”`;
    },
    columns: [
      {
        header: 'Dataset',
        cell: (d) => [
          link(datasetHref(d.name), d.name, { class: 'strong' }),
          h('div', { class: 'muted small' }, d.description),
        ],
      },
      { header: 'Rows', cell: (d) => formatCount(d.rowCount), numeric: true },
      { header: 'Size', cell: (d) => formatBytes(d.sizeBytes), numeric: true },
      { header: 'Files', cell: (d) => formatCount(d.fileCount), numeric: true },
      { header: 'Columns', cell: (d) => columnSummary(d), numeric: true },
      { header: 'Last updated', cell: (d) => formatTime(d.lastUpdated) },
      {
        header: 'Export',
        cell: (d) =>
          mayExport() ? link(exportFormHref(d.name), 'Export…', { 'aria-label': `Export ${d.name}` }) : '—',
      },
    ],
    first,
    next: async (after, pageSignal) =>
      (await gql(ConsoleDatasetsDocument, { search, first: DATASETS_SHOWN, after }, pageSignal)).datasets,
    signal,
    rowAttrs: (d) => ({ 'data-dataset': d.name }),
  });
}

function columnSummary(d: DatasetRow): string {
  const pii = d.columns.filter((c) => c.pii).length;
  return pii > 0 ? `${d.columns.length} (${pii} PII)` : String(d.columns.length);
}
