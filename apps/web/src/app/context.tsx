// App-wide state: the current route (History API), the token and the API client. A 401 from any
// request clears the token and returns to the login page, remembering where the user was.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { HypersweepClient } from '@hypersweep/client';
import { hrefOf, matchRoute, type Route } from '../lib/routes.ts';
import { loadToken, saveToken } from './auth.ts';

interface AppState {
  readonly route: Route;
  readonly navigate: (href: string, options?: { replace?: boolean }) => void;
  readonly token: string | null;
  readonly signIn: (token: string) => void;
  readonly signOut: () => void;
  readonly api: HypersweepClient;
}

const AppContext = createContext<AppState | null>(null);

function currentRoute(): Route {
  return matchRoute(window.location.pathname, window.location.search);
}

export function AppProvider({ children }: { children: ReactNode }) {
  const [route, setRoute] = useState<Route>(currentRoute);
  const [token, setToken] = useState<string | null>(loadToken);
  const tokenRef = useRef(token);
  tokenRef.current = token;

  const navigate = useCallback((href: string, options: { replace?: boolean } = {}) => {
    if (options.replace) window.history.replaceState(null, '', href);
    else window.history.pushState(null, '', href);
    setRoute(currentRoute());
    window.scrollTo(0, 0);
  }, []);

  useEffect(() => {
    const onPop = () => setRoute(currentRoute());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const signOut = useCallback(() => {
    saveToken(null);
    setToken(null);
  }, []);

  const api = useMemo(
    () =>
      new HypersweepClient({
        // The API serves the dashboard: same origin.
        baseUrl: '',
        token: () => tokenRef.current,
        onUnauthorized: () => {
          saveToken(null);
          setToken(null);
        },
      }),
    [],
  );

  const signIn = useCallback((t: string) => {
    saveToken(t);
    tokenRef.current = t;
    setToken(t);
  }, []);

  // Signed out (or a 401): show the login page, keeping the page to return to.
  useEffect(() => {
    if (!token && route.page !== 'login') {
      const here = window.location.pathname + window.location.search;
      navigate(hrefOf({ page: 'login', next: here === '/' ? null : here }), { replace: true });
    }
  }, [token, route.page, navigate]);

  const value = useMemo(() => ({ route, navigate, token, signIn, signOut, api }), [route, navigate, token, signIn, signOut, api]);
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}

export function useApp(): AppState {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside AppProvider');
  return ctx;
}
