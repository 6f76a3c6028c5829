import { gql } from './api.js';
import { h, replace } from './dom.js';
import { ConsolePipelineDocument, type ConsolePipelineQuery } from '../../src/generated/graphql.js';
import { refusedForRole } from './me.js';
import { formatCount, formatCountOf, formatDuration, formatTime } from './format.js';
import { badge, datasetHref, errorBox, link, loading, pageHeader, statusBadge, table } from './ui.js';

type Row = ConsolePipelineQuery['pipeline']['datasets'][number];

const WINDOWS: [number, string][] = [
  [24, 'Last 24 hours'],
  [24 * 7, 'Last 7 days'],
  [24 * 30, 'Last 30 days'],
];

/** The pipeline status board: per dataset, its last run, failures, quarantined rows and freshness lag. */
export async function renderPipeline(main: HTMLElement, signal: AbortSignal): Promise<void> {
  if (await refusedForRole(main, signal, 'canSeePipeline', 'see the pipeline status')) return;
  if (signal.aborted) return;
  const select = h(
    'select',
    { id: 'pipeline-window', name: 'window' },
    WINDOWS.map(([hours, label]) => h('option', { value: String(hours) }, label)),
  );
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const board = h('div', { 'aria-live': 'polite' });
  let current: AbortController | undefined;
  const load = (): void => {
    // Only the latest read is shown: an earlier window's answer arriving after it showed that window's runs under
    // the window now chosen.
    current?.abort();
    const request = new AbortController();
    current = request;
    signal.addEventListener('abort', () => request.abort(), { once: true });
    replace(board, loading('the pipeline status'));
    gql(ConsolePipelineDocument, { windowHours: Number(select.value) }, request.signal)
      .then((data) => {
        if (!request.signal.aborted) replace(board, statusBoard(data.pipeline));
      })
      .catch((err: unknown) => {
        if (!request.signal.aborted) replace(board, errorBox(err, 'Could not load the pipeline status'));
      });
  };
  select.addEventListener('change', load);
  refresh.addEventListener('click', load);
  replace(
    main,
    pageHeader('Pipeline status'),
    h(
      'div',
      { class: 'row toolbar' },
      h('div', { class: 'field inline' }, h('label', { for: 'pipeline-window' }, 'Window'), select),
      refresh,
    ),
    board,
  );
  load();
}

function statusBoard(pipeline: ConsolePipelineQuery['pipeline']): HTMLElement {
  return h(
    'div',
    {},
    h(
      'p',
      { class: 'muted' },
      `Runs started from ${formatTime(pipeline.windowStart)} to ${formatTime(pipeline.windowEnd)}.`,
    ),
    table(
      formatCountOf(pipeline.datasets.length, 'dataset'),
      [
        {
          header: 'Dataset',
          // A dataset with no catalog table yet (its runs all failed, or it never ran) has no page to link to.
          cell: (r) =>
            r.freshness === null
              ? h('span', { class: 'strong' }, r.dataset)
              : link(datasetHref(r.dataset), r.dataset, { class: 'strong' }),
        },
        { header: 'Health', cell: (r) => statusBadge(r.health) },
        { header: 'Last run', cell: (r) => lastRun(r) },
        { header: 'Runs', cell: (r) => formatCount(r.runCount), numeric: true },
        {
          header: 'Failures',
          cell: (r) => h('span', { class: r.failureCount > 0 ? 'bad' : undefined }, formatCount(r.failureCount)),
          numeric: true,
        },
        {
          header: 'Quarantined rows',
          cell: (r) => h('span', { 'data-field': 'quarantined' }, formatCount(r.rowsQuarantined)),
          numeric: true,
        },
        { header: 'Freshness lag', cell: (r) => freshness(r) },
      ],
      pipeline.datasets,
      (r) => ({ 'data-dataset': r.dataset }),
    ),
  );
}

function lastRun(r: Row): (HTMLElement | string)[] | string {
  const run = r.lastRun;
  if (run === null) return '—';
  return [
    statusBadge(run.status),
    ` ${formatTime(run.finishedAt ?? run.startedAt)}`,
    h(
      'div',
      { class: 'muted small' },
      `${formatCount(run.rowsWritten)} written, ${formatCount(run.rowsRejected)} rejected`,
    ),
  ];
}

function freshness(r: Row): (HTMLElement | string)[] | string {
  const f = r.freshness;
  if (f === null) return '—';
  return [
    f.stale ? badge('STALE', 'warn') : badge('fresh', 'ok'),
    ` written ${formatDuration(f.writeLagSeconds)} ago`,
    // A dataset without an event-time column (registered data) has no newest event to tell.
    f.eventLagSeconds === null || f.eventLagSeconds === undefined
      ? ''
      : h('div', { class: 'muted small' }, `newest event ${formatDuration(f.eventLagSeconds)} ago`),
  ];
}
