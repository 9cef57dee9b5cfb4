import { describe, expect, it } from 'vitest';
import { admitUnclaimed } from './concurrency.ts';

type T = { id: string; status: 'queued' | 'running'; attempt: number };
const t = (id: string, status: T['status'], attempt: number): T => ({ id, status, attempt });
const ids = (trials: readonly T[]) => trials.map((x) => x.id);

describe('admitUnclaimed', () => {
  it('admits never-claimed trials in order, within the room running and claimed trials leave', () => {
    const trials = [t('a', 'running', 1), t('b', 'queued', 2), t('c', 'queued', 0), t('d', 'queued', 0), t('e', 'queued', 0)];
    const { admitted, heldBack } = admitUnclaimed(trials, 4);
    expect(ids(admitted)).toEqual(['c', 'd']);
    expect(ids(heldBack)).toEqual(['e']);
  });

  it('counts never-claimed trials with a live job as taking room, and does not admit them again', () => {
    const trials = [t('a', 'running', 1), t('c', 'queued', 0), t('d', 'queued', 0), t('e', 'queued', 0)];
    const { admitted, heldBack } = admitUnclaimed(trials, 3, (x) => x.id === 'e');
    expect(ids(admitted)).toEqual(['c']);
    expect(ids(heldBack)).toEqual(['d']);
  });

  it('admits nothing when the sweep is at or past its limit (a limit lowered under running trials)', () => {
    const trials = [t('a', 'running', 1), t('b', 'running', 3), t('c', 'queued', 0)];
    expect(ids(admitUnclaimed(trials, 1).admitted)).toEqual([]);
    expect(ids(admitUnclaimed(trials, 2).heldBack)).toEqual(['c']);
  });

  it('admits every never-claimed trial without a limit', () => {
    const trials = [t('a', 'queued', 0), t('b', 'queued', 0)];
    expect(ids(admitUnclaimed(trials, Number.POSITIVE_INFINITY).admitted)).toEqual(['a', 'b']);
  });
});
