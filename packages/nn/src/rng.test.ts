import { describe, expect, it } from 'vitest';
import { deriveKey, keyFromSeed, Rng } from './rng.ts';

describe('Rng', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    const c = Rng.fromSeed(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('splits into streams that do not depend on draws already made', () => {
    const a = Rng.fromSeed(7);
    const before = a.split('shuffle').nextU32();
    a.nextU32();
    a.nextU32();
    expect(a.split('shuffle').nextU32()).toBe(before);
    expect(a.split('dropout').nextU32()).not.toBe(before);
    expect(deriveKey(keyFromSeed(7), 3)).toEqual(deriveKey(keyFromSeed(7), 3));
    expect(deriveKey(keyFromSeed(7), 3)).not.toEqual(deriveKey(keyFromSeed(7), 4));
  });

  it('resumes exactly from a saved state', () => {
    const a = Rng.fromSeed(1);
    a.nextU32();
    const b = Rng.fromState(a.state());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(Array.from({ length: 5 }, () => a.nextU32()));
  });

  it('draws floats in [0, 1) with a plausible mean and normals with unit variance', () => {
    const r = Rng.fromSeed(3);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.float();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      const z = r.normal();
      sq += z * z;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });

  it('draws unbiased integers and permutations', () => {
    const r = Rng.fromSeed(9);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]!++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    const p = r.permutation(100);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(() => r.int(0)).toThrow(RangeError);
  });
});
