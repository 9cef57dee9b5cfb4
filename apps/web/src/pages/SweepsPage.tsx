// The sweeps list: status, progress, best value and trial counts per state. Live without polling:
// the running sweeps on screen each follow their event stream (a few at a time, since browsers
// allow six connections per origin) and update their row from sweep.updated events.
import { FINISHED_SWEEP_STATUSES, SWEEP_STATUSES, type SweepEvent, type SweepStatus, type SweepSummary } from '@hypersweep/schemas';
import { useCallback, useEffect, useState } from 'react';

import { useApp } from '../app/context.tsx';
import { useSweepEvents } from '../app/hooks.ts';
import { formatValue } from '../lib/chart.ts';
import { ErrorBanner, Link, Loading, Progress, StatusBadge, TrialCountsBar } from '../components/ui.tsx';

/** Event streams the list keeps open at most. */
const MAX_LIVE = 3;
const PAGE = 50;
/** The list needs only sweep.updated; the stream replays the log, so skip parsing the rest. */
const LIST_EVENT_TYPES: ReadonlySet<SweepEvent['type']> = new Set(['sweep.updated']);

function LiveSweep({ sweepId, onEvent }: { sweepId: string; onEvent: (sweepId: string, events: SweepEvent[]) => void }) {
  useSweepEvents(sweepId, (events) => onEvent(sweepId, events), { types: LIST_EVENT_TYPES });
  return null;
}

export function SweepsPage() {
  const { api } = useApp();
  const [sweeps, setSweeps] = useState<SweepSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState<SweepStatus | 'all'>('all');

  const load = useCallback(
    async (from: string | null) => {
      try {
        const page = await api.listSweeps({ limit: PAGE, cursor: from, status: filter === 'all' ? undefined : [filter] });
        setSweeps((s) => (from ? [...s, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setError(null);
      } catch (err) {
        setError(err);
      } finally {
        setLoaded(true);
      }
    },
    [api, filter],
  );
  useEffect(() => {
    setLoaded(false);
    void load(null);
  }, [load]);

  const onEvent = useCallback(
    (sweepId: string, events: SweepEvent[]) => {
      const updates = events.filter((e): e is Extract<SweepEvent, { type: 'sweep.updated' }> => e.type === 'sweep.updated');
      const last = updates[updates.length - 1];
      if (!last) return;
      setSweeps((list) => list.map((s) => (s.id === sweepId ? { ...s, ...last.data, updatedAt: last.at } : s)));
      // A finished sweep gets its test result and finish time from the API once.
      if (FINISHED_SWEEP_STATUSES.has(last.data.status)) {
        api.getSweep(sweepId).then(
          (full) => {
            const { spec: _spec, ...summary } = full;
            setSweeps((list) => list.map((s) => (s.id === sweepId ? summary : s)));
          },
          () => undefined,
        );
      }
    },
    [api],
  );

  // A paused sweep is followed too: it is resumed from another tab or the CLI.
  const live = sweeps.filter((s) => !FINISHED_SWEEP_STATUSES.has(s.status)).slice(0, MAX_LIVE);

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Sweeps</h1>
        <div className="actions">
          <label>
            State{' '}
            <select value={filter} onChange={(e) => setFilter(e.target.value as SweepStatus | 'all')} data-testid="sweeps-status-filter">
              <option value="all">all</option>
              {SWEEP_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void load(null)} data-testid="sweeps-refresh">
            Refresh
          </button>
          <Link href="/sweeps/new" className="button primary" data-testid="new-sweep-link">
            New sweep
          </Link>
        </div>
      </div>
      {live.map((s) => (
        <LiveSweep key={s.id} sweepId={s.id} onEvent={onEvent} />
      ))}
      <ErrorBanner error={error} onRetry={() => void load(null)} />
      {!loaded ? <Loading what="sweeps" /> : null}
      {loaded && sweeps.length === 0 && !error ? (
        <p className="empty" data-testid="sweeps-empty">
          No sweeps yet. <Link href="/sweeps/new">Start one</Link>.
        </p>
      ) : null}
      {sweeps.length > 0 ? (
        <div className="table-scroll">
          <table className="sweeps" data-testid="sweeps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Best</th>
                <th scope="col">Trials</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sweeps.map((s) => (
                <tr key={s.id} data-testid="sweep-row" data-sweep-id={s.id} data-status={s.status}>
                  <td>
                    <Link href={`/sweeps/${s.id}`} data-testid="sweep-link">
                      {s.name}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td className="progress-cell">
                    <Progress fraction={s.progress.fraction} label={`Progress of ${s.name}`} />
                    <small>
                      {s.progress.trialsFinished}/{s.progress.maxTrials} trials
                    </small>
                  </td>
                  <td className="num" data-testid="sweep-best">
                    {s.best ? (
                      <>
                        {formatValue(s.best.value)} <small>{s.objective.metric} · #{s.best.number}</small>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <TrialCountsBar counts={s.counts} />
                  </td>
                  <td>
                    <time dateTime={s.createdAt}>{new Date(s.createdAt).toLocaleString()}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor ? (
        <button type="button" onClick={() => void load(cursor)} data-testid="sweeps-load-more">
          Load more
        </button>
      ) : null}
    </main>
  );
}

