import { gql } from './api.js';
import { h, replace } from './dom.js';
import {
  ConsoleCancelExportDocument,
  ConsoleExportDocument,
  type ExportJobFieldsFragment,
} from '../../src/generated/graphql.js';
import { countOf, formatBytes, formatCount, formatPercent, formatTime } from './format.js';
import { datasetHref, errorBox, facts, link, loading, pageHeader, statusBadge } from './ui.js';

/** How often a running job is read again: the API's documented fallback to the `exportUpdated` subscription. */
export const POLL_MS = 500;

/** How long a job page keeps asking a server that stopped answering (a restart) before it shows the error. */
const RETRY_FOR_MS = 120_000;

/** One export job: live progress while it runs, then its download links, or its error. */
export async function renderJob(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const title = 'Export';
  replace(main, pageHeader(title), loading('the export'));
  const body = h('div', {});
  // Outside `body`, which every poll redraws: a refused cancel stays said (it was wiped within half a second).
  const notice = h('div', { id: 'job-notice' });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'job-announce' });
  let shownStatus: string | undefined;
  let first = true;
  let failingSince: number | undefined;
  for (;;) {
    let job: ExportJobFieldsFragment;
    try {
      job = (await gql(ConsoleExportDocument, { id }, signal)).export;
      failingSince = undefined;
    } catch (err) {
      if (signal.aborted) return;
      // A job being followed outlives a server restart (it is taken over): keep asking for a while, saying so.
      failingSince ??= Date.now();
      if (first || Date.now() - failingSince > RETRY_FOR_MS) {
        replace(main, pageHeader(title), errorBox(err, 'Could not read the export'));
        return;
      }
      live.textContent = 'The server does not answer; trying again';
      await new Promise((resolve) => setTimeout(resolve, POLL_MS * 4));
      continue;
    }
    if (signal.aborted) return;
    if (first) {
      replace(main, pageHeader(`Export of ${job.dataset}`), live, notice, body);
      first = false;
    }
    // Announce status changes only, not every progress tick.
    if (job.status !== shownStatus) {
      live.textContent = `Export ${job.status.toLowerCase()}`;
      shownStatus = job.status;
    }
    // Re-drawn on every read: the element that had the focus (the cancel button) gets it back, or a keyboard user
    // could never press it while the job runs.
    const focused =
      document.activeElement instanceof HTMLElement && body.contains(document.activeElement)
        ? document.activeElement.id
        : '';
    replace(
      body,
      jobView(job, () => void cancel(job.id, notice, signal)),
    );
    if (focused !== '') document.getElementById(focused)?.focus();
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) return;
  }
}

async function cancel(id: string, notice: HTMLElement, signal: AbortSignal): Promise<void> {
  replace(notice);
  try {
    await gql(ConsoleCancelExportDocument, { id }, signal);
  } catch (err) {
    if (!signal.aborted) replace(notice, errorBox(err, 'Could not cancel the export'));
  }
}

function jobView(job: ExportJobFieldsFragment, onCancel: () => void): HTMLElement {
  const running = job.status === 'QUEUED' || job.status === 'RUNNING';
  const p = job.progress;
  return h(
    'div',
    { class: 'job', 'data-status': job.status, 'data-job': job.id },
    facts([
      ['Status', statusBadge(job.status)],
      ['Dataset', link(datasetHref(job.dataset), job.dataset)],
      ['Job', h('code', {}, job.id)],
      ['Requested', formatTime(job.createdAt)],
      ['Finished', formatTime(job.finishedAt)],
    ]),
    running
      ? h(
          'section',
          { 'aria-labelledby': 'progress-h' },
          h('h2', { id: 'progress-h' }, 'Progress'),
          h(
            'progress',
            { id: 'job-progress', max: '1', value: String(p.fraction), 'aria-labelledby': 'progress-h' },
            formatPercent(p.fraction),
          ),
          h(
            'p',
            {},
            `${formatPercent(p.fraction)} — ${
              p.rowsEstimated === null
                ? countOf(p.rowsWritten, 'row')
                : `${formatCount(p.rowsWritten)} of about ${countOf(p.rowsEstimated, 'row')}`
            }, ${formatBytes(p.bytesWritten)} written`,
          ),
          h('button', { type: 'button', id: 'job-cancel', onclick: onCancel }, 'Cancel export'),
        )
      : null,
    job.error !== null ? errorBox(new Error(job.error.message), `The export failed (${job.error.code})`) : null,
    job.status === 'SUCCEEDED' && job.result !== null ? resultView(job.result) : null,
  );
}

function resultView(result: NonNullable<ExportJobFieldsFragment['result']>): HTMLElement {
  return h(
    'section',
    { 'aria-labelledby': 'result-h', class: 'result' },
    h('h2', { id: 'result-h' }, 'Download'),
    h(
      'p',
      {},
      `${countOf(result.rowCount, 'row')}, ${formatBytes(result.bytes)}`,
      result.truncated ? ' — cut off by a row limit' : '',
      '.',
    ),
    h(
      'ul',
      { class: 'downloads' },
      result.files.map((f) =>
        h(
          'li',
          {},
          f.url === null
            ? // A finished job gives no link only when the caller's access no longer covers its result (a column
              // denied or newly masked, a row filter added, the dataset withdrawn since the request).
              h(
                'span',
                {},
                f.name,
                ' (no link: your access to this data changed since the export was requested; request it again)',
              )
            : h('a', { href: f.url, download: f.name, class: 'button primary' }, `Download ${f.name}`),
          h('span', { class: 'muted' }, ` ${countOf(f.rowCount, 'row')}, ${formatBytes(f.bytes)}`),
          f.urlExpiresAt !== null
            ? h('span', { class: 'muted small' }, ` — link valid until ${formatTime(f.urlExpiresAt)}`)
            : null,
        ),
      ),
    ),
    h(
      'p',
      { class: 'help' },
      'Links expire; open this page again for fresh ones.',
      ` Checksum (SHA-256 of the parts list): `,
      h('code', {}, result.sha256),
    ),
  );
}
