// Unit tests of the Parzen estimator: normal masses, normalised mixtures, Optuna's weights and gamma.
import { Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import type { CategoricalParam, NumericParam } from '../space.ts';
import { ParzenEstimator, defaultGamma, defaultWeights, erfc, normalMass, type ParzenOptions } from './parzen.ts';

const opts: ParzenOptions = { priorWeight: 1, considerPrior: true, considerMagicClip: true, considerEndpoints: false, multivariate: false };

describe('normal functions', () => {
  it('erfc and normalMass agree with known values', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1)).toBeCloseTo(0.157299207, 7);
    expect(erfc(-1)).toBeCloseTo(1.842700793, 7);
    expect(normalMass(-1.959964, 1.959964)).toBeCloseTo(0.95, 6);
    expect(normalMass(8, 9) / 6.22e-16).toBeCloseTo(1, 1);
    expect(normalMass(-9, -8) / 6.22e-16).toBeCloseTo(1, 1);
  });
});

describe('ParzenEstimator', () => {
  it('is a normalised density on a continuous parameter', () => {
    const spec: NumericParam = { type: 'uniform', low: -3, high: 5 };
    const est = new ParzenEstimator([spec], [[0.1], [4.9], [-2], [-1.9]], [1, 1, 1, 1], opts);
    // Integrate in the unit scale: u = (x + 3) / 8, so the density in x is pdf(u) / 8.
    let integral = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) integral += Math.exp(est.logPdf([-3 + (8 * (i + 0.5)) / n])) / n;
    expect(integral).toBeCloseTo(1, 3);
  });

  it('gives discrete parameters masses that sum to 1', () => {
    const spec: NumericParam = { type: 'int', low: 0, high: 20, step: 2 };
    const est = new ParzenEstimator([spec], [[0], [2], [14]], [1, 1, 1], opts);
    let total = 0;
    for (let v = 0; v <= 20; v += 2) total += Math.exp(est.logPdf([v]));
    expect(total).toBeCloseTo(1, 6);
    const log: NumericParam = { type: 'intlog', low: 1, high: 64 };
    const estLog = new ParzenEstimator([log], [[1], [3], [50]], [1, 1, 1], opts);
    let totalLog = 0;
    for (let v = 1; v <= 64; v++) totalLog += Math.exp(estLog.logPdf([v]));
    expect(totalLog).toBeCloseTo(1, 6);
  });

  it('smooths categorical counts with the prior', () => {
    const spec: CategoricalParam = { type: 'categorical', choices: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] };
    const est = new ParzenEstimator([spec], [['a'], ['a'], ['b']], [1, 1, 1], opts);
    const p = (v: string) => Math.exp(est.logPdf([v]));
    expect(p('a') + p('b') + p('c')).toBeCloseTo(1, 12);
    expect(p('a')).toBeGreaterThan(p('b'));
    expect(p('b')).toBeGreaterThan(p('c'));
    expect(p('c')).toBeGreaterThan(0);
  });

  it('samples where its kernels are, within bounds, and is the prior without observations', () => {
    const spec: NumericParam = { type: 'loguniform', low: 1e-6, high: 1 };
    const est = new ParzenEstimator([spec], [[1e-5], [2e-5], [1.5e-5]], [1, 1, 1], opts);
    const rng = Rng.fromSeed(3);
    const xs = Array.from({ length: 400 }, () => est.sample(rng)[0] as number);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(1e-6);
      expect(x).toBeLessThanOrEqual(1);
    }
    // Three of four components sit near 1e-5 (σ floored at 0.2 by the magic clip); the prior alone would give 1/3.
    expect(xs.filter((x) => x < 1e-4).length / xs.length).toBeGreaterThan(0.45);
    const prior = new ParzenEstimator([spec], [], [], { ...opts, considerPrior: false });
    expect(Math.exp(prior.logPdf([1e-3]))).toBeGreaterThan(0);
  });

  it('models several parameters jointly in multivariate mode', () => {
    const specs: NumericParam[] = [
      { type: 'uniform', low: 0, high: 1 },
      { type: 'uniform', low: 0, high: 1 },
    ];
    const obs = [[0.1, 0.1], [0.9, 0.9], [0.12, 0.08], [0.88, 0.92]];
    const est = new ParzenEstimator(specs, obs, [1, 1, 1, 1], { ...opts, multivariate: true });
    // Joint kernels know that x and y move together; a product of marginals would rate both the same.
    expect(est.logPdf([0.1, 0.1])).toBeGreaterThan(est.logPdf([0.1, 0.9]) + 2);
  });
});

describe("Optuna's defaults", () => {
  it('gamma is the best 10%, at most 25', () => {
    expect([1, 10, 11, 100, 250, 1000].map(defaultGamma)).toEqual([1, 1, 2, 10, 25, 25]);
  });
  it('weights are flat up to 25 and ramp for older observations beyond', () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
    expect(defaultWeights(26)).toEqual([1 / 26, ...new Array(25).fill(1)]);
  });
});
