// The cluster: workers from their heartbeats (threads, current trial, samples/s). Heartbeats have
// no event stream, so the view refreshes every few seconds while the tab is visible.
import { useEffect } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import { ErrorBanner, Link, Loading } from '../components/ui.tsx';

const REFRESH_MS = 5000;

export function ClusterPage() {
  const { api } = useApp();
  const cluster = useAsync((signal) => api.getCluster({ signal }), [api]);
  const { reload } = cluster;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  const view = cluster.data;
  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Cluster</h1>
        <button type="button" onClick={reload} data-testid="cluster-refresh">
          Refresh
        </button>
      </div>
      <ErrorBanner error={cluster.error} onRetry={reload} />
      {!view ? <Loading what="workers" /> : null}
      {view ? (
        <>
          <dl className="totals" data-testid="cluster-totals">
            <div><dt>workers</dt><dd>{view.totals.alive}/{view.totals.workers} alive</dd></div>
            <div><dt>busy</dt><dd>{view.totals.busy}</dd></div>
            <div><dt>threads</dt><dd>{view.totals.threads}</dd></div>
            <div><dt>samples/s</dt><dd>{Math.round(view.totals.samplesPerSecond).toLocaleString()}</dd></div>
          </dl>
          {view.workers.length === 0 ? (
            <p className="empty" data-testid="cluster-empty">No worker has reported. Start one with <code>npm run -w @hypersweep/worker start</code>.</p>
          ) : (
            <div className="table-scroll">
              <table data-testid="workers-table">
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Host</th>
                    <th scope="col">State</th>
                    <th scope="col">Threads</th>
                    <th scope="col">Trainables</th>
                    <th scope="col">Current trial</th>
                    <th scope="col">Samples/s</th>
                    <th scope="col">Memory</th>
                    <th scope="col">Last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {view.workers.map((w) => (
                    <tr key={w.workerId} data-testid="worker-row" data-worker-id={w.workerId} data-alive={w.alive}>
                      <td>{w.workerId}</td>
                      <td>
                        {w.host} <small>pid {w.pid}</small>
                      </td>
                      <td>{w.alive ? (w.currentTrial ? 'busy' : 'idle') : 'lost'}</td>
                      <td className="num">{w.threads}</td>
                      <td data-testid="worker-trainables">{w.trainables && w.trainables.length > 0 ? w.trainables.join(', ') : '—'}</td>
                      <td>
                        {w.currentTrial ? (
                          <Link href={`/sweeps/${w.currentTrial.sweepId}/trials/${w.currentTrial.trialId}`}>
                            epoch {w.currentTrial.epoch} (attempt {w.currentTrial.attempt})
                          </Link>
                        ) : (
                          '—'
                        )}
                      </td>
                      <td className="num">{Math.round(w.samplesPerSecond).toLocaleString()}</td>
                      <td className="num" data-testid="worker-memory" title={w.memory ? `heap ${formatMiB(w.memory.heapUsedBytes)}` : undefined}>
                        {w.memory ? formatMiB(w.memory.rssBytes) : '—'}
                      </td>
                      <td>
                        <time dateTime={w.at}>{new Date(w.at).toLocaleTimeString()}</time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : null}
    </main>
  );
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20).toLocaleString()} MiB`;
}
