// Fixtures shared by the tests: the acceptance-1 sweep of the orchestration issue, and response
// fixtures built through their schemas (one that drifts from the contract fails where it is made).
import { Sweep, Trial } from './responses.ts';
import { CreateSweepRequest, type CreateSweepRequestInput } from './sweep.ts';

export const FIXTURE_SWEEP_ID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
export const FIXTURE_T0 = '2026-01-02T03:04:05.000Z';

/** A UUID per trial number: 00000000-0000-4000-8000-00000000000n. */
export function fixtureTrialId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** Trial n of FIXTURE_SWEEP_ID as the API lists it: completed, two params, two metrics. */
export function makeTrial(n: number, overrides: Partial<Record<keyof Trial, unknown>> = {}): Trial {
  return Trial.parse({
    id: fixtureTrialId(n),
    sweepId: FIXTURE_SWEEP_ID,
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
    createdAt: FIXTURE_T0,
    startedAt: FIXTURE_T0,
    finishedAt: FIXTURE_T0,
    ...overrides,
  });
}

/** FIXTURE_SWEEP_ID as the API answers it: the MNIST TPE + ASHA sweep below, running, one trial of three done. */
export function makeSweep(overrides: Partial<Record<keyof Sweep, unknown>> = {}): Sweep {
  const spec = CreateSweepRequest.parse(mnistTpeAshaSweep());
  return Sweep.parse({
    id: FIXTURE_SWEEP_ID,
    name: spec.name,
    description: null,
    status: 'running',
    objective: spec.objective,
    seed: 0,
    spec,
    counts: { queued: 1, running: 1, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 3 },
    progress: { trialsFinished: 1, maxTrials: 3, epochsDone: 7, maxTotalEpochs: null, fraction: 1 / 3 },
    best: null,
    testResult: null,
    error: null,
    createdAt: FIXTURE_T0,
    updatedAt: FIXTURE_T0,
    finishedAt: null,
    ...overrides,
  });
}

/** MNIST subset, TPE + ASHA, 12 trials: lr (log), batch size, dropout, activation, sgd with conditional momentum or adam. */
export function mnistTpeAshaSweep(): CreateSweepRequestInput {
  return {
    name: 'mnist tpe+asha',
    dataset: { type: 'mnist', limitTrain: 2000, limitTest: 500 },
    model: {
      inputShape: [28, 28],
      layers: [
        { type: 'flatten' },
        { type: 'dense', units: 64, activation: 'relu' },
        { type: 'dropout', rate: 0.1 },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 9, batchSize: 64, optimizer: { type: 'adam', learningRate: 1e-3 } },
    search: {
      space: {
        learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 },
        batchSize: { type: 'categorical', choices: [32, 64, 128] },
        dropout: { type: 'uniform', low: 0, high: 0.5 },
        activation: { type: 'categorical', choices: ['relu', 'tanh', 'gelu'] },
        optimizer: {
          type: 'categorical',
          choices: [{ value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 0.95 } } }, 'adam'],
        },
      },
      sampler: { type: 'tpe', nStartupTrials: 4 },
      scheduler: { type: 'asha', reductionFactor: 3, minResource: 1 },
      budget: { maxTrials: 12, maxConcurrentTrials: 4 },
      seed: 42,
    },
    objective: { metric: 'val_accuracy', mode: 'maximize' },
  };
}

/** The acceptance sweep's shape: depth 1–3 with per-layer width and dropout, warm-up, beta2, scaling. */
export function templatedMnistSweep(): Record<string, unknown> {
  const width = { type: 'intlog', low: 16, high: 256 };
  const rate = { type: 'uniform', low: 0, high: 0.5 };
  return {
    name: 'refs',
    dataset: { type: 'mnist', limitTrain: 1000, limitTest: 200, scaling: { $param: 'scaling' } },
    model: {
      inputShape: [28, 28],
      loss: 'softmax_cross_entropy',
      layers: [
        { type: 'flatten' },
        {
          $repeat: {
            times: { $param: 'depth' },
            block: [
              { type: 'dense', units: { $param: 'units_{i}' }, activation: 'relu' },
              { type: 'dropout', rate: { $param: 'dropout_{i}' } },
            ],
          },
        },
        { type: 'dense', units: 10, activation: 'linear' },
      ],
    },
    training: {
      epochs: 4,
      batchSize: 64,
      optimizer: { type: 'adam', learningRate: { $param: 'lr' }, beta2: { $param: 'beta2' } },
      schedule: { type: 'cosine', warmupEpochs: { $param: 'warmup' } },
    },
    search: {
      space: {
        lr: { type: 'loguniform', low: 1e-4, high: 1e-2 },
        scaling: { type: 'categorical', choices: ['standardize', 'unit', 'none'] },
        beta2: { type: 'uniform', low: 0.9, high: 0.9999 },
        warmup: { type: 'int', low: 0, high: 2 },
        units_1: width,
        dropout_1: rate,
        depth: {
          type: 'categorical',
          choices: [
            { value: 1 },
            { value: 2, params: { units_2: width, dropout_2: rate } },
            { value: 3, params: { units_2: width, dropout_2: rate, units_3: width, dropout_3: rate } },
          ],
        },
      },
      sampler: { type: 'tpe', nStartupTrials: 3 },
      scheduler: { type: 'asha', minResource: 1, reductionFactor: 2 },
      budget: { maxTrials: 8, maxConcurrentTrials: 2 },
    },
    objective: { metric: 'val_accuracy' },
  };
}

/** Every [path] location of a JSON tree (the root included), for properties that replace one. */
export function jsonLocations(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  const here = [path];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => jsonLocations(v, [...path, i]))];
  if (value && typeof value === 'object') return [...here, ...Object.entries(value).flatMap(([k, v]) => jsonLocations(v, [...path, k]))];
  return here;
}

/** A copy of `root` with the value at `path` replaced. */
export function jsonReplaced(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}
