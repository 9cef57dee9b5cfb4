import { describe, expect, it } from 'vitest';
import { hrefOf, matchRoute, safeNext, type Route } from './routes.ts';

const SWEEP = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
const TRIAL = '0c0a6c3b-8a43-4d59-9a41-6f1c1f2e7f10';

describe('routes', () => {
  it.each<[string, string, Route]>([
    ['/', '', { page: 'sweeps', project: null }],
    ['/sweeps', '', { page: 'sweeps', project: null }],
    ['/sweeps/', '', { page: 'sweeps', project: null }],
    ['/', '?project=vision', { page: 'sweeps', project: 'vision' }],
    ['/sweeps', '?project=vision&other=1', { page: 'sweeps', project: 'vision' }],
    ['/', '?project=', { page: 'sweeps', project: null }],
    ['/sweeps/new', '', { page: 'new-sweep' }],
    [`/sweeps/${SWEEP}`, '', { page: 'sweep', sweepId: SWEEP }],
    [`/sweeps/${SWEEP}/trials/${TRIAL}`, '', { page: 'trial', sweepId: SWEEP, trialId: TRIAL }],
    ['/cluster', '', { page: 'cluster' }],
    ['/datasets', '', { page: 'datasets' }],
    ['/access', '', { page: 'access' }],
    ['/access/', '', { page: 'access' }],
    ['/playground', `?sweep=${SWEEP}`, { page: 'playground', sweepId: SWEEP, trialId: null }],
    ['/login', '?next=%2Fcluster', { page: 'login', next: '/cluster' }],
    ['/nope', '', { page: 'not-found', path: '/nope' }],
  ])('%s%s', (path, search, route) => {
    expect(matchRoute(path, search)).toEqual(route);
  });

  it('round-trips every route through its href', () => {
    const routes: Route[] = [
      { page: 'sweeps', project: null },
      { page: 'sweeps', project: 'vision' },
      { page: 'sweeps', project: 'a b&c' },
      { page: 'new-sweep' },
      { page: 'sweep', sweepId: SWEEP },
      { page: 'trial', sweepId: SWEEP, trialId: TRIAL },
      { page: 'cluster' },
      { page: 'datasets' },
      { page: 'access' },
      { page: 'playground', sweepId: SWEEP, trialId: TRIAL },
      { page: 'login', next: `/sweeps/${SWEEP}` },
    ];
    for (const r of routes) {
      const url = new URL(hrefOf(r), 'http://x');
      expect(matchRoute(url.pathname, url.search)).toEqual(r);
    }
  });

  it('keeps the sweeps list’s project filter in the query', () => {
    expect(hrefOf({ page: 'sweeps', project: null })).toBe('/');
    expect(hrefOf({ page: 'sweeps', project: 'vision' })).toBe('/?project=vision');
  });

  it('follows only same-origin paths after login', () => {
    expect(safeNext('/sweeps')).toBe('/sweeps');
    expect(safeNext('//evil.example')).toBeNull();
    expect(safeNext('https://evil.example')).toBeNull();
    expect(safeNext('/\\evil.example')).toBeNull();
    expect(matchRoute('/login', '?next=%2F%2Fevil')).toEqual({ page: 'login', next: null });
  });

  it('treats a malformed escape as not found', () => {
    expect(matchRoute('/sweeps/%E0%A4%A').page).toBe('not-found');
  });
});
