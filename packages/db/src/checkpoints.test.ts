import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestCheckpoint, pruneCheckpoints, saveCheckpoint, sweepStorage } from './checkpoints.ts';
import { setSweepStatus } from './states.ts';
import { createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { claimTrial, createTrial, finishTrial, recordEpoch } from './trials.ts';

describe('checkpoints repository', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('upserts per epoch, returns the latest, prunes all but the newest', async () => {
    const { sweep } = await createSweep(t.db, { name: 'c', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    expect(await latestCheckpoint(t.db, trial.id)).toBeNull();

    const blob = (epoch: number) => Uint8Array.from({ length: 1024 }, (_, i) => (i * 31 + epoch) % 256);
    for (const epoch of [1, 2, 3, 4]) await saveCheckpoint(t.db, trial.id, epoch, { epoch, tensors: ['w0', 'b0'] }, blob(epoch));
    // A retried save of epoch 4 replaces it rather than adding a row.
    await saveCheckpoint(t.db, trial.id, 4, { epoch: 4, tensors: ['w0', 'b0'], retried: true }, blob(40));
    expect(await t.db.checkpoint.count({ where: { trialId: trial.id } })).toBe(4);

    const latest = (await latestCheckpoint(t.db, trial.id))!;
    expect(latest.epoch).toBe(4);
    expect(latest.manifest).toEqual({ epoch: 4, tensors: ['w0', 'b0'], retried: true });
    expect(Array.from(latest.data)).toEqual(Array.from(blob(40)));

    // A view into a larger buffer stores only its bytes.
    const backing = new Uint8Array(64).fill(7);
    await saveCheckpoint(t.db, trial.id, 5, { epoch: 5 }, backing.subarray(8, 12));
    expect(Array.from((await latestCheckpoint(t.db, trial.id))!.data)).toEqual([7, 7, 7, 7]);

    expect(await pruneCheckpoints(t.db, trial.id, 2)).toBe(3);
    const left = await t.db.checkpoint.findMany({ where: { trialId: trial.id }, select: { epoch: true }, orderBy: { epoch: 'asc' } });
    expect(left.map((c) => c.epoch)).toEqual([4, 5]);
    expect(await pruneCheckpoints(t.db, trial.id, 2)).toBe(0);
    await expect(pruneCheckpoints(t.db, trial.id, 0)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(saveCheckpoint(t.db, '00000000-0000-4000-8000-000000000000', 1, {}, blob(1))).rejects.toMatchObject({
      code: 'foreign_key_violation',
    });
  });

  it("keeps the best epoch's checkpoint while pruning, and an ended trial keeps only its latest and its best", async () => {
    const { sweep } = await createSweep(t.db, { name: 'r', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const claimed = await claimTrial(t.db, trial.id, 'w');
    const losses = [0.9, 0.4, 0.2, 0.5, 0.6, 0.7];
    for (const [i, loss] of losses.entries()) {
      await recordEpoch(t.db, claimed.claim!, i + 1, { val_loss: loss });
      await saveCheckpoint(t.db, claimed.claim!, i + 1, { epoch: i + 1 }, new Uint8Array([i]));
      await pruneCheckpoints(t.db, claimed.claim!, 2);
    }
    const epochs = async () => (await t.db.checkpoint.findMany({ where: { trialId: trial.id }, select: { epoch: true }, orderBy: { epoch: 'asc' } })).map((c) => c.epoch);
    // The last two and epoch 3, the best val_loss.
    expect(await epochs()).toEqual([3, 5, 6]);
    await finishTrial(t.db, claimed.claim!, 'completed');
    expect(await epochs()).toEqual([3, 6]);
    expect(await sweepStorage(t.db, sweep.id)).toEqual({ checkpoints: 2, checkpointBytes: 2, metrics: 6, events: expect.any(Number) as number });
  });
});
