// ASHA, the stopping variant of asynchronous successive halving (Li et al. 2018; Ray Tune's ASHAScheduler).
import type { Direction, FrozenTrial } from '../types.ts';
import { SearchError } from '../types.ts';
import { milestonesCrossed, score, unscore, valueAtMilestone, type ExplainingScheduler, type SchedulerVerdict } from './common.ts';
import { directionOption, numberOption, optionsObject } from './validate.ts';

export interface AshaOptions {
  readonly direction: Direction;
  /** η: the top 1/η of each Rung continue. Default 3; any real number > 1. */
  readonly reductionFactor?: number;
  /** The first Rung's Milestone r: Rungs sit at r·η^k. Default 1. */
  readonly minResource?: number;
  /** The resource a trial trains to when never stopped (the orchestrator enforces it). Required. */
  readonly maxResource: number;
  /** No trial is stopped at a step below this: Rungs under it are skipped. Default minResource. */
  readonly gracePeriod?: number;
}

export interface AshaScheduler extends ExplainingScheduler {
  readonly name: 'asha';
  /** The Rungs' Milestones (steps), ascending: the only steps at which a trial can be stopped. */
  readonly milestones: readonly number[];
}

/** Validated ASHA options with defaults applied. */
export interface AshaConfig {
  readonly direction: Direction;
  readonly reductionFactor: number;
  readonly minResource: number;
  readonly maxResource: number;
  readonly gracePeriod: number;
}

const ASHA_KEYS = ['direction', 'reductionFactor', 'minResource', 'maxResource', 'gracePeriod'] as const;

/**
 * Most Rungs between minResource and maxResource. Every report is judged at each Rung it crosses,
 * and a η close to 1 or a tiny minResource would otherwise ask for millions of them (and the memory
 * to list them) before a single trial runs; η = 2 from 1 to 10⁶ steps needs 20.
 */
export const MAX_RUNGS = 1000;

/** ⌊log_η(max/min)⌋ + 1: the Rungs base·η^k below maxResource, before gracePeriod skips any. */
export function rungCount(minResource: number, eta: number, maxResource: number): number {
  // The epsilon keeps ⌊log_3(81/1)⌋ at 4 despite floating-point logs.
  return Math.floor(Math.log(maxResource / minResource) / Math.log(eta) + 1e-9) + 1;
}

export function parseAshaOptions(options: unknown, what = 'asha', extraKeys: readonly string[] = []): AshaConfig {
  const o = optionsObject(options, [...ASHA_KEYS, ...extraKeys], what);
  const direction = directionOption(o);
  const reductionFactor = numberOption(o, 'reductionFactor', { min: 1, exclusiveMin: true, default: 3 });
  const minResource = numberOption(o, 'minResource', { min: 0, exclusiveMin: true, default: 1 });
  const maxResource = numberOption(o, 'maxResource', { min: 0, exclusiveMin: true });
  if (maxResource <= minResource) {
    throw new SearchError('INVALID_CONFIG', 'maxResource', `must exceed minResource (${minResource}), or there is no Rung`);
  }
  const gracePeriod = numberOption(o, 'gracePeriod', { min: 0, default: minResource });
  const rungs = rungCount(minResource, reductionFactor, maxResource);
  if (rungs > MAX_RUNGS) {
    throw new SearchError(
      'INVALID_CONFIG',
      'minResource',
      `${minResource} with reductionFactor ${reductionFactor} gives ${rungs} Rungs below maxResource (${maxResource}); at most ${MAX_RUNGS}: raise minResource or reductionFactor`,
    );
  }
  return { direction, reductionFactor, minResource, maxResource, gracePeriod };
}

/**
 * Rung Milestones base·η^k that lie in [gracePeriod, maxResource). A Milestone at maxResource is
 * left out on purpose: the trial ends there anyway, and "stopping" it would mislabel a fully
 * trained trial as stopped early.
 */
export function rungMilestones(base: number, eta: number, maxResource: number, gracePeriod: number): number[] {
  const out: number[] = [];
  // Multiplying (not η^k) keeps exact integers for integer η; the epsilon absorbs float drift for real η.
  for (let m = base; m < maxResource * (1 - 1e-12); m *= eta) {
    if (m >= gracePeriod) out.push(m);
  }
  return out;
}

/**
 * The ASHA decision over the trials of one Bracket (all trials for plain ASHA). At a report that
 * reaches a Milestone m, the trial's value joins every value recorded at m so far: each other
 * trial's first report at a step ≥ m, whatever its state (a trial that failed or was stopped later
 * still counts at the Rungs it reached; queued trials and those that never got to m do not). It
 * continues iff fewer than k = max(1, ⌊n/η⌋) of those n values (its own included) are strictly
 * better than its own: ties continue, and the first trial at a Rung always continues, as in Ray
 * Tune. A report that reaches no Milestone always continues; one that jumps over several is judged
 * at each, and stops at the first it fails.
 */
export function rungVerdict(
  trial: FrozenTrial,
  peers: readonly FrozenTrial[],
  milestones: readonly number[],
  eta: number,
  direction: Direction,
): SchedulerVerdict {
  const last = trial.reports.at(-1);
  if (last === undefined) return { decision: 'continue', reason: 'no report yet' };
  const crossed = milestonesCrossed(trial, milestones);
  if (crossed.length === 0) return { decision: 'continue', reason: `step ${last.step} is not a Rung Milestone` };
  const own = score(last.value, direction);
  let verdict: SchedulerVerdict = { decision: 'continue', reason: '' };
  for (const milestone of crossed) {
    const scores: number[] = [own];
    for (const peer of peers) {
      if (peer.number === trial.number) continue;
      const v = valueAtMilestone(peer, milestone);
      if (v !== undefined) scores.push(score(v, direction));
    }
    const keep = Math.max(1, Math.floor(scores.length / eta));
    const better = scores.reduce((n, s) => (s < own ? n + 1 : n), 0);
    const cutoffScore = [...scores].sort((a, b) => a - b)[keep - 1]!;
    const cutoff = unscore(cutoffScore, direction);
    const reason = `Rung ${milestone}: ${better} of ${scores.length} values better, top ${keep} continue`;
    if (better >= keep) return { decision: 'stop', reason, milestone, cutoff };
    verdict = { decision: 'continue', reason, milestone, cutoff };
  }
  return verdict;
}

/**
 * ASHA (stopping variant). Pure: the decision depends only on `trial` and the reports stored in
 * `trials`, so an orchestrator that restarts rebuilds every Rung from the trials. A trial is only
 * ever stopped at a report that reaches a Milestone (never below gracePeriod, never at maxResource).
 */
export function createAshaScheduler(options: AshaOptions): AshaScheduler {
  const config = parseAshaOptions(options);
  const milestones = rungMilestones(config.minResource, config.reductionFactor, config.maxResource, config.gracePeriod);
  if (milestones.length === 0) {
    throw new SearchError('INVALID_CONFIG', 'gracePeriod', `leaves no Rung below maxResource (${config.maxResource})`);
  }
  const explain = (trial: FrozenTrial, trials: readonly FrozenTrial[]): SchedulerVerdict =>
    rungVerdict(trial, trials, milestones, config.reductionFactor, config.direction);
  return { name: 'asha', milestones, explain, onReport: (trial, trials) => explain(trial, trials).decision };
}
