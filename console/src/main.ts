import { setUnauthenticatedHandler } from './api.js';
import { renderDataset } from './dataset-page.js';
import { renderDatasets } from './datasets-page.js';
import { replace } from './dom.js';
import { renderExportForm } from './export-page.js';
import { renderExports } from './exports-page.js';
import { renderJob } from './job-page.js';
import { renderLogin } from './login-page.js';
import { renderHeader } from './chrome.js';
import { currentMe, forgetMe, loadMe, type Me } from './me.js';
import { renderPipeline } from './pipeline-page.js';
import { navigate, parseRoute, type Route } from './router.js';
import { session } from './session.js';
import { errorBox, pageHeader } from './ui.js';

/**
 * The console's shell: a header with navigation and the signed-in key, and one <main> the current route renders
 * into. A route change aborts the previous page's requests and polling, and moves focus to <main> so keyboard and
 * screen-reader users land on the new page.
 */
const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
let current: AbortController | undefined;

/** Why the console signed out, shown once on the sign-in page: kept here, never taken from the link. */
let signOutReason: string | null = null;

setUnauthenticatedHandler(() => {
  session.signOut();
  forgetMe();
  // The API's own message is meant for scripts ("send Authorization: Bearer …"); a person needs to know what to do.
  signOutReason = 'Your key is no longer accepted (it was revoked, or it expired). Sign in with a valid key.';
  if (parseRoute(location.hash).page !== 'login') navigate('#/login');
});

function renderChrome(route: Route, me: Me | undefined): void {
  renderHeader(nav, account, route.page, me, () => navigate('#/login'));
}

function render(): void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  let route = parseRoute(location.hash);
  if (route.page !== 'login' && session.key() === null) {
    history.replaceState(null, '', '#/login');
    route = { page: 'login' };
  }
  renderChrome(route, currentMe());
  const signal = controller.signal;
  if (route.page !== 'login') {
    loadMe()
      .then((me) => {
        if (!signal.aborted) renderChrome(route, me);
      })
      // The page itself shows errors (an unaccepted key signs out through the API client).
      .catch(() => undefined);
  }
  const done = (() => {
    switch (route.page) {
      case 'login':
        renderLogin(main, signOutReason);
        signOutReason = null;
        return Promise.resolve();
      case 'datasets':
        renderDatasets(main, route.search, signal);
        return Promise.resolve();
      case 'dataset':
        return renderDataset(main, route.name, signal);
      case 'export':
        return renderExportForm(main, route.name, signal);
      case 'job':
        return renderJob(main, route.id, signal);
      case 'exports':
        return renderExports(main, signal);
      case 'pipeline':
        return renderPipeline(main, signal);
      case 'not-found':
        replace(main, pageHeader('Not found'), errorBox(new Error(`No page at “${route.path}”.`), 'Not found'));
        return Promise.resolve();
    }
  })();
  document.title = `${document.getElementById('page-title')?.textContent ?? 'Console'} · CarePlus`;
  // Pages render asynchronously and replace their title; <main> stays, so focus goes there (not on login, whose
  // key field takes focus itself).
  if (route.page !== 'login') main.focus();
  done.catch((err: unknown) => {
    if (!signal.aborted) replace(main, pageHeader('Error'), errorBox(err));
  });
}

window.addEventListener('hashchange', render);
// The skip link's `#main` is a route to the hash router (it opened "No page at 'main'"): it moves the focus instead.
document.querySelector<HTMLAnchorElement>('a.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main')?.focus();
});
render();
