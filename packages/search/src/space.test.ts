// Unit tests of the search space: parsing, errors with paths, activity, the unit mapping, validation.
import { describe, expect, it } from 'vitest';
import {
  activeParams,
  assignParams,
  canonicalKey,
  fromUnit,
  isActive,
  parseSpace,
  toUnit,
  validateParams,
  type NumericParam,
} from './space.ts';
import { SearchError } from './types.ts';

const spaceJson = {
  lr: { type: 'loguniform', low: 1e-5, high: 1e-1 },
  units: { type: 'int', low: 32, high: 256, step: 32 },
  optimizer: {
    type: 'categorical',
    choices: [
      'adam',
      {
        value: 'sgd',
        params: {
          momentum: { type: 'uniform', low: 0, high: 0.99 },
          schedule: {
            type: 'categorical',
            choices: [{ value: 'step', params: { stepSize: { type: 'int', low: 1, high: 10, step: 3 } } }, 'constant'],
          },
        },
      },
    ],
  },
  activation: { type: 'fixed', value: 'relu' },
};

function invalid(json: unknown, path: string, message: RegExp): void {
  let caught: unknown;
  try {
    parseSpace(json);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SearchError);
  const err = caught as SearchError;
  expect(err.code).toBe('INVALID_SPACE');
  expect(err.path).toBe(path);
  expect(err.message).toMatch(message);
}

describe('parseSpace', () => {
  it('parses every kind, defaults the int step and lists parameters depth-first', () => {
    const space = parseSpace(spaceJson);
    expect(space.params.map((p) => p.name)).toEqual(['lr', 'units', 'optimizer', 'momentum', 'schedule', 'stepSize', 'activation']);
    expect(space.params.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(space.byName.get('stepSize')?.conditions).toEqual([
      { param: 'optimizer', value: 'sgd' },
      { param: 'schedule', value: 'step' },
    ]);
    expect(space.byName.get('stepSize')?.path).toBe('optimizer.choices[1].params.schedule.choices[0].params.stepSize');
    expect(parseSpace({ n: { type: 'int', low: 1, high: 3 } }).root['n']).toEqual({ type: 'int', low: 1, high: 3, step: 1 });
    expect(parseSpace({ q: { type: 'quniform', low: 0, high: 0.3, q: 0.1 } }).root['q']).toEqual({ type: 'quniform', low: 0, high: 0.3, q: 0.1 });
    expect(parseSpace({ k: { type: 'intlog', low: 1, high: 1024 } }).params).toHaveLength(1);
  });

  it('names the offending field', () => {
    invalid({ lr: { type: 'uniform', low: 1, high: 1 } }, 'lr.low', /must be < high/);
    invalid({ lr: { type: 'loguniform', low: 0, high: 1 } }, 'lr.low', /log scale needs low > 0/);
    invalid({ n: { type: 'intlog', low: 0, high: 8 } }, 'n.low', /log scale/);
    invalid({ n: { type: 'int', low: 0.5, high: 8 } }, 'n.low', /integer/);
    invalid({ n: { type: 'int', low: 0, high: 8.5 } }, 'n.high', /integer/);
    invalid({ n: { type: 'int', low: 0, high: 10, step: 3 } }, 'n.step', /not a multiple of step 3/);
    invalid({ n: { type: 'int', low: 0, high: 10, step: 0 } }, 'n.step', /≥ 1/);
    invalid({ q: { type: 'quniform', low: 0, high: 1, q: 0.3 } }, 'q.q', /not a multiple of q/);
    invalid({ q: { type: 'quniform', low: 0, high: 1, q: -0.5 } }, 'q.q', /> 0/);
    invalid({ c: { type: 'categorical', choices: [] } }, 'c.choices', /must not be empty/);
    invalid({ c: { type: 'categorical', choices: ['a', 'b', 'a'] } }, 'c.choices[2]', /duplicates choices\[0\]/);
    invalid({ c: { type: 'categorical', choices: [1, { value: 1, params: {} }] } }, 'c.choices[1]', /duplicates/);
    invalid({ lr: { type: 'uniform', low: 0, high: 1, lo: 3 } }, 'lr.lo', /unknown key/);
    invalid({ lr: { type: 'uniform', low: Number.NaN, high: 1 } }, 'lr.low', /finite number/);
    invalid({ lr: { type: 'uniform', low: 0, high: Infinity } }, 'lr.high', /finite number/);
    invalid({ lr: { type: 'normal', low: 0, high: 1 } }, 'lr.type', /one of uniform, loguniform/);
    invalid({ lr: 3 }, 'lr', /must be an object/);
    invalid({ 'learning rate': { type: 'fixed', value: 1 } }, 'learning rate', /parameter name/);
    invalid({}, '', /no parameters/);
    invalid([], '', /must be an object/);
    invalid({ c: { type: 'categorical', choices: [null] } }, 'c.choices[0]', /finite number, a string, a boolean/);
    invalid({ f: { type: 'fixed', value: [1] } }, 'f.value', /finite number, a string or a boolean/);
  });

  it('names paths inside conditional and nested sub-spaces', () => {
    invalid(
      { optimizer: { type: 'categorical', choices: ['adam', { value: 'sgd', params: { momentum: { type: 'uniform', low: 1, high: 0 } } }] } },
      'optimizer.choices[1].params.momentum.low',
      /must be < high/,
    );
    invalid(
      { optimizer: { type: 'categorical', choices: [{ value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 1 } }, extra: 1 }] } },
      'optimizer.choices[0].extra',
      /unknown key/,
    );
    const nested = structuredClone(spaceJson) as typeof spaceJson;
    (nested.optimizer.choices[1] as { params: Record<string, unknown> }).params['schedule'] = {
      type: 'categorical',
      choices: [{ value: 'step', params: { stepSize: { type: 'int', low: 1, high: 10, step: 4 } } }],
    };
    invalid(nested, 'optimizer.choices[1].params.schedule.choices[0].params.stepSize.step', /not a multiple/);
  });

  it('refuses a parameter name defined twice where both can hold, or defined differently in exclusive branches', () => {
    invalid(
      {
        momentum: { type: 'uniform', low: 0, high: 1 },
        optimizer: { type: 'categorical', choices: [{ value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 1 } } }] },
      },
      'optimizer.choices[0].params.momentum',
      /already defined at momentum/,
    );
    invalid(
      {
        optimizer: {
          type: 'categorical',
          choices: [
            { value: 'sgd', params: { momentum: { type: 'uniform', low: 0, high: 1 } } },
            { value: 'rmsprop', params: { momentum: { type: 'uniform', low: 0, high: 0.99 } } },
          ],
        },
      },
      'optimizer.choices[1].params.momentum',
      /defined differently at optimizer.choices\[0\].params.momentum/,
    );
  });

  it('reports every problem in the message, the first one in path', () => {
    invalid({ a: { type: 'uniform', low: 2, high: 1 }, b: { type: 'loguniform', low: -1, high: 1 } }, 'a.low', /and b.low: a log scale/);
  });
});

