// Fenced writes: a trial's progress writes given a claim land only while that claim holds; a stale
// holder's write is refused with claim_lost and leaves no row and no event behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from './client.ts';
import { claimOf, type TrialClaim } from './claims.ts';
import { DbError } from './errors.ts';
import { pruneCheckpoints, saveCheckpoint } from './checkpoints.ts';
import { createSweep } from './sweeps.ts';
import { setTrialStatus } from './states.ts';
import { claimTrial, createTrial, finishTrial, getTrial, recordEpoch, recordEpochs, releaseTrial } from './trials.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { USER_STOP_REASON } from './events.ts';

let t: MigratedTestDatabase;
beforeAll(async () => {
  t = await createMigratedTestDatabase({ maxConnections: 8 });
});
afterAll(async () => {
  await t?.close();
});

async function newTrial() {
  const { sweep } = await createSweep(t.db, { name: 'fencing', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
  return createTrial(t.db, sweep.id, { params: {} });
}

async function claim(trialId: string, workerId: string): Promise<TrialClaim> {
  const result = await claimTrial(t.db, trialId, workerId);
  expect(result.changed).toBe(true);
  expect(result.claim).toEqual({ trialId, attempt: result.row!.attempt, workerId });
  return result.claim!;
}

/** A second delivery takes the trial over: release (whoever holds it), then claim. */
async function takeOver(trialId: string, workerId: string): Promise<TrialClaim> {
  expect((await releaseTrial(t.db, trialId)).changed).toBe(true);
  return claim(trialId, workerId);
}

/** Everything a trial's writes leave: metric rows, checkpoints, events naming it, and its row. */
async function footprint(trialId: string) {
  const trial = await getTrial(t.db, trialId);
  return {
    metrics: await t.db.metric.findMany({ where: { trialId }, orderBy: [{ step: 'asc' }, { name: 'asc' }] }),
    checkpoints: (await t.db.checkpoint.findMany({ where: { trialId }, orderBy: { epoch: 'asc' }, select: { epoch: true, attempt: true } })),
    events: await t.db.sweepEventRow.findMany({ where: { sweepId: trial!.sweepId }, orderBy: { seq: 'asc' } }),
    trial: { status: trial!.status, attempt: trial!.attempt, workerId: trial!.workerId, epochsDone: trial!.epochsDone, bestValue: trial!.bestValue },
  };
}

async function refused(promise: Promise<unknown>): Promise<DbError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DbError);
    expect(error).toMatchObject({ code: 'claim_lost', transient: false });
    return error as DbError;
  }
  throw new Error('the stale write was accepted');
}

