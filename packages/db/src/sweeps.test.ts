import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectiveMode } from './generated/prisma/enums.ts';
import { cancelSweep, createSweep, getSweep, listSweeps, recordTestResult, setBestTrial, trialCounts, type KeysetCursor } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { sweepEventsAfter } from './events.ts';
import { claimTrial, createTrial, finishTrial } from './trials.ts';

describe('sweeps repository', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  const input = (name: string, mode: ObjectiveMode = 'minimize', idempotencyKey?: string) => ({
    name,
    spec: { search: { sampler: 'random' } },
    seed: 7,
    objective: { metric: 'val_loss', mode },
    budget: { maxTrials: 10, maxConcurrentTrials: 2 },
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
  });

  it('creates a pending sweep and reads it back', async () => {
    const { sweep, created } = await createSweep(t.db, input('plain'));
    expect(created).toBe(true);
    expect(sweep).toMatchObject({ name: 'plain', status: 'pending', seed: 7, objectiveMetric: 'val_loss', objectiveMode: 'minimize' });
    expect(await getSweep(t.db, sweep.id)).toEqual(sweep);
    expect(await getSweep(t.db, 'nope')).toBeNull();
  });

  it('returns the existing sweep for a repeated idempotency key, also when submitted concurrently', async () => {
    const first = await createSweep(t.db, input('idem', 'minimize', 'key-1'));
    const again = await createSweep(t.db, input('idem (retry)', 'minimize', 'key-1'));
    expect(again.created).toBe(false);
    expect(again.sweep.id).toBe(first.sweep.id);

    const racers = await Promise.all(Array.from({ length: 8 }, () => createSweep(t.db, input('race', 'minimize', 'key-2'))));
    expect(new Set(racers.map((r) => r.sweep.id)).size).toBe(1);
    expect(racers.filter((r) => r.created)).toHaveLength(1);
    expect(await t.db.sweep.count({ where: { idempotencyKey: 'key-2' } })).toBe(1);
  });

  it('pages through sweeps newest first without gaps or duplicates, also across equal createdAt', async () => {
    await t.db.sweep.deleteMany({});
    const createdAt = new Date('2026-01-01T00:00:00.000Z');
    for (let i = 0; i < 13; i++) {
      const { sweep } = await createSweep(t.db, input(`page-${i}`));
      // Five share a timestamp so the id tiebreak matters.
      await t.db.sweep.update({ where: { id: sweep.id }, data: { createdAt: i < 5 ? createdAt : new Date(createdAt.getTime() + i * 1000) } });
    }
    const all = await t.db.sweep.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    const seen: string[] = [];
    let cursor: KeysetCursor | null = null;
    let pages = 0;
    do {
      const page = await listSweeps(t.db, { limit: 4, cursor });
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toEqual(all.map((s) => s.id));
    await expect(listSweeps(t.db, { cursor: { sort: 'number', order: 'asc', value: 1, after: 1 } })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('pages by name in both directions, ties broken by id', async () => {
    await t.db.sweep.deleteMany({});
    for (const name of ['b', 'a', 'c', 'b', 'a', 'd', 'b']) await createSweep(t.db, input(name));
    for (const order of ['asc', 'desc'] as const) {
      const all = await t.db.sweep.findMany({ orderBy: [{ name: order }, { id: order }] });
      const seen: string[] = [];
      let cursor: KeysetCursor | null = null;
      do {
        const page = await listSweeps(t.db, { limit: 3, cursor, sort: 'name', order });
        seen.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(all.map((s) => s.id));
    }
    const first = await listSweeps(t.db, { limit: 2, sort: 'name', order: 'asc' });
    await expect(listSweeps(t.db, { cursor: first.nextCursor, sort: 'createdAt', order: 'asc' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('counts trials per status', async () => {
    const { sweep } = await createSweep(t.db, input('counts'));
    const trials = [];
    for (let i = 0; i < 4; i++) trials.push(await createTrial(t.db, sweep.id, { params: { i } }));
    await claimTrial(t.db, trials[0]!.id, 'w1');
    await claimTrial(t.db, trials[1]!.id, 'w1');
    await finishTrial(t.db, trials[1]!.id, 'completed', { finalValue: 0.5 });
    await finishTrial(t.db, trials[2]!.id, 'cancelled');
    expect(await trialCounts(t.db, sweep.id)).toEqual({ queued: 1, running: 1, completed: 1, stopped: 0, failed: 0, cancelled: 1, total: 4 });
  });

  it('setBestTrial moves the best to the trial named, says when nothing changed and refuses a trial of another sweep', async () => {
    const { sweep } = await createSweep(t.db, input('best'));
    const [a, b] = [await createTrial(t.db, sweep.id, { params: {} }), await createTrial(t.db, sweep.id, { params: {} })];
    const updates = async () => (await sweepEventsAfter(t.db, sweep.id, 0)).filter((e) => e.type === 'sweep.updated').length;
    const before = await updates();
    expect(await setBestTrial(t.db, sweep.id, a!.number)).toEqual({ changed: true, bestTrialId: a!.id });
    expect(await setBestTrial(t.db, sweep.id, a!.number)).toEqual({ changed: false, bestTrialId: a!.id });
    expect(await updates()).toBe(before + 1);
    expect(await setBestTrial(t.db, sweep.id, b!.number)).toEqual({ changed: true, bestTrialId: b!.id });
    expect((await getSweep(t.db, sweep.id))?.bestTrialId).toBe(b!.id);
    expect(await updates()).toBe(before + 2);

    const other = (await createSweep(t.db, input('other'))).sweep;
    await expect(setBestTrial(t.db, other.id, a!.number)).rejects.toMatchObject({ code: 'not_found' });
    await expect(setBestTrial(t.db, sweep.id, 99)).rejects.toMatchObject({ code: 'not_found' });
    await expect(setBestTrial(t.db, sweep.id, -1)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect((await getSweep(t.db, other.id))?.bestTrialId).toBeNull();

    // Ended: the best stays, with no event after the sweep's last one.
    await cancelSweep(t.db, sweep.id);
    const ended = await updates();
    expect(await setBestTrial(t.db, sweep.id, a!.number)).toEqual({ changed: false, bestTrialId: b!.id });
    expect((await getSweep(t.db, sweep.id))?.bestTrialId).toBe(b!.id);
    expect(await updates()).toBe(ended);
  });

  it('records the test result', async () => {
    const { sweep } = await createSweep(t.db, input('test-result'));
    await recordTestResult(t.db, sweep.id, { loss: 0.2, accuracy: 0.93 });
    expect((await getSweep(t.db, sweep.id))?.testResult).toEqual({ loss: 0.2, accuracy: 0.93 });
  });
});
