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

describe('conditional parameters', () => {
  // Per-layer widths under a depth choice: units_2 is defined in two branches, one parameter.
  const width = { type: 'intlog', low: 16, high: 512 };
  const depthSpace = {
    units_1: width,
    depth: { type: 'categorical', choices: [{ value: 1 }, { value: 2, params: { units_2: width } }, { value: 3, params: { units_2: width, units_3: width } }] },
  };

  it('get an axis even when the first trials do not have them, and no position where absent', () => {
    const names = spaceParamNames(depthSpace);
    expect(names).toEqual(['units_1', 'depth', 'units_2', 'units_3']);
    expect([...logScaledParams(depthSpace)].sort()).toEqual(['units_1', 'units_2', 'units_3']);
    const trials = [t({ units_1: 32, depth: 1 }, 0.5), t({ units_1: 64, depth: 3, units_2: 128, units_3: 16 }, 0.7), t({ units_1: 16, depth: 2, units_2: 256 }, 0.6)];
    const axes = buildAxes(trials, names, logScaledParams(depthSpace), 'val_accuracy', (x) => x.bestValue);
    expect(axes.map((a) => [a.name, a.kind])).toEqual([['units_1', 'log'], ['depth', 'linear'], ['units_2', 'log'], ['units_3', 'log'], ['val_accuracy', 'linear']]);
    expect(axes[2]).toMatchObject({ min: 128, max: 256 });
    expect(axisPosition(axes[2]!, trials[0]!.params['units_2'])).toBeNull();
    expect(axisPosition(axes[2]!, 256)).toBe(1);
    // Before any trial has one, the axis is there, empty.
    const early = buildAxes(trials.slice(0, 1), names, logScaledParams(depthSpace), 'val_accuracy', (x) => x.bestValue);
    expect(early.map((a) => a.name)).toEqual(['units_1', 'depth', 'units_2', 'units_3', 'val_accuracy']);
  });
});
