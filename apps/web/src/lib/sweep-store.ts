// The live state of one sweep page: the sweep, every trial, and each trial's curves, updated in
// place from SSE events (no refetch per event) and read by the charts. Mutable on purpose: with
// 1,000 trials × 50 epochs, copying on every event would be the cost; the page re-renders once per
// animation frame from `version`.
import { FINISHED_TRIAL_STATUSES, type Sweep, type SweepEvent, type Trial } from '@hypersweep/schemas';
import { isBetter, type Point } from './chart.ts';

export class SweepStore {
  sweep: Sweep | null = null;
  readonly trials = new Map<string, Trial>();
  /** trialId → metric name → points sorted by step. */
  readonly curves = new Map<string, Map<string, Point[]>>();
  /** Bumped on every change; views compare it to decide whether to redraw. */
  version = 0;
  lastEventId = 0;

  setSweep(sweep: Sweep): void {
    this.sweep = sweep;
    this.version++;
  }

  setTrials(trials: readonly Trial[]): void {
    for (const t of trials) this.upsertTrial(t);
    this.version++;
  }

  upsertTrial(t: Trial): void {
    const existing = this.trials.get(t.id);
    // A listing fetched before an event must not roll the trial back.
    if (existing && existing.epochsDone > t.epochsDone && !FINISHED_TRIAL_STATUSES.has(t.status)) return;
    this.trials.set(t.id, t);
  }

  /** Merges server curves (downsampled) with points already received live. */
  setCurve(trialId: string, name: string, points: readonly { step: number; value: number | null }[]): void {
    const byName = this.curvesOf(trialId);
    const merged = new Map<number, number>();
    for (const p of byName.get(name) ?? []) merged.set(p.x, p.y);
    for (const p of points) if (p.value !== null) merged.set(p.step, p.value);
    byName.set(name, [...merged].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y })));
    this.version++;
  }

  private curvesOf(trialId: string): Map<string, Point[]> {
    let byName = this.curves.get(trialId);
    if (!byName) {
      byName = new Map();
      this.curves.set(trialId, byName);
    }
    return byName;
  }

  /** Applies events in order; returns whether anything changed. */
  apply(events: readonly SweepEvent[]): boolean {
    let changed = false;
    for (const e of events) {
      if (e.id <= this.lastEventId) continue;
      this.lastEventId = e.id;
      changed = applyEvent(this, e) || changed;
    }
    if (changed) this.version++;
    return changed;
  }

  /** Trials sorted by number. */
  trialList(): Trial[] {
    return [...this.trials.values()].sort((a, b) => a.number - b.number);
  }
}

function blankTrial(e: { sweepId: string; at: string; data: { trialId: string; number: number } }): Trial {
  return {
    id: e.data.trialId,
    sweepId: e.sweepId,
    number: e.data.number,
    params: {},
    status: 'queued',
    attempt: 0,
    workerId: null,
    epochsDone: 0,
    bestValue: null,
    finalValue: null,
    lastMetrics: {},
    reason: null,
    error: null,
    createdAt: e.at,
    startedAt: null,
    finishedAt: null,
  };
}

/** One event applied to the store; false when it changed nothing the page shows. */
export function applyEvent(store: SweepStore, e: SweepEvent): boolean {
  if (e.type === 'sweep.updated') {
    if (!store.sweep || store.sweep.id !== e.sweepId) return false;
    store.sweep = { ...store.sweep, status: e.data.status, counts: e.data.counts, progress: e.data.progress, best: e.data.best, updatedAt: e.at };
    return true;
  }
  // A control's effects arrive as sweep.updated and trial events; the log shows the control itself.
  if (e.type === 'sweep.control') return false;
  const current = store.trials.get(e.data.trialId) ?? blankTrial(e);
  let next: Trial;
  switch (e.type) {
    case 'trial.created':
      next = { ...current, params: e.data.params };
      break;
    case 'trial.started':
      next = { ...current, status: 'running', attempt: e.data.attempt, workerId: e.data.workerId, startedAt: current.startedAt ?? e.at };
      break;
    case 'trial.queued':
      // Released (pause, shutdown, takeover) or retried: its epochs stay, it waits for a worker.
      next = { ...current, status: 'queued', attempt: e.data.attempt, workerId: null, epochsDone: Math.max(current.epochsDone, e.data.epochsDone), finishedAt: null };
      break;
    case 'trial.epoch': {
      const metrics: Record<string, number> = { ...current.lastMetrics };
      const byName = store.curves.get(e.data.trialId) ?? new Map<string, Point[]>();
      store.curves.set(e.data.trialId, byName);
      for (const [name, value] of Object.entries(e.data.metrics)) {
        if (value === null) continue;
        metrics[name] = value;
        const points = byName.get(name) ?? [];
        const last = points[points.length - 1];
        if (!last || last.x < e.data.epoch) points.push({ x: e.data.epoch, y: value });
        else {
          const i = points.findIndex((p) => p.x >= e.data.epoch);
          if (points[i]!.x === e.data.epoch) points[i] = { x: e.data.epoch, y: value };
          else points.splice(i, 0, { x: e.data.epoch, y: value });
        }
        byName.set(name, points);
      }
      const objective = store.sweep?.objective;
      let bestValue = current.bestValue;
      const v = objective ? e.data.metrics[objective.metric] : undefined;
      if (objective && typeof v === 'number' && (bestValue === null || isBetter(v, bestValue, objective.mode))) bestValue = v;
      next = {
        ...current,
        status: current.status === 'queued' ? 'running' : current.status,
        epochsDone: Math.max(current.epochsDone, e.data.epoch),
        lastMetrics: metrics,
        bestValue,
      };
      break;
    }
    case 'trial.completed':
      next = { ...current, status: 'completed', epochsDone: e.data.epochsDone, finalValue: e.data.finalValue, bestValue: e.data.bestValue, finishedAt: e.at };
      break;
    case 'trial.stopped':
      next = { ...current, status: 'stopped', epochsDone: e.data.epochsDone, reason: e.data.reason, finishedAt: e.at };
      break;
    case 'trial.failed':
      next = { ...current, status: 'failed', attempt: e.data.attempt, error: e.data.error, finishedAt: e.at };
      break;
  }
  store.trials.set(next.id, next);
  return true;
}

/** The value a trial is ranked by: its best objective value so far. */
export function objectiveOf(t: Trial): number | null {
  return t.bestValue ?? t.finalValue;
}

/** Counts per trial state, from the trials themselves (for filters). */
export function countByStatus(trials: Iterable<Trial>): Record<Trial['status'], number> {
  const out: Record<Trial['status'], number> = { queued: 0, running: 0, completed: 0, stopped: 0, failed: 0, cancelled: 0 };
  for (const t of trials) out[t.status]++;
  return out;
}
