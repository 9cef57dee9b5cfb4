import { Rng } from '@hypersweep/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchTrialsCache } from './search-cache.ts';
import { cancelSweep, createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { claimTrial, createTrial, finishTrial, recordEpoch, releaseTrial, retryTrial, trialsForSearch } from './trials.ts';

describe('SearchTrialsCache', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 8 });
  });
  afterAll(async () => {
    await t?.close();
  });

  const newSweep = async () =>
    (await createSweep(t.db, { name: 'search-cache', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} })).sweep;

  it.each([11, 23, 47])('agrees with trialsForSearch after every step of a random walk (seed %i)', async (seed) => {
    // Seeded, so a failing walk can be replayed from its seed.
    const rng = Rng.fromSeed(seed);
    const random = () => rng.double();
    const pick = <T,>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
    const sweep = await newSweep();
    const cache = new SearchTrialsCache(t.db);
    const ids: string[] = [];
    const epochs = new Map<string, number>();
    const status = new Map<string, string>();
    const ops: string[] = [];
    for (let step = 0; step < 200; step++) {
      const r = random();
      const withStatus = (s: string) => ids.filter((id) => status.get(id) === s);
      if (r < 0.15 || ids.length === 0) {
        const trial = await createTrial(t.db, sweep.id, { params: { lr: Math.round(random() * 1000) / 1000 }, cellKey: random() < 0.3 ? `cell-${step}` : null });
        ids.push(trial.id);
        status.set(trial.id, 'queued');
        ops.push('create');
      } else if (r < 0.3 && withStatus('queued').length > 0) {
        const id = pick(withStatus('queued'))!;
        await claimTrial(t.db, id, 'w');
        status.set(id, 'running');
        ops.push('claim');
      } else if (r < 0.6) {
        // Any trial may get an epoch, a finished one too (a worker that has not yet seen a stop).
        const id = pick(ids)!;
        const epoch = (epochs.get(id) ?? 0) + (random() < 0.2 ? 0 : 1);
        await recordEpoch(t.db, id, Math.max(1, epoch), { val_loss: Math.round(random() * 1000) / 1000, train_loss: random() });
        epochs.set(id, Math.max(1, epoch));
        ops.push('epoch');
      } else if (r < 0.8 && withStatus('running').length > 0) {
        const id = pick(withStatus('running'))!;
        const end = pick(['completed', 'stopped', 'failed', 'cancelled'] as const)!;
        await finishTrial(t.db, id, end, end === 'completed' ? { finalValue: random() } : {});
        status.set(id, end);
        ops.push(end);
      } else if (r < 0.9 && withStatus('running').length > 0) {
        const id = pick(withStatus('running'))!;
        await releaseTrial(t.db, id);
        status.set(id, 'queued');
        ops.push('release');
      } else if (withStatus('failed').length > 0) {
        const id = pick(withStatus('failed'))!;
        await retryTrial(t.db, id);
        status.set(id, 'queued');
        ops.push('retry');
      } else continue;
      // Not after every write: a refresh then has several changes to fold in at once.
      if (random() < 0.6) {
        const expected = await trialsForSearch(t.db, sweep.id);
        expect(await cache.trials(sweep.id), `seed ${seed}, after ${ops.join(' ')}`).toEqual(expected);
      }
    }
    await cancelSweep(t.db, sweep.id);
    expect(await cache.trials(sweep.id)).toEqual(await trialsForSearch(t.db, sweep.id));
    // The walk went through every kind of write, and the cache mostly read only a few trials.
    expect(new Set(ops)).toEqual(new Set(['create', 'claim', 'epoch', 'completed', 'stopped', 'failed', 'cancelled', 'release', 'retry']));
    expect(cache.stats.full).toBe(1);
    expect(cache.stats.partial).toBeGreaterThan(10);
  });

  it('re-reads only the trials that changed, and nothing when the sweep did not change', async () => {
    const sweep = await newSweep();
    const trials = [];
    for (let i = 0; i < 30; i++) {
      const trial = await createTrial(t.db, sweep.id, { params: { i } });
      await claimTrial(t.db, trial.id, 'w');
      await recordEpoch(t.db, trial.id, 1, { val_loss: 1 / (i + 1) });
      trials.push(trial);
    }
    for (const trial of trials.slice(0, 28)) await finishTrial(t.db, trial.id, 'completed', { finalValue: 0.5 });
    const cache = new SearchTrialsCache(t.db);
    expect(await cache.trials(sweep.id)).toHaveLength(30);
    expect(cache.stats).toEqual({ unchanged: 0, partial: 0, full: 1, trialsRead: 30 });

    await cache.trials(sweep.id);
    expect(cache.stats).toMatchObject({ unchanged: 1, trialsRead: 30 });

    // An epoch of one running trial: the two running trials are read again, not the 28 finished ones.
    await recordEpoch(t.db, trials[29]!.id, 2, { val_loss: 0.01 });
    const after = await cache.trials(sweep.id);
    expect(after[29]!.reports).toEqual([{ step: 1, value: 1 / 30 }, { step: 2, value: 0.01 }]);
    expect(cache.stats).toMatchObject({ partial: 1, trialsRead: 32 });

    // A late epoch of a finished trial is seen too (its event names it).
    await recordEpoch(t.db, trials[3]!.id, 2, { val_loss: 0.2 });
    expect((await cache.trials(sweep.id))[3]!.reports).toEqual([{ step: 1, value: 0.25 }, { step: 2, value: 0.2 }]);
    expect(cache.stats).toMatchObject({ partial: 2, trialsRead: 35 });
    expect(await cache.trials(sweep.id)).toEqual(await trialsForSearch(t.db, sweep.id));
  });

  it('serves concurrent callers the state after their call, and keeps at most maxSweeps sweeps', async () => {
    const [a, b] = [await newSweep(), await newSweep()];
    const cache = new SearchTrialsCache(t.db, { maxSweeps: 1 });
    const writes = Array.from({ length: 8 }, async (_, i) => {
      const trial = await createTrial(t.db, a.id, { params: { i } });
      await claimTrial(t.db, trial.id, 'w');
      await recordEpoch(t.db, trial.id, 1, { val_loss: i });
      return cache.trials(a.id);
    });
    const seen = await Promise.all(writes);
    // Each caller's own trial has its epoch in what it got back.
    seen.forEach((trials, i) => expect(trials.find((x) => x.params.i === i)?.reports).toEqual([{ step: 1, value: i }]));
    expect(await cache.trials(a.id)).toEqual(await trialsForSearch(t.db, a.id));

    await createTrial(t.db, b.id, { params: { i: 0 } });
    expect(await cache.trials(b.id)).toHaveLength(1);
    const fullBefore = cache.stats.full;
    // b pushed a out: a is loaded in full again.
    expect(await cache.trials(a.id)).toHaveLength(8);
    expect(cache.stats.full).toBe(fullBefore + 1);
  });

  it('returns nothing for a malformed id and not_found for an unknown sweep, and stays usable', async () => {
    const cache = new SearchTrialsCache(t.db);
    expect(await cache.trials('nope')).toEqual([]);
    await expect(cache.trials('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ name: 'DbError', code: 'not_found' });
    const sweep = await newSweep();
    await createTrial(t.db, sweep.id, { params: {} });
    expect(await cache.trials(sweep.id)).toHaveLength(1);
  });
});
