// Test fixtures: schema-valid sweeps, trials and SSE events (each built through its zod schema, so a
// fixture that drifts from the API contract fails loudly here rather than passing silently).
import {
  CreateSweepRequest,
  Sweep,
  SweepEvent,
  type CreateSweepRequestInput,
} from '@hypersweep/schemas';
import { FIXTURE_SWEEP_ID, FIXTURE_T0, fixtureTrialId, makeSweep as makeSchemaSweep, makeTrial } from '@hypersweep/schemas/fixtures';

export { makeTrial };
export const SWEEP_ID = FIXTURE_SWEEP_ID;
export const T0 = FIXTURE_T0;

/** A small spirals sweep with random search over the learning rate and activation. */
export function spiralsRequest(): CreateSweepRequestInput {
  return {
    name: 'spirals, "quoted"',
    dataset: { type: 'spirals', count: 400 },
    model: {
      inputShape: [2],
      layers: [
        { type: 'dense', units: 16, activation: 'tanh' },
        { type: 'dense', units: 2 },
      ],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 5 },
    search: {
      space: {
        learningRate: { type: 'loguniform', low: 1e-3, high: 1 },
        activation: { type: 'categorical', choices: ['relu', 'tanh'] },
      },
      budget: { maxTrials: 3, maxConcurrentTrials: 2 },
    },
    objective: { metric: 'val_accuracy' },
  };
}

export const trialId = fixtureTrialId;

/** The spirals sweep of spiralsRequest() as the API answers it (the shared fixture, with this suite's spec). */
export function makeSweep(overrides: Partial<Record<keyof Sweep, unknown>> = {}): Sweep {
  return makeSchemaSweep({
    name: 'spirals, "quoted"',
    objective: { metric: 'val_accuracy', mode: 'maximize' },
    spec: CreateSweepRequest.parse(spiralsRequest()),
    best: { trialId: trialId(0), number: 0, value: 0.91, params: { learningRate: 0.01, activation: 'tanh' } },
    ...overrides,
  });
}

const counts = { queued: 0, running: 1, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 2 };
const progress = { trialsFinished: 1, maxTrials: 3, epochsDone: 7, maxTotalEpochs: null, fraction: 1 / 3 };

/** The events of a short sweep: ids 1..n, ending with the sweep completed. */
export function sweepStory(): SweepEvent[] {
  const e = (id: number, type: SweepEvent['type'], data: unknown) => SweepEvent.parse({ id, type, sweepId: SWEEP_ID, at: T0, data });
  const ref = (n: number) => ({ trialId: trialId(n), number: n });
  return [
    e(1, 'trial.created', { ...ref(2), params: { learningRate: 0.2, activation: 'relu' } }),
    e(2, 'trial.started', { ...ref(2), attempt: 1, workerId: 'worker-b', resumedFromEpoch: 0 }),
    e(3, 'trial.epoch', { ...ref(2), epoch: 1, metrics: { val_accuracy: 0.7, val_loss: 0.6 } }),
    e(4, 'trial.epoch', { ...ref(2), epoch: 2, metrics: { val_accuracy: 0.8, val_loss: 0.5 } }),
    e(5, 'trial.epoch', { ...ref(1), epoch: 3, metrics: { val_accuracy: 0.85, val_loss: null } }),
    e(6, 'trial.stopped', { ...ref(1), epochsDone: 3, reason: 'asha rung 1', byUser: false }),
    e(7, 'trial.epoch', { ...ref(2), epoch: 3, metrics: { val_accuracy: 0.95, val_loss: 0.2 } }),
    e(8, 'trial.completed', { ...ref(2), epochsDone: 5, finalValue: 0.95, bestValue: 0.95 }),
    e(9, 'sweep.updated', {
      status: 'completed',
      counts: { ...counts, running: 0, completed: 2, stopped: 1, total: 3 },
      progress: { ...progress, trialsFinished: 3, fraction: 1 },
      best: { trialId: trialId(2), number: 2, value: 0.95, params: { learningRate: 0.2, activation: 'relu' } },
    }),
  ];
}
