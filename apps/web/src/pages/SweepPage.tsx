// A sweep, live: header with progress and counts, its controls (pause/resume, cancel, delete once
// ended, budget and added configurations) with their activity log, best trial with its test
// result, learning curves of every trial, optimisation history, parallel coordinates,
// hyperparameter importance and the trial table. State lives in a SweepStore loaded from the trial
// listing and GET /curves, then fed by the event stream; the page redraws at most once per
// animation frame however many events arrive.
import { ConfusionMatrix } from '../components/ConfusionMatrix.tsx';
import { FINISHED_SWEEP_STATUSES, TRIAL_STATUSES, isBuiltinSweep, type Sweep, type SweepEvent, type Trial, type TrialStatus } from '@hypersweep/schemas';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { deleteSweep, pauseSweep, resumeSweep, sweepControlOf, trialTable, trialTableCsv, type HypersweepClient, type SweepControl } from '@hypersweep/client';
import { useApp } from '../app/context.tsx';
import { useFrameInvalidate, useSweepEvents } from '../app/hooks.ts';
import { readSweepControls } from '../api/sweep-events.ts';
import { BudgetEditor, ConfigurationsEditor, SweepActivity } from '../components/SweepControls.tsx';
import { Importance } from '../components/Importance.tsx';
import { LineChart, type ChartSeries } from '../components/LineChart.tsx';
import { ParallelCoords } from '../components/ParallelCoords.tsx';
import { TrialTable } from '../components/TrialTable.tsx';
import { ErrorBanner, Link, Loading, Progress, StatusBadge, TrialCountsBar, downloadBlob } from '../components/ui.tsx';
import { bestSoFar, formatValue, topK } from '../lib/chart.ts';
import { base64ToBytes } from '../lib/digit.ts';
import { logScaledParams, spaceParamNames } from '../lib/parallel.ts';
import { BEST_COLOR, MUTED_LINE, OKABE_ITO, SERIES_COLORS } from '../lib/palette.ts';
import { configurationTemplate, mergeControls, sweepActions, withBudget } from '../lib/sweep-control.ts';
import { SweepStore, objectiveOf } from '../lib/sweep-store.ts';

/** Top-K colours: the series palette without the best trial's colour. */
const TOP_COLORS = SERIES_COLORS.filter((c) => c !== BEST_COLOR);

