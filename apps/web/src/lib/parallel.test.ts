import type { Trial } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { axisPosition, buildAxes, logScaledParams, spaceParamNames } from './parallel.ts';

const space = {
  learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 },
  activation: { type: 'categorical', choices: ['relu', 'tanh'] },
  optimizer: { type: 'categorical', choices: [{ value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 0.9 } } }, 'adam'] },
};

function t(params: Trial['params'], bestValue: number | null): Trial {
  return { params, bestValue } as Trial;
}

describe('parallel coordinates', () => {
  it('lists nested parameters and log-scaled ones', () => {
    expect(spaceParamNames(space)).toEqual(['learningRate', 'activation', 'optimizer', 'momentum']);
    expect([...logScaledParams(space)]).toEqual(['learningRate']);
  });

  it('builds log, category and objective axes and places values', () => {
    const trials = [
      t({ learningRate: 1e-4, activation: 'tanh', optimizer: 'sgd', momentum: 0.5 }, 0.8),
      t({ learningRate: 1e-2, activation: 'relu', optimizer: 'adam' }, 0.9),
    ];
    const axes = buildAxes(trials, spaceParamNames(space), logScaledParams(space), 'val_accuracy', (x) => x.bestValue);
    expect(axes.map((a) => [a.name, a.kind])).toEqual([
      ['learningRate', 'log'], ['activation', 'category'], ['optimizer', 'category'], ['momentum', 'linear'], ['val_accuracy', 'linear'],
    ]);
    expect(axisPosition(axes[0]!, 1e-3)).toBeCloseTo(0.5, 9);
    expect(axisPosition(axes[1]!, 'tanh')).toBe(1);
    expect(axisPosition(axes[3]!, undefined)).toBeNull();
    expect(axisPosition(axes[4]!, 0.9)).toBe(1);
    expect(axisPosition(axes[0]!, -1)).toBeNull();
  });
});
