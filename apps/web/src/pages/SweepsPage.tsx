// The sweeps list: status, progress, best value and trial counts per state. Live without polling:
// the running sweeps on screen each follow their event stream (a few at a time, since browsers
// allow six connections per origin) and update their row from sweep.updated events. A caller who
// sees several projects gets a project column and a project filter (kept in the URL: ?project=).
import { listProjects } from '@hypersweep/client';
import { FINISHED_SWEEP_STATUSES, SWEEP_STATUSES, type SweepEvent, type SweepStatus, type SweepSummary } from '@hypersweep/schemas';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { useApp } from '../app/context.tsx';
import { useAsync, useSweepEvents } from '../app/hooks.ts';
import { formatValue } from '../lib/chart.ts';
import { projectFilterOptions, showsProjects } from '../lib/projects.ts';
import { hrefOf } from '../lib/routes.ts';
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

/** `project`: the list's project filter (the route's ?project=), null for all. */
export function SweepsPage({ project }: { project: string | null }) {
  const { api, navigate } = useApp();
  const projects = useAsync((signal) => listProjects(api, { signal }), [api]);
  const visible = useMemo(() => (projects.data ? projects.data.map((p) => p.name) : null), [projects.data]);
  const [sweeps, setSweeps] = useState<SweepSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState<SweepStatus | 'all'>('all');

  // Each load of the first page starts a generation: an answer of an older filter is dropped.
  const generation = useRef(0);
  const load = useCallback(
    async (from: string | null) => {
      const mine = from === null ? ++generation.current : generation.current;
      try {
        const page = await api.listSweeps({ limit: PAGE, cursor: from, status: filter === 'all' ? undefined : [filter], ...(project !== null ? { project } : {}) });
        if (mine !== generation.current) return;
        setSweeps((s) => (from ? [...s, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setError(null);
      } catch (err) {
        if (mine === generation.current) setError(err);
      } finally {
        if (mine === generation.current) setLoaded(true);
      }
    },
    [api, filter, project],
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
  const withProjects = showsProjects(visible, sweeps, project);
  // The filter is in the URL (replaced, not pushed: Back leaves the list rather than undoing a filter).
  const filterProject = (next: string | null) => navigate(hrefOf({ page: 'sweeps', project: next }), { replace: true });

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Sweeps</h1>
        <div className="actions">
          {withProjects ? (
            <label>
              Project{' '}
              <select value={project ?? ''} onChange={(e) => filterProject(e.target.value === '' ? null : e.target.value)} data-testid="sweeps-project-filter">
                <option value="">all</option>
                {projectFilterOptions(visible, project).map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
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
          {project !== null ? (
            <>
              No sweeps in {project}. <Link href="/sweeps/new">Start one</Link>.
            </>
          ) : (
            <>
              No sweeps yet. <Link href="/sweeps/new">Start one</Link>.
            </>
          )}
        </p>
      ) : null}
      {sweeps.length > 0 ? (
        <div className="table-scroll">
          <table className="sweeps" data-testid="sweeps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {withProjects ? <th scope="col">Project</th> : null}
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Best</th>
                <th scope="col">Trials</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sweeps.map((s) => (
                <tr key={s.id} data-testid="sweep-row" data-sweep-id={s.id} data-status={s.status} data-project={s.project}>
                  <td>
                    <Link href={`/sweeps/${s.id}`} data-testid="sweep-link">
                      {s.name}
                    </Link>
                  </td>
                  {withProjects ? <td data-testid="sweep-project">{s.project ?? '—'}</td> : null}
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

