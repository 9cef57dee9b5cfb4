// Test-only builders of FrozenTrials for the scheduler and budget tests (not exported by the package).
import type { FrozenTrial, TrialState } from '../types.ts';

/** A trial with one report per epoch 1..values.length (or explicit [step, value] pairs). */
export function trial(number: number, values: readonly (number | readonly [number, number])[], state: TrialState = 'running'): FrozenTrial {
  const reports = values.map((v, i) => (typeof v === 'number' ? { step: i + 1, value: v } : { step: v[0], value: v[1] }));
  return { number, params: {}, state, reports };
}

/** `t` as it was after its first `n` reports (what the scheduler saw at that time). */
export function upTo(t: FrozenTrial, n: number): FrozenTrial {
  return { ...t, reports: t.reports.slice(0, n) };
}
