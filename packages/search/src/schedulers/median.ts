// Median stopping rule (Golovin et al. 2017; Ray Tune MedianStoppingRule, Optuna MedianPruner).
import type { Direction, FrozenTrial } from '../types.ts';
import { median, score, unscore, valueAtStep, type ExplainingScheduler, type SchedulerVerdict } from './common.ts';
import { directionOption, numberOption, optionsObject } from './validate.ts';

export interface MedianStoppingOptions {
  readonly direction: Direction;
  /** Warm-up: no trial is stopped at a step below this. Default 1. */
  readonly gracePeriod?: number;
  /** Minimum number of other trials with a value at the step before any stop. Default 3. */
  readonly minSamplesRequired?: number;
  /** Decide every `interval` steps from gracePeriod on (Optuna's interval_steps). Default 1. */
  readonly interval?: number;
}

export interface MedianStoppingScheduler extends ExplainingScheduler {
  readonly name: 'median';
}

/**
 * Stops a trial at step s when its BEST value so far (not its running mean: one noisy epoch must
 * not condemn a trial that was good before, as in Optuna) is strictly worse than the median of the
 * other trials' values at s. A trial's value at s is its latest report at a step ≤ s, and it
 * counts only if it trained to s (it has a report at a step ≥ s); every state counts, so a trial
 * that failed or was stopped later still counts at the steps it reached. Decision points are the
 * Milestones gracePeriod + k·interval; a report that reaches none (or has fewer than
 * minSamplesRequired other values at its step) continues. A value equal to the median continues.
 */
export function createMedianStoppingScheduler(options: MedianStoppingOptions): MedianStoppingScheduler {
  const o = optionsObject(options, ['direction', 'gracePeriod', 'minSamplesRequired', 'interval'], 'median');
  const direction = directionOption(o);
  const gracePeriod = numberOption(o, 'gracePeriod', { min: 0, default: 1 });
  const minSamplesRequired = numberOption(o, 'minSamplesRequired', { min: 1, integer: true, default: 3 });
  const interval = numberOption(o, 'interval', { min: 0, exclusiveMin: true, default: 1 });

  const explain = (trial: FrozenTrial, trials: readonly FrozenTrial[]): SchedulerVerdict => {
    const last = trial.reports.at(-1);
    if (last === undefined) return { decision: 'continue', reason: 'no report yet' };
    if (last.step < gracePeriod) return { decision: 'continue', reason: `step ${last.step} is within the grace period (${gracePeriod})` };
    // The latest Milestone gracePeriod + k·interval at or before this step; this report reached it
    // unless the previous report already had.
    const previous = trial.reports.at(-2)?.step ?? 0;
    const milestone = gracePeriod + Math.floor((last.step - gracePeriod) / interval) * interval;
    if (milestone <= previous) {
      return { decision: 'continue', reason: `step ${last.step} is not a Milestone` };
    }
    const others: number[] = [];
    for (const t of trials) {
      if (t.number === trial.number) continue;
      const v = valueAtStep(t, last.step);
      if (v !== undefined) others.push(score(v, direction));
    }
    if (others.length < minSamplesRequired) {
      return { decision: 'continue', reason: `${others.length} other trials at step ${last.step}, ${minSamplesRequired} required`, milestone: last.step };
    }
    const best = Math.min(...trial.reports.map((r) => score(r.value, direction)));
    const mid = median(others);
    const cutoff = unscore(mid, direction);
    const reason = `best so far ${unscore(best, direction)} vs median ${cutoff} of ${others.length} other trials at step ${last.step}`;
    return { decision: best > mid ? 'stop' : 'continue', reason, milestone: last.step, cutoff };
  };
  return { name: 'median', explain, onReport: (trial, trials) => explain(trial, trials).decision };
}
