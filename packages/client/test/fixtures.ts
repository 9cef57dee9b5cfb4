// Trials and sweep events for the client's tests, checked with the API's own schemas.
import { Trial, type SweepEvent } from '@hypersweep/schemas';

export const SWEEP_ID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
export const T0 = '2026-01-01T00:00:00.000Z';

export function trialId(n: number): string {
  return `00000000-0000-4000-8000-${String(n + 1).padStart(12, '0')}`;
}

export function makeTrial(n: number, overrides: Partial<Record<keyof Trial, unknown>> = {}): Trial {
  return Trial.parse({
    id: trialId(n),
    sweepId: SWEEP_ID,
    number: n,
    params: { learningRate: 0.01 * (n + 1), activation: n % 2 === 0 ? 'tanh' : 'relu' },
    status: 'completed',
    attempt: 1,
    workerId: 'worker-a',
    epochsDone: 5,
    bestValue: 0.9 + n / 1000,
    finalValue: 0.89 + n / 1000,
    lastMetrics: { val_accuracy: 0.89 + n / 1000, val_loss: 0.3 },
    reason: null,
    error: null,
    createdAt: T0,
    startedAt: T0,
    finishedAt: T0,
    ...overrides,
  });
}

/** A trial.epoch event of trial 0 with id = epoch = `id`. */
export function epochEvent(id: number, trial = 0): SweepEvent {
  return { id, type: 'trial.epoch', sweepId: SWEEP_ID, at: T0, data: { trialId: trialId(trial), number: trial, epoch: id, metrics: { val_loss: 1 / id } } };
}
