import { describe, expect, it } from 'vitest';
import { layerRows, resolvedOf, trainingSettings } from './resolved.ts';

const resolved = {
  model: {
    inputShape: [28, 28],
    layers: [{ type: 'flatten' }, { type: 'dense', units: 96, activation: 'gelu' }, { type: 'dropout', rate: 0.25 }, { type: 'dense', units: 10, useBias: true }],
    loss: 'softmax_cross_entropy',
  },
  optimizer: { type: 'adam', learningRate: 0.003, beta2: 0.99 },
  schedule: { type: 'cosine', minLearningRate: 0, warmupEpochs: 2 },
  batchSize: 64,
  microbatches: 4,
  epochs: 9,
  earlyStopping: null,
  dataset: { type: 'mnist', scaling: 'unit' },
};

describe('a trial resolved spec', () => {
  it('lists the layers with their own units, activation and rate', () => {
    const r = resolvedOf({ resolved });
    expect(r).not.toBeNull();
    expect(layerRows(r!.model)).toEqual([
      { index: 0, type: 'flatten', units: '', activation: '', rate: '', other: '' },
      { index: 1, type: 'dense', units: '96', activation: 'gelu', rate: '', other: '' },
      { index: 2, type: 'dropout', units: '', activation: '', rate: '0.25', other: '' },
      { index: 3, type: 'dense', units: '10', activation: 'linear', rate: '', other: 'useBias true' },
    ]);
  });

  it('names the key training settings', () => {
    expect(trainingSettings(resolvedOf({ resolved })!)).toEqual([
      ['epochs', '9'], ['batch size', '64'], ['microbatches', '4'], ['optimizer', 'adam: learningRate 0.003, beta2 0.99'],
      ['schedule', 'cosine: minLearningRate 0, warmupEpochs 2'], ['dataset', 'mnist: scaling unit'], ['loss', 'softmax_cross_entropy'],
    ]);
  });

  it('is null for old trials and for shapes it does not know', () => {
    expect(resolvedOf({})).toBeNull();
    expect(resolvedOf({ resolved: null })).toBeNull();
    expect(resolvedOf({ resolved: { model: { layers: 'dense' } } })).toBeNull();
  });
});
