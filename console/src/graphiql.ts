import { GraphiQL } from 'graphiql';
// esbuild emits it as assets/graphiql.css beside the bundle.
import 'graphiql/graphiql.css';
import { type ComponentProps, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GRAPHQL_URL } from './api.js';
import { h, replace } from './dom.js';
import { renderHeader } from './chrome.js';
import { loadMe, type Me } from './me.js';
import { session } from './session.js';

/**
 * The console's GraphQL page: GraphiQL, bundled with the console (no CDN), sending the key the user signed in with.
 * It opens only for roles allowed to use it (`/console/api/graphiql-access`); the API still applies the policy to
 * every query it runs.
 */
const root = document.getElementById('graphiql') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;

/** The console's header, for the caller once known: the links their role may follow, who is signed in, sign out. */
function header(me: Me | undefined): void {
  renderHeader(nav, account, 'graphiql', me, () => location.assign('/console/#/login'));
}

function refuse(title: string, message: string): void {
  replace(
    root,
    h(
      'div',
      { class: 'card narrow', role: 'alert' },
      h('h1', {}, title),
      h('p', {}, message),
      h(
        'p',
        {},
        h('a', { href: '/console/#/login' }, 'Sign in'),
        ' · ',
        h('a', { href: '/console/' }, 'Back to the console'),
      ),
    ),
  );
}

async function start(): Promise<void> {
  const key = session.key();
  if (key === null) {
    refuse('Sign in first', 'The GraphQL page uses the API key you sign in with in the console.');
    return;
  }
  header(undefined);
  // An unaccepted key signs out (the console's API client does so) and is refused below.
  loadMe().then(header, () => header(undefined));
  const headers = { authorization: `Bearer ${key}` };
  const access = await fetch('/console/api/graphiql-access', { headers });
  if (access.status === 401) {
    session.signOut();
    header(undefined);
    refuse('Sign in again', 'The API did not accept your key.');
    return;
  }
  const answer = (await access.json()) as { allowed?: boolean };
  if (access.status !== 200 || answer.allowed !== true) {
    refuse('Not available for your role', 'Your role may not use the GraphQL page. Ask an administrator.');
    return;
  }
  // Plain HTTP (no subscriptions): queries and mutations, as any client sends them.
  const fetcher: ComponentProps<typeof GraphiQL>['fetcher'] = async (params) => {
    const response = await fetch(GRAPHQL_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(params),
    });
    return response.json();
  };
  root.replaceChildren();
  createRoot(root).render(
    createElement(GraphiQL, {
      fetcher,
      defaultQuery: '{\n  datasets(first: 10) {\n    totalCount\n    nodes { name rowCount }\n  }\n}\n',
      shouldPersistHeaders: false,
      storage: session.graphiqlStorage(),
    }),
  );
}

start().catch((err: unknown) =>
  refuse('The GraphQL page failed to start', err instanceof Error ? err.message : String(err)),
);
