/**
 * The API key the user pasted, kept in sessionStorage: it lives as long as the tab, is never sent anywhere but
 * this origin's `/graphql` (as `Authorization: Bearer`), and never goes into a URL.
 */
const KEY = 'careplus.apiKey';
/** Prefix of what GraphiQL keeps in its storage (its default storage namespace). */
const GRAPHIQL_STORAGE_PREFIX = 'graphiql:';

/**
 * Removes the GraphQL page's editor state (tabs, queries, variables and history: values a user filtered on) from
 * both storages: sessionStorage, where the page keeps it, and localStorage, where GraphiQL's default (and an earlier
 * console) kept it for whoever used the browser next.
 */
function forgetGraphiql(): void {
  for (const storage of [sessionStorage, localStorage]) {
    for (const name of Object.keys(storage)) {
      if (name.startsWith(GRAPHIQL_STORAGE_PREFIX)) storage.removeItem(name);
    }
  }
}

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(key: string): void {
    // Whatever a previous sign-in left (a tab closed without signing out) is not the new user's.
    forgetGraphiql();
    sessionStorage.setItem(KEY, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
    // The next person to sign in on this browser was shown the previous one's queries and variables.
    forgetGraphiql();
  },
  /**
   * Where the GraphQL page keeps its editor state: sessionStorage, which ends with the tab as the key does. In
   * localStorage (GraphiQL's default) a tab closed without signing out left its queries and history to the next
   * person who signed in on the browser.
   */
  graphiqlStorage(): Storage {
    return sessionStorage;
  },
  /** The key as shown on screen: its prefix and id part only. */
  label(): string {
    const key = this.key() ?? '';
    return key.length > 12 ? `${key.slice(0, 12)}…` : key;
  },
};
