// One trial: parameters, its resolved model and training settings (the spec with its parameters
// applied), state, curves (metrics endpoint, downsampled with maxPoints), its live events, stop,
// and the model download (TensorFlow.js Layers JSON + weights.bin).
import { FINISHED_TRIAL_STATUSES, isBuiltinSweep, type SweepEvent } from '@hypersweep/schemas';
import { useCallback, useMemo, useState } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync, useSweepEvents } from '../app/hooks.ts';
import { LineChart, type ChartSeries } from '../components/LineChart.tsx';
import { ErrorBanner, Link, Loading, StatusBadge, downloadBlob } from '../components/ui.tsx';
import { formatValue, type Point } from '../lib/chart.ts';
import { base64ToBytes } from '../lib/digit.ts';
import { SERIES_COLORS } from '../lib/palette.ts';
import { layerRows, resolvedOf, trainingSettings, type ResolvedTrial } from '../lib/resolved.ts';

const MAX_POINTS = 500;
const MAX_EVENTS = 200;

/** Metric families drawn together: losses on one chart, accuracies on another, the rest alone. */
function familyOf(name: string): string {
  if (name.endsWith('loss')) return 'loss';
  if (name.endsWith('accuracy')) return 'accuracy';
  return name;
}

function describe(e: SweepEvent): string {
  switch (e.type) {
    case 'trial.created':
      return 'created';
    case 'trial.started':
      return `started on ${e.data.workerId} (attempt ${e.data.attempt}${e.data.resumedFromEpoch > 0 ? `, resumed from epoch ${e.data.resumedFromEpoch}` : ''})`;
    case 'trial.queued':
      return `queued again, ${e.data.epochsDone} epochs kept`;
    case 'trial.epoch':
      return `epoch ${e.data.epoch}: ${Object.entries(e.data.metrics).map(([k, v]) => `${k} ${formatValue(v)}`).join(', ')}`;
    case 'trial.completed':
      return `completed after ${e.data.epochsDone} epochs (final ${formatValue(e.data.finalValue)}, best ${formatValue(e.data.bestValue)})`;
    case 'trial.stopped':
      return `stopped after ${e.data.epochsDone} epochs${e.data.byUser ? ' by a user' : ''}: ${e.data.reason}`;
    case 'trial.failed':
      return `failed (attempt ${e.data.attempt}): ${e.data.error}`;
    case 'sweep.updated':
      return `sweep ${e.data.status}`;
    case 'sweep.control':
      return `sweep ${e.data.action} by a user`;
  }
}

