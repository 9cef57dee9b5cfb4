import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestCheckpoint, pruneCheckpoints, saveCheckpoint } from './checkpoints.ts';
import { createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { createTrial } from './trials.ts';

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
});