export function SweepPage({ sweepId }: { sweepId: string }) {
  const { api } = useApp();
  // One store per sweep id: navigating to another sweep starts afresh.
  const storeRef = useRef<{ sweepId: string; store: SweepStore } | null>(null);
  if (storeRef.current?.sweepId !== sweepId) storeRef.current = { sweepId, store: new SweepStore() };
  const store = storeRef.current.store;
  // A render with 1,000 trials' curves costs tens of milliseconds: at most ~8 renders a second.
  const [frame, invalidate, flush] = useFrameInvalidate(120);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  /** The event id the stream follows from: the sweep's lastEventId when first loaded. */
  const [streamFrom, setStreamFrom] = useState<{ sweepId: string; id: number } | null>(null);
  const [trialsLoaded, setTrialsLoaded] = useState(false);
  /** Metric names whose curves have been fetched for every trial (the objective's at first). */
  const fetchedCurves = useRef(new Set<string>());
  const [curvesLoaded, setCurvesLoaded] = useState(false);
  /** Events received while the listing and curves load; applied on top of them once both are in. */
  const heldEvents = useRef<SweepEvent[] | null>([]);
  /** The sweep's controls (sweep.control events): its log up to the stream's start, then live ones. */
  const [controls, setControls] = useState<{ sweepId: string; list: SweepControl[] }>({ sweepId, list: [] });
  /** The control form shown, if any. */
  const [panel, setPanel] = useState<'budget' | 'enqueue' | null>(null);

  const onEvents = useCallback(
    (events: SweepEvent[]) => {
      if (heldEvents.current) {
        heldEvents.current.push(...events);
        return;
      }
      const before = store.sweep?.status;
      const seen: SweepControl[] = [];
      for (const e of events) {
        const control = sweepControlOf(e);
        if (!control) continue;
        seen.push(control);
        // The sweep's own budget, for the form and the header, until the API is read again.
        if (control.action === 'budget' && control.budget && store.sweep) store.setSweep(withBudget(store.sweep, control.budget));
      }
      if (seen.length > 0) setControls((c) => (c.sweepId === sweepId ? { sweepId, list: mergeControls(c.list, seen) } : { sweepId, list: seen }));
      store.apply(events);
      const after = store.sweep?.status;
      // Finishing brings the test result of the best trial: fetch the sweep once.
      if (after && before !== after && FINISHED_SWEEP_STATUSES.has(after)) {
        api.getSweep(sweepId).then((s) => {
          store.setSweep(s);
          invalidate();
        }, () => undefined);
      }
      invalidate();
    },
    [api, sweepId, store, invalidate],
  );

  // Initial load: the sweep, then at once every trial (keyset pages) and every trial's curve of the
  // objective, downsampled (GET /curves), while the event stream follows from the sweep's
  // lastEventId. Events that arrive meanwhile are held and applied after both: the listing may be
  // older than some of them, and applying every event after lastEventId on top of it, in order,
  // ends in the current state whatever the timing.
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    setTrialsLoaded(false);
    setCurvesLoaded(false);
    fetchedCurves.current = new Set();
    heldEvents.current = [];
    (async () => {
      try {
        const first = await api.getSweep(sweepId, { signal });
        store.setSweep(first);
        setStreamFrom({ sweepId, id: first.lastEventId ?? 0 });
        invalidate();
        const metric = first.objective.metric;
        await Promise.all([
          api.listAllTrials(sweepId, {}, { signal, max: 10_000 }).then((trials) => {
            store.setTrials(trials);
            setTrialsLoaded(true);
          }),
          loadCurves(api, store, sweepId, metric, signal).then(() => {
            fetchedCurves.current.add(metric);
            setCurvesLoaded(true);
          }),
        ]);
      } catch (err) {
        if (!signal.aborted) setLoadError(err);
      }
      // Loaded, or failed (the banner says so): live updates go on either way.
      if (signal.aborted) return;
      const held = heldEvents.current ?? [];
      heldEvents.current = null;
      onEvents(held);
      flush();
    })();
    return () => controller.abort();
  }, [api, sweepId, store, invalidate, flush, onEvents]);

  const following = streamFrom?.sweepId === sweepId ? streamFrom : null;
  // The controls before the live stream's start: read once the page has loaded (the log is
  // replayed, every other event skipped unparsed), so they never slow its first render.
  const historyFrom = trialsLoaded && curvesLoaded ? (following?.id ?? null) : null;
  useEffect(() => {
    if (historyFrom === null) return undefined;
    const controller = new AbortController();
    readSweepControls(api, sweepId, { until: historyFrom, signal: controller.signal }).then(
      (past) => setControls((c) => (c.sweepId === sweepId ? { sweepId, list: mergeControls(c.list, past) } : { sweepId, list: past })),
      () => undefined, // the live stream's state says whether the API can be reached
    );
    return () => controller.abort();
  }, [api, sweepId, historyFrom]);
  const streamState = useSweepEvents(following ? sweepId : null, onEvents, {
    lastEventId: following?.id,
    shouldReconnect: () => !store.sweep || !FINISHED_SWEEP_STATUSES.has(store.sweep.status),
  });
  const [tableShown, setTableShown] = useState(false);
  const onTableRows = useCallback(() => setTableShown(true), []);

  const sweep = store.sweep;
  const [metric, setMetric] = useState<string | null>(null);
  const [stateFilter, setStateFilter] = useState<ReadonlySet<TrialStatus>>(new Set(TRIAL_STATUSES));
  const [k, setK] = useState(5);
  const [logY, setLogY] = useState(false);

  const trials = useMemo(() => store.trialList(), [store, frame]);
  const mode = sweep?.objective.mode ?? 'minimize';
  const objectiveName = sweep?.objective.metric ?? 'objective';
  const chartMetric = metric ?? objectiveName;
  const space = (sweep?.spec.search.space ?? {}) as Record<string, unknown>;
  const paramNames = useMemo(() => spaceParamNames(space), [sweep?.spec]);
  const logParams = useMemo(() => logScaledParams(space), [sweep?.spec]);
  const metricNames = useMemo(() => {
    const names = new Set<string>([objectiveName]);
    for (const t of trials) for (const n of Object.keys(t.lastMetrics)) names.add(n);
    return [...names].sort();
  }, [trials, objectiveName]);

  // Another metric's curves are fetched the first time it is charted (live events carry every metric).
  useEffect(() => {
    if (!curvesLoaded || fetchedCurves.current.has(chartMetric)) return undefined;
    const controller = new AbortController();
    loadCurves(api, store, sweepId, chartMetric, controller.signal).then(
      () => {
        fetchedCurves.current.add(chartMetric);
        invalidate();
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setActionError(err);
      },
    );
    return () => controller.abort();
  }, [api, store, sweepId, chartMetric, curvesLoaded, invalidate]);

  const values = trials.map(objectiveOf);
  const topIdx = topK(values, k, mode);
  const topIds = new Set(topIdx.map((i) => trials[i]!.id));
  const bestId = sweep?.best?.trialId ?? (topIdx[0] !== undefined ? trials[topIdx[0]]!.id : null);

  // Learning curves: muted trials first (one batched path), then top-K, then the best on top.
  const curveSeries: ChartSeries[] = [];
  const highlighted: ChartSeries[] = [];
  for (const t of trials) {
    if (!stateFilter.has(t.status)) continue;
    const points = store.curves.get(t.id)?.get(chartMetric);
    if (!points || points.length === 0) continue;
    const rank = topIdx.findIndex((i) => trials[i]!.id === t.id);
    if (t.id === bestId) highlighted.push({ id: t.id, points, color: BEST_COLOR, width: 3, label: `#${t.number} (best)` });
    else if (rank >= 0) highlighted.unshift({ id: t.id, points, color: TOP_COLORS[rank % TOP_COLORS.length]!, width: 1.75, label: `#${t.number}` });
    else curveSeries.push({ id: t.id, points, color: MUTED_LINE, width: 1, label: `#${t.number}` });
  }
  curveSeries.push(...highlighted);

  const finished = trials.filter((t) => (t.status === 'completed' || t.status === 'stopped') && objectiveOf(t) !== null);
  const history: ChartSeries[] = [
    { id: 'trials', points: finished.map((t) => ({ x: t.number, y: objectiveOf(t)! })), color: OKABE_ITO.skyBlue, markers: true, width: 0, label: 'trial' },
    { id: 'best-so-far', points: bestSoFar(finished.map((t) => ({ x: t.number, value: objectiveOf(t) })), mode), color: BEST_COLOR, width: 2, step: true, label: 'best so far' },
  ];
  // The "hypersweep:sweep-rendered" performance mark (bench/dashboard.ts reads it): set once, in the
  // effect after the first commit that has every trial listed, every trial's curve of the charted
  // metric loaded (so the learning-curve canvas, whose effect runs before this one, has just been
  // drawn with all of them), and rows in the trial table.
  const renderedMark = useRef(false);
  useEffect(() => {
    if (renderedMark.current || !store.sweep || !trialsLoaded || !curvesLoaded) return;
    if (!tableShown && store.sweep.counts.total > 0) return;
    renderedMark.current = true;
    performance.mark('hypersweep:sweep-rendered', { detail: { trials: store.trials.size } });
  }, [frame, trialsLoaded, curvesLoaded, tableShown, store]);

  const finishedKey = finished.map((t) => `${t.id}:${objectiveOf(t)}`).join('|');

  const { navigate } = useApp();
  const pickTrial = useCallback((id: string) => {
    if (id !== 'trials' && id !== 'best-so-far') navigate(`/sweeps/${sweepId}/trials/${id}`);
  }, [navigate, sweepId]);

  /** Runs a control whose answer is the sweep, showing its refusal (a 409 of a sweep that moved on) in the banner. */
  async function control(action: () => Promise<Sweep>) {
    try {
      store.setSweep(await action());
      setActionError(null);
      invalidate();
    } catch (err) {
      setActionError(err);
    }
  }

  async function cancelSweep() {
    if (!window.confirm('Cancel this sweep? Running trials stop and no new trial starts.')) return;
    await control(() => api.cancelSweep(sweepId));
  }

  async function removeSweep(name: string, trials: number) {
    if (!window.confirm(`Delete the sweep "${name}" with its ${trials} trials, their metrics, checkpoints and events? This cannot be undone.`)) return;
    try {
      await deleteSweep(api, sweepId);
      navigate('/sweeps');
    } catch (err) {
      setActionError(err);
    }
  }

  const stopTrial = useCallback(
    async (t: Trial) => {
      if (!window.confirm(`Stop trial #${t.number}?`)) return;
      try {
        store.upsertTrial(await api.stopTrial(sweepId, t.id));
        store.version++;
        setActionError(null);
        invalidate();
      } catch (err) {
        setActionError(err);
      }
    },
    [api, sweepId, store, invalidate],
  );

  async function downloadModel(trialId: string, number: number) {
    try {
      const exp = await api.exportModel(sweepId, trialId);
      downloadBlob(`trial-${number}-model.json`, JSON.stringify(exp.modelJson, null, 2), 'application/json');
      downloadBlob('weights.bin', base64ToBytes(exp.weightsBase64) as Uint8Array<ArrayBuffer>, 'application/octet-stream');
    } catch (err) {
      setActionError(err);
    }
  }

  if (loadError && !sweep) return <main id="main" className="page"><ErrorBanner error={loadError} /></main>;
  if (!sweep) return <main id="main" className="page"><Loading what="the sweep" /></main>;

  const bestTrial = sweep.best ? store.trials.get(sweep.best.trialId) : undefined;
  const actions = sweepActions(sweep.status);
  const ended = FINISHED_SWEEP_STATUSES.has(sweep.status);
  const sweepControls = controls.sweepId === sweepId ? controls.list : [];

  return (
    <main id="main" className="page sweep-page" data-testid="sweep-page" data-sweep-id={sweep.id} data-status={sweep.status}>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link href="/">Sweeps</Link> /
          </p>
          <h1 data-testid="sweep-name">{sweep.name}</h1>
          {sweep.description ? <p className="hint">{sweep.description}</p> : null}
        </div>
        <div className="actions">
          <StatusBadge status={sweep.status} />
          {sweep.project !== undefined ? (
            <span className="project-name" title="The sweep's project" data-testid="sweep-project">
              project <strong>{sweep.project}</strong>
            </span>
          ) : null}
          <span className={`stream stream-${streamState}`} data-testid="stream-state" title="Live updates">
            {streamState === 'open' ? 'live' : streamState}
          </span>
          <button type="button" onClick={() => downloadBlob(`${sweep.name.replace(/[^\w.-]+/g, '_')}-trials.csv`, trialTableCsv(trialTable(trials)), 'text/csv')} disabled={!trialsLoaded} data-testid="export-csv">
            Export CSV
          </button>
          {actions.pause ? (
            <button type="button" onClick={() => void control(() => pauseSweep(api, sweepId))} data-testid="pause-sweep" title="Running trials checkpoint and release their workers; no trial starts until it is resumed">
              Pause
            </button>
          ) : null}
          {actions.resume ? (
            <button type="button" className="primary" onClick={() => void control(() => resumeSweep(api, sweepId))} data-testid="resume-sweep">
              Resume
            </button>
          ) : null}
          {actions.edit ? (
            <>
              <button type="button" onClick={() => setPanel(panel === 'budget' ? null : 'budget')} aria-expanded={panel === 'budget'} data-testid="edit-budget">
                Edit budget
              </button>
              <button type="button" onClick={() => setPanel(panel === 'enqueue' ? null : 'enqueue')} aria-expanded={panel === 'enqueue'} data-testid="add-configurations">
                Add configurations
              </button>
            </>
          ) : null}
          {actions.cancel ? (
            <button type="button" className="danger" onClick={() => void cancelSweep()} data-testid="cancel-sweep">
              Cancel sweep
            </button>
          ) : null}
          {actions.delete ? (
            <button type="button" className="danger" onClick={() => void removeSweep(sweep.name, sweep.counts.total)} data-testid="delete-sweep">
              Delete sweep
            </button>
          ) : null}
        </div>
      </div>
      <ErrorBanner error={actionError} />
      {actions.resume ? (
        <p className="note" role="status" data-testid="paused-notice">
          Paused: its running trials were checkpointed and released, and no trial starts until you resume it. Resuming goes on where it stood.
        </p>
      ) : null}
      {actions.edit && panel === 'budget' ? (
        <BudgetEditor
          key={`budget-${sweep.id}`}
          sweep={sweep}
          onSaved={(saved) => {
            store.setSweep(saved);
            setActionError(null);
            setPanel(null);
            invalidate();
          }}
          onClose={() => setPanel(null)}
        />
      ) : null}
      {actions.edit && panel === 'enqueue' ? (
        <ConfigurationsEditor
          key={`enqueue-${sweep.id}`}
          sweep={sweep}
          initialText={configurationTemplate(paramNames, sweep.best?.params ?? null)}
          onQueued={(queued) => {
            for (const t of queued) store.upsertTrial(t);
            store.version++;
            invalidate();
          }}
          onClose={() => setPanel(null)}
        />
      ) : null}
      {sweep.error ? <div className="error-banner" role="alert">Sweep failed: {sweep.error}</div> : null}

      <section className="summary-grid">
        <div className="panel">
          <h2>Progress</h2>
          <Progress fraction={sweep.progress.fraction} label="Sweep progress" />
          <p data-testid="sweep-progress">
            {sweep.progress.trialsFinished}/{sweep.progress.maxTrials} trials finished · {sweep.progress.epochsDone}
            {sweep.progress.maxTotalEpochs ? `/${sweep.progress.maxTotalEpochs}` : ''} epochs
          </p>
          <TrialCountsBar counts={sweep.counts} />
          <p className="hint">
            Objective: {sweep.objective.mode} {sweep.objective.metric} · sampler {sweep.spec.search.sampler.type} · scheduler {sweep.spec.search.scheduler.type}
          </p>
        </div>
        <div className="panel best-card" data-testid="best-trial">
          <h2>{ended ? 'Best trial' : 'Best trial so far'}</h2>
          {sweep.best ? (
            <>
              <p className="best-value">
                <Link href={`/sweeps/${sweep.id}/trials/${sweep.best.trialId}`}>#{sweep.best.number}</Link>{' '}
                <strong data-testid="best-value">{formatValue(sweep.best.value)}</strong> {sweep.objective.metric}
              </p>
              <dl className="params">
                {Object.entries(sweep.best.params).map(([k2, v]) => (
                  <div key={k2}>
                    <dt>{k2}</dt>
                    <dd>{typeof v === 'number' ? formatValue(v) : String(v)}</dd>
                  </div>
                ))}
              </dl>
              {sweep.testResult ? (
                <div data-testid="test-result">
                  <h3>Test set</h3>
                  <dl className="params">
                    {Object.entries(sweep.testResult.metrics).map(([k2, v]) => (
                      <div key={k2}>
                        <dt>{k2}</dt>
                        <dd>{formatValue(v)}</dd>
                      </div>
                    ))}
                  </dl>
                  {sweep.testResult.confusionMatrix ? <ConfusionMatrix matrix={sweep.testResult.confusionMatrix} classNames={sweep.testResult.classNames} /> : null}
                </div>
              ) : (
                <p className="hint">{ended ? 'No test result.' : 'The test set is evaluated once, when the sweep finishes.'}</p>
              )}
              {/* A trainable's or an external loop's model is its own: no export or playground here. */}
              {isBuiltinSweep(sweep.spec) ? (
                <div className="row">
                  <button type="button" onClick={() => void downloadModel(sweep.best!.trialId, sweep.best!.number)} data-testid="download-best-model" disabled={bestTrial !== undefined && bestTrial.status !== 'completed' && bestTrial.status !== 'stopped'}>
                    Download model (TF.js)
                  </button>
                  <Link href={`/playground?sweep=${sweep.id}&trial=${sweep.best.trialId}`} className="button">
                    Try in playground
                  </Link>
                </div>
              ) : null}
            </>
          ) : (
            <p className="hint">{ended ? 'No trial reported the objective.' : 'No trial has finished with the objective yet.'}</p>
          )}
        </div>
        <SweepActivity sweepId={sweep.id} controls={sweepControls} trialNumber={(id) => store.trials.get(id)?.number} />
      </section>

      <section className="panel" aria-labelledby="curves-heading">
        <div className="panel-head">
          <h2 id="curves-heading">Learning curves</h2>
          <div className="controls">
            <label>
              Metric{' '}
              <select value={chartMetric} onChange={(e) => setMetric(e.target.value)} data-testid="curve-metric">
                {metricNames.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </label>
            <label>
              Highlight top{' '}
              <select value={k} onChange={(e) => setK(Number(e.target.value))} data-testid="curve-topk">
                {[1, 3, 5, 10, 20].map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} data-testid="curve-log" /> log scale
            </label>
          </div>
        </div>
        <fieldset className="state-filter" data-testid="curve-state-filter">
          <legend>Show trials</legend>
          {TRIAL_STATUSES.map((s) => (
            <label key={s}>
              <input
                type="checkbox"
                checked={stateFilter.has(s)}
                onChange={(e) => {
                  const next = new Set(stateFilter);
                  if (e.target.checked) next.add(s);
                  else next.delete(s);
                  setStateFilter(next);
                }}
                data-testid={`curve-filter-${s}`}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <LineChart
          series={curveSeries}
          xLabel="epoch"
          yLabel={chartMetric}
          logY={logY}
          height={320}
          ariaLabel={`${chartMetric} per epoch for ${curveSeries.length} trials; best trial highlighted`}
          testId="learning-curves"
          integerX
          onPick={pickTrial}
          version={frame}
        />
        {highlighted.length > 0 ? (
          <ol className="legend" aria-label="Highlighted trials">
            {[...highlighted].reverse().map((s) => (
              <li key={s.id}>
                <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                <Link href={`/sweeps/${sweep.id}/trials/${s.id}`}>{s.label}</Link>
              </li>
            ))}
          </ol>
        ) : null}
      </section>

      <div className="two-col">
        <section className="panel" aria-labelledby="history-heading">
          <h2 id="history-heading">Optimisation history</h2>
          <LineChart series={history} xLabel="trial" yLabel={objectiveName} height={260} ariaLabel={`${objectiveName} of each finished trial by trial number, and the best so far`} testId="optimisation-history" integerX version={frame} />
        </section>
        <Importance trials={trials} paramNames={paramNames} objectiveOf={objectiveOf} finishedKey={finishedKey} />
      </div>

      <section className="panel" aria-labelledby="pc-heading">
        <h2 id="pc-heading">Parameters vs {objectiveName}</h2>
        <ParallelCoords trials={trials} paramNames={paramNames} logParams={logParams} objectiveName={objectiveName} objectiveOf={objectiveOf} topIds={topIds} bestId={bestId} version={frame} />
      </section>

      <TrialTable sweepId={sweep.id} paramNames={paramNames} objectiveName={objectiveName} counts={sweep.counts} live={store.trials} version={frame} onStop={stopTrial} bestId={bestId} mode={mode} onRowsShown={onTableRows} />
    </main>
  );
}


/** Every trial's curve of `metric` (downsampled by the API) merged into the store. */
async function loadCurves(api: HypersweepClient, store: SweepStore, sweepId: string, metric: string, signal: AbortSignal): Promise<void> {
  const curves = await api.getCurves(sweepId, { names: [metric] }, { signal });
  for (const trial of curves.trials) for (const series of trial.series) store.setCurve(trial.trialId, series.name, series.points);
}
