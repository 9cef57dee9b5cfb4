// Tests of the seeded PRNG: fixed output for a fixed seed, independent sub-streams, unbiased ranges.
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { deriveSeed, SeededRandom } from './random.ts';

describe('SeededRandom', () => {
  it('is a pure function of the seed and stream name', () => {
    const a = SeededRandom.fromSeed(42, 'x');
    const b = SeededRandom.fromSeed(42, 'x');
    const seqA = Array.from({ length: 20 }, () => a.nextUint32());
    const seqB = Array.from({ length: 20 }, () => b.nextUint32());
    expect(seqA).toEqual(seqB);
  });

  it('matches the reference mulberry32 (Tommy Ettinger, public domain)', () => {
    // The widely copied original, kept verbatim as the oracle (its state grows past 2^32; ToInt32 wraps it).
    function mulberry32(a: number): () => number {
      return () => {
        let t = (a += 0x6d2b79f5);
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (t ^ (t >>> 14)) >>> 0;
      };
    }
    for (const state of [0, 1, 123456789, 0xffffffff]) {
      const ours = new SeededRandom(state);
      const oracle = mulberry32(state);
      for (let i = 0; i < 1000; i++) expect(ours.nextUint32()).toBe(oracle());
    }
    const r = new SeededRandom(0);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([1144304738, 1416247, 958946056]);
  });

  it('gives different streams for different seeds, labels and negative seeds', () => {
    const seeds = new Set([deriveSeed(1, 'a'), deriveSeed(2, 'a'), deriveSeed(1, 'b'), deriveSeed(-1, 'a'), deriveSeed(2 ** 32 + 1, 'a')]);
    expect(seeds.size).toBe(5);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => deriveSeed(1.5, 'x')).toThrow(DatasetError);
    expect(() => deriveSeed(Number.NaN, 'x')).toThrow(/safe integer/);
  });

  it('draws floats in [0, 1) and integers in [0, n) roughly uniformly', () => {
    const r = SeededRandom.fromSeed(7, 'uniform');
    const counts = new Array<number>(6).fill(0);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 60_000; i++) {
      const f = r.nextFloat();
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
      counts[r.nextInt(6)]!++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
  });

  it('draws standard normals', () => {
    const r = SeededRandom.fromSeed(3, 'normal');
    const n = 50_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const x = r.nextNormal();
      sum += x;
      squares += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.03);
  });

  it('shuffles into a permutation', () => {
    const a = Int32Array.from({ length: 100 }, (_, i) => i);
    SeededRandom.fromSeed(1, 's').shuffle(a);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
