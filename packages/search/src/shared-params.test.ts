// A parameter defined in several branches that exclude each other (per-layer widths under a
// depth choice) is one parameter: parsed once, active in any of its branches, drawn by every
// sampler only where it exists.
import { describe, expect, it } from 'vitest';
import { createSampler } from './samplers/index.ts';
import { activeParams, describeConditions, isActive, parseSpace, validateParams } from './space.ts';
import { SearchError, type FrozenTrial, type Params } from './types.ts';

const width = { type: 'intlog', low: 16, high: 512 };
const rate = { type: 'uniform', low: 0, high: 0.5 };
/** Depth 1–3, widths and dropouts per layer; layer 2's exist for depth 2 and 3. */
const depthSpace = {
  lr: { type: 'loguniform', low: 1e-4, high: 1e-1 },
  units_1: width,
  depth: {
    type: 'categorical',
    choices: [
      { value: 1 },
      { value: 2, params: { units_2: width, dropout_2: rate } },
      { value: 3, params: { units_2: width, dropout_2: rate, units_3: width, dropout_3: rate } },
    ],
  },
};

/** The parameters a configuration must hold for its depth. */
function expectedNames(depth: number): string[] {
  const names = ['lr', 'units_1', 'depth'];
  for (let l = 2; l <= depth; l++) names.push(`units_${l}`, `dropout_${l}`);
  return names.sort();
}

describe('parameters shared by exclusive branches', () => {
  it('parse as one parameter, active in each of its branches', () => {
    const space = parseSpace(depthSpace);
    expect(space.params.map((d) => d.name)).toEqual(['lr', 'units_1', 'depth', 'units_2', 'dropout_2', 'units_3', 'dropout_3']);
    const units2 = space.byName.get('units_2')!;
    expect(units2.alternatives).toEqual([[{ param: 'depth', value: 2 }], [{ param: 'depth', value: 3 }]]);
    expect(describeConditions(units2)).toBe('depth = 2 or depth = 3');
    expect(isActive(units2, { depth: 1 })).toBe(false);
    expect(isActive(units2, { depth: 2 })).toBe(true);
    expect(isActive(units2, { depth: 3 })).toBe(true);
    expect(activeParams(space, { depth: 3 }).map((d) => d.name)).toEqual(['lr', 'units_1', 'depth', 'units_2', 'dropout_2', 'units_3', 'dropout_3']);
    expect(() => validateParams(space, { lr: 0.01, units_1: 32, depth: 1, units_2: 32 })).toThrow(/exists only when depth = 2 or depth = 3/);
    validateParams(space, { lr: 0.01, units_1: 32, depth: 2, units_2: 64, dropout_2: 0.1 });
  });

  it('refuses a name defined twice where both branches can hold, or defined differently', () => {
    const cases: [unknown, RegExp][] = [
      [{ a: width, b: { type: 'categorical', choices: [{ value: 1, params: { a: width } }] } }, /already defined at a/],
      [{ b: { type: 'categorical', choices: [{ value: 1, params: { u: width } }, { value: 2, params: { u: { ...width, high: 256 } } }] } }, /defined differently/],
      [
        {
          b: { type: 'categorical', choices: [{ value: 1, params: { c: { type: 'categorical', choices: [{ value: 'x', params: { u: width } }] } } }, { value: 2, params: { c: width } }] },
        },
        /opens sub-spaces|defined differently/,
      ],
    ];
    for (const [input, message] of cases) {
      let err: unknown;
      try {
        parseSpace(input);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(input)).toBeInstanceOf(SearchError);
      expect((err as SearchError).message).toMatch(message);
    }
  });

  it('definitions equal up to key order are the same parameter', () => {
    const reordered = { high: 512, type: 'intlog', low: 16 };
    const space = parseSpace({ d: { type: 'categorical', choices: [{ value: 'a', params: { u: width } }, { value: 'b', params: { u: reordered } }] } });
    expect(space.byName.get('u')!.alternatives).toHaveLength(2);
  });

  for (const sampler of [{ type: 'random' }, { type: 'quasi-random' }, { type: 'tpe', nStartupTrials: 5 }, { type: 'grid', pointsPerParam: 2 }] as const) {
    it(`${sampler.type}: every configuration holds exactly the parameters of its depth, and every depth is drawn`, () => {
      const space = parseSpace(depthSpace);
      const s = createSampler(space, { ...sampler, seed: 7, ...(sampler.type === 'tpe' ? { direction: 'minimize' as const } : {}) });
      const trials: FrozenTrial[] = [];
      const depths = new Set<number>();
      for (let n = 0; n < 40; n++) {
        const suggestion = s.ask(trials, n);
        if (!suggestion) break;
        const p: Params = suggestion.params;
        validateParams(space, p);
        const depth = p['depth'] as number;
        depths.add(depth);
        expect(Object.keys(p).sort()).toEqual(expectedNames(depth));
        // A loss that prefers depth 2 and wide second layers, so TPE models the shared dimension.
        const value = depth === 2 ? 1 - (p['units_2'] as number) / 1024 : 1;
        trials.push({ number: n, params: p, state: 'completed', reports: [{ step: 1, value }], value, ...(suggestion.cellKey ? { cellKey: suggestion.cellKey } : {}) });
      }
      expect([...depths].sort()).toEqual([1, 2, 3]);
    });
  }
});
