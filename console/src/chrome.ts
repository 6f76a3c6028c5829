import { h, replace } from './dom.js';
import { forgetMe, type Me } from './me.js';
import type { Route } from './router.js';
import { session } from './session.js';

type Capability = keyof Me['capabilities'];

/** The page a header is drawn for: a console route, or the GraphQL page beside the console. */
export type CurrentPage = Route['page'] | 'graphiql';

/**
 * The header's links: target, label, the pages it is current on and the capability it needs (null: every role).
 * The console's own pages are hash routes (the console's links stay in its page); the GraphQL page is a page of its
 * own, whose links lead back into the console.
 */
const NAV: [string, string, CurrentPage[], Capability | null][] = [
  ['#/datasets', 'Datasets', ['datasets', 'dataset', 'export'], null],
  ['#/exports', 'My exports', ['exports', 'job'], 'canExport'],
  ['#/pipeline', 'Pipeline', ['pipeline'], 'canSeePipeline'],
  ['/console/graphiql', 'GraphQL', ['graphiql'], 'canUseGraphiql'],
];

/**
 * The header of every console page, the console's and the GraphQL page's alike: the links the caller's role may
 * follow (until the caller is known, only those every role may), who is signed in, and "Sign out".
 */
export function renderHeader(
  nav: HTMLElement,
  account: HTMLElement,
  current: CurrentPage,
  me: Me | undefined,
  signOut: () => void,
): void {
  const signedIn = session.key() !== null;
  const allowed = (needs: Capability | null): boolean => needs === null || me?.capabilities[needs] === true;
  replace(
    nav,
    signedIn
      ? h(
          'ul',
          {},
          NAV.filter(([, , , needs]) => allowed(needs)).map(([target, label, pages]) => {
            const href = target.startsWith('#') && current === 'graphiql' ? `/console/${target}` : target;
            return h('li', {}, h('a', { href, 'aria-current': pages.includes(current) ? 'page' : undefined }, label));
          }),
        )
      : null,
  );
  replace(
    account,
    signedIn
      ? [
          h(
            'span',
            { class: 'muted', id: 'signed-in-as' },
            me === undefined
              ? ['Key ', h('code', {}, session.label())]
              : [me.name, ' · ', h('span', { class: 'role' }, me.role)],
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'link',
              onclick: () => {
                session.signOut();
                forgetMe();
                signOut();
              },
            },
            'Sign out',
          ),
        ]
      : null,
  );
}
