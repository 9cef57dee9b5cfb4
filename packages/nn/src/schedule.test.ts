import { describe, expect, it } from 'vitest';
import { learningRateAt } from './schedule.ts';
import { parseScheduleSpec } from './spec.ts';

const at = (s: unknown, step: number, spe = 10, epochs = 10) => learningRateAt(parseScheduleSpec(s), 0.1, step, spe, epochs);

describe('learning-rate schedules', () => {
  it('constant', () => expect(at({ type: 'constant' }, 57)).toBe(0.1));
  it('step decays by gamma every stepEpochs', () => {
    expect(at({ type: 'step', stepEpochs: 2, gamma: 0.5 }, 19)).toBeCloseTo(0.1);
    expect(at({ type: 'step', stepEpochs: 2, gamma: 0.5 }, 20)).toBeCloseTo(0.05);
    expect(at({ type: 'step', stepEpochs: 2, gamma: 0.5 }, 45)).toBeCloseTo(0.025);
  });
  it('exponential decays continuously per epoch', () => {
    expect(at({ type: 'exponential', gamma: 0.5 }, 10)).toBeCloseTo(0.05);
    expect(at({ type: 'exponential', gamma: 0.5 }, 5)).toBeCloseTo(0.1 * Math.SQRT1_2);
  });
  it('cosine goes from the base rate to the minimum', () => {
    expect(at({ type: 'cosine' }, 0)).toBeCloseTo(0.1);
    expect(at({ type: 'cosine' }, 50)).toBeCloseTo(0.05);
    expect(at({ type: 'cosine', minLearningRate: 0.01 }, 100)).toBeCloseTo(0.01);
  });
  it('linear warm-up ramps up to the scheduled rate', () => {
    const s = { type: 'cosine', warmupEpochs: 2 };
    expect(at(s, 0)).toBeCloseTo(0.1 / 20);
    expect(at(s, 9)).toBeCloseTo(0.1 / 2);
    expect(at(s, 19)).toBeCloseTo(0.1);
    expect(at(s, 20)).toBeCloseTo(0.1);
    expect(at(s, 60)).toBeCloseTo(0.05);
  });
  it('never takes a warm-up past the scheduled rate, even one that ends inside a step', () => {
    // 0.5 epoch of 3 steps is 1.5 steps; 0.3 epoch of 1 step is 0.3: their last warm-up step once
    // ran at 1.33× and 3.33× the rate (and full-batch training at 2× with warmupEpochs 0.5).
    for (const [warmupEpochs, spe] of [[0.5, 3], [0.3, 1], [0.5, 1], [1.5, 5], [2.5, 2], [0.01, 7]] as const) {
      for (const type of ['constant', 'cosine', 'step', 'exponential']) {
        const s = { type, warmupEpochs, ...(type === 'step' ? { stepEpochs: 1 } : type === 'exponential' ? { gamma: 0.9 } : {}) };
        // The rate the schedule has at a warm-up step: cosine holds the base rate until the warm-up ends.
        const scheduled = (step: number) => (type === 'cosine' ? 0.1 : at({ ...s, warmupEpochs: 0 }, step, spe));
        for (let step = 0; step / spe < warmupEpochs; step++) {
          expect(at(s, step, spe), `${type} ${warmupEpochs} epochs of ${spe} steps, step ${step}`).toBeLessThanOrEqual(scheduled(step));
        }
      }
    }
    expect(at({ type: 'constant', warmupEpochs: 0.5 }, 0, 3)).toBeCloseTo(0.1 / 1.5);
    expect(at({ type: 'constant', warmupEpochs: 0.5 }, 1, 3)).toBe(0.1);
  });
});
