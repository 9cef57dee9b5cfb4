import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbError } from './errors.ts';
import { cancelSweep, createSweep, type KeysetCursor } from './sweeps.ts';
import { setSweepStatus } from './states.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import {
  claimTrial,
  createTrial,
  finishTrial,
  getTrial,
  listTrials,
  recordEpoch,
  recordEpochs,
  releaseTrial,
  retryTrial,
  runnableTrials,
  trialsForSearch,
  type ListTrialsOptions,
} from './trials.ts';
import type { Trial } from './generated/prisma/client.ts';

describe('trials repository', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 8 });
  });
  afterAll(async () => {
    await t?.close();
  });

  const newSweep = async (mode: 'minimize' | 'maximize' = 'minimize') =>
    (await createSweep(t.db, { name: 'trials', spec: {}, seed: 3, objective: { metric: 'val_loss', mode }, budget: {} })).sweep;

  it('numbers 20 concurrent creations 0..19 without gaps or duplicates', async () => {
    const sweep = await newSweep();
    const trials = await Promise.all(Array.from({ length: 20 }, (_, i) => createTrial(t.db, sweep.id, { params: { i } })));
    expect(trials.map((trial) => trial.number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(trials.every((trial) => trial.status === 'queued' && trial.attempt === 0)).toBe(true);
  });

  it('refuses a duplicate grid cell with unique_violation, also under concurrency', async () => {
    const sweep = await newSweep();
    await createTrial(t.db, sweep.id, { params: { lr: 0.1 }, cellKey: 'lr=0.1' });
    await expect(createTrial(t.db, sweep.id, { params: { lr: 0.1 }, cellKey: 'lr=0.1' })).rejects.toMatchObject({
      name: 'DbError',
      code: 'unique_violation',
    });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => createTrial(t.db, sweep.id, { params: { lr: 0.2 }, cellKey: 'lr=0.2' })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as DbError).code).toBe('unique_violation');
    // The same cell in another sweep is fine.
    const other = await newSweep();
    await expect(createTrial(t.db, other.id, { params: { lr: 0.1 }, cellKey: 'lr=0.1' })).resolves.toMatchObject({ number: 0 });
  });

  it('creates no trial for a finished sweep or a missing one', async () => {
    const sweep = await newSweep();
    await setSweepStatus(t.db, sweep.id, 'cancelled');
    await expect(createTrial(t.db, sweep.id, { params: {} })).rejects.toMatchObject({ code: 'sweep_not_active' });
    await expect(createTrial(t.db, '00000000-0000-4000-8000-000000000000', { params: {} })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('cancels instead of queueing a trial released after its sweep ended, and counts replica faults apart from claims', async () => {
    // A release racing a cancel (an ask that saw the sweep paused, a lapsed lease) once left a queued
    // trial in a cancelled sweep for good.
    const sweep = await newSweep();
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const claim = (await claimTrial(t.db, trial.id, 'lease-a')).claim!;
    expect((await cancelSweep(t.db, sweep.id)).changed).toBe(true);
    expect((await getTrial(t.db, trial.id))!.status).toBe('running');
    const released = await releaseTrial(t.db, claim);
    expect(released).toMatchObject({ changed: true, row: { status: 'cancelled', workerId: null, reason: 'sweep cancelled' } });

    // With endRunning, a cancel ends the running trials too (leased by loops no worker ends).
    const leased = await newSweep();
    const held = await createTrial(t.db, leased.id, { params: {} });
    const waiting = await createTrial(t.db, leased.id, { params: {} });
    expect((await claimTrial(t.db, held.id, 'lease-b')).changed).toBe(true);
    expect((await cancelSweep(t.db, leased.id, { endRunning: true })).cancelledTrials).toBe(2);
    for (const id of [held.id, waiting.id]) expect((await getTrial(t.db, id))!).toMatchObject({ status: 'cancelled', reason: 'sweep cancelled', workerId: null });

    const live = await newSweep();
    const faulty = await createTrial(t.db, live.id, { params: {} });
    const first = (await claimTrial(t.db, faulty.id, 'w')).claim!;
    expect((await releaseTrial(t.db, first, { replicaFault: true })).row).toMatchObject({ status: 'queued', replicaFaults: 1, attempt: 1 });
    const second = (await claimTrial(t.db, faulty.id, 'w')).claim!;
    expect((await releaseTrial(t.db, second)).row).toMatchObject({ status: 'queued', replicaFaults: 1, attempt: 2 });
  });

  it('lets exactly one of two concurrent claimers win, then releases and re-claims with a new attempt', async () => {
    const sweep = await newSweep();
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const [a, b] = await Promise.all([claimTrial(t.db, trial.id, 'worker-a'), claimTrial(t.db, trial.id, 'worker-b')]);
    expect([a.changed, b.changed].filter(Boolean)).toHaveLength(1);
    const winner = a.changed ? 'worker-a' : 'worker-b';
    const claimed = (await getTrial(t.db, trial.id))!;
    expect(claimed).toMatchObject({ status: 'running', workerId: winner, attempt: 1 });
    expect(claimed.startedAt).toBeInstanceOf(Date);

    // Only the holder releases when it names itself.
    const loser = winner === 'worker-a' ? 'worker-b' : 'worker-a';
    expect((await releaseTrial(t.db, trial.id, { workerId: loser })).changed).toBe(false);
    const released = await releaseTrial(t.db, trial.id, { workerId: winner });
    expect(released).toMatchObject({ changed: true, row: { status: 'queued', workerId: null, attempt: 1 } });

    const [c, d] = await Promise.all([claimTrial(t.db, trial.id, 'worker-c'), claimTrial(t.db, trial.id, 'worker-d')]);
    expect([c.changed, d.changed].filter(Boolean)).toHaveLength(1);
    expect((await getTrial(t.db, trial.id))?.attempt).toBe(2);
  });

  it('finishes a trial once: concurrent finishers race and the first terminal state stays', async () => {
    const sweep = await newSweep();
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    await claimTrial(t.db, trial.id, 'w');
    const results = await Promise.all([
      finishTrial(t.db, trial.id, 'completed', { finalValue: 0.25 }),
      finishTrial(t.db, trial.id, 'stopped'),
      finishTrial(t.db, trial.id, 'cancelled'),
    ]);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const final = (await getTrial(t.db, trial.id))!;
    expect(final.finishedAt).toBeInstanceOf(Date);
    expect(results.every((r) => r.row?.status === final.status)).toBe(true);
    expect((await claimTrial(t.db, trial.id, 'w2')).changed).toBe(false);

    // failed → queued only through retryTrial.
    const failing = await createTrial(t.db, sweep.id, { params: {} });
    await claimTrial(t.db, failing.id, 'w');
    await finishTrial(t.db, failing.id, 'failed', { error: 'out of memory' });
    expect((await releaseTrial(t.db, failing.id)).changed).toBe(false);
    expect(await retryTrial(t.db, failing.id)).toMatchObject({ changed: true, row: { status: 'queued', finishedAt: null } });
    await expect(finishTrial(t.db, failing.id, 'completed', { finalValue: Number.NaN })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('recordEpoch retried twice writes no duplicate rows and keeps epochsDone and bestValue right', async () => {
    const sweep = await newSweep('minimize');
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    await claimTrial(t.db, trial.id, 'w');
    const e1 = { val_loss: 0.9, train_loss: 1.0 };
    const e2 = { val_loss: 0.6, train_loss: 0.7 };
    const e3 = { val_loss: 0.7, train_loss: 0.5 };
    await recordEpoch(t.db, trial.id, 1, e1);
    await recordEpoch(t.db, trial.id, 2, e2);
    await recordEpoch(t.db, trial.id, 2, e2);
    await Promise.all([recordEpoch(t.db, trial.id, 3, e3), recordEpoch(t.db, trial.id, 3, e3)]);
    // A late retry of an earlier epoch does not move epochsDone back.
    const late = await recordEpoch(t.db, trial.id, 1, e1);
    expect(late).toEqual({ epochsDone: 3, bestValue: 0.6 });

    expect(await t.db.metric.count({ where: { trialId: trial.id } })).toBe(6);
    const stored = (await getTrial(t.db, trial.id))!;
    expect(stored).toMatchObject({ epochsDone: 3, bestValue: 0.6 });

    // A rewritten epoch (resumed from an older checkpoint) replaces its value and the best follows.
    expect(await recordEpoch(t.db, trial.id, 2, { val_loss: 0.8, train_loss: 0.7 })).toEqual({ epochsDone: 3, bestValue: 0.7 });
    expect(await t.db.metric.count({ where: { trialId: trial.id } })).toBe(6);

    // Batches, and maximize mode.
    const maxSweep = await newSweep('maximize');
    const other = await createTrial(t.db, maxSweep.id, { params: {} });
    const result = await recordEpochs(t.db, other.id, [
      { epoch: 1, metrics: { val_loss: 0.3 } },
      { epoch: 2, metrics: { val_loss: 0.5 } },
      { epoch: 3, metrics: { val_loss: 0.4 } },
    ]);
    expect(result).toEqual({ epochsDone: 3, bestValue: 0.5 });

    await expect(recordEpoch(t.db, trial.id, 4, { val_loss: Number.POSITIVE_INFINITY })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(recordEpoch(t.db, trial.id, -1, { val_loss: 1 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(recordEpoch(t.db, '00000000-0000-4000-8000-000000000000', 1, { val_loss: 1 })).rejects.toMatchObject({ code: 'not_found' });
  });

  describe('listTrials', () => {
    let sweepId: string;
    let trials: Trial[];

    beforeAll(async () => {
      const sweep = await newSweep();
      sweepId = sweep.id;
      trials = [];
      for (let i = 0; i < 17; i++) trials.push(await createTrial(t.db, sweepId, { params: { i } }));
      // Values with ties and gaps: trial i gets bestValue (i % 4) * 0.1, every fifth has none.
      for (const trial of trials) {
        if (trial.number % 5 === 4) continue;
        await recordEpoch(t.db, trial.id, 1, { val_loss: (trial.number % 4) * 0.1 });
      }
      for (const trial of trials.slice(0, 6)) {
        await claimTrial(t.db, trial.id, 'w');
      }
    });

    async function collect(options: ListTrialsOptions): Promise<number[]> {
      const numbers: number[] = [];
      let cursor: KeysetCursor | null = null;
      for (let page = 0; page < 50; page++) {
        const result = await listTrials(t.db, sweepId, { ...options, cursor });
        numbers.push(...result.items.map((trial) => trial.number));
        cursor = result.nextCursor;
        if (cursor === null) break;
      }
      return numbers;
    }

    function expected(order: 'asc' | 'desc', filter: (trial: Trial) => boolean = () => true): Promise<number[]> {
      return t.db.trial
        .findMany({ where: { sweepId } })
        .then((rows) =>
          rows
            .filter(filter)
            .sort((a, b) => {
              if (a.bestValue === null || b.bestValue === null) {
                if (a.bestValue === b.bestValue) return a.number - b.number;
                return a.bestValue === null ? 1 : -1;
              }
              const byValue = order === 'asc' ? a.bestValue - b.bestValue : b.bestValue - a.bestValue;
              return byValue !== 0 ? byValue : a.number - b.number;
            })
            .map((trial) => trial.number),
        );
    }

    it('pages by number in both directions', async () => {
      expect(await collect({ limit: 4 })).toEqual(Array.from({ length: 17 }, (_, i) => i));
      expect(await collect({ limit: 5, order: 'desc' })).toEqual(Array.from({ length: 17 }, (_, i) => 16 - i));
    });

    it.each(['asc', 'desc'] as const)('pages by bestValue %s with ties and nulls last, no gaps or duplicates', async (order) => {
      for (const limit of [1, 3, 4, 7]) {
        expect(await collect({ sort: 'bestValue', order, limit })).toEqual(await expected(order));
      }
    });

    it.each([
      ['finalValue', 'asc'],
      ['finalValue', 'desc'],
      ['createdAt', 'asc'],
      ['createdAt', 'desc'],
    ] as const)('pages by %s %s without gaps or duplicates', async (sort, order) => {
      // Give some trials a finalValue (with a tie) and spread createdAt with ties too.
      const rows = await t.db.trial.findMany({ where: { sweepId }, orderBy: { number: 'asc' } });
      for (const row of rows) {
        await t.db.trial.update({
          where: { id: row.id },
          data: {
            finalValue: row.number % 3 === 0 ? null : (row.number % 5) / 10,
            createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, row.number % 6)),
          },
        });
      }
      const updated = await t.db.trial.findMany({ where: { sweepId } });
      const key = (trial: Trial) => (sort === 'createdAt' ? trial.createdAt.getTime() : trial.finalValue);
      const want = updated
        .sort((a, b) => {
          const [ka, kb] = [key(a), key(b)];
          if (ka === null || kb === null) return ka === kb ? a.number - b.number : ka === null ? 1 : -1;
          const byKey = order === 'asc' ? ka - kb : kb - ka;
          return byKey !== 0 ? byKey : a.number - b.number;
        })
        .map((trial) => trial.number);
      for (const limit of [2, 5]) expect(await collect({ sort, order, limit })).toEqual(want);
    });

    it('filters by status', async () => {
      expect(await collect({ status: ['running'], limit: 4 })).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await collect({ status: ['queued'], sort: 'bestValue', order: 'desc', limit: 2 })).toEqual(
        await expected('desc', (trial) => trial.status === 'queued'),
      );
    });

    it('refuses a cursor of another sort', async () => {
      const page = await listTrials(t.db, sweepId, { limit: 2 });
      await expect(listTrials(t.db, sweepId, { sort: 'bestValue', cursor: page.nextCursor })).rejects.toMatchObject({ code: 'invalid_argument' });
    });
  });

  it('rebuilds FrozenTrials for search and lists runnable trials', async () => {
    const sweep = await newSweep();
    const done = await createTrial(t.db, sweep.id, { params: { lr: 0.1, act: 'relu' }, cellKey: 'c0' });
    const stopped = await createTrial(t.db, sweep.id, { params: { lr: 0.2, act: 'tanh' } });
    const running = await createTrial(t.db, sweep.id, { params: { lr: 0.3, act: 'gelu' } });
    const queued = await createTrial(t.db, sweep.id, { params: { lr: 0.4, act: 'relu' } });
    for (const trial of [done, stopped, running]) await claimTrial(t.db, trial.id, 'w');
    await recordEpochs(t.db, done.id, [
      { epoch: 1, metrics: { val_loss: 0.5, train_loss: 0.6 } },
      { epoch: 2, metrics: { val_loss: 0.4, train_loss: 0.5 } },
    ]);
    await recordEpoch(t.db, stopped.id, 1, { val_loss: 0.9 });
    await recordEpoch(t.db, running.id, 1, { val_loss: 0.7 });
    await finishTrial(t.db, done.id, 'completed', { finalValue: 0.4 });
    await finishTrial(t.db, stopped.id, 'stopped');

    expect(await trialsForSearch(t.db, sweep.id)).toEqual([
      { number: 0, params: { lr: 0.1, act: 'relu' }, state: 'completed', reports: [{ step: 1, value: 0.5 }, { step: 2, value: 0.4 }], value: 0.4, cellKey: 'c0' },
      { number: 1, params: { lr: 0.2, act: 'tanh' }, state: 'stopped', reports: [{ step: 1, value: 0.9 }], value: 0.9 },
      { number: 2, params: { lr: 0.3, act: 'gelu' }, state: 'running', reports: [{ step: 1, value: 0.7 }] },
      { number: 3, params: { lr: 0.4, act: 'relu' }, state: 'queued', reports: [] },
    ]);

    const runnable = await runnableTrials(t.db, { sweepId: sweep.id });
    expect(runnable.map((trial) => [trial.id, trial.status, trial.attempt])).toEqual([
      [running.id, 'running', 1],
      [queued.id, 'queued', 0],
    ]);
    expect((await runnableTrials(t.db)).some((trial) => trial.id === queued.id)).toBe(true);
  });
});
