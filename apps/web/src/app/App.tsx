// The shell: skip link, navigation, and the page for the current route.
import { Suspense, lazy } from 'react';
import { AppProvider, useApp } from './context.tsx';
import { Link, Loading } from '../components/ui.tsx';
import { AccessPage } from '../pages/AccessPage.tsx';
import { ClusterPage } from '../pages/ClusterPage.tsx';
import { DatasetsPage } from '../pages/DatasetsPage.tsx';
import { LoginPage } from '../pages/LoginPage.tsx';
import { NewSweepPage } from '../pages/NewSweepPage.tsx';
import { SweepPage } from '../pages/SweepPage.tsx';
import { SweepsPage } from '../pages/SweepsPage.tsx';
import { TrialPage } from '../pages/TrialPage.tsx';
import type { Route } from '../lib/routes.ts';

// The playground carries the training engine (@hypersweep/nn and its WASM kernels): loaded only
// when it is opened, so the other pages start sooner.
const PlaygroundPage = lazy(() => import('../pages/PlaygroundPage.tsx').then((m) => ({ default: m.PlaygroundPage })));

const NAV: readonly { href: string; label: string; pages: readonly Route['page'][]; testId: string }[] = [
  { href: '/', label: 'Sweeps', pages: ['sweeps', 'sweep', 'trial'], testId: 'nav-sweeps' },
  { href: '/sweeps/new', label: 'New sweep', pages: ['new-sweep'], testId: 'nav-new-sweep' },
  { href: '/datasets', label: 'Datasets', pages: ['datasets'], testId: 'nav-datasets' },
  { href: '/cluster', label: 'Cluster', pages: ['cluster'], testId: 'nav-cluster' },
  { href: '/playground', label: 'Playground', pages: ['playground'], testId: 'nav-playground' },
  { href: '/access', label: 'Access', pages: ['access'], testId: 'nav-access' },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'login':
      return <LoginPage next={route.next} />;
    case 'sweeps':
      return <SweepsPage project={route.project} />;
    case 'new-sweep':
      return <NewSweepPage />;
    case 'sweep':
      return <SweepPage key={route.sweepId} sweepId={route.sweepId} />;
    case 'trial':
      return <TrialPage key={route.trialId} sweepId={route.sweepId} trialId={route.trialId} />;
    case 'cluster':
      return <ClusterPage />;
    case 'datasets':
      return <DatasetsPage />;
    case 'access':
      return <AccessPage />;
    case 'playground':
      return (
        <Suspense fallback={<main id="main" className="page"><Loading what="the playground" /></main>}>
          <PlaygroundPage sweepId={route.sweepId} trialId={route.trialId} />
        </Suspense>
      );
    case 'not-found':
      return (
        <main id="main" className="page" data-testid="not-found">
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. <Link href="/">Back to the sweeps</Link>.
          </p>
        </main>
      );
  }
}

function Shell() {
  const { route, token, signOut } = useApp();
  if (!token || route.page === 'login') return <LoginPage next={route.page === 'login' ? route.next : null} />;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand">
          Hypersweep
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.pages.includes(route.page) ? 'page' : undefined} data-testid={n.testId}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" className="link-button" onClick={signOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <Page route={route} />
    </>
  );
}

export function App() {
  return (
    <AppProvider>
      <Shell />
    </AppProvider>
  );
}
