// The trial table: sorted and filtered by the API (keyset cursor pages, fetched as the user scrolls),
// virtualised (only the rows in view are in the DOM), and patched live from the sweep's store.
import { FINISHED_TRIAL_STATUSES, TRIAL_STATUSES, type Trial, type TrialCounts, type TrialStatus } from '@hypersweep/schemas';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ListTrialsParams } from '@hypersweep/client';
import { useApp } from '../app/context.tsx';
import { formatValue } from '../lib/chart.ts';
import { ErrorBanner, Link, StatusBadge } from './ui.tsx';

type Sort = NonNullable<ListTrialsParams['sort']>;

interface Props {
  readonly sweepId: string;
  readonly paramNames: readonly string[];
  readonly objectiveName: string;
  readonly counts: TrialCounts | null;
  /** The live trials (store), by id: rows show these when newer. */
  readonly live: ReadonlyMap<string, Trial>;
  readonly version: number;
  readonly onStop: (trial: Trial) => void;
  readonly bestId: string | null;
  /** The objective's direction: sorting by a value starts with the best trials. */
  readonly mode: 'minimize' | 'maximize';
  /** Called after the first commit that shows trial rows. */
  readonly onRowsShown?: () => void;
}

const ROW_HEIGHT = 34;
const VIEW_HEIGHT = 420;
const OVERSCAN = 8;
const PAGE = 100;

