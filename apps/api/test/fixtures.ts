// The smallest built-in sweep the API accepts: 200 spiral points, one hidden layer, 3 trials.
export const spiralsSweep = (name = 'spirals') => ({
  name,
  dataset: { type: 'spirals', count: 200, testCount: 50 },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
  training: { epochs: 3, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.01 } },
  search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 3 } },
  objective: { metric: 'val_accuracy' },
});
