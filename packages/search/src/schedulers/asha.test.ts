// Unit tests of ASHA's Rung rule: top 1/η, ties, directions, failed and short trials, milestone-only stops, determinism.
import { describe, expect, it } from 'vitest';
import { SearchError, type FrozenTrial } from '../types.ts';
import { createAshaScheduler, MAX_RUNGS, rungCount, type AshaOptions } from './asha.ts';
import { trial, upTo } from './trials.fixture.ts';

const min = (o: Partial<AshaOptions> = {}) => createAshaScheduler({ direction: 'minimize', maxResource: 27, ...o });

/** Peers that each reported one value at step 1 (Rung 1). */
const atRung1 = (values: readonly number[], first = 100): FrozenTrial[] => values.map((v, i) => trial(first + i, [v], 'completed'));

describe('ASHA Milestones', () => {
  it('places Rungs at minResource·η^k below maxResource, from gracePeriod on', () => {
    expect(min().milestones).toEqual([1, 3, 9]);
    expect(min({ maxResource: 81 }).milestones).toEqual([1, 3, 9, 27]);
    expect(min({ maxResource: 82 }).milestones).toEqual([1, 3, 9, 27, 81]);
    expect(min({ minResource: 2, reductionFactor: 2, maxResource: 20 }).milestones).toEqual([2, 4, 8, 16]);
    expect(min({ gracePeriod: 3 }).milestones).toEqual([3, 9]);
    expect(min({ gracePeriod: 4 }).milestones).toEqual([9]);
  });
});

