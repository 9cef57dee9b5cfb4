// Unit tests of Hyperband: Bracket layout, deterministic assignment, ASHA within a Bracket only.
import { describe, expect, it } from 'vitest';
import { SearchError, type FrozenTrial } from '../types.ts';
import { createHyperbandScheduler, type HyperbandOptions } from './hyperband.ts';
import { trial } from './trials.fixture.ts';

const hb = (o: Partial<HyperbandOptions> = {}) => createHyperbandScheduler({ direction: 'minimize', maxResource: 81, ...o });

/** The first `count` trial numbers ≥ `from` that the scheduler puts in `bracket`. */
function numbersIn(s: ReturnType<typeof hb>, bracket: number, count: number, from = 0): number[] {
  const out: number[] = [];
  for (let n = from; out.length < count; n++) if (s.bracketOf(n) === bracket) out.push(n);
  return out;
}

describe('Hyperband Brackets', () => {
  it('lays out sMax+1 Brackets with Hyperband weights', () => {
    const s = hb();
    expect(s.brackets.map((b) => b.minResource)).toEqual([1, 3, 9, 27, 81]);
    expect(s.brackets.map((b) => b.milestones)).toEqual([[1, 3, 9, 27], [3, 9, 27], [9, 27], [27], []]);
    expect(s.brackets.map((b) => b.weight)).toEqual([81, 34, 15, 8, 5]);
    expect(hb({ brackets: 2 }).brackets.map((b) => b.minResource)).toEqual([1, 3]);
  });

  it('assigns trial numbers deterministically, in exact proportions per cycle and interleaved', () => {
    const s = hb();
    const counts = [0, 0, 0, 0, 0];
    for (let n = 0; n < 143; n++) counts[s.bracketOf(n)]!++;
    expect(counts).toEqual([81, 34, 15, 8, 5]);
    expect(s.bracketOf(143 + 17)).toBe(s.bracketOf(17));
    expect(hb().bracketOf(42)).toBe(s.bracketOf(42));
    // Interleaved: the first 30 trials already cover 4 Brackets.
    expect(new Set(Array.from({ length: 30 }, (_, n) => s.bracketOf(n))).size).toBeGreaterThanOrEqual(4);
    const rr = hb({ bracketAssignment: 'roundRobin' });
    expect(Array.from({ length: 7 }, (_, n) => rr.bracketOf(n))).toEqual([0, 1, 2, 3, 4, 0, 1]);
  });
});

describe('Hyperband decisions', () => {
  it('compares a trial only with trials of its own Bracket', () => {
    const s = hb({ bracketAssignment: 'roundRobin' });
    const [me, mate] = numbersIn(s, 0, 2) as [number, number];
    const strangers: FrozenTrial[] = numbersIn(s, 1, 3).map((n) => trial(n, [0.1, 0.1, 0.1], 'completed'));
    expect(s.onReport(trial(me, [0.9]), strangers)).toBe('continue');
    expect(s.explain(trial(me, [0.9]), [...strangers, trial(mate, [0.1])])).toMatchObject({ decision: 'stop', milestone: 1 });
  });

  it('stops only at its Bracket Milestones', () => {
    const s = hb({ bracketAssignment: 'roundRobin' });
    const [me, ...mates] = numbersIn(s, 1, 4) as [number, ...number[]];
    const good = mates.map((n) => trial(n, Array.from({ length: 9 }, () => 0.1)));
    const bad = (steps: number) => trial(me, Array.from({ length: steps }, () => 0.9));
    const stops = [1, 2, 3, 4, 5, 6, 7, 8, 9].filter((k) => s.onReport(bad(k), good) === 'stop');
    expect(stops).toEqual([3, 9]);
  });

  it('never stops a trial of the last Bracket', () => {
    const s = hb({ bracketAssignment: 'roundRobin' });
    const [me, ...mates] = numbersIn(s, 4, 4) as [number, ...number[]];
    const good = mates.map((n) => trial(n, Array.from({ length: 81 }, () => 0.1)));
    for (const steps of [1, 3, 9, 27, 80]) expect(s.onReport(trial(me, Array.from({ length: steps }, () => 9)), good)).toBe('continue');
  });

  it('maximises, counts failed trials at the Rungs they reached and ignores short ones', () => {
    const s = hb({ direction: 'maximize', bracketAssignment: 'roundRobin' });
    const [me, a, b] = numbersIn(s, 2, 3) as [number, number, number];
    const failed = trial(a, Array.from({ length: 9 }, () => 0.9), 'failed');
    const short = trial(b, Array.from({ length: 8 }, () => 0.99));
    const mine = Array.from({ length: 9 }, () => 0.5);
    expect(s.onReport(trial(me, mine), [failed, short])).toBe('stop');
    expect(s.onReport(trial(me, mine), [short])).toBe('continue');
    expect(s.onReport(trial(me, mine.map(() => 0.95)), [failed, short])).toBe('continue');
  });

  it('rejects bad options', () => {
    const bad = (o: unknown, path: string) => expect(() => createHyperbandScheduler(o as HyperbandOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', path }) as SearchError,
    );
    bad({ direction: 'minimize', maxResource: 81, brackets: 6 }, 'brackets');
    bad({ direction: 'minimize', maxResource: 81, brackets: 0 }, 'brackets');
    bad({ direction: 'minimize', maxResource: 81, bracketAssignment: 'random' }, 'bracketAssignment');
    bad({ direction: 'minimize', maxResource: 81, foo: 1 }, 'foo');
    bad({ direction: 'up', maxResource: 81 }, 'direction');
    bad({ direction: 'minimize', maxResource: 1000, reductionFactor: 1.001 }, 'minResource');
    // 3^(sMax) trials per cycle for the first Bracket: past 2^48 the sums are not exact.
    bad({ direction: 'minimize', maxResource: 2, minResource: 1e-30 }, 'minResource');
  });

  it('assigns trials of a cycle far longer than any sweep without building the cycle', () => {
    // 1 to 2^31 steps: 20 Brackets, a cycle of 1.8e9 trials (it once exhausted the heap).
    const s = hb({ maxResource: 2 ** 31 });
    expect(s.brackets).toHaveLength(20);
    expect(s.brackets.reduce((n, b) => n + b.weight, 0)).toBeGreaterThan(1e9);
    const first = Array.from({ length: 2000 }, (_, n) => s.bracketOf(n));
    expect(new Set(first).size).toBeGreaterThan(3);
    // Asked in any order, a number gets the same Bracket.
    const again = hb({ maxResource: 2 ** 31 });
    expect(again.bracketOf(1999)).toBe(first[1999]);
    expect(Array.from({ length: 2000 }, (_, n) => again.bracketOf(n))).toEqual(first);
    // The 81-step layout of the paper is unchanged: a cycle of 143, and negative numbers wrap.
    const small = hb();
    expect(small.bracketOf(-1)).toBe(small.bracketOf(142));
  });
});
