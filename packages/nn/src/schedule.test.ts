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
});
