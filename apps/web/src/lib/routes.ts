// The dashboard's client-side routes: paths ↔ typed routes. The API serves index.html for any
// non-API path, so each of these URLs can be opened or reloaded directly.
export type Route =
  | { readonly page: 'login'; readonly next: string | null }
  | { readonly page: 'sweeps'; readonly project: string | null }
  | { readonly page: 'new-sweep' }
  | { readonly page: 'sweep'; readonly sweepId: string }
  | { readonly page: 'trial'; readonly sweepId: string; readonly trialId: string }
  | { readonly page: 'cluster' }
  | { readonly page: 'datasets' }
  | { readonly page: 'access' }
  | { readonly page: 'playground'; readonly sweepId: string | null; readonly trialId: string | null }
  | { readonly page: 'not-found'; readonly path: string };

const SEGMENT = '([^/]+)';

const PATTERNS: readonly [RegExp, (m: string[], q: URLSearchParams) => Route][] = [
  [/^\/login$/, (_m, q) => ({ page: 'login', next: safeNext(q.get('next')) })],
  // The list's project filter is in the query, so a filtered list can be linked to and reloaded.
  [/^\/(sweeps)?$/, (_m, q) => ({ page: 'sweeps', project: q.get('project') || null })],
  [/^\/sweeps\/new$/, () => ({ page: 'new-sweep' })],
  [new RegExp(`^/sweeps/${SEGMENT}$`), (m) => ({ page: 'sweep', sweepId: m[1]! })],
  [new RegExp(`^/sweeps/${SEGMENT}/trials/${SEGMENT}$`), (m) => ({ page: 'trial', sweepId: m[1]!, trialId: m[2]! })],
  [/^\/cluster$/, () => ({ page: 'cluster' })],
  [/^\/datasets$/, () => ({ page: 'datasets' })],
  [/^\/access$/, () => ({ page: 'access' })],
  [/^\/playground$/, (_m, q) => ({ page: 'playground', sweepId: q.get('sweep'), trialId: q.get('trial') })],
];

/** Only same-origin paths are followed after login (no open redirect). */
export function safeNext(next: string | null): string | null {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  return next;
}

export function matchRoute(pathname: string, search = ''): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const query = new URLSearchParams(search);
  for (const [re, make] of PATTERNS) {
    const m = re.exec(path);
    if (m) {
      try {
        return make(m.map((s) => (s === undefined ? s : decodeURIComponent(s))), query);
      } catch {
        break; // a malformed %-escape
      }
    }
  }
  return { page: 'not-found', path: pathname };
}

/** The URL of a route. */
export function hrefOf(route: Route): string {
  const enc = encodeURIComponent;
  switch (route.page) {
    case 'login':
      return route.next ? `/login?next=${enc(route.next)}` : '/login';
    case 'sweeps':
      return route.project ? `/?project=${enc(route.project)}` : '/';
    case 'new-sweep':
      return '/sweeps/new';
    case 'sweep':
      return `/sweeps/${enc(route.sweepId)}`;
    case 'trial':
      return `/sweeps/${enc(route.sweepId)}/trials/${enc(route.trialId)}`;
    case 'cluster':
      return '/cluster';
    case 'datasets':
      return '/datasets';
    case 'access':
      return '/access';
    case 'playground': {
      const q = new URLSearchParams();
      if (route.sweepId) q.set('sweep', route.sweepId);
      if (route.trialId) q.set('trial', route.trialId);
      const s = q.toString();
      return s ? `/playground?${s}` : '/playground';
    }
    case 'not-found':
      return route.path;
  }
}
