// Unit tests of the median stopping rule: grace, minimum samples, best-so-far vs median, directions, ties.
import { describe, expect, it } from 'vitest';
import { SearchError } from '../types.ts';
import { createMedianStoppingScheduler, type MedianStoppingOptions } from './median.ts';
import { trial, upTo } from './trials.fixture.ts';

const med = (o: Partial<MedianStoppingOptions> = {}) => createMedianStoppingScheduler({ direction: 'minimize', ...o });
const others = (rows: readonly (readonly number[])[], state: 'completed' | 'failed' | 'running' = 'completed') =>
  rows.map((r, i) => trial(100 + i, r, state));

describe('median stopping', () => {
  it("compares the trial's best so far with the median of others at the same step", () => {
    const peers = others([[0.5, 0.4], [0.5, 0.6], [0.5, 0.7]]); // median at step 2: 0.6
    const s = med();
    expect(s.onReport(trial(0, [0.9, 0.55]), peers)).toBe('continue');
    expect(s.explain(trial(0, [0.9, 0.8]), peers)).toMatchObject({ decision: 'stop', milestone: 2, cutoff: 0.6 });
    // Best so far, not the last value: 0.5 at step 1 keeps it going despite 0.8 now.
    expect(s.onReport(trial(0, [0.5, 0.8]), peers)).toBe('continue');
  });

  it('mirrors the rule when maximising', () => {
    const peers = others([[0.4], [0.6], [0.7]]);
    const s = med({ direction: 'maximize' });
    expect(s.onReport(trial(0, [0.65]), peers)).toBe('continue');
    expect(s.onReport(trial(0, [0.5]), peers)).toBe('stop');
  });

  it('lets a tie with the median continue, and takes the mean of the middle two for an even count', () => {
    const s = med();
    expect(s.onReport(trial(0, [0.6]), others([[0.4], [0.6], [0.7]]))).toBe('continue');
    const four = others([[0.4], [0.5], [0.7], [0.8]]); // median 0.6
    expect(s.explain(trial(0, [0.6]), four)).toMatchObject({ decision: 'continue', cutoff: 0.6 });
    expect(s.onReport(trial(0, [0.61]), four)).toBe('stop');
  });

  it('waits for gracePeriod and minSamplesRequired', () => {
    const peers = others([[0.1, 0.1, 0.1], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]]);
    const bad = trial(0, [9, 9, 9]);
    const s = med({ gracePeriod: 3 });
    expect([1, 2, 3].map((n) => s.onReport(upTo(bad, n), peers))).toEqual(['continue', 'continue', 'stop']);
    expect(med({ minSamplesRequired: 4 }).onReport(bad, peers)).toBe('continue');
    expect(med({ minSamplesRequired: 3 }).onReport(bad, peers)).toBe('stop');
  });

  it('decides only at Milestones gracePeriod + k·interval', () => {
    const peers = others(Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => 0.1)));
    const bad = trial(0, Array.from({ length: 8 }, () => 9));
    const s = med({ gracePeriod: 2, interval: 3 });
    const stops = [1, 2, 3, 4, 5, 6, 7, 8].filter((n) => s.onReport(upTo(bad, n), peers) === 'stop');
    expect(stops).toEqual([2, 5, 8]);
  });

  it('counts failed trials at the steps they reached, and not trials that reported fewer steps', () => {
    const s = med();
    const failed = others([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]], 'failed');
    const me = trial(0, [0.5, 0.5, 0.5]);
    expect(s.onReport(upTo(me, 2), failed)).toBe('stop');
    expect(s.explain(me, failed)).toMatchObject({ decision: 'continue', reason: expect.stringContaining('0 other trials') });
  });

  it('uses the latest earlier value of a trial that reported at sparser steps', () => {
    const s = med({ minSamplesRequired: 1 });
    const sparse = [trial(1, [[2, 0.2], [4, 0.2]])];
    expect(s.onReport(trial(0, [0.5, 0.5, 0.5]), sparse)).toBe('stop'); // step 3: its value from step 2
    expect(s.onReport(trial(0, [0.5]), sparse)).toBe('continue'); // step 1: no value yet
  });

  it('is deterministic and order-independent', () => {
    const peers = others([[0.3], [0.9], [0.1], [0.5], [0.7]]);
    const s = med();
    const v = s.explain(trial(0, [0.6]), peers);
    expect(med().explain(trial(0, [0.6]), [...peers].reverse())).toEqual(v);
    expect(v.decision).toBe('stop');
  });

  it('rejects bad options', () => {
    const bad = (o: unknown, path: string) =>
      expect(() => createMedianStoppingScheduler(o as MedianStoppingOptions)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', path }) as SearchError);
    bad({ direction: 'minimize', minSamplesRequired: 0 }, 'minSamplesRequired');
    bad({ direction: 'minimize', minSamplesRequired: 1.5 }, 'minSamplesRequired');
    bad({ direction: 'minimize', gracePeriod: -1 }, 'gracePeriod');
    bad({ direction: 'minimize', interval: 0 }, 'interval');
    bad({ direction: 'minimize', warmup: 3 }, 'warmup');
    bad({}, 'direction');
  });
});