/** The model and training recipe this trial ran: what its parameters made of the sweep's spec. */
function ResolvedSpec({ resolved }: { resolved: ResolvedTrial | null }) {
  if (!resolved) {
    return (
      <section className="panel" aria-labelledby="trial-resolved-heading" data-testid="trial-resolved" data-available="false">
        <h2 id="trial-resolved-heading">Resolved model</h2>
        <p className="hint">Not available for this trial (it predates resolved specs): see its parameters and the sweep's spec.</p>
      </section>
    );
  }
  const rows = layerRows(resolved.model);
  return (
    <section className="panel" aria-labelledby="trial-resolved-heading" data-testid="trial-resolved" data-available="true">
      <h2 id="trial-resolved-heading">Resolved model</h2>
      <div className="two-col">
        <table className="layers">
          <caption className="visually-hidden">Layers of this trial's model{resolved.model.inputShape ? `, input shape ${resolved.model.inputShape.join('×')}` : ''}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Layer</th>
              <th scope="col">Units</th>
              <th scope="col">Activation</th>
              <th scope="col">Rate</th>
              <th scope="col">Other</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((l) => (
              <tr key={l.index} data-testid="resolved-layer" data-type={l.type}>
                <td className="num">{l.index}</td>
                <td>{l.type}</td>
                <td className="num">{l.units}</td>
                <td>{l.activation}</td>
                <td className="num">{l.rate}</td>
                <td>{l.other}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <dl className="params" data-testid="resolved-settings">
          {resolved.model.inputShape ? (
            <div>
              <dt>input shape</dt>
              <dd>{resolved.model.inputShape.join(' × ')}</dd>
            </div>
          ) : null}
          {trainingSettings(resolved).map(([k, v]) => (
            <div key={k} data-setting={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </div>
    </section>
  );
}

export function TrialPage({ sweepId, trialId }: { sweepId: string; trialId: string }) {
  const { api } = useApp();
  const trialState = useAsync((signal) => api.getTrial(sweepId, trialId, { signal }), [api, sweepId, trialId]);
  // The model buttons are for built-in engine trials: a trainable's model is its own.
  const sweepState = useAsync((signal) => api.getSweep(sweepId, { signal }), [api, sweepId]);
  const builtin = sweepState.data ? isBuiltinSweep(sweepState.data.spec) : true;
  const metricsState = useAsync((signal) => api.getMetrics(sweepId, trialId, { maxPoints: MAX_POINTS }, { signal }), [api, sweepId, trialId]);
  const [live, setLive] = useState<{ points: Map<string, Point[]>; events: SweepEvent[] }>({ points: new Map(), events: [] });
  const [actionError, setActionError] = useState<unknown>(null);
  const reloadTrial = trialState.reload;

  const onEvents = useCallback(
    (events: SweepEvent[]) => {
      const mine = events.filter((e) => e.type !== 'sweep.updated' && e.type !== 'sweep.control' && e.data.trialId === trialId);
      if (mine.length === 0) return;
      setLive((prev) => {
        const points = new Map(prev.points);
        for (const e of mine) {
          if (e.type !== 'trial.epoch') continue;
          for (const [name, v] of Object.entries(e.data.metrics)) {
            if (v === null) continue;
            points.set(name, [...(points.get(name) ?? []), { x: e.data.epoch, y: v }]);
          }
        }
        return { points, events: [...mine.reverse(), ...prev.events].slice(0, MAX_EVENTS) };
      });
      if (mine.some((e) => e.type !== 'trial.epoch')) reloadTrial();
    },
    [trialId, reloadTrial],
  );
  const trial = trialState.data;
  // The stream replays the whole sweep's log: parse only the messages that name this trial.
  const mentionsTrial = useCallback((m: { data: string; event?: string }) => m.event !== 'sweep.updated' && m.data.includes(trialId), [trialId]);
  const streamState = useSweepEvents(sweepId, onEvents, { shouldReconnect: () => !trial || !FINISHED_TRIAL_STATUSES.has(trial.status), prefilter: mentionsTrial });

  // Server curves merged with epochs that arrived since.
  const charts = useMemo(() => {
    const byName = new Map<string, Point[]>();
    for (const s of metricsState.data?.series ?? []) byName.set(s.name, s.points.filter((p) => p.value !== null).map((p) => ({ x: p.step, y: p.value! })));
    for (const [name, pts] of live.points) {
      const base = byName.get(name) ?? [];
      const lastX = base.length > 0 ? base[base.length - 1]!.x : -Infinity;
      byName.set(name, [...base, ...pts.filter((p) => p.x > lastX)]);
    }
    const families = new Map<string, ChartSeries[]>();
    [...byName.keys()].sort().forEach((name, i) => {
      const f = familyOf(name);
      const list = families.get(f) ?? [];
      list.push({ id: name, points: byName.get(name)!, color: SERIES_COLORS[i % SERIES_COLORS.length]!, width: 2, label: name });
      families.set(f, list);
    });
    return [...families];
  }, [metricsState.data, live.points]);
  const downsampled = metricsState.data?.series.some((s) => s.downsampled);
  const resolved = useMemo(() => (trial ? resolvedOf(trial) : null), [trial]);

  async function stop() {
    if (!trial || !window.confirm(`Stop trial #${trial.number}?`)) return;
    try {
      await api.stopTrial(sweepId, trialId);
      reloadTrial();
    } catch (err) {
      setActionError(err);
    }
  }

  async function download() {
    if (!trial) return;
    try {
      const exp = await api.exportModel(sweepId, trialId);
      downloadBlob(`trial-${trial.number}-model.json`, JSON.stringify(exp.modelJson, null, 2), 'application/json');
      downloadBlob('weights.bin', base64ToBytes(exp.weightsBase64) as Uint8Array<ArrayBuffer>, 'application/octet-stream');
    } catch (err) {
      setActionError(err);
    }
  }

  if (trialState.error && !trial) return <main id="main" className="page"><ErrorBanner error={trialState.error} onRetry={trialState.reload} /></main>;
  if (!trial) return <main id="main" className="page"><Loading what="the trial" /></main>;

  return (
    <main id="main" className="page trial-page" data-testid="trial-page" data-trial-id={trial.id} data-status={trial.status}>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link href="/">Sweeps</Link> / <Link href={`/sweeps/${sweepId}`}>sweep</Link> /
          </p>
          <h1>Trial #{trial.number}</h1>
        </div>
        <div className="actions">
          <StatusBadge status={trial.status} />
          <span className={`stream stream-${streamState}`}>{streamState === 'open' ? 'live' : streamState}</span>
          {!FINISHED_TRIAL_STATUSES.has(trial.status) ? (
            <button type="button" className="danger" onClick={() => void stop()} data-testid="stop-trial">
              Stop trial
            </button>
          ) : null}
          {builtin ? (
            <>
              <button type="button" onClick={() => void download()} disabled={trial.status !== 'completed' && trial.status !== 'stopped'} data-testid="download-model">
                Download model (TF.js)
              </button>
              <Link href={`/playground?sweep=${sweepId}&trial=${trial.id}`} className="button">
                Playground
              </Link>
            </>
          ) : null}
        </div>
      </div>
      <ErrorBanner error={actionError} />

      <section className="summary-grid">
        <div className="panel">
          <h2>Parameters</h2>
          <dl className="params" data-testid="trial-params">
            {Object.entries(trial.params).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{typeof v === 'number' ? formatValue(v, 6) : String(v)}</dd>
              </div>
            ))}
          </dl>
        </div>
        <div className="panel">
          <h2>State</h2>
          <dl className="params">
            <div><dt>epochs</dt><dd data-testid="trial-epochs">{trial.epochsDone}</dd></div>
            <div><dt>best value</dt><dd>{formatValue(trial.bestValue)}</dd></div>
            <div><dt>final value</dt><dd>{formatValue(trial.finalValue)}</dd></div>
            <div><dt>attempt</dt><dd>{trial.attempt}</dd></div>
            <div><dt>worker</dt><dd>{trial.workerId ?? '—'}</dd></div>
            <div><dt>started</dt><dd>{trial.startedAt ? new Date(trial.startedAt).toLocaleString() : '—'}</dd></div>
            <div><dt>finished</dt><dd>{trial.finishedAt ? new Date(trial.finishedAt).toLocaleString() : '—'}</dd></div>
            {trial.reason ? <div><dt>reason</dt><dd>{trial.reason}</dd></div> : null}
            {trial.error ? <div><dt>error</dt><dd className="error-text">{trial.error}</dd></div> : null}
            {Object.entries(trial.lastMetrics).map(([k, v]) => (
              <div key={k}><dt>{k}</dt><dd>{formatValue(v)}</dd></div>
            ))}
          </dl>
        </div>
      </section>

      <ResolvedSpec resolved={resolved} />

      <section className="panel" aria-labelledby="trial-curves">
        <h2 id="trial-curves">Curves</h2>
        <ErrorBanner error={metricsState.error} onRetry={metricsState.reload} />
        {downsampled ? <p className="hint">Downsampled to {MAX_POINTS} points per curve.</p> : null}
        {charts.length === 0 && !metricsState.loading ? <p className="hint">No metrics yet.</p> : null}
        <div className="two-col">
          {charts.map(([family, series]) => (
            <div key={family}>
              <h3>{family}</h3>
              <LineChart series={series} xLabel="epoch" yLabel={family} height={240} ariaLabel={`${series.map((s) => s.id).join(', ')} per epoch`} testId={`trial-chart-${family}`} integerX />
              <ul className="legend">
                {series.map((s) => (
                  <li key={s.id}>
                    <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                    {s.id}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      </section>

      <section className="panel" aria-labelledby="trial-events">
        <h2 id="trial-events">Events</h2>
        <ol className="events" data-testid="trial-events" aria-live="polite">
          {live.events.map((e) => (
            <li key={e.id} data-type={e.type}>
              <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time> {describe(e)}
            </li>
          ))}
          <li>
            <time dateTime={trial.createdAt}>{new Date(trial.createdAt).toLocaleTimeString()}</time> created
          </li>
        </ol>
      </section>
    </main>
  );
}