describe('ASHA decisions', () => {
  it('lets the first trial at a Rung continue', () => {
    expect(min().onReport(trial(0, [10]), [])).toBe('continue');
  });

  it('keeps only the top max(1, ⌊n/η⌋) when minimising', () => {
    const s = min();
    const peers = atRung1([0.5, 0.6, 0.7]);
    expect(s.onReport(trial(0, [0.4]), peers)).toBe('continue'); // n=4, keep 1, best
    expect(s.onReport(trial(0, [0.55]), peers)).toBe('stop'); // one better, keep 1
    const six = atRung1([0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(s.onReport(trial(0, [0.55]), six)).toBe('continue'); // n=6, keep 2, second
    expect(s.onReport(trial(0, [0.65]), six)).toBe('stop'); // third of 6
  });

  it('mirrors the rule when maximising', () => {
    const s = min({ direction: 'maximize' });
    const peers = atRung1([0.5, 0.6, 0.7]);
    expect(s.onReport(trial(0, [0.8]), peers)).toBe('continue');
    expect(s.onReport(trial(0, [0.65]), peers)).toBe('stop');
    expect(s.onReport(trial(0, [0.4]), peers)).toBe('stop');
  });

  it('lets ties with the cutoff continue', () => {
    const s = min();
    expect(s.onReport(trial(0, [0.5]), atRung1([0.5, 0.5, 0.5]))).toBe('continue');
    expect(s.onReport(trial(0, [0.5]), atRung1([0.4, 0.5, 0.5]))).toBe('stop');
    const v = s.explain(trial(0, [0.5]), atRung1([0.5, 0.5, 0.9]));
    expect(v).toMatchObject({ decision: 'continue', milestone: 1, cutoff: 0.5 });
  });

  it('does not count the trial twice when `trials` includes it', () => {
    const self = trial(0, [0.2]);
    const peers = atRung1([0.1, 0.9, 0.9, 0.9]);
    // n = 5 → keep 1, and 0.1 is better; counting itself twice would make n = 6 and keep 2.
    expect(min().onReport(self, [self, ...peers])).toBe('stop');
  });

  it('never stops at a step that is not a Milestone', () => {
    const s = min();
    const best = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    const peers = [trial(1, best), trial(2, best), trial(3, best), trial(4, best)];
    const worst = trial(0, [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
    const decisions = worst.reports.map((_, i) => s.onReport(upTo(worst, i + 1), peers));
    // Steps 1..12: stops only at 1, 3 and 9.
    expect(decisions.map((d, i) => (d === 'stop' ? i + 1 : 0)).filter((x) => x > 0)).toEqual([1, 3, 9]);
  });

  it('never stops below gracePeriod, nor at maxResource', () => {
    const s = min({ gracePeriod: 3 });
    const peers = atRung1([0.1, 0.1, 0.1]);
    expect(s.onReport(trial(0, [9]), peers)).toBe('continue');
    const full = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    const finishers = [trial(1, full), trial(2, full), trial(3, full)];
    const bad = trial(0, full.map((_, i) => (i < 26 ? 0.1 : 5)));
    expect(bad.reports.at(-1)!.step).toBe(27);
    expect(s.onReport(bad, finishers)).toBe('continue');
  });

  it('counts the Rungs a failed or stopped trial reached, and only those', () => {
    const s = min();
    const failed = trial(1, [0.1, 0.1, 0.1], 'failed'); // reached Rungs 1 and 3, not 9
    const stopped = trial(2, [0.2], 'stopped'); // reached Rung 1 only
    const queued = trial(3, [], 'queued');
    const peers = [failed, stopped, queued];
    // At Rung 3: values {own, 0.1}; n = 2 → keep 1; the failed trial's 0.1 is better.
    expect(s.onReport(trial(0, [0.3, 0.3, 0.3]), peers)).toBe('stop');
    // At Rung 9: nobody else got there, so the trial is alone and continues.
    const far = trial(0, [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]);
    expect(s.explain(far, peers)).toMatchObject({ decision: 'continue', milestone: 9, reason: expect.stringContaining('of 1 values') });
  });

  it('ignores peers that reported fewer epochs than the Rung', () => {
    const s = min();
    const short = [trial(1, [0.1, 0.1]), trial(2, [0.1, 0.1]), trial(3, [0.1])];
    expect(s.onReport(trial(0, [0.9, 0.9, 0.9]), short)).toBe('continue');
    expect(s.onReport(trial(0, [0.9, 0.9, 0.9]), [...short, trial(4, [0.1, 0.1, 0.1])])).toBe('stop');
  });

  it('judges reports that skip steps at every Milestone they reach, with the first value at or after it', () => {
    const s = min();
    // Peer reported at steps 2 and 4: its Rung-1 value is from step 2, its Rung-3 value from step 4.
    const peer = trial(1, [[2, 0.9], [4, 0.1]]);
    expect(s.onReport(trial(0, [[2, 0.5]]), [peer])).toBe('continue'); // Rung 1: 0.5 vs 0.9
    expect(s.explain(trial(0, [[2, 0.5], [4, 0.5]]), [peer])).toMatchObject({ decision: 'stop', milestone: 3 });
    // A jump from step 2 to 10 reaches Rungs 3 and 9 and fails at 3.
    expect(s.explain(trial(0, [[2, 0.5], [10, 0.5]]), [peer])).toMatchObject({ decision: 'stop', milestone: 3 });
  });

  it('treats NaN as the worst value', () => {
    const s = min();
    expect(s.onReport(trial(0, [NaN]), atRung1([5, 6, 7]))).toBe('stop');
    expect(s.onReport(trial(0, [5]), atRung1([NaN, NaN, NaN]))).toBe('continue');
    expect(min({ direction: 'maximize' }).onReport(trial(0, [NaN]), atRung1([-5]))).toBe('stop');
  });

  it('is deterministic and independent of the order of `trials`, and does not mutate them', () => {
    const s = min();
    const peers = Object.freeze(atRung1([0.3, 0.1, 0.7, 0.2, 0.9, 0.4, 0.5, 0.8]).map((t) => Object.freeze(t)));
    const me = trial(0, [0.35]);
    const first = s.explain(me, peers);
    expect(s.explain(me, [...peers].reverse())).toEqual(first);
    expect(createAshaScheduler({ direction: 'minimize', maxResource: 27 }).explain(me, peers)).toEqual(first);
    // n = 9 → keep 3; 0.1, 0.2, 0.3 are better.
    expect(first).toMatchObject({ decision: 'stop', cutoff: 0.3 });
  });
});

describe('ASHA options', () => {
  const bad = (o: unknown, path: string) => {
    let caught: unknown;
    try {
      createAshaScheduler(o as AshaOptions);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SearchError);
    expect(caught).toMatchObject({ code: 'INVALID_CONFIG', path });
  };
  it('rejects bad options with the offending path', () => {
    bad({ direction: 'minimize', maxResource: 9, reductionFactor: 1 }, 'reductionFactor');
    bad({ direction: 'minimize' }, 'maxResource');
    bad({ direction: 'minimize', maxResource: 1 }, 'maxResource');
    bad({ direction: 'minimize', maxResource: 9, minResource: 0 }, 'minResource');
    bad({ direction: 'minimise', maxResource: 9 }, 'direction');
    bad({ maxResource: 9 }, 'direction');
    bad({ direction: 'minimize', maxResource: 9, reductionfactor: 2 }, 'reductionfactor');
    bad({ direction: 'minimize', maxResource: 9, gracePeriod: 9 }, 'gracePeriod');
    bad({ direction: 'minimize', maxResource: Infinity }, 'maxResource');
    bad(null, '');
  });

  it('refuses more Rungs than MAX_RUNGS instead of listing millions of them', () => {
    // η close to 1 or a tiny minResource: each once made the Rung list exhaust the heap.
    bad({ direction: 'minimize', maxResource: 1000, reductionFactor: 1.000001 }, 'minResource');
    bad({ direction: 'minimize', maxResource: 2, minResource: 1e-300, reductionFactor: 1.000001 }, 'minResource');
    bad({ direction: 'minimize', maxResource: 1000, reductionFactor: 1.005 }, 'minResource');
    expect(rungCount(1, 3, 81)).toBe(5);
    const steps = (o: Partial<AshaOptions>) => createAshaScheduler({ direction: 'minimize', maxResource: 1000, ...o }).milestones.length;
    // The last count allowed and the first refused, at η = 1.0069: ⌊ln 1000 / ln 1.0069⌋ + 1 = 1005.
    expect(steps({ reductionFactor: 1.0069, minResource: 1000 / 1.0069 ** (MAX_RUNGS - 1) })).toBe(MAX_RUNGS - 1);
    bad({ direction: 'minimize', maxResource: 1000, reductionFactor: 1.0069 }, 'minResource');
    // A sweep stored before the limit with a η near 1 still builds: 1.05 over 150 epochs is 103 Rungs.
    expect(steps({ reductionFactor: 1.05, maxResource: 150 })).toBe(103);
    expect(steps({ reductionFactor: 2, maxResource: 2 ** 31 })).toBe(31);
  });
});
