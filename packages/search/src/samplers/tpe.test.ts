// Unit tests of TPE: startup, ranking of finished trials, convergence, direction, conditional
// parameters, the constant liar and option checks.
import { describe, expect, it } from 'vitest';
import { parseSpace, type SearchSpace } from '../space.ts';
import { SearchError, type FrozenTrial, type Params } from '../types.ts';
import { createRandomSampler } from './random.ts';
import { createTpeSampler, rankTrials, type TpeSamplerOptions } from './tpe.ts';
import type { Sampler } from '../types.ts';

const done = (number: number, params: Params, value: number, state: FrozenTrial['state'] = 'completed', steps = 1): FrozenTrial => ({
  number,
  params,
  state,
  reports: Array.from({ length: steps }, (_, i) => ({ step: i + 1, value })),
  value,
});

/** Runs `n` sequential trials of `f` and returns them. */
function optimise(sampler: Sampler, f: (p: Params) => number, n: number): FrozenTrial[] {
  const trials: FrozenTrial[] = [];
  for (let i = 0; i < n; i++) {
    const s = sampler.ask(trials, i)!;
    trials.push(done(i, s.params, f(s.params)));
  }
  return trials;
}

const meanDistance = (trials: readonly FrozenTrial[], target: number) =>
  trials.reduce((acc, t) => acc + Math.abs((t.params['x'] as number) - target), 0) / trials.length;

describe('rankTrials', () => {
  const trials: FrozenTrial[] = [
    done(0, { x: 0 }, 5),
    done(1, { x: 0 }, 1),
    done(2, { x: 0 }, 0.5, 'stopped', 2),
    done(3, { x: 0 }, 0.1, 'stopped', 1),
    done(4, { x: 0 }, 3, 'stopped', 2),
    { number: 5, params: { x: 0 }, state: 'failed', reports: [] },
    { number: 6, params: { x: 0 }, state: 'running', reports: [] },
    { number: 7, params: {}, state: 'queued', reports: [] },
    done(8, { x: 0 }, Number.NaN),
    done(9, { x: 0 }, 1),
  ];

  it('orders completed trials by value, then stopped ones by progress and value', () => {
    expect(rankTrials(trials, 'minimize').finished.map((t) => t.number)).toEqual([1, 9, 0, 2, 4, 3]);
    expect(rankTrials(trials, 'maximize').finished.map((t) => t.number)).toEqual([0, 1, 9, 4, 2, 3]);
  });

  it('keeps pending trials with params apart and drops failed and valueless ones', () => {
    expect(rankTrials(trials, 'minimize').pending.map((t) => t.number)).toEqual([6]);
  });
});

describe('createTpeSampler', () => {
  const line = parseSpace({ x: { type: 'uniform', low: 0, high: 1 } });

  it('samples at random until nStartupTrials trials have finished', () => {
    const tpe = createTpeSampler(line, { seed: 1, nStartupTrials: 3 });
    const pending: FrozenTrial[] = [0, 1, 2, 3].map((n) => ({ number: n, params: { x: 0.5 }, state: 'running', reports: [] }));
    // Pending trials do not count as finished: still the startup draw of trial 4.
    expect(tpe.ask(pending, 4)).toEqual(tpe.ask([], 4));
    const finished = [done(0, { x: 0.1 }, 1), done(1, { x: 0.2 }, 2), done(2, { x: 0.9 }, 3)];
    expect(tpe.ask(finished, 4)).not.toEqual(tpe.ask([], 4));
  });

  it('concentrates near the minimum faster than random search', () => {
    const f = (p: Params) => ((p['x'] as number) - 0.3) ** 2;
    for (const seed of [1, 2, 3]) {
      const tpe = optimise(createTpeSampler(line, { seed }), f, 60).slice(30);
      const random = optimise(createRandomSampler(line, { seed }), f, 60).slice(30);
      expect(meanDistance(tpe, 0.3)).toBeLessThan(meanDistance(random, 0.3) / 2);
    }
  });

  it('maximises when told to', () => {
    const f = (p: Params) => -(((p['x'] as number) - 0.7) ** 2);
    const max = optimise(createTpeSampler(line, { seed: 4, direction: 'maximize' }), f, 50).slice(25);
    const min = optimise(createTpeSampler(line, { seed: 4, direction: 'minimize' }), f, 50).slice(25);
    expect(meanDistance(max, 0.7)).toBeLessThan(0.15);
    expect(meanDistance(min, 0.7)).toBeGreaterThan(0.3);
  });

  it('models a conditional parameter only on the trials where it is active', () => {
    const space: SearchSpace = parseSpace({
      optimizer: {
        type: 'categorical',
        choices: ['adam', { value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 1 } } }],
      },
    });
    // sgd with momentum near 0.9 is best; adam is mediocre; sgd elsewhere is bad.
    const f = (p: Params) => (p['optimizer'] === 'adam' ? 0.5 : Math.abs((p['momentum'] as number) - 0.9) * 3);
    for (const multivariate of [false, true]) {
      const trials = optimise(createTpeSampler(space, { seed: 5, multivariate }), f, 60).slice(30);
      const sgd = trials.filter((t) => t.params['optimizer'] === 'sgd');
      expect(sgd.length).toBeGreaterThan(20);
      const meanGap = sgd.reduce((a, t) => a + Math.abs((t.params['momentum'] as number) - 0.9), 0) / sgd.length;
      expect(meanGap).toBeLessThan(0.12);
      for (const t of trials) expect('momentum' in t.params).toBe(t.params['optimizer'] === 'sgd');
    }
  });

  it('spreads concurrent askers out with the constant liar', () => {
    const f = (p: Params) => ((p['x'] as number) - 0.3) ** 2;
    const spread = (seed: number, constantLiar: boolean) => {
      const history = optimise(createTpeSampler(line, { seed }), f, 30);
      const tpe = createTpeSampler(line, { seed, constantLiar });
      const xs: number[] = [];
      // Eight workers ask before any of them reports: each sees the others as running.
      for (let k = 0; k < 8; k++) {
        const s = tpe.ask(history, 30 + k)!;
        history.push({ number: 30 + k, params: s.params, state: 'running', reports: [] });
        xs.push(s.params['x'] as number);
      }
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
    };
    for (const seed of [6, 7, 8, 9]) expect(spread(seed, true)).toBeGreaterThan(spread(seed, false));
  });

  it('rejects bad options with the option name', () => {
    const bad = (o: Partial<TpeSamplerOptions>, path: string) => {
      let caught: unknown;
      try {
        createTpeSampler(line, { seed: 1, ...o });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SearchError);
      expect((caught as SearchError).code).toBe('INVALID_CONFIG');
      expect((caught as SearchError).path).toBe(path);
    };
    bad({ nEiCandidates: 0 }, 'nEiCandidates');
    bad({ nStartupTrials: -1 }, 'nStartupTrials');
    bad({ direction: 'up' as never }, 'direction');
    bad({ priorWeight: 0 }, 'priorWeight');
    bad({ gamma: 0.25 as never }, 'gamma');
    bad({ nCandidates: 3 } as never, 'nCandidates');
    expect(() => createTpeSampler(line, { seed: 1.5 })).toThrow(/seed/);
  });

  it('refuses a trial number that is not a non-negative integer', () => {
    expect(() => createTpeSampler(line, { seed: 1 }).ask([], -1)).toThrow(SearchError);
    expect(() => createTpeSampler(line, { seed: 1 }).ask([], 1.5)).toThrow(/trial number/);
  });
});
