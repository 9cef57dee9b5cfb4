// Unit tests of the scrambled Sobol sequence: net properties survive scrambling; seeds differ.
import { describe, expect, it } from 'vitest';
import { SOBOL_MAX_DIMENSIONS, SobolSequence } from './sobol.ts';

describe('SobolSequence', () => {
  it('supports the 45 tabulated dimensions', () => {
    expect(SOBOL_MAX_DIMENSIONS).toBe(45);
    expect(() => new SobolSequence(46, 1)).toThrow(RangeError);
  });

  it('puts exactly one of the first 2^m points in each 1/2^m slice of every dimension', () => {
    const sobol = new SobolSequence(SOBOL_MAX_DIMENSIONS, 'net');
    for (let d = 0; d < SOBOL_MAX_DIMENSIONS; d++) {
      const slices = new Set<number>();
      for (let i = 0; i < 512; i++) {
        const x = sobol.point(i, d);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(1);
        slices.add(Math.floor(x * 512));
      }
      expect(slices.size).toBe(512);
    }
  });

  it('keeps the 2-D net property of dimensions 1 and 2 (t = 0)', () => {
    for (const seed of [1, 2, 3]) {
      const sobol = new SobolSequence(2, seed);
      const cells = new Set<number>();
      for (let i = 0; i < 256; i++) cells.add(Math.floor(sobol.point(i, 0) * 16) * 16 + Math.floor(sobol.point(i, 1) * 16));
      expect(cells.size).toBe(256);
    }
  });

  it('is a pure function of (seed, index, dimension)', () => {
    const a = new SobolSequence(5, 7);
    const b = new SobolSequence(5, 7);
    const c = new SobolSequence(5, 8);
    expect(b.point(1000, 4)).toBe(a.point(1000, 4));
    expect(c.point(1000, 4)).not.toBe(a.point(1000, 4));
  });

  it('keeps points 2k and 2k + 1 in opposite halves, as unscrambled Sobol does', () => {
    // With the identity scramble the first points of dimension 1 would be 0, 1/2, 1/4, 3/4 (natural order);
    // scrambling and the shift permute the 1/4-slices but keep pairs {0,1} and {2,3} in opposite halves.
    const s = new SobolSequence(1, 11);
    const half = (i: number) => Math.floor(s.point(i, 0) * 2);
    expect(half(0)).not.toBe(half(1));
    expect(half(2)).not.toBe(half(3));
  });
});
