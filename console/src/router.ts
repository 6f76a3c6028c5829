/** Hash routes of the console: the server serves one page, so every view lives after `#`. */
export type Route =
  | { page: 'login' }
  | { page: 'datasets'; search: string }
  | { page: 'dataset'; name: string }
  | { page: 'export'; name: string }
  | { page: 'job'; id: string }
  | { page: 'exports' }
  | { page: 'pipeline' }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const [pathPart = '', queryPart = ''] = hash.replace(/^#/, '').split('?', 2);
  const query = new URLSearchParams(queryPart);
  let parts: string[];
  try {
    parts = pathPart
      .split('/')
      .filter((p) => p !== '')
      .map((p) => decodeURIComponent(p));
  } catch {
    // A malformed escape (`%E0%A4%A`): a page that does not exist, not an exception that freezes the console.
    return { page: 'not-found', path: pathPart };
  }
  const [first, second, third] = parts;
  if (parts.length === 0) return { page: 'datasets', search: '' };
  // No text from the link is shown on the sign-in page (a crafted `?reason=` would put any sentence there).
  if (first === 'login' && parts.length === 1) return { page: 'login' };
  if (first === 'datasets' && parts.length === 1) return { page: 'datasets', search: query.get('q') ?? '' };
  if (first === 'datasets' && second !== undefined && parts.length === 2) return { page: 'dataset', name: second };
  if (first === 'datasets' && second !== undefined && third === 'export' && parts.length === 3) {
    return { page: 'export', name: second };
  }
  if (first === 'exports' && parts.length === 1) return { page: 'exports' };
  if (first === 'exports' && second !== undefined && parts.length === 2) return { page: 'job', id: second };
  if (first === 'pipeline' && parts.length === 1) return { page: 'pipeline' };
  return { page: 'not-found', path: pathPart };
}

export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
