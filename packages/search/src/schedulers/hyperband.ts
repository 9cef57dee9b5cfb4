// Hyperband as Brackets of ASHA (Ray Tune's AsyncHyperBandScheduler), each trial's Bracket fixed by its number.
import type { Direction, FrozenTrial } from '../types.ts';
import { SearchError } from '../types.ts';
import { parseAshaOptions, rungCount, rungMilestones, rungVerdict } from './asha.ts';
import type { ExplainingScheduler, SchedulerVerdict } from './common.ts';
import { enumOption, numberOption, optionsObject } from './validate.ts';

/**
 * How trial numbers map to Brackets. 'proportional' follows Hyperband's allocation: Bracket b
 * (minimum resource minResource·η^b, s = sMax − b in the paper) receives ⌈(sMax+1)/(s+1)·η^s⌉ trials
 * per cycle, interleaved by smooth weighted round-robin so any prefix of trials is close to those
 * proportions (81·η=3: 81, 34, 15, 8, 5 per 143 trials). 'roundRobin' is number mod Brackets.
 */
export type BracketAssignment = 'proportional' | 'roundRobin';

export interface HyperbandOptions {
  readonly direction: Direction;
  /** η. Default 3. */
  readonly reductionFactor?: number;
  /** Smallest Bracket's first Milestone. Default 1. */
  readonly minResource?: number;
  /** Required. */
  readonly maxResource: number;
  /** No trial in any Bracket is stopped below this step. Default minResource. */
  readonly gracePeriod?: number;
  /** How many Brackets, most aggressive first; default and maximum sMax+1 = ⌊log_η(max/min)⌋+1. */
  readonly brackets?: number;
  /** Default 'proportional'. */
  readonly bracketAssignment?: BracketAssignment;
}

/**
 * Most trials in one assignment cycle: the most aggressive Bracket alone receives η^sMax of them.
 * Past 2⁴⁸ the round-robin's integer sums would no longer be exact in a double.
 */
export const MAX_CYCLE_TRIALS = 2 ** 48;

export interface Bracket {
  /** 0 is the most aggressive (smallest minimum resource). */
  readonly index: number;
  /** The Bracket's first Milestone: minResource·η^index. */
  readonly minResource: number;
  /** Its Rung Milestones; empty for the last Bracket when it trains every trial to maxResource. */
  readonly milestones: readonly number[];
  /** Trials it receives per assignment cycle. */
  readonly weight: number;
}

export interface HyperbandScheduler extends ExplainingScheduler {
  readonly name: 'hyperband';
  readonly brackets: readonly Bracket[];
  /** The Bracket of a trial number: a pure function of the number and the options. */
  bracketOf(trialNumber: number): number;
}

/**
 * Smooth weighted round-robin (as nginx): an interleaved cycle with exactly weight[i] slots for i.
 * The cycle can be far longer than any sweep (η^sMax slots for the first Bracket), so its slots are
 * computed on demand, up to the largest trial number asked for.
 */
function interleaved(weights: readonly number[]): (slot: number) => number {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const cycle: number[] = [];
  return (slot) => {
    const at = ((slot % total) + total) % total;
    while (cycle.length <= at) {
      let pick = 0;
      for (let i = 0; i < weights.length; i++) {
        current[i]! += weights[i]!;
        if (current[i]! > current[pick]!) pick = i;
      }
      current[pick]! -= total;
      cycle.push(pick);
    }
    return cycle[at]!;
  };
}

/**
 * Hyperband over ASHA Brackets. Within a Bracket, decisions are ASHA's (see `rungVerdict`) among
 * that Bracket's trials only; a trial is only stopped at one of its Bracket's Milestones, never
 * below gracePeriod. Pure in (trial, trials).
 */
export function createHyperbandScheduler(options: HyperbandOptions): HyperbandScheduler {
  const o = optionsObject(options, ['direction', 'reductionFactor', 'minResource', 'maxResource', 'gracePeriod', 'brackets', 'bracketAssignment'], 'hyperband');
  const config = parseAshaOptions(
    Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'brackets' && k !== 'bracketAssignment')),
    'hyperband',
  );
  const eta = config.reductionFactor;
  const sMax = rungCount(config.minResource, eta, config.maxResource) - 1;
  const count = numberOption(o, 'brackets', { min: 1, integer: true, default: sMax + 1 });
  if (count > sMax + 1) {
    throw new SearchError('INVALID_CONFIG', 'brackets', `at most ${sMax + 1} with these resources and η, got ${count}`);
  }
  const assignment = enumOption<BracketAssignment>(o, 'bracketAssignment', ['proportional', 'roundRobin'], 'proportional');

  const weightOf = (b: number): number => {
    const s = sMax - b;
    return assignment === 'proportional' ? Math.ceil(((sMax + 1) / (s + 1)) * eta ** s - 1e-9) : 1;
  };
  let cycleTrials = 0;
  for (let b = 0; b < count; b++) cycleTrials += weightOf(b);
  if (cycleTrials > MAX_CYCLE_TRIALS) {
    throw new SearchError(
      'INVALID_CONFIG',
      'minResource',
      `${config.minResource} with reductionFactor ${eta} and maxResource ${config.maxResource} gives Brackets that share a cycle of ${cycleTrials.toExponential(2)} trials; at most 2^48: raise minResource, or use bracketAssignment roundRobin`,
    );
  }
  const brackets: Bracket[] = [];
  for (let b = 0; b < count; b++) {
    const minResource = config.minResource * eta ** b;
    const milestones = rungMilestones(minResource, eta, config.maxResource, config.gracePeriod);
    brackets.push({ index: b, minResource, milestones, weight: weightOf(b) });
  }
  if (brackets.every((b) => b.milestones.length === 0)) {
    throw new SearchError('INVALID_CONFIG', 'gracePeriod', `leaves no Rung below maxResource (${config.maxResource})`);
  }
  const slotOf = interleaved(brackets.map((b) => b.weight));
  const bracketOf = (trialNumber: number): number => slotOf(trialNumber);

  const explain = (trial: FrozenTrial, trials: readonly FrozenTrial[]): SchedulerVerdict => {
    const b = bracketOf(trial.number);
    const bracket = brackets[b]!;
    const peers = trials.filter((t) => bracketOf(t.number) === b);
    const verdict = rungVerdict(trial, peers, bracket.milestones, eta, config.direction);
    return { ...verdict, reason: `Bracket ${b}: ${verdict.reason}` };
  };
  return { name: 'hyperband', brackets, bracketOf, explain, onReport: (trial, trials) => explain(trial, trials).decision };
}
