// A sweep's budget (trials, concurrency, epochs) and its accounting from the stored trials, states kept apart.
import { SearchError, type FrozenTrial } from './types.ts';
import { booleanOption, enumOption, numberOption, optionalNumberOption, optionsObject } from './schedulers/validate.ts';

export interface BudgetOptions {
  /** Trials the sweep may create in total. Required. */
  readonly maxTrials: number;
  /** Trials running or queued at once. Default 1. */
  readonly maxConcurrentTrials?: number;
  /** Epochs (reported steps) over all trials; absent or null: no limit. */
  readonly maxTotalEpochs?: number | null;
  /**
   * Whether failed trials use up maxTrials. Default true: otherwise a configuration that always
   * crashes would make the sweep start trials forever. They never count as completed either way.
   */
  readonly failedCountTowardsBudget?: boolean;
  /** No new trial starts once this many have failed; absent or null: no limit. */
  readonly maxFailedTrials?: number | null;
}

/** Validated budget; limits that are absent are null (so the budget survives a JSON round trip). */
export interface Budget {
  readonly maxTrials: number;
  readonly maxConcurrentTrials: number;
  readonly maxTotalEpochs: number | null;
  readonly failedCountTowardsBudget: boolean;
  readonly maxFailedTrials: number | null;
}

export function createBudget(options: BudgetOptions): Budget {
  const o = optionsObject(options, ['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs', 'failedCountTowardsBudget', 'maxFailedTrials'], 'budget');
  return {
    maxTrials: numberOption(o, 'maxTrials', { min: 1, integer: true }),
    maxConcurrentTrials: numberOption(o, 'maxConcurrentTrials', { min: 1, integer: true, default: 1 }),
    maxTotalEpochs: optionalNumberOption(o, 'maxTotalEpochs', { min: 1, integer: true }),
    failedCountTowardsBudget: booleanOption(o, 'failedCountTowardsBudget', true),
    maxFailedTrials: optionalNumberOption(o, 'maxFailedTrials', { min: 1, integer: true }),
  };
}

/**
 * How running trials' future epochs are charged when deciding whether a new trial may start.
 * 'worstCase' (default): each running or queued trial may still train to maxEpochsPerTrial, and a
 * new trial starts only if it too could train to that cap: maxTotalEpochs is never exceeded, but
 * with early stopping fewer trials run near the end. 'spent': only epochs already reported count,
 * so trials start while any epoch is left; the orchestrator must then stop trials itself when
 * `epochsRemaining` reaches 0.
 */
export type EpochReservation = 'worstCase' | 'spent';

export interface AccountOptions {
  /** The most epochs one trial trains (the schedulers' maxResource). */
  readonly maxEpochsPerTrial: number;
  readonly reservation?: EpochReservation;
}

/** Trials per state. `stoppedEarly` (state 'stopped') and `failed` are never part of `completed`. */
export interface TrialCounts {
  readonly completed: number;
  readonly stoppedEarly: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly running: number;
  readonly queued: number;
  readonly total: number;
}

/** What binds `canStart` when it is 0 or below the concurrency slots. */
export type BudgetLimit = 'maxConcurrentTrials' | 'maxTrials' | 'maxTotalEpochs' | 'maxFailedTrials';

export interface BudgetAccount {
  readonly counts: TrialCounts;
  /** Σ over every trial (any state) of its last reported step. */
  readonly epochsUsed: number;
  /** Epochs running and queued trials may still train ('worstCase'), else 0. */
  readonly epochsReserved: number;
  /** maxTotalEpochs − epochsUsed (never negative); null without an epoch limit. */
  readonly epochsRemaining: number | null;
  /** Trials charged to maxTrials: all of them, minus failed ones when failedCountTowardsBudget is false. */
  readonly trialsUsed: number;
  readonly trialsRemaining: number;
  /** How many new trials may be created now. */
  readonly canStart: number;
  /** The limit that sets `canStart` (the budget's when tied with concurrency); null when free slots do and some are free. */
  readonly limitedBy: BudgetLimit | null;
  /** Nothing more may start and nothing is running or queued. */
  readonly done: boolean;
}

/**
 * Accounts a sweep's budget from its trials as stored. Queued trials hold a concurrency slot (they
 * will run). Cancelled trials use up the trial budget (a cancelled trial is not replaced), and
 * failed ones do unless `failedCountTowardsBudget` is false. Pure: the same trials give the same
 * account.
 */
export function accountBudget(budget: Budget, trials: readonly FrozenTrial[], options: AccountOptions): BudgetAccount {
  const o = optionsObject(options, ['maxEpochsPerTrial', 'reservation'], 'account');
  const cap = numberOption(o, 'maxEpochsPerTrial', { min: 1, integer: true });
  const reservation = enumOption<EpochReservation>(o, 'reservation', ['worstCase', 'spent'], 'worstCase');

  const counts = { completed: 0, stoppedEarly: 0, failed: 0, cancelled: 0, running: 0, queued: 0, total: trials.length };
  let epochsUsed = 0;
  let epochsReserved = 0;
  for (const t of trials) {
    const used = t.reports.at(-1)?.step ?? 0;
    epochsUsed += used;
    switch (t.state) {
      case 'completed': counts.completed++; break;
      case 'stopped': counts.stoppedEarly++; break;
      case 'failed': counts.failed++; break;
      case 'cancelled': counts.cancelled++; break;
      case 'running': counts.running++; break;
      case 'queued': counts.queued++; break;
      default: {
        const state: never = t.state;
        throw new SearchError('INVALID_CONFIG', `trials.${t.number}.state`, `unknown trial state ${JSON.stringify(state)}`);
      }
    }
    if ((t.state === 'running' || t.state === 'queued') && reservation === 'worstCase') epochsReserved += Math.max(0, cap - used);
  }

  const active = counts.running + counts.queued;
  const trialsUsed = budget.failedCountTowardsBudget ? counts.total : counts.total - counts.failed;
  const trialsRemaining = Math.max(0, budget.maxTrials - trialsUsed);
  const epochsRemaining = budget.maxTotalEpochs === null ? null : Math.max(0, budget.maxTotalEpochs - epochsUsed);

  const limits: [BudgetLimit, number][] = [
    ['maxConcurrentTrials', Math.max(0, budget.maxConcurrentTrials - active)],
    ['maxTrials', trialsRemaining],
  ];
  if (epochsRemaining !== null) {
    const free = epochsRemaining - epochsReserved;
    limits.push(['maxTotalEpochs', reservation === 'worstCase' ? Math.max(0, Math.floor(free / cap)) : free > 0 ? Infinity : 0]);
  }
  if (budget.maxFailedTrials !== null && counts.failed >= budget.maxFailedTrials) limits.push(['maxFailedTrials', 0]);

  // The first of the tightest limits wins, so concurrency is named only when it alone binds.
  let [limitedBy, canStart] = limits[0]!;
  for (const [name, n] of limits.slice(1)) {
    if (n < canStart || (n === canStart && limitedBy === 'maxConcurrentTrials')) [limitedBy, canStart] = [name, n];
  }
  return {
    counts,
    epochsUsed,
    epochsReserved,
    epochsRemaining,
    trialsUsed,
    trialsRemaining,
    canStart,
    limitedBy: canStart > 0 && limitedBy === 'maxConcurrentTrials' ? null : limitedBy,
    done: canStart === 0 && active === 0,
  };
}