describe('activeParams / assignParams / isActive', () => {
  const space = parseSpace(spaceJson);

  it('opens a sub-space only under its value', () => {
    const names = (p: Record<string, string | number | boolean>) => activeParams(space, p).map((d) => d.name);
    expect(names({})).toEqual(['lr', 'units', 'optimizer', 'activation']);
    expect(names({ optimizer: 'adam' })).toEqual(['lr', 'units', 'optimizer', 'activation']);
    expect(names({ optimizer: 'sgd' })).toEqual(['lr', 'units', 'optimizer', 'momentum', 'schedule', 'activation']);
    expect(names({ optimizer: 'sgd', schedule: 'step' })).toEqual(['lr', 'units', 'optimizer', 'momentum', 'schedule', 'stepSize', 'activation']);
    // A stale schedule does not open anything when its parent is not chosen.
    expect(names({ optimizer: 'adam', schedule: 'step' })).toEqual(['lr', 'units', 'optimizer', 'activation']);
    const stepSize = space.byName.get('stepSize')!;
    expect(isActive(stepSize, { optimizer: 'sgd', schedule: 'step' })).toBe(true);
    expect(isActive(stepSize, { optimizer: 'adam', schedule: 'step' })).toBe(false);
  });

  it('asks for parents before children and fills fixed values itself', () => {
    const asked: string[] = [];
    const params = assignParams(space, (def) => {
      asked.push(def.name);
      if (def.name === 'optimizer') return 'sgd';
      if (def.name === 'schedule') return 'step';
      return fromUnit(def.spec, 0.5);
    });
    expect(asked).toEqual(['lr', 'units', 'optimizer', 'momentum', 'schedule', 'stepSize']);
    expect(params['activation']).toBe('relu');
    expect(() => validateParams(space, params)).not.toThrow();
  });
});

