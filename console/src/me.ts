import { gql } from './api.js';
import { ConsoleMeDocument, type ConsoleMeQuery } from '../../src/generated/graphql.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { pageHeader } from './ui.js';

export type Me = ConsoleMeQuery['me'];

/**
 * Who the signed-in key belongs to, read once per key: its role and capabilities decide which links the console
 * offers (the API enforces them regardless). Until it is known, the console offers only what every role may use.
 */
interface MeEntry {
  key: string;
  me: Promise<Me>;
  /** Set once `me` resolves. */
  known?: Me;
}
let cached: MeEntry | undefined;

export function loadMe(): Promise<Me> {
  const key = session.key() ?? '';
  if (cached?.key !== key) {
    const entry: MeEntry = {
      key,
      me: gql(ConsoleMeDocument, {}).then((data) => data.me),
    };
    entry.me.then(
      (me) => {
        entry.known = me;
      },
      // A failed read is not kept: the next page tries again.
      () => {
        if (cached === entry) cached = undefined;
      },
    );
    cached = entry;
  }
  return cached.me;
}

/** The caller of the signed-in key once known; undefined before the first answer. */
export function currentMe(): Me | undefined {
  return cached?.key === (session.key() ?? '') ? cached.known : undefined;
}

export function forgetMe(): void {
  cached = undefined;
}

/** Whether the role may export; false while unknown (pages wait for `loadMe` before they ask). */
export function mayExport(): boolean {
  return currentMe()?.capabilities.canExport ?? false;
}

/**
 * For pages only an exporting role can use, reached by a link or a typed URL: once the caller is known, shows that
 * the role may not export (rather than a form that fails FORBIDDEN on submit) and answers true. A failed read of
 * the caller answers false: the page goes on and shows the API's own answer.
 */
export function refusedExport(main: HTMLElement, signal: AbortSignal): Promise<boolean> {
  return refusedForRole(main, signal, 'canExport', 'export data');
}

/**
 * The same for any page that needs a capability (`doing`: what the role may not, as "may not …" ends): the pipeline
 * board reached by a typed URL showed the API's FORBIDDEN error instead.
 */
export async function refusedForRole(
  main: HTMLElement,
  signal: AbortSignal,
  capability: keyof Me['capabilities'],
  doing: string,
): Promise<boolean> {
  const me = await loadMe().catch(() => undefined);
  if (me === undefined || me.capabilities[capability] || signal.aborted) return false;
  replace(
    main,
    pageHeader('Not available for your role'),
    h('p', {}, `Your role (${me.role}) may not ${doing}. Ask an administrator for a role that may.`),
  );
  return true;
}
