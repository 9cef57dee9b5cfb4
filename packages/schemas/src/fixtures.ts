// Request fixtures shared by the tests: the acceptance-1 sweep of the orchestration issue.
import type { CreateSweepRequestInput } from './sweep.ts';

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
