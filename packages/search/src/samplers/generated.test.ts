// Every sampler on generated search spaces (every parameter kind, steps and quanta, narrow and
// wide ranges, tiny log ranges, conditional branches nested two deep, fixed values): each
// suggestion holds exactly the active parameters with legal values, the grid never repeats a cell,
// and TPE, with finished, stopped, failed and pending trials behind it, stays inside the space.
import { Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { canonicalKey, parseSpace, validateParams } from '../space.ts';
import type { FrozenTrial, Params } from '../types.ts';
import { gridCells } from './grid.ts';
import { createSampler, type SamplerConfig } from './index.ts';

type Json = Record<string, unknown>;

function numeric(rng: Rng): Json {
  const kind = rng.int(5);
  const low = Math.round((rng.float() * 20 - 10) * 100) / 100;
  switch (kind) {
    case 0:
      return { type: 'uniform', low, high: low + [1e-6, 0.5, 1000][rng.int(3)]! };
    case 1: {
      const lo = 10 ** (rng.float() * 8 - 6);
      return { type: 'loguniform', low: lo, high: lo * [1.0001, 10, 1e6][rng.int(3)]! };
    }
    case 2: {
      const lo = Math.round(low);
      const step = 1 + rng.int(4);
      return { type: 'int', low: lo, high: lo + step * (1 + rng.int(6)), step };
    }
    case 3: {
      const lo = 1 + rng.int(50);
      return { type: 'intlog', low: lo, high: lo + 1 + rng.int(1000) };
    }
    default: {
      const q = [0.1, 0.25, 3][rng.int(3)]!;
      return { type: 'quniform', low: 0, high: q * (1 + rng.int(8)), q };
    }
  }
}

let names = 0;
function node(rng: Rng, depth: number): Json {
  const out: Json = {};
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const name = `p${names++}`;
    const r = rng.float();
    if (r < 0.55) out[name] = numeric(rng);
    else if (r < 0.65) out[name] = { type: 'fixed', value: [3, 'x', true][rng.int(3)] };
    else {
      const choices = Array.from({ length: 1 + rng.int(4) }, (_, c) => {
        const value = [`c${c}`, c * 2 + 1, c === 0][rng.int(3)]!;
        return depth < 2 && rng.float() < 0.4 ? { value, params: node(rng, depth + 1) } : value;
      });
      // Choices must differ: keep the first of each value.
      const seen = new Set<string>();
      out[name] = { type: 'categorical', choices: choices.filter((c) => !seen.has(JSON.stringify(typeof c === 'object' ? c.value : c)) && !!seen.add(JSON.stringify(typeof c === 'object' ? c.value : c))) };
    }
  }
  return out;
}

function generatedSpace(seed: number): Json {
  names = 0;
  return node(Rng.fromSeed(seed), 0);
}

const SEEDS = Array.from({ length: 60 }, (_, i) => 3000 + i);

describe('samplers on generated spaces', () => {
  it.each(SEEDS)('space %i: random, quasi-random and TPE suggest only legal, complete configurations', (seed) => {
    const space = parseSpace(generatedSpace(seed));
    for (const config of [{ type: 'random', seed }, { type: 'quasi-random', seed }, { type: 'tpe', seed, nStartupTrials: 4 }, { type: 'tpe', seed, nStartupTrials: 2, multivariate: true, constantLiar: true, direction: 'maximize' }] as SamplerConfig[]) {
      const sampler = createSampler(space, config);
      const trials: FrozenTrial[] = [];
      const rng = Rng.fromSeed(seed + 1);
      for (let n = 0; n < 16; n++) {
        const suggestion = sampler.ask(trials, n);
        expect(suggestion, `${config.type} gave up on an unbounded space`).not.toBeNull();
        const params = suggestion!.params as Params;
        expect(() => validateParams(space, params), `${config.type} #${n}: ${JSON.stringify(params)}`).not.toThrow();
        // Outcomes of every kind, some still pending, so TPE models finished, stopped and pending trials.
        const r = rng.float();
        const value = rng.normal();
        const state = r < 0.6 ? 'completed' : r < 0.75 ? 'stopped' : r < 0.85 ? 'failed' : 'running';
        trials.push({ number: n, params, state, reports: state === 'failed' ? [] : [{ step: 1, value }], ...(state === 'completed' || state === 'stopped' ? { value } : {}) });
      }
    }
  });

  it.each(SEEDS)('space %i: the grid lists legal cells once each and then says it is done', (seed) => {
    const space = parseSpace(generatedSpace(seed));
    const sampler = createSampler(space, { type: 'grid', pointsPerParam: 2, maxCells: 100_000 });
    const trials: FrozenTrial[] = [];
    const keys = new Set<string>();
    for (let n = 0; ; n++) {
      const suggestion = sampler.ask(trials, n);
      if (suggestion === null) break;
      const params = suggestion.params as Params;
      expect(() => validateParams(space, params), JSON.stringify(params)).not.toThrow();
      expect(suggestion.cellKey).toBe(canonicalKey(params));
      expect(keys.has(suggestion.cellKey!)).toBe(false);
      keys.add(suggestion.cellKey!);
      trials.push({ number: n, params, state: 'completed', reports: [], value: 0, cellKey: suggestion.cellKey! });
      expect(n).toBeLessThan(100_000);
    }
    // Every cell, not only some: the count the grid's own expansion gives.
    expect(keys.size).toBe(gridCells(space, { pointsPerParam: 2, maxCells: 100_000 }).length);
    expect(keys.size).toBeGreaterThan(0);
  });

  it('generates every parameter kind, nesting and fixed values', () => {
    const text = SEEDS.map((s) => JSON.stringify(generatedSpace(s))).join();
    for (const kind of ['uniform', 'loguniform', 'int', 'intlog', 'quniform', 'categorical', 'fixed']) expect(text).toContain(`"type":"${kind}"`);
    expect(text).toContain('"params"');
  });
});
