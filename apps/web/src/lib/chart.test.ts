import { describe, expect, it } from 'vitest';
import { bestSoFar, extentOf, formatValue, logTicks, lttb, makeScale, niceTicks, padExtent, topK } from './chart.ts';

describe('scales and ticks', () => {
  it('maps linearly and inverts', () => {
    const s = makeScale({ min: 0, max: 10 }, [100, 0]);
    expect(s(0)).toBe(100);
    expect(s(10)).toBe(0);
    expect(s(2.5)).toBe(75);
    expect(s.invert(75)).toBeCloseTo(2.5, 12);
  });

  it('maps in log space', () => {
    const s = makeScale({ min: 1e-4, max: 1e-1 }, [0, 300], true);
    expect(s(1e-4)).toBeCloseTo(0, 9);
    expect(s(1e-3)).toBeCloseTo(100, 9);
    expect(s.invert(200)).toBeCloseTo(1e-2, 12);
  });

  it('gives round ticks within the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.1, 0.35, 5)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    expect(niceTicks(-3, 97, 4)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(niceTicks(NaN, 1)).toEqual([]);
    expect(logTicks(1e-4, 0.2)).toEqual([1e-4, 1e-3, 1e-2, 0.1]);
    expect(logTicks(0.002, 0.005)).toHaveLength(1);
  });

  it('takes extents over finite values and pads degenerate ones', () => {
    expect(extentOf([3, NaN, -1, Infinity, 2])).toEqual({ min: -1, max: 3 });
    expect(extentOf([NaN])).toBeUndefined();
    expect(padExtent({ min: 5, max: 5 })).toEqual({ min: 4.5, max: 5.5 });
    expect(padExtent({ min: 0, max: 10 }, 0.1)).toEqual({ min: -1, max: 11 });
  });
});

describe('lttb', () => {
  const wave = Array.from({ length: 1000 }, (_, i) => ({ x: i, y: Math.sin(i / 50) + (i === 500 ? 5 : 0) }));

  it('keeps first and last, returns the threshold count, keeps a spike', () => {
    const out = lttb(wave, 100);
    expect(out).toHaveLength(100);
    expect(out[0]).toEqual(wave[0]);
    expect(out[99]).toEqual(wave[999]);
    expect(out.some((p) => p.x === 500)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
  });

  it('returns short series unchanged and drops non-finite values', () => {
    const pts = [{ x: 0, y: 1 }, { x: 1, y: NaN }, { x: 2, y: 3 }];
    expect(lttb(pts, 10)).toEqual([{ x: 0, y: 1 }, { x: 2, y: 3 }]);
  });
});

describe('optimisation history', () => {
  it('tracks the best so far for each direction', () => {
    const vals = [{ x: 0, value: 0.5 }, { x: 1, value: null }, { x: 2, value: 0.7 }, { x: 3, value: 0.6 }, { x: 4, value: 0.9 }];
    expect(bestSoFar(vals, 'maximize').map((p) => p.y)).toEqual([0.5, 0.7, 0.7, 0.9]);
    expect(bestSoFar(vals, 'minimize').map((p) => p.y)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('ranks the top K, best first, never nulls', () => {
    expect(topK([0.3, null, 0.1, 0.9, 0.5], 2, 'minimize')).toEqual([2, 0]);
    expect(topK([0.3, null, 0.1, 0.9, 0.5], 3, 'maximize')).toEqual([3, 4, 0]);
    expect(topK([null, NaN], 3, 'maximize')).toEqual([]);
  });

  it('formats values compactly', () => {
    expect(formatValue(null)).toBe('—');
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(0.00001234)).toBe('1.23e-5');
    expect(formatValue(0)).toBe('0');
  });
});