describe('fenced trial writes', () => {
  it('writes under a live claim record its attempt on metric rows, checkpoints and events', async () => {
    const trial = await newTrial();
    const mine = await claim(trial.id, 'w1');
    expect(mine.attempt).toBe(1);
    await inTransaction(t.db, async (tx) => {
      await recordEpoch(tx, mine, 1, { val_loss: 0.5, train_loss: 0.6 });
      await saveCheckpoint(tx, mine, 1, { epoch: 1 }, new Uint8Array([1]));
    });
    const after = await footprint(trial.id);
    expect(after.metrics.map((m) => [m.name, m.step, m.attempt])).toEqual([
      ['train_loss', 1, 1],
      ['val_loss', 1, 1],
    ]);
    expect(after.checkpoints).toEqual([{ epoch: 1, attempt: 1 }]);
    // trial.started and its sweep.updated (the claim), trial.epoch: all attributed to attempt 1.
    const own = after.events.filter((e) => e.attempt === 1).map((e) => e.type);
    expect(own).toEqual(['trial.started', 'sweep.updated', 'trial.epoch']);
    expect(claimOf({ id: trial.id, attempt: 1, workerId: 'w1' })).toEqual(mine);
  });

  it('after a takeover, every write of the stale claim is refused with claim_lost and leaves nothing', async () => {
    const trial = await newTrial();
    const stale = await claim(trial.id, 'w1');
    await recordEpoch(t.db, stale, 1, { val_loss: 0.5 });
    await saveCheckpoint(t.db, stale, 1, { epoch: 1 }, new Uint8Array([1]));
    const fresh = await takeOver(trial.id, 'w2');
    expect(fresh.attempt).toBe(2);
    const before = await footprint(trial.id);

    const lost = await refused(recordEpoch(t.db, stale, 2, { val_loss: 0.4 }));
    expect(lost.message).toMatch(/attempt 1 by w1 lost \(now running, attempt 2, worker w2\)/);
    await refused(recordEpochs(t.db, stale, [{ epoch: 1, metrics: { val_loss: 9 } }]));
    await refused(saveCheckpoint(t.db, stale, 2, { epoch: 2 }, new Uint8Array([2])));
    await refused(pruneCheckpoints(t.db, stale, 1));
    await refused(finishTrial(t.db, stale, 'failed', { error: 'boom' }));
    await refused(finishTrial(t.db, stale, 'cancelled'));
    await refused(finishTrial(t.db, stale, 'completed', { finalValue: 0.4 }));
    await refused(releaseTrial(t.db, stale));
    // The worker's epoch transaction: metrics and checkpoint together, refused as a whole.
    await refused(
      inTransaction(t.db, async (tx) => {
        await recordEpoch(tx, stale, 2, { val_loss: 0.4 });
        await saveCheckpoint(tx, stale, 2, { epoch: 2 }, new Uint8Array([2]));
      }),
    );
    expect(await footprint(trial.id)).toEqual(before);

    // The same worker id under a new claim is a different claim: its old attempt stays fenced out.
    await finishTrial(t.db, fresh, 'cancelled');
    const third = await claim((await newTrial()).id, 'w1');
    await refused(recordEpoch(t.db, { ...third, attempt: third.attempt + 1 }, 1, { val_loss: 1 }));
    await refused(recordEpoch(t.db, { ...third, workerId: 'w9' }, 1, { val_loss: 1 }));
    await expect(recordEpoch(t.db, third, 1, { val_loss: 1 })).resolves.toMatchObject({ epochsDone: 1 });
  });

  it('a trial stopped by a user or missing refuses its holder’s writes; the id form stays unfenced', async () => {
    const trial = await newTrial();
    const mine = await claim(trial.id, 'w1');
    await finishTrial(t.db, trial.id, 'stopped', { reason: USER_STOP_REASON });
    await refused(recordEpoch(t.db, mine, 1, { val_loss: 0.5 }));
    await refused(finishTrial(t.db, mine, 'completed', { finalValue: 0.5 }));
    expect((await getTrial(t.db, trial.id))?.status).toBe('stopped');
    await refused(recordEpoch(t.db, { ...mine, trialId: '00000000-0000-4000-8000-000000000000' }, 1, { val_loss: 0.5 }));
    await refused(finishTrial(t.db, { ...mine, trialId: '00000000-0000-4000-8000-000000000000' }, 'failed'));
    // A claim used with another trial's id is a caller error.
    await expect(setTrialStatus(t.db, (await newTrial()).id, 'failed', { claim: mine })).rejects.toMatchObject({ code: 'invalid_argument' });
    // Without a claim (tests, tools): written as before, unattributed.
    await recordEpoch(t.db, trial.id, 1, { val_loss: 0.5 });
    expect((await footprint(trial.id)).metrics.map((m) => m.attempt)).toEqual([null]);
  });

  it('a retried epoch write of the same claim (its COMMIT answer lost) rewrites the rows without a second event', async () => {
    const trial = await newTrial();
    const mine = await claim(trial.id, 'w1');
    await recordEpoch(t.db, mine, 1, { val_loss: 0.5 });
    await recordEpoch(t.db, mine, 1, { val_loss: 0.5 });
    await recordEpochs(t.db, mine, [
      { epoch: 1, metrics: { val_loss: 0.5 } },
      { epoch: 2, metrics: { val_loss: 0.4 } },
    ]);
    const after = await footprint(trial.id);
    expect(after.metrics.map((m) => [m.step, m.value])).toEqual([
      [1, 0.5],
      [2, 0.4],
    ]);
    const epochs = after.events.filter((e) => e.type === 'trial.epoch').map((e) => (e.data as { epoch: number }).epoch);
    expect(epochs).toEqual([1, 2]);
    expect(after.trial).toMatchObject({ epochsDone: 2, bestValue: 0.4 });
  });

  it('racing a takeover, the stale holder’s writes all commit before it and none after (200 writes, 20 runs)', async () => {
    for (let run = 0; run < 20; run++) {
      const trial = await newTrial();
      const stale = await claim(trial.id, 'w1');
      let writes = 0;
      let refusedAt: number | null = null;
      const writer = (async () => {
        for (let epoch = 1; epoch <= 10 && refusedAt === null; epoch++) {
          try {
            await inTransaction(t.db, async (tx) => {
              await recordEpoch(tx, stale, epoch, { val_loss: 1 / epoch });
              await saveCheckpoint(tx, stale, epoch, { epoch }, new Uint8Array([epoch]));
            });
            writes++;
          } catch (error) {
            expect(error).toMatchObject({ code: 'claim_lost' });
            refusedAt = epoch;
          }
        }
      })();
      // The takeover lands somewhere among the writes (run-dependent).
      await new Promise((resolve) => setTimeout(resolve, run * 2));
      const fresh = await takeOver(trial.id, 'w2');
      await writer;
      const { metrics, checkpoints, events } = await footprint(trial.id);
      const started = events.find((e) => e.type === 'trial.started' && e.attempt === fresh.attempt)!;
      // Nothing attributed to attempt 1 was committed after attempt 2's claim.
      for (const e of events) if (e.attempt === stale.attempt) expect(e.seq).toBeLessThan(started.seq);
      expect(metrics.every((m) => m.attempt === stale.attempt)).toBe(true);
      expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: writes }, (_, i) => i + 1));
      expect(checkpoints.map((c) => c.epoch)).toEqual(Array.from({ length: writes }, (_, i) => i + 1));
      const epochEvents = events.filter((e) => e.type === 'trial.epoch');
      expect(epochEvents).toHaveLength(writes);
      if (writes < 10) expect(refusedAt).toBe(writes + 1);
    }
  });
});