describe('toUnit / fromUnit', () => {
  it('maps continuous parameters linearly or in log', () => {
    const u: NumericParam = { type: 'uniform', low: -2, high: 6 };
    expect(fromUnit(u, 0.25)).toBe(0);
    expect(toUnit(u, 0)).toBe(0.25);
    const l: NumericParam = { type: 'loguniform', low: 1e-4, high: 1 };
    expect(fromUnit(l, 0.5)).toBeCloseTo(1e-2, 12);
    expect(toUnit(l, 1e-3)).toBeCloseTo(0.25, 12);
    expect(fromUnit(l, 0)).toBe(1e-4);
    expect(fromUnit(l, 1)).toBe(1);
  });

  it('gives every value of a discrete parameter an equal share of [0, 1]', () => {
    const cases: [NumericParam, number[]][] = [
      [{ type: 'int', low: 0, high: 10, step: 5 }, [0, 5, 10]],
      [{ type: 'quniform', low: 0.1, high: 0.4, q: 0.1 }, [0.1, 0.2, 0.3, 0.4]],
    ];
    for (const [spec, values] of cases) {
      const counts = new Map<number, number>();
      const n = 1200;
      for (let i = 0; i < n; i++) {
        const v = fromUnit(spec, (i + 0.5) / n) as number;
        counts.set(v, (counts.get(v) ?? 0) + 1);
        // The round trip lands inside the value's own share.
        expect(fromUnit(spec, toUnit(spec, v))).toBe(v);
      }
      expect([...counts.keys()].sort((a, b) => a - b)).toEqual(values);
      for (const c of counts.values()) expect(c).toBe(n / values.length);
    }
  });

  it('spreads an int-log parameter evenly in log scale', () => {
    const spec: NumericParam = { type: 'intlog', low: 1, high: 1000 };
    const below = Array.from({ length: 1000 }, (_, i) => fromUnit(spec, (i + 0.5) / 1000) as number).filter((v) => v <= 31);
    // Half of [0.5, 1000.5] in log lies below ~22.4; a linear mapping would put 3% there.
    expect(below.length).toBeGreaterThan(400);
    expect(below.length).toBeLessThan(600);
  });

  it('maps categoricals by equal slices and fixed values to themselves', () => {
    const spec = parseSpace(spaceJson).root['optimizer']!;
    expect(fromUnit(spec, 0.49)).toBe('adam');
    expect(fromUnit(spec, 0.5)).toBe('sgd');
    expect(fromUnit(spec, 1)).toBe('sgd');
    expect(fromUnit({ type: 'fixed', value: 3 }, 0.7)).toBe(3);
  });
});

describe('validateParams', () => {
  const space = parseSpace(spaceJson);
  const ok = { lr: 1e-3, units: 64, optimizer: 'sgd', momentum: 0.9, schedule: 'step', stepSize: 7, activation: 'relu' };

  it('accepts exactly the active parameters with legal values', () => {
    expect(() => validateParams(space, ok)).not.toThrow();
    expect(() => validateParams(space, { lr: 1e-3, units: 64, optimizer: 'adam', activation: 'relu' })).not.toThrow();
  });

  it('refuses out-of-range, non-integer, off-step, unknown, inactive and missing values', () => {
    const bad = (params: Record<string, unknown>, path: string, message: RegExp) => {
      let caught: unknown;
      try {
        validateParams(space, params as typeof ok);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SearchError);
      expect((caught as SearchError).code).toBe('INVALID_CONFIG');
      expect((caught as SearchError).path).toBe(path);
      expect((caught as SearchError).message).toMatch(message);
    };
    bad({ ...ok, lr: 0.5 }, 'lr', /in \[0.00001, 0.1\], got 0.5/);
    bad({ ...ok, units: 48 }, 'units', /multiple of 32/);
    bad({ ...ok, stepSize: 5 }, 'stepSize', /1 \+ a multiple of 3/);
    bad({ ...ok, units: 64.5 }, 'units', /integer/);
    bad({ ...ok, lr: '0.001' }, 'lr', /finite number/);
    bad({ ...ok, optimizer: 'adagrad' }, 'optimizer', /one of "adam", "sgd"/);
    bad({ ...ok, activation: 'tanh' }, 'activation', /must be "relu"/);
    bad({ ...ok, momentum: undefined }, 'momentum', /missing/);
    bad({ ...ok, optimizer: 'adam' }, 'momentum', /inactive here \(it exists only when optimizer = "sgd"\)/);
    bad({ ...ok, extra: 1 }, 'extra', /not a parameter/);
  });

  it('accepts quantised values up to float noise', () => {
    const q = parseSpace({ q: { type: 'quniform', low: 0, high: 0.9, q: 0.1 } });
    expect(() => validateParams(q, { q: 0.1 + 0.2 })).not.toThrow();
    expect(() => validateParams(q, { q: 0.35 })).toThrow(/multiple of 0.1/);
  });
});

describe('canonicalKey', () => {
  it('does not depend on key order', () => {
    expect(canonicalKey({ b: 1, a: 'x' })).toBe(canonicalKey({ a: 'x', b: 1 }));
    expect(canonicalKey({ a: 1 })).not.toBe(canonicalKey({ a: '1' }));
  });
});
