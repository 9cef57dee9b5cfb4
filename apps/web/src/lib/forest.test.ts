import { describe, expect, it } from 'vitest';
import { Rng } from '@hypersweep/nn';
import { encodeParams, fitForest, permutationImportance } from './forest.ts';

/** Trials where the objective depends strongly on lr, weakly on dropout, not at all on noise/activation. */
function synthetic(n: number, seed = 3) {
  const rng = Rng.fromSeed(seed);
  const rand = () => rng.double();
  const rows = [];
  const values = [];
  for (let i = 0; i < n; i++) {
    const lr = 10 ** (-4 + 3 * rand());
    const dropout = 0.5 * rand();
    const noise = rand();
    const activation = ['relu', 'tanh', 'gelu'][Math.floor(rand() * 3)]!;
    rows.push({ learningRate: lr, dropout, noise, activation });
    values.push((Math.log10(lr) + 2.5) ** 2 + 0.3 * dropout + 0.01 * rand());
  }
  return { rows, values };
}

describe('encodeParams', () => {
  it('keeps numbers, indexes categories, marks absent values below the minimum', () => {
    const enc = encodeParams(
      [{ lr: 0.1, opt: 'sgd', momentum: 0.9 }, { lr: 0.01, opt: 'adam' }, { lr: 0.5, opt: 'sgd', momentum: 0.5 }],
      ['lr', 'opt', 'momentum'],
    );
    expect(Array.from(enc.x)).toEqual([0.1, 0, 0.9, 0.01, 1, -1, 0.5, 0, 0.5]);
    expect(enc.rows).toBe(3);
  });
});

describe('random forest', () => {
  it('fits a step function better than the mean', () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({ x: i }));
    const y = Float64Array.from(rows, (r) => (r.x < 30 ? 0 : 10));
    const data = encodeParams(rows, ['x']);
    const forest = fitForest(data, y, { trees: 20, seed: 5 });
    expect(forest.predictRow(Float64Array.of(5), 0)).toBeLessThan(2);
    expect(forest.predictRow(Float64Array.of(50), 0)).toBeGreaterThan(8);
    expect(forest.trees).toHaveLength(20);
  });
});

describe('permutationImportance', () => {
  it('ranks the parameter that drives the objective first and gives noise ~ nothing', () => {
    const { rows, values } = synthetic(200);
    const imp = permutationImportance(rows, values, ['learningRate', 'dropout', 'noise', 'activation'], { trees: 48, seed: 1 });
    const byName = Object.fromEntries(imp.map((i) => [i.name, i.share]));
    expect(byName['learningRate']).toBeGreaterThan(0.8);
    expect(byName['learningRate']).toBeGreaterThan(byName['dropout']!);
    expect(byName['noise']).toBeLessThan(0.05);
    expect(byName['activation']).toBeLessThan(0.05);
    expect(imp.reduce((s, i) => s + i.share, 0)).toBeCloseTo(1, 9);
  });

  it('is deterministic for a seed', () => {
    const { rows, values } = synthetic(80, 11);
    const names = ['learningRate', 'dropout', 'noise', 'activation'];
    expect(permutationImportance(rows, values, names, { seed: 4, trees: 16 })).toEqual(permutationImportance(rows, values, names, { seed: 4, trees: 16 }));
    // The seed matters: another one draws other bootstrap samples.
    expect(fitForest(encodeParams(rows, names), Float64Array.from(values), { seed: 5, trees: 4 }).oob).not.toEqual(
      fitForest(encodeParams(rows, names), Float64Array.from(values), { seed: 4, trees: 4 }).oob,
    );
  });

  it('finds a categorical parameter that matters', () => {
    const rng = Rng.fromSeed(2);
    const rows = Array.from({ length: 120 }, () => ({ activation: ['relu', 'tanh', 'gelu'][rng.int(3)]!, lr: rng.double() }));
    const values = rows.map((r) => (r.activation === 'tanh' ? 1 : 0) + 0.01 * r.lr);
    const imp = permutationImportance(rows, values, ['activation', 'lr'], { trees: 32, seed: 2 });
    expect(imp[0]!.share).toBeGreaterThan(0.9);
  });

  it('returns zeros when there are too few trials or a constant objective', () => {
    expect(permutationImportance([{ a: 1 }, { a: 2 }], [1, 2], ['a'])).toEqual([{ name: 'a', raw: 0, share: 0 }]);
    const rows = Array.from({ length: 20 }, (_, i) => ({ a: i }));
    expect(permutationImportance(rows, rows.map(() => 3), ['a'], { trees: 8 })[0]!.share).toBe(0);
    expect(() => permutationImportance(rows, [1], ['a'])).toThrow(/differ/);
  });

  it('handles 1,000 trials × 6 parameters quickly', () => {
    const rng = Rng.fromSeed(8);
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const rows = Array.from({ length: 1000 }, () => Object.fromEntries(names.map((n) => [n, rng.double()])));
    const values = rows.map((r) => r['a']! * 2 + r['b']!);
    const t0 = performance.now();
    const imp = permutationImportance(rows, values, names, { trees: 32, seed: 1 });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(imp[0]!.share).toBeGreaterThan(imp[1]!.share);
    expect(imp[1]!.share).toBeGreaterThan(imp[2]!.share);
  });
});

describe('conditional parameters', () => {
  it('are ranked although absent from some trials (here: the ones that matter)', () => {
    const rows: Record<string, number | undefined>[] = [];
    const values: number[] = [];
    for (let i = 0; i < 60; i++) {
      const depth = 1 + (i % 2);
      const noise = ((i * 7919) % 13) / 130;
      rows.push({ noise, depth, units_2: depth === 2 ? 16 + ((i * 37) % 200) : undefined });
      values.push(depth === 2 ? (16 + ((i * 37) % 200)) / 100 : 0);
    }
    const items = permutationImportance(rows, values, ['noise', 'depth', 'units_2'], { trees: 24, seed: 3 });
    expect(items.map((x) => x.name)).toEqual(['noise', 'depth', 'units_2']);
    for (const x of items) expect(Number.isFinite(x.share)).toBe(true);
    expect(items[2]!.share).toBeGreaterThan(items[0]!.share);
  });
});
