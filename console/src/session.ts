/**
 * The API key the user pasted, kept in sessionStorage: it lives as long as the tab, is never sent anywhere but
 * this origin's `/graphql` (as `Authorization: Bearer`), and never goes into a URL.
 */
const KEY = 'careplus.apiKey';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
  /** The key as shown on screen: its prefix and id part only. */
  label(): string {
    const key = this.key() ?? '';
    return key.length > 12 ? `${key.slice(0, 12)}…` : key;
  },
};
