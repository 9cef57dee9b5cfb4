// Seeded synthetic learning curves with known final values, and a deterministic asynchronous sweep simulator.
import { Rng } from '@hypersweep/nn';
import type { Report, Scheduler, TrialState } from '../../packages/search/src/types.ts';

/** One trial's curve: value(t) = floor + (start − floor)·exp(−t/τ) + noise (a loss: lower is better). */
export interface Curve {
  readonly floor: number;
  readonly start: number;
  readonly tau: number;
  /** Seconds per epoch: different speeds make the workers' reports interleave. */
  readonly epochSeconds: number;
  /** Noise-free value at maxResource: the trial's known final value. */
  readonly final: number;
  /** The observed value at each epoch 1..maxResource (noise included), drawn up front. */
  readonly values: readonly number[];
}

export interface CurveParams {
  readonly trials: number;
  readonly maxResource: number;
  /** Standard deviation of the per-epoch noise. */
  readonly noise: number;
}

/**
 * Draws `trials` curves from `seed`. Floors are dense near the best (as good configurations are
 * in real sweeps); τ is log-uniform in [1, 30] and independent of the floor, so slow starters with
 * a low floor overtake fast starters with a higher one (curve crossings).
 */
export function drawCurves(seed: number, p: CurveParams): Curve[] {
  const root = Rng.fromSeed(seed).split('curves');
  const curves: Curve[] = [];
  for (let i = 0; i < p.trials; i++) {
    const rng = root.split(i);
    const floor = 0.2 + 0.6 * rng.double() ** 2;
    const start = floor + 0.6 + 1.2 * rng.double();
    const tau = Math.exp(rng.uniform(Math.log(1), Math.log(30)));
    const epochSeconds = rng.uniform(0.6, 1.4);
    const at = (t: number) => floor + (start - floor) * Math.exp(-t / tau);
    const values = Array.from({ length: p.maxResource }, (_, k) => at(k + 1) + p.noise * rng.normal());
    curves.push({ floor, start, tau, epochSeconds, final: at(p.maxResource), values });
  }
  return curves;
}

interface SimTrial {
  number: number;
  params: Record<string, never>;
  state: TrialState;
  reports: Report[];
}

export interface SweepOutcome {
  /** Epochs trained over all trials. */
  readonly epochs: number;
  readonly completed: number;
  readonly stopped: number;
  /** The completed trial with the best observed last value: what the sweep would report as best. */
  readonly selected: number;
  /** Its known final value. */
  readonly selectedFinal: number;
}

/**
 * Runs trials 0..n−1 in order on `workers` workers, epoch by epoch, asking the scheduler after each
 * report. A worker's next report comes epochSeconds after its last; the earliest report is handled
 * first (ties: lower worker index), so the interleaving is asynchronous yet deterministic. The
 * scheduler sees the sweep as stored: every trial started so far, the reporting one included.
 */
export function simulateSweep(curves: readonly Curve[], maxResource: number, workers: number, scheduler: Scheduler): SweepOutcome {
  const trials: SimTrial[] = [];
  const slots: { trial: SimTrial | null; at: number }[] = [];
  const startNext = (at: number): { trial: SimTrial | null; at: number } => {
    if (trials.length >= curves.length) return { trial: null, at: Infinity };
    const t: SimTrial = { number: trials.length, params: {}, state: 'running', reports: [] };
    trials.push(t);
    return { trial: t, at: at + curves[t.number]!.epochSeconds };
  };
  for (let w = 0; w < workers; w++) slots.push(startNext(0));
  let epochs = 0;
  for (;;) {
    let w = -1;
    for (let i = 0; i < slots.length; i++) if (slots[i]!.trial && (w < 0 || slots[i]!.at < slots[w]!.at)) w = i;
    if (w < 0) break;
    const slot = slots[w]!;
    const t = slot.trial!;
    const curve = curves[t.number]!;
    const step = t.reports.length + 1;
    t.reports.push({ step, value: curve.values[step - 1]! });
    epochs++;
    if (step >= maxResource) t.state = 'completed';
    else if (scheduler.onReport(t, trials) === 'stop') t.state = 'stopped';
    slots[w] = t.state === 'running' ? { trial: t, at: slot.at + curve.epochSeconds } : startNext(slot.at);
  }
  const completed = trials.filter((t) => t.state === 'completed');
  let selected = completed[0]!;
  for (const t of completed) if (t.reports.at(-1)!.value < selected.reports.at(-1)!.value) selected = t;
  return {
    epochs,
    completed: completed.length,
    stopped: trials.filter((t) => t.state === 'stopped').length,
    selected: selected.number,
    selectedFinal: curves[selected.number]!.final,
  };
}