export function TrialTable({ sweepId, paramNames, objectiveName, counts, live, version, onStop, bestId, mode, onRowsShown }: Props) {
  const { api } = useApp();
  const [sort, setSort] = useState<Sort>('number');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  const [status, setStatus] = useState<ReadonlySet<TrialStatus>>(new Set());
  const [rows, setRows] = useState<Trial[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const generation = useRef(0);

  const loadPage = useCallback(
    async (from: string | null, reset: boolean) => {
      const gen = reset ? ++generation.current : generation.current;
      setLoading(true);
      try {
        const page = await api.listTrials(sweepId, { limit: PAGE, cursor: from, sort, order, status: [...status] });
        if (gen !== generation.current) return;
        setRows((r) => (reset ? page.items : [...r, ...page.items.filter((t) => !r.some((x) => x.id === t.id))]));
        setCursor(page.nextCursor);
        setDone(page.nextCursor === null);
        setError(null);
      } catch (err) {
        if (gen === generation.current) setError(err);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [api, sweepId, sort, order, status],
  );

  useEffect(() => {
    setRows([]);
    setScrollTop(0);
    void loadPage(null, true);
  }, [loadPage]);

  // Trials created after the listing, once it reached its end in number order, are appended live.
  let shown = rows.map((r) => live.get(r.id) ?? r);
  if (done && sort === 'number' && order === 'asc') {
    const present = new Set(rows.map((r) => r.id));
    const extra = [...live.values()].filter((t) => !present.has(t.id) && (status.size === 0 || status.has(t.status))).sort((a, b) => a.number - b.number);
    shown = shown.concat(extra);
  }
  void version;

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((scrollTop + VIEW_HEIGHT) / ROW_HEIGHT) + OVERSCAN);
  const visible = shown.slice(first, last);

  useEffect(() => {
    if (!done && !loading && !error && last >= rows.length - OVERSCAN && rows.length > 0) void loadPage(cursor, false);
  }, [last, rows.length, done, loading, error, cursor, loadPage]);

  const hasRows = visible.length > 0;
  useEffect(() => {
    if (hasRows) onRowsShown?.();
  }, [hasRows, onRowsShown]);

  const sortBy = (s: Sort) => {
    if (s === sort) setOrder((o) => (o === 'asc' ? 'desc' : 'asc'));
    else {
      setSort(s);
      setOrder(s === 'number' || s === 'createdAt' || mode === 'minimize' ? 'asc' : 'desc');
    }
  };
  const ariaSort = (s: Sort) => (s === sort ? (order === 'asc' ? 'ascending' : 'descending') : 'none');
  const header = (s: Sort, label: string) => (
    <th aria-sort={ariaSort(s)} scope="col">
      <button type="button" className="sort" onClick={() => sortBy(s)} data-testid={`sort-${s}`}>
        {label} {s === sort ? (order === 'asc' ? '▲' : '▼') : ''}
      </button>
    </th>
  );
  const colCount = 7 + paramNames.length;

  return (
    <section className="trial-table" aria-labelledby="trials-heading">
      <div className="table-toolbar">
        <h2 id="trials-heading">Trials</h2>
        <fieldset className="state-filter" data-testid="trial-status-filter">
          <legend>State</legend>
          {TRIAL_STATUSES.map((s) => (
            <label key={s}>
              <input
                type="checkbox"
                checked={status.has(s)}
                data-testid={`filter-${s}`}
                onChange={(e) => {
                  const next = new Set(status);
                  if (e.target.checked) next.add(s);
                  else next.delete(s);
                  setStatus(next);
                }}
              />
              {s}
              {counts ? ` (${counts[s]})` : ''}
            </label>
          ))}
        </fieldset>
        <button type="button" onClick={() => void loadPage(null, true)} data-testid="trials-refresh">
          Refresh
        </button>
      </div>
      <ErrorBanner error={error} onRetry={() => void loadPage(cursor, rows.length === 0)} />
      <div className="table-scroll" style={{ maxHeight: VIEW_HEIGHT }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} data-testid="trial-table" tabIndex={0} aria-label="Trials (scroll for more)">
        <table aria-rowcount={shown.length + 1}>
          <thead>
            <tr>
              {header('number', '#')}
              <th scope="col">State</th>
              <th scope="col">Epochs</th>
              {header('bestValue', `Best ${objectiveName}`)}
              {header('finalValue', `Final ${objectiveName}`)}
              {paramNames.map((p) => (
                <th key={p} scope="col">
                  {p}
                </th>
              ))}
              <th scope="col">Worker</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {first > 0 ? (
              <tr aria-hidden="true" style={{ height: first * ROW_HEIGHT }}>
                <td colSpan={colCount} />
              </tr>
            ) : null}
            {visible.map((t, i) => (
              <tr key={t.id} data-testid="trial-row" data-trial-id={t.id} data-trial-number={t.number} aria-rowindex={first + i + 2} className={t.id === bestId ? 'best-row' : undefined} style={{ height: ROW_HEIGHT }}>
                <td>
                  <Link href={`/sweeps/${sweepId}/trials/${t.id}`}>#{t.number}</Link>
                  {t.id === bestId ? <span className="best-tag"> best</span> : null}
                </td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td className="num">{t.epochsDone}</td>
                <td className="num">{formatValue(t.bestValue)}</td>
                <td className="num">{formatValue(t.finalValue)}</td>
                {paramNames.map((p) => {
                  const v = t.params[p];
                  // A conditional parameter whose branch this trial did not take: a blank cell.
                  if (v === undefined) return <td key={p} className="num" data-param={p} data-absent="true" title={`${p}: not a parameter of this trial`} />;
                  return (
                    <td key={p} className="num" data-param={p}>
                      {typeof v === 'number' ? formatValue(v) : String(v)}
                    </td>
                  );
                })}
                <td className="truncate" title={t.workerId ?? ''}>
                  {t.workerId ?? '—'}
                </td>
                <td>
                  {!FINISHED_TRIAL_STATUSES.has(t.status) ? (
                    <button type="button" className="small danger" onClick={() => onStop(t)} data-testid="stop-trial" aria-label={`Stop trial ${t.number}`}>
                      Stop
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
            {last < shown.length ? (
              <tr aria-hidden="true" style={{ height: (shown.length - last) * ROW_HEIGHT }}>
                <td colSpan={colCount} />
              </tr>
            ) : null}
          </tbody>
        </table>
        {shown.length === 0 && !loading ? <p className="empty">No trials{status.size > 0 ? ' in these states' : ' yet'}.</p> : null}
      </div>
      <p className="table-footer" aria-live="polite">
        {shown.length} trials loaded{done ? '' : ', more on scroll'}
        {loading ? ' — loading…' : ''}
        {!done && !loading ? (
          <button type="button" className="link-button" onClick={() => void loadPage(cursor, false)} data-testid="trials-load-more">
            Load more
          </button>
        ) : null}
      </p>
    </section>
  );
}
