import { gql } from './api.js';
import { ConsoleMeDocument, type ConsoleMeQuery } from '../../src/generated/graphql.js';
import { session } from './session.js';

export type Me = ConsoleMeQuery['me'];

/**
 * Who the signed-in key belongs to, read once per key: its role and capabilities decide which links the console
 * offers (the API enforces them regardless).
 */
let cached: { key: string; me: Promise<Me> } | undefined;
let resolved: Me | undefined;

export function loadMe(): Promise<Me> {
  const key = session.key() ?? '';
  if (cached?.key !== key) {
    resolved = undefined;
    const me = gql(ConsoleMeDocument, {}).then((data) => {
      resolved = data.me;
      return data.me;
    });
    // A failed read is not kept: the next page tries again.
    me.catch(() => {
      if (cached?.me === me) cached = undefined;
    });
    cached = { key, me };
  }
  return cached.me;
}

/** The caller once known; undefined before the first answer. */
export function currentMe(): Me | undefined {
  return resolved;
}

export function forgetMe(): void {
  cached = undefined;
  resolved = undefined;
}

/** Whether the role may export; true while unknown (the API refuses anyway). */
export function mayExport(): boolean {
  return resolved?.capabilities.canExport ?? true;
}
