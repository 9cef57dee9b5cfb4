// Trials and sweep events for the client's tests, built through the API's own schemas.
import type { SweepEvent } from '@hypersweep/schemas';
import { FIXTURE_SWEEP_ID, FIXTURE_T0, fixtureTrialId } from '@hypersweep/schemas/fixtures';

export { makeTrial } from '@hypersweep/schemas/fixtures';
export const SWEEP_ID = FIXTURE_SWEEP_ID;
export const T0 = FIXTURE_T0;
export const trialId = fixtureTrialId;

/** A trial.epoch event of trial `trial` (default 1) with id = epoch = `id`. */
export function epochEvent(id: number, trial = 1): SweepEvent {
  return { id, type: 'trial.epoch', sweepId: SWEEP_ID, at: T0, data: { trialId: trialId(trial), number: trial, epoch: id, metrics: { val_loss: 1 / id } } };
}
