/**
 * The API key the user pasted, kept in sessionStorage: it lives as long as the tab, is never sent anywhere but
 * this origin's `/graphql` (as `Authorization: Bearer`), and never goes into a URL.
 */
const KEY = 'careplus.apiKey';
/** Prefix of what GraphiQL keeps in localStorage (its default storage namespace). */
const GRAPHIQL_STORAGE_PREFIX = 'graphiql:';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
    // The GraphQL page's editor keeps its tabs, queries and variables (values a user filtered on) in localStorage,
    // which outlives the tab and the sign-out: the next person to sign in on this browser was shown them.
    for (const name of Object.keys(localStorage)) {
      if (name.startsWith(GRAPHIQL_STORAGE_PREFIX)) localStorage.removeItem(name);
    }
  },
  /** The key as shown on screen: its prefix and id part only. */
  label(): string {
    const key = this.key() ?? '';
    return key.length > 12 ? `${key.slice(0, 12)}…` : key;
  },
};
