import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from './client.ts';
import { SWEEP_EVENTS_CHANNEL, USER_STOP_REASON, appendSweepEvent, sweepEventsAfter } from './events.ts';
import { sweepSnapshotIn } from './snapshot.ts';
import { setSweepStatus } from './states.ts';
import { cancelSweep, createSweep, setBestTrial } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { claimTrial, createTrial, finishTrial, recordEpoch, releaseTrial } from './trials.ts';

describe('sweep events', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 8 });
  });
  afterAll(async () => {
    await t?.close();
  });

  const newSweep = async () =>
    (await createSweep(t.db, { name: 'events', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: { maxTrials: 4 } })).sweep;

  it('records every change in a trial life, in order, with sweep.updated counts', async () => {
    const sweep = await newSweep();
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = await createTrial(t.db, sweep.id, { params: { lr: 0.1 } });
    await claimTrial(t.db, trial.id, 'w1');
    await recordEpoch(t.db, trial.id, 1, { val_loss: 0.5 });
    await releaseTrial(t.db, trial.id);
    await claimTrial(t.db, trial.id, 'w2');
    await recordEpoch(t.db, trial.id, 2, { val_loss: 0.25 });
    await finishTrial(t.db, trial.id, 'completed', { finalValue: 0.25 });
    await setBestTrial(t.db, sweep.id, trial.number);

    const events = await sweepEventsAfter(t.db, sweep.id, 0);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual([
      'sweep.updated', // running
      'trial.created',
      'sweep.updated',
      'trial.started',
      'sweep.updated',
      'trial.epoch',
      'trial.queued', // released
      'sweep.updated',
      'trial.started',
      'sweep.updated',
      'trial.epoch',
      'trial.completed',
      'sweep.updated',
      'sweep.updated', // best
    ]);
    expect(events.find((e) => e.type === 'trial.queued')?.data).toEqual({ trialId: trial.id, number: 0, attempt: 1, epochsDone: 1 });
    const second = events.filter((e) => e.type === 'trial.started')[1];
    expect(second?.data).toMatchObject({ trialId: trial.id, attempt: 2, workerId: 'w2' });
    const last = events.at(-1)?.data as { counts: { completed: number }; best: { value: number; number: number } };
    expect(last.counts.completed).toBe(1);
    expect(last.best).toMatchObject({ value: 0.25, number: 0 });
    expect(await sweepEventsAfter(t.db, sweep.id, events.length - 1)).toHaveLength(1);
  });

  it('a rolled-back change leaves no event and no gap', async () => {
    const sweep = await newSweep();
    await expect(
      inTransaction(t.db, async (tx) => {
        await appendSweepEvent(tx, sweep.id, 'sweep.updated', {});
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await setSweepStatus(t.db, sweep.id, 'running');
    const events = await sweepEventsAfter(t.db, sweep.id, 0);
    expect(events.map((e) => e.id)).toEqual([1]);
  });

  it('ids stay gap-free and unique under 40 concurrent writers, and NOTIFY names each one', async () => {
    const sweep = await newSweep();
    await setSweepStatus(t.db, sweep.id, 'running');
    const listener = new pg.Client({ connectionString: t.database.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => notified.push(n.payload ?? ''));
    await listener.query(`LISTEN ${SWEEP_EVENTS_CHANNEL}`);
    try {
      const trials = await Promise.all(Array.from({ length: 8 }, (_, i) => createTrial(t.db, sweep.id, { params: { i } })));
      await Promise.all(trials.flatMap((trial) => [1, 2, 3, 4, 5].map((epoch) => recordEpoch(t.db, trial.id, epoch, { val_loss: 1 / epoch }))));
      const events = await sweepEventsAfter(t.db, sweep.id, 0);
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'trial.epoch')).toHaveLength(40);
      const expected = events.filter((e) => e.id > 1).map((e) => `${sweep.id}:${e.id}`);
      await expect.poll(() => notified.filter((p) => p.startsWith(sweep.id)).length).toBe(expected.length);
      expect(notified.filter((p) => p.startsWith(sweep.id)).sort()).toEqual([...expected].sort());
    } finally {
      await listener.end();
    }
  });

  it('cancelSweep cancels queued trials in the same transaction and reports them stopped by the user', async () => {
    const sweep = await newSweep();
    await setSweepStatus(t.db, sweep.id, 'running');
    const a = await createTrial(t.db, sweep.id, { params: { i: 0 } });
    const b = await createTrial(t.db, sweep.id, { params: { i: 1 } });
    await claimTrial(t.db, a.id, 'w');
    const result = await cancelSweep(t.db, sweep.id);
    expect(result).toMatchObject({ changed: true, cancelledTrials: 1 });
    expect((await cancelSweep(t.db, sweep.id)).changed).toBe(false);
    await expect(createTrial(t.db, sweep.id, { params: { i: 2 } })).rejects.toMatchObject({ code: 'sweep_not_active' });
    const events = await sweepEventsAfter(t.db, sweep.id, 0);
    const stopped = events.filter((e) => e.type === 'trial.stopped');
    expect(stopped.map((e) => (e.data as { trialId: string }).trialId)).toEqual([b.id]);
    const snapshot = await sweepSnapshotIn(t.db, sweep.id);
    expect(snapshot).toMatchObject({ status: 'cancelled', counts: { running: 1, cancelled: 1, total: 2 }, progress: { fraction: 1 } });
    // The running trial is ended by its worker; a user's stop is marked as such.
    await finishTrial(t.db, a.id, 'stopped', { reason: USER_STOP_REASON });
    const after = await sweepEventsAfter(t.db, sweep.id, events.at(-1)?.id ?? 0);
    expect(after[0]).toMatchObject({ type: 'trial.stopped', data: { trialId: a.id, byUser: true, reason: USER_STOP_REASON } });
  });
});
