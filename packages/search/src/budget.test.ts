// Unit tests of the budget: validation, counts kept apart, epochs, how many may start, when the sweep is done.
import { describe, expect, it } from 'vitest';
import { accountBudget, createBudget, type BudgetOptions } from './budget.ts';
import { trial } from './schedulers/trials.fixture.ts';
import { SearchError, type FrozenTrial } from './types.ts';

const epochs = (n: number) => Array.from({ length: n }, () => 0.5);

describe('createBudget', () => {
  it('applies defaults and keeps absent limits as null', () => {
    expect(createBudget({ maxTrials: 10 })).toEqual({
      maxTrials: 10, maxConcurrentTrials: 1, maxTotalEpochs: null, failedCountTowardsBudget: true, maxFailedTrials: null,
    });
  });
  it('rejects bad options with a path', () => {
    const bad = (o: unknown, path: string) =>
      expect(() => createBudget(o as BudgetOptions)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', path }) as SearchError);
    bad({}, 'maxTrials');
    bad({ maxTrials: 0 }, 'maxTrials');
    bad({ maxTrials: 2.5 }, 'maxTrials');
    bad({ maxTrials: 5, maxConcurrentTrials: 0 }, 'maxConcurrentTrials');
    bad({ maxTrials: 5, maxTotalEpochs: -3 }, 'maxTotalEpochs');
    bad({ maxTrials: 5, failedCountTowardsBudget: 'yes' }, 'failedCountTowardsBudget');
    bad({ maxTrials: 5, maxTrails: 3 }, 'maxTrails');
  });
});

describe('accountBudget', () => {
  const sweep: FrozenTrial[] = [
    trial(0, epochs(10), 'completed'),
    trial(1, epochs(3), 'stopped'),
    trial(2, epochs(5), 'failed'),
    trial(3, epochs(1), 'cancelled'),
    trial(4, epochs(4), 'running'),
    trial(5, [], 'queued'),
  ];

  it('keeps counts per state apart: stopped and failed trials are never completed', () => {
    const a = accountBudget(createBudget({ maxTrials: 20, maxConcurrentTrials: 4 }), sweep, { maxEpochsPerTrial: 10 });
    expect(a.counts).toEqual({ completed: 1, stoppedEarly: 1, failed: 1, cancelled: 1, running: 1, queued: 1, total: 6 });
    expect(a.epochsUsed).toBe(10 + 3 + 5 + 1 + 4);
  });

  it('charges failed trials to maxTrials unless told not to', () => {
    const on = accountBudget(createBudget({ maxTrials: 8, maxConcurrentTrials: 8 }), sweep, { maxEpochsPerTrial: 10 });
    expect(on).toMatchObject({ trialsUsed: 6, trialsRemaining: 2, canStart: 2, limitedBy: 'maxTrials' });
    const off = accountBudget(createBudget({ maxTrials: 8, maxConcurrentTrials: 8, failedCountTowardsBudget: false }), sweep, { maxEpochsPerTrial: 10 });
    expect(off).toMatchObject({ trialsUsed: 5, trialsRemaining: 3, canStart: 3 });
  });

  it('counts queued trials against concurrency', () => {
    const a = accountBudget(createBudget({ maxTrials: 20, maxConcurrentTrials: 3 }), sweep, { maxEpochsPerTrial: 10 });
    expect(a).toMatchObject({ canStart: 1, limitedBy: null, done: false });
    const full = accountBudget(createBudget({ maxTrials: 20, maxConcurrentTrials: 2 }), sweep, { maxEpochsPerTrial: 10 });
    expect(full).toMatchObject({ canStart: 0, limitedBy: 'maxConcurrentTrials', done: false });
  });

  it('reserves the worst case of running trials against maxTotalEpochs, or only what was spent', () => {
    // Used 23; running trial 4 may still take 6, queued trial 5 may take 10: 39 committed.
    const budget = createBudget({ maxTrials: 20, maxConcurrentTrials: 10, maxTotalEpochs: 60 });
    const worst = accountBudget(budget, sweep, { maxEpochsPerTrial: 10 });
    expect(worst).toMatchObject({ epochsReserved: 16, epochsRemaining: 37, canStart: 2, limitedBy: 'maxTotalEpochs' });
    const spent = accountBudget(budget, sweep, { maxEpochsPerTrial: 10, reservation: 'spent' });
    expect(spent).toMatchObject({ epochsReserved: 0, epochsRemaining: 37, canStart: 8, limitedBy: null });
    const over = accountBudget(createBudget({ maxTrials: 20, maxConcurrentTrials: 10, maxTotalEpochs: 20 }), sweep, { maxEpochsPerTrial: 10, reservation: 'spent' });
    expect(over).toMatchObject({ epochsRemaining: 0, canStart: 0, limitedBy: 'maxTotalEpochs', done: false });
  });

  it('stops starting trials after maxFailedTrials failures', () => {
    const a = accountBudget(createBudget({ maxTrials: 20, maxConcurrentTrials: 10, maxFailedTrials: 1 }), sweep, { maxEpochsPerTrial: 10 });
    expect(a).toMatchObject({ canStart: 0, limitedBy: 'maxFailedTrials' });
  });

  it('is done only when nothing may start and nothing is running or queued', () => {
    const finished = sweep.filter((t) => t.state !== 'running' && t.state !== 'queued');
    const budget = createBudget({ maxTrials: 4, maxConcurrentTrials: 2 });
    expect(accountBudget(budget, finished, { maxEpochsPerTrial: 10 })).toMatchObject({ canStart: 0, done: true, limitedBy: 'maxTrials' });
    expect(accountBudget(budget, sweep, { maxEpochsPerTrial: 10 })).toMatchObject({ canStart: 0, done: false });
    expect(accountBudget(createBudget({ maxTrials: 5 }), finished, { maxEpochsPerTrial: 10 })).toMatchObject({ canStart: 1, done: false });
    // Less than one trial's cap left and nothing running: done under worst-case reservation.
    const epochBound = createBudget({ maxTrials: 50, maxConcurrentTrials: 4, maxTotalEpochs: 25 });
    expect(accountBudget(epochBound, finished, { maxEpochsPerTrial: 10 })).toMatchObject({ epochsRemaining: 6, canStart: 0, done: true });
    expect(accountBudget(createBudget({ maxTrials: 3 }), [], { maxEpochsPerTrial: 10 })).toMatchObject({ canStart: 1, done: false, epochsUsed: 0 });
  });

  it('validates the accounting options', () => {
    expect(() => accountBudget(createBudget({ maxTrials: 3 }), [], { maxEpochsPerTrial: 0 })).toThrow(SearchError);
  });
});
