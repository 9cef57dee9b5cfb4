// Unit tests of the grid: points per kind, expansion per branch, fixed order, exhaustion, limits.
import { describe, expect, it } from 'vitest';
import { parseSpace } from '../space.ts';
import { SearchError, type FrozenTrial } from '../types.ts';
import { createGridSampler, gridCells, gridPoints } from './grid.ts';

describe('gridPoints', () => {
  it('spaces continuous parameters linearly or geometrically, endpoints included', () => {
    expect(gridPoints({ type: 'uniform', low: 0, high: 1 }, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(gridPoints({ type: 'uniform', low: 0, high: 0.3 }, 4)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(gridPoints({ type: 'loguniform', low: 1e-4, high: 1 }, 5)).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1]);
    expect(gridPoints({ type: 'uniform', low: 2, high: 4 }, 1)).toEqual([3]);
  });

  it('snaps discrete parameters to their steps and drops duplicates', () => {
    expect(gridPoints({ type: 'int', low: 1, high: 3, step: 1 }, 5)).toEqual([1, 2, 3]);
    expect(gridPoints({ type: 'int', low: 0, high: 100, step: 10 }, 3)).toEqual([0, 50, 100]);
    expect(gridPoints({ type: 'int', low: 0, high: 100, step: 10 }, 4)).toEqual([0, 30, 70, 100]);
    expect(gridPoints({ type: 'intlog', low: 1, high: 1000 }, 4)).toEqual([1, 10, 100, 1000]);
    expect(gridPoints({ type: 'intlog', low: 1, high: 4 }, 10)).toEqual([1, 2, 3, 4]);
    expect(gridPoints({ type: 'quniform', low: 0, high: 1, q: 0.25 }, 3)).toEqual([0, 0.5, 1]);
  });
});

describe('gridCells', () => {
  const space = parseSpace({
    lr: { type: 'loguniform', low: 1e-3, high: 1e-1 },
    optimizer: {
      type: 'categorical',
      choices: [
        'adam',
        { value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 0.9 }, nesterov: { type: 'categorical', choices: [true, false] } } },
      ],
    },
    act: { type: 'fixed', value: 'relu' },
  });

  it('expands each branch with its own sub-space, first parameter slowest', () => {
    const cells = gridCells(space, { pointsPerParam: 2 });
    // lr (2) × [adam (1) + sgd (2 momenta × 2 nesterov)] × act (1)
    expect(cells).toHaveLength(10);
    expect(cells[0]!.params).toEqual({ lr: 1e-3, optimizer: 'adam', act: 'relu' });
    expect(cells[1]!.params).toEqual({ lr: 1e-3, optimizer: 'sgd', momentum: 0, nesterov: true, act: 'relu' });
    expect(cells[5]!.params).toEqual({ lr: 0.1, optimizer: 'adam', act: 'relu' });
    expect(new Set(cells.map((c) => c.cellKey)).size).toBe(10);
    expect(cells[0]!.cellKey).toBe('{"act":"relu","lr":0.001,"optimizer":"adam"}');
  });

  it('takes points per parameter by name', () => {
    expect(gridCells(space, { pointsPerParam: { lr: 3, momentum: 1 } })).toHaveLength(3 * (1 + 2));
  });

  it('refuses grids larger than maxCells', () => {
    expect(() => gridCells(space, { pointsPerParam: 10, maxCells: 50 })).toThrow(SearchError);
    expect(() => gridCells(space, { pointsPerParam: 10, maxCells: 50 })).toThrow(/210 cells, more than maxCells = 50/);
  });
});

describe('createGridSampler', () => {
  const space = parseSpace({ a: { type: 'int', low: 0, high: 2 }, b: { type: 'categorical', choices: ['x', 'y'] } });
  const trial = (number: number, cellKey: string, state: FrozenTrial['state'] = 'running'): FrozenTrial => ({ number, params: JSON.parse(cellKey) as Record<string, number | string>, state, reports: [], cellKey });

  it('returns the first free cell, counting pending and failed trials, then null', () => {
    const grid = createGridSampler(space);
    const trials: FrozenTrial[] = [];
    const seen: string[] = [];
    for (let n = 0; n < 6; n++) {
      const s = grid.ask(trials, n);
      expect(s).not.toBeNull();
      seen.push(s!.cellKey!);
      trials.push(trial(n, s!.cellKey!, n % 3 === 0 ? 'failed' : 'running'));
    }
    expect(seen).toEqual(gridCells(space).map((c) => c.cellKey));
    expect(grid.ask(trials, 6)).toBeNull();
  });

  it('skips a cell held by a hand-enqueued trial without a cell key', () => {
    const grid = createGridSampler(space);
    const first = grid.ask([], 0)!;
    const enqueued: FrozenTrial = { number: 0, params: { b: 'x', a: 0 }, state: 'queued', reports: [] };
    expect(grid.ask([enqueued], 1)!.cellKey).not.toBe(first.cellKey);
  });

  it('shuffles the order by seed when asked, covering the same cells', () => {
    const order = (seed: number) => {
      const grid = createGridSampler(space, { shuffle: true, seed });
      const trials: FrozenTrial[] = [];
      for (let s = grid.ask(trials, 0); s; s = grid.ask(trials, trials.length)) trials.push(trial(trials.length, s.cellKey!));
      return trials.map((t) => t.cellKey!);
    };
    expect(order(1)).toEqual(order(1));
    expect(order(1)).not.toEqual(order(2));
    expect([...order(2)].sort()).toEqual(gridCells(space).map((c) => c.cellKey).sort());
  });

  it('validates its options', () => {
    expect(() => createGridSampler(space, { pointsPerParam: 0 })).toThrow(/pointsPerParam/);
    expect(() => createGridSampler(space, { points: 3 } as never)).toThrow(/points.*unknown/);
  });
});
