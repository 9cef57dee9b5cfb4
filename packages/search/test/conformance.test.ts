// The sampler conformance suite (Optuna's parametrize_sampler): every sampler, on a space with every
// kind of parameter and nested conditional sub-spaces, must propose legal configurations, spread log
// parameters in log scale, be deterministic under a seed, and never duplicate a grid cell under
// eight interleaved askers.
import { Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import {
  canonicalKey,
  createGridSampler,
  createQuasiRandomSampler,
  createRandomSampler,
  createTpeSampler,
  gridCells,
  parseSpace,
  validateParams,
  type FrozenTrial,
  type Params,
  type Sampler,
  type SearchSpace,
} from '../src/index.ts';
import { SimulatedStorage } from './simulated-storage.ts';

const SPACE_JSON = {
  lr: { type: 'loguniform', low: 1e-5, high: 1e-1 },
  dropout: { type: 'uniform', low: 0, high: 0.5 },
  units: { type: 'int', low: 32, high: 256, step: 32 },
  batch: { type: 'intlog', low: 8, high: 512 },
  weightDecay: { type: 'quniform', low: 0, high: 0.3, q: 0.05 },
  optimizer: {
    type: 'categorical',
    choices: [
      'adam',
      {
        value: 'sgd',
        params: { momentum: { type: 'uniform', low: 0, high: 0.99 }, nesterov: { type: 'categorical', choices: [true, false] } },
      },
      {
        value: 'rmsprop',
        params: {
          schedule: {
            type: 'categorical',
            choices: [
              'constant',
              { value: 'step', params: { decay: { type: 'uniform', low: 0.1, high: 0.9 }, stepSize: { type: 'int', low: 1, high: 10, step: 3 } } },
            ],
          },
        },
      },
    ],
  },
  layers: { type: 'categorical', choices: [1, 2, 3] },
  activation: { type: 'fixed', value: 'relu' },
};
const SPACE = parseSpace(SPACE_JSON);

interface SamplerCase {
  readonly name: string;
  /** `gridPoints` is the grid's points per numeric parameter (other samplers ignore it). */
  make(space: SearchSpace, seed: number, gridPoints?: number): Sampler;
  /** Whether the seed changes what is proposed (the plain grid's order is the space's order). */
  readonly seeded: boolean;
  /** Whether the sampler runs out (returns null once every cell is taken). */
  readonly exhausts: boolean;
}

const SAMPLERS: readonly SamplerCase[] = [
  { name: 'grid', make: (space, seed, points = 2) => createGridSampler(space, { seed, pointsPerParam: points }), seeded: false, exhausts: true },
  { name: 'grid (shuffled)', make: (space, seed, points = 2) => createGridSampler(space, { seed, pointsPerParam: points, shuffle: true }), seeded: true, exhausts: true },
  { name: 'random', make: (space, seed) => createRandomSampler(space, { seed }), seeded: true, exhausts: false },
  { name: 'quasi-random', make: (space, seed) => createQuasiRandomSampler(space, { seed }), seeded: true, exhausts: false },
  { name: 'tpe', make: (space, seed) => createTpeSampler(space, { seed, nStartupTrials: 5 }), seeded: true, exhausts: false },
  {
    name: 'tpe (multivariate, constant liar)',
    make: (space, seed) => createTpeSampler(space, { seed, nStartupTrials: 5, multivariate: true, constantLiar: true, direction: 'maximize' }),
    seeded: true,
    exhausts: false,
  },
];

/** A deterministic objective touching every parameter, conditional ones included. */
function objective(p: Params): number {
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
  let v = (Math.log10(num('lr')) + 3) ** 2 + num('dropout') + num('units') / 256 + Math.log2(num('batch')) / 9 + num('weightDecay');
  if (p['optimizer'] === 'sgd') v += (num('momentum') - 0.9) ** 2 + (p['nesterov'] ? 0 : 0.1);
  if (p['optimizer'] === 'rmsprop') v += p['schedule'] === 'step' ? num('decay') + num('stepSize') / 10 : 0.3;
  return v + num('layers') / 10;
}

const isMultiple = (x: number, step: number) => Math.abs(x / step - Math.round(x / step)) < 1e-9;

/**
 * Checks a configuration against SPACE_JSON by hand (independently of validateParams, which is
 * checked too): bounds, integers, steps, log ranges, and which conditional parameters are present.
 */
function expectLegal(params: Params): void {
  expect(() => validateParams(SPACE, params)).not.toThrow();
  const n = (k: string) => {
    const v = params[k];
    expect(typeof v, `${k} is a number`).toBe('number');
    return v as number;
  };
  expect(n('lr')).toBeGreaterThanOrEqual(1e-5);
  expect(n('lr')).toBeLessThanOrEqual(1e-1);
  expect(n('dropout')).toBeGreaterThanOrEqual(0);
  expect(n('dropout')).toBeLessThanOrEqual(0.5);
  expect(Number.isInteger(n('units'))).toBe(true);
  expect((n('units') - 32) % 32).toBe(0);
  expect(n('units')).toBeGreaterThanOrEqual(32);
  expect(n('units')).toBeLessThanOrEqual(256);
  expect(Number.isInteger(n('batch'))).toBe(true);
  expect(n('batch')).toBeGreaterThanOrEqual(8);
  expect(n('batch')).toBeLessThanOrEqual(512);
  expect(isMultiple(n('weightDecay'), 0.05)).toBe(true);
  expect(n('weightDecay')).toBeGreaterThanOrEqual(0);
  expect(n('weightDecay')).toBeLessThanOrEqual(0.3);
  expect(['adam', 'sgd', 'rmsprop']).toContain(params['optimizer']);
  expect([1, 2, 3]).toContain(params['layers']);
  expect(params['activation']).toBe('relu');
  const sgd = params['optimizer'] === 'sgd';
  const rmsprop = params['optimizer'] === 'rmsprop';
  const stepSchedule = rmsprop && params['schedule'] === 'step';
  expect('momentum' in params).toBe(sgd);
  expect('nesterov' in params).toBe(sgd);
  expect('schedule' in params).toBe(rmsprop);
  expect('decay' in params).toBe(stepSchedule);
  expect('stepSize' in params).toBe(stepSchedule);
  if (sgd) {
    expect(n('momentum')).toBeGreaterThanOrEqual(0);
    expect(n('momentum')).toBeLessThanOrEqual(0.99);
    expect([true, false]).toContain(params['nesterov']);
  }
  if (rmsprop) expect(['constant', 'step']).toContain(params['schedule']);
  if (stepSchedule) {
    expect(n('decay')).toBeGreaterThanOrEqual(0.1);
    expect(n('decay')).toBeLessThanOrEqual(0.9);
    expect([1, 4, 7, 10]).toContain(n('stepSize'));
  }
  const keys = Object.keys(params).length;
  expect(keys).toBe(8 + (sgd ? 2 : 0) + (rmsprop ? 1 : 0) + (stepSchedule ? 2 : 0));
}

/** A finished history made by random search: some completed, some stopped early, some failed, one running. */
function history(count: number): FrozenTrial[] {
  const random = createRandomSampler(SPACE, { seed: 'history' });
  const trials: FrozenTrial[] = [];
  for (let i = 0; i < count; i++) {
    const { params } = random.ask(trials, i)!;
    const value = objective(params);
    const state: FrozenTrial['state'] = i === count - 1 ? 'running' : i % 7 === 3 ? 'failed' : i % 5 === 2 ? 'stopped' : 'completed';
    const done = state === 'completed' || state === 'stopped';
    trials.push({ number: i, params, state, reports: done ? [{ step: 1, value }] : [], ...(done ? { value } : {}) });
  }
  return trials;
}

describe.each(SAMPLERS)('sampler conformance: $name', (c) => {
  it('proposes legal configurations: bounds, integers, steps, choices, conditional parameters exactly when active', () => {
    const sampler = c.make(SPACE, 1);
    const trials: FrozenTrial[] = [];
    const optimizers = new Set<unknown>();
    let stepSchedules = 0;
    for (let i = 0; i < 60; i++) {
      const s = sampler.ask(trials, i);
      expect(s).not.toBeNull();
      expectLegal(s!.params);
      optimizers.add(s!.params['optimizer']);
      if (s!.params['schedule'] === 'step') stepSchedules++;
      const value = objective(s!.params);
      const state: FrozenTrial['state'] = i % 9 === 4 ? 'failed' : i % 6 === 1 ? 'stopped' : 'completed';
      trials.push({
        number: i,
        params: s!.params,
        state,
        reports: state === 'failed' ? [] : [{ step: 1, value }],
        ...(state === 'failed' ? {} : { value }),
        ...(s!.cellKey === undefined ? {} : { cellKey: s!.cellKey }),
      });
    }
    // Every branch, the nested one included, was visited.
    expect([...optimizers].sort()).toEqual(['adam', 'rmsprop', 'sgd']);
    expect(stepSchedules).toBeGreaterThan(0);
  });

  it('spreads log parameters evenly in log scale', () => {
    const space = parseSpace({ lr: { type: 'loguniform', low: 1e-6, high: 1 }, batch: { type: 'intlog', low: 1, high: 1024 } });
    const sampler = c.make(space, 2, 5);
    const trials: FrozenTrial[] = [];
    for (let i = 0; i < 40; i++) {
      const s = sampler.ask(trials, i);
      if (!s) break;
      trials.push({ number: i, params: s.params, state: 'running', reports: [], ...(s.cellKey === undefined ? {} : { cellKey: s.cellKey }) });
    }
    expect(trials.length).toBeGreaterThanOrEqual(20);
    // The log-midpoints are 1e-3 and 32; a linear scale would put ~0.1% and ~3% of draws below them.
    const share = (k: string, below: number) => trials.filter((t) => (t.params[k] as number) <= below).length / trials.length;
    expect(share('lr', 1e-3)).toBeGreaterThan(0.25);
    expect(share('lr', 1e-3)).toBeLessThan(0.75);
    expect(share('batch', 32)).toBeGreaterThan(0.25);
    expect(share('batch', 32)).toBeLessThan(0.75);
    expect(trials.some((t) => (t.params['lr'] as number) < 1e-4)).toBe(true);
  });

  it('is deterministic under a seed: same history, same suggestion, whatever the order and the calls before', () => {
    const trials = history(41);
    const first = c.make(SPACE, 7).ask(trials, 41);
    expect(first).not.toBeNull();
    expectLegal(first!.params);
    const other = c.make(SPACE, 7);
    other.ask(trials.slice(0, 20), 20);
    other.ask(trials, 55);
    expect(other.ask([...trials].reverse(), 41)).toEqual(first);
    expect(c.make(SPACE, 7).ask(trials, 41)).toEqual(first);
    const reseeded = c.make(SPACE, 8).ask(trials, 41);
    if (c.seeded) expect(reseeded).not.toEqual(first);
    else expect(reseeded).toEqual(first);
  });

  it('never duplicates a grid cell when 8 askers interleave over a storage with unique keys', () => {
    const storage = new SimulatedStorage();
    const askers = Array.from({ length: 8 }, () => ({
      sampler: c.make(SPACE, 3),
      phase: 'read' as 'read' | 'ask' | 'insert' | 'finish' | 'done',
      snapshot: [] as FrozenTrial[],
      number: 0,
      proposal: null as FrozenTrial | null,
    }));
    // Non-exhausting samplers run until the sweep holds this many trials.
    const target = c.exhausts ? Infinity : 64;
    const schedule = Rng.fromSeed(c.name).split('schedule');
    let steps = 0;
    for (;;) {
      const live = askers.filter((a) => a.phase !== 'done');
      if (live.length === 0) break;
      expect(++steps, 'the askers finish').toBeLessThan(200_000);
      const a = live[schedule.int(live.length)]!;
      switch (a.phase) {
        case 'read':
          a.snapshot = storage.read();
          a.number = a.snapshot.reduce((m, t) => Math.max(m, t.number + 1), 0);
          a.phase = a.snapshot.length >= target ? 'done' : 'ask';
          break;
        case 'ask': {
          const s = a.sampler.ask(a.snapshot, a.number);
          if (!s) {
            a.phase = 'done';
            break;
          }
          expectLegal(s.params);
          // Never a cell the asker could already see as taken.
          if (s.cellKey !== undefined) expect(a.snapshot.some((t) => t.cellKey === s.cellKey)).toBe(false);
          a.proposal = { number: a.number, params: s.params, state: 'running', reports: [], ...(s.cellKey === undefined ? {} : { cellKey: s.cellKey }) };
          a.phase = 'insert';
          break;
        }
        case 'insert':
          // A refused insert (number or cell taken meanwhile) sends the asker back to re-read.
          a.phase = storage.insert(a.proposal!) ? 'finish' : 'read';
          break;
        case 'finish': {
          const p = a.proposal!;
          const failed = p.number % 11 === 5;
          const value = objective(p.params);
          storage.update(p.number, failed ? { state: 'failed' } : { state: 'completed', value, reports: [{ step: 1, value }] });
          a.phase = 'read';
          break;
        }
        case 'done':
          break;
      }
    }
    const trials = storage.read();
    expect(storage.conflicts, 'askers really raced').toBeGreaterThan(0);
    expect(new Set(trials.map((t) => t.number)).size).toBe(trials.length);
    expect(new Set(trials.map((t) => canonicalKey(t.params))).size).toBe(trials.length);
    if (c.exhausts) {
      const cells = gridCells(SPACE, { pointsPerParam: 2 }).map((g) => g.cellKey);
      const inserted = trials.map((t) => t.cellKey!);
      expect(inserted.length).toBe(cells.length);
      expect([...inserted].sort()).toEqual([...cells].sort());
      for (const t of trials) expect(t.cellKey).toBe(canonicalKey(t.params));
      expect(c.make(SPACE, 3).ask(trials, trials.length)).toBeNull();
    } else {
      expect(trials.length).toBe(64);
      expect(trials.every((t) => t.cellKey === undefined)).toBe(true);
    }
  });
});
