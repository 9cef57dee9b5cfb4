import { CreateSweepRequest, type Sweep, type SweepEvent, type Trial } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '../../../../packages/schemas/src/fixtures.ts';
import { describe, expect, it } from 'vitest';
import { SweepStore, countByStatus } from './sweep-store.ts';

const SWEEP_ID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
const T1 = '00000000-0000-4000-8000-000000000001';
const AT = '2026-01-01T00:00:00.000Z';

function sweep(): Sweep {
  const counts = { queued: 0, running: 0, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 0 };
  return {
    id: SWEEP_ID, name: 's', description: null, status: 'running', objective: { metric: 'val_accuracy', mode: 'maximize' }, seed: 42,
    spec: CreateSweepRequest.parse(mnistTpeAshaSweep()), counts,
    progress: { trialsFinished: 0, maxTrials: 12, epochsDone: 0, maxTotalEpochs: null, fraction: 0 },
    best: null, testResult: null, error: null, createdAt: AT, updatedAt: AT, finishedAt: null,
  };
}

let nextId = 1;
function ev<T extends SweepEvent['type']>(type: T, data: Extract<SweepEvent, { type: T }>['data']): SweepEvent {
  return { id: nextId++, type, sweepId: SWEEP_ID, at: AT, data } as SweepEvent;
}

describe('SweepStore', () => {
  it('builds a trial from its events and its curves from epoch events', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    store.apply([
      ev('trial.created', { trialId: T1, number: 0, params: { learningRate: 0.01 } }),
      ev('trial.started', { trialId: T1, number: 0, attempt: 1, workerId: 'w1', resumedFromEpoch: 0 }),
      ev('trial.epoch', { trialId: T1, number: 0, epoch: 1, metrics: { val_accuracy: 0.8, val_loss: 0.5 } }),
      ev('trial.epoch', { trialId: T1, number: 0, epoch: 2, metrics: { val_accuracy: 0.75, val_loss: null } }),
    ]);
    const t = store.trials.get(T1)!;
    expect(t).toMatchObject({ status: 'running', workerId: 'w1', epochsDone: 2, bestValue: 0.8, params: { learningRate: 0.01 } });
    expect(t.lastMetrics).toEqual({ val_accuracy: 0.75, val_loss: 0.5 });
    expect(store.curves.get(T1)!.get('val_accuracy')).toEqual([{ x: 1, y: 0.8 }, { x: 2, y: 0.75 }]);
    expect(store.curves.get(T1)!.get('val_loss')).toEqual([{ x: 1, y: 0.5 }]);

    store.apply([ev('trial.completed', { trialId: T1, number: 0, epochsDone: 2, finalValue: 0.75, bestValue: 0.8 })]);
    expect(store.trials.get(T1)).toMatchObject({ status: 'completed', finalValue: 0.75, finishedAt: AT });
  });

  it('ignores events it has already applied (a replay after reconnecting)', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    const e = ev('trial.epoch', { trialId: T1, number: 0, epoch: 1, metrics: { val_accuracy: 0.5 } });
    expect(store.apply([e])).toBe(true);
    const version = store.version;
    expect(store.apply([e])).toBe(false);
    expect(store.version).toBe(version);
    expect(store.curves.get(T1)!.get('val_accuracy')).toHaveLength(1);
  });

  it('updates the sweep from sweep.updated', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    const counts = { queued: 1, running: 2, completed: 3, stopped: 0, failed: 0, cancelled: 0, total: 6 };
    store.apply([ev('sweep.updated', { status: 'running', counts, progress: { trialsFinished: 3, maxTrials: 12, epochsDone: 20, maxTotalEpochs: null, fraction: 0.25 }, best: { trialId: T1, number: 0, value: 0.9, params: {} } })]);
    expect(store.sweep!.counts).toEqual(counts);
    expect(store.sweep!.best!.value).toBe(0.9);
  });

  it('merges downsampled server curves with live points, and a stale listing never rolls a trial back', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    store.apply([ev('trial.epoch', { trialId: T1, number: 0, epoch: 5, metrics: { val_loss: 0.2 } })]);
    store.setCurve(T1, 'val_loss', [{ step: 1, value: 0.9 }, { step: 3, value: null }, { step: 4, value: 0.3 }]);
    expect(store.curves.get(T1)!.get('val_loss')).toEqual([{ x: 1, y: 0.9 }, { x: 4, y: 0.3 }, { x: 5, y: 0.2 }]);
    const stale = { ...store.trials.get(T1)!, epochsDone: 3 } as Trial;
    store.setTrials([stale]);
    expect(store.trials.get(T1)!.epochsDone).toBe(5);
    expect(countByStatus(store.trials.values()).running).toBe(1);
  });

  it('records stops and failures with their reason', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    const T2 = '00000000-0000-4000-8000-000000000002';
    store.apply([
      ev('trial.created', { trialId: T1, number: 0, params: {} }),
      ev('trial.created', { trialId: T2, number: 1, params: {} }),
      ev('trial.stopped', { trialId: T1, number: 0, epochsDone: 3, reason: 'asha: below the rung cutoff', byUser: false }),
      ev('trial.failed', { trialId: T2, number: 1, attempt: 2, error: 'NON_FINITE_LOSS at epoch 2' }),
    ]);
    expect(store.trials.get(T1)).toMatchObject({ status: 'stopped', epochsDone: 3, reason: 'asha: below the rung cutoff' });
    expect(store.trials.get(T2)).toMatchObject({ status: 'failed', attempt: 2, error: 'NON_FINITE_LOSS at epoch 2' });
    expect(store.trialList().map((t) => t.number)).toEqual([0, 1]);
  });

  it('queues again a trial its trial.queued event names (released by a pause), keeping its epochs', () => {
    nextId = 1;
    const store = new SweepStore();
    store.setSweep(sweep());
    store.apply([
      ev('trial.created', { trialId: T1, number: 0, params: {} }),
      ev('trial.started', { trialId: T1, number: 0, attempt: 1, workerId: 'w1', resumedFromEpoch: 0 }),
      ev('trial.epoch', { trialId: T1, number: 0, epoch: 1, metrics: { val_accuracy: 0.5 } }),
    ]);
    const updated = (status: 'running' | 'paused', running: number) =>
      ev('sweep.updated', { status, counts: { queued: 1 - running, running, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 1 }, progress: sweep().progress, best: null });
    store.apply([updated('running', 1)]);
    expect(store.trials.get(T1)!.status).toBe('running');
    // A sweep count alone changes no trial row: only the trial's own event does.
    store.apply([updated('paused', 0)]);
    expect(store.trials.get(T1)).toMatchObject({ status: 'running', workerId: 'w1' });
    store.apply([ev('trial.queued', { trialId: T1, number: 0, attempt: 1, epochsDone: 1 })]);
    expect(store.trials.get(T1)).toMatchObject({ status: 'queued', workerId: null, epochsDone: 1 });
    expect(store.sweep!.status).toBe('paused');
    // Resumed: its next start says so.
    store.apply([ev('trial.started', { trialId: T1, number: 0, attempt: 2, workerId: 'w2', resumedFromEpoch: 1 })]);
    expect(store.trials.get(T1)).toMatchObject({ status: 'running', workerId: 'w2' });
  });
});
