// Shared reading of trials for schedulers: scores in one direction, values at a step, Milestones crossed.
import type { Decision, Direction, FrozenTrial, Report, Scheduler } from '../types.ts';

/** A decision with its reason, for the orchestrator's logs and the UI. */
export interface SchedulerVerdict {
  readonly decision: Decision;
  /** Human-readable, e.g. "rung 9: 4 of 7 values are better, top 2 continue". */
  readonly reason: string;
  /** The Milestone (step) the decision was taken at; absent when the report was not a decision point. */
  readonly milestone?: number;
  /** The value the trial had to match or beat at that Milestone (median, or k-th best of a Rung). */
  readonly cutoff?: number;
}

/** A Scheduler that can also say why it decided. `onReport` is `explain(...).decision`. */
export interface ExplainingScheduler extends Scheduler {
  explain(trial: FrozenTrial, trials: readonly FrozenTrial[]): SchedulerVerdict;
}

/**
 * Lower is better, whatever the direction. NaN (a diverged trial) is the worst possible score,
 * so it never wins a Rung or drags a median towards it.
 */
export function score(value: number, direction: Direction): number {
  if (Number.isNaN(value)) return Infinity;
  return direction === 'minimize' ? value : -value;
}

/** Back from a score to the objective's scale (for reporting cutoffs). */
export function unscore(s: number, direction: Direction): number {
  return direction === 'minimize' ? s : -s;
}

/** Index of the first report with step ≥ `step` (reports are in step order), or reports.length. */
function lowerBound(reports: readonly Report[], step: number): number {
  let lo = 0;
  let hi = reports.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reports[mid]!.step < step) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The value a trial recorded when it reached `milestone`: its first report at a step ≥ milestone
 * (as Ray Tune records a Rung), or undefined if it never got there.
 */
export function valueAtMilestone(trial: FrozenTrial, milestone: number): number | undefined {
  return trial.reports[lowerBound(trial.reports, milestone)]?.value;
}

/**
 * The value a trial had at `step`: its latest report at a step ≤ `step`, provided it trained at
 * least that far (some report at a step ≥ `step`); otherwise undefined.
 */
export function valueAtStep(trial: FrozenTrial, step: number): number | undefined {
  const i = lowerBound(trial.reports, step);
  const at = trial.reports[i];
  if (at === undefined) return undefined;
  if (at.step === step) return at.value;
  return trial.reports[i - 1]?.value;
}

/** The Milestones in (previous report's step, last report's step]: the ones this report reached. */
export function milestonesCrossed(trial: FrozenTrial, milestones: readonly number[]): number[] {
  const last = trial.reports.at(-1);
  if (last === undefined) return [];
  const previous = trial.reports.at(-2)?.step ?? 0;
  return milestones.filter((m) => previous < m && m <= last.step);
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
