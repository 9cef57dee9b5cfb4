import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepLockKey, withSweepLock } from './locks.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { createSweep } from './sweeps.ts';
import { createTrial } from './trials.ts';

/** Polls `condition` until it holds or the deadline passes. */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('withSweepLock', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 6 });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function waitingAdvisoryLocks(): Promise<number> {
    const rows = await t.db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    return rows[0]?.n ?? 0;
  }

  it('repository calls inside the lock use its transaction, and the shared client stays usable', async () => {
    const { sweep } = await createSweep(t.db, { name: 'tx', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    // Committed with the lock's transaction.
    await withSweepLock(t.db, sweep.id, (tx) => createTrial(tx, sweep.id, { params: { a: 1 } }));
    // Rolled back with it: the trial was written in the lock's transaction, not a nested one.
    await expect(
      withSweepLock(t.db, sweep.id, async (tx) => {
        await createTrial(tx, sweep.id, { params: { a: 2 } });
        throw new Error('abort the advance');
      }),
    ).rejects.toThrow('abort the advance');
    // Later transactions on the shared client still work (a nested $transaction used to break it).
    const later = await createTrial(t.db, sweep.id, { params: { a: 3 } });
    expect(later.number).toBe(1);
    expect(await t.db.trial.count({ where: { sweepId: sweep.id } })).toBe(2);
  });

  it('the lock’s transaction may idle for its own timeout, not the session’s 30 s, and the session keeps its bound', async () => {
    const { sweep } = await createSweep(t.db, { name: 'idle', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    const inLock = await withSweepLock(t.db, sweep.id, async (tx) => (await tx.$queryRaw<{ v: string }[]>`SELECT current_setting('idle_in_transaction_session_timeout') AS v`)[0]!.v, { timeoutMs: 120_000 });
    expect(inLock).toBe('2min');
    const after = await t.db.$queryRaw<{ v: string }[]>`SELECT current_setting('idle_in_transaction_session_timeout') AS v`;
    expect(after[0]!.v).toBe('30s');
  });

  it('hashes sweep ids to stable, distinct bigint keys', () => {
    const a = sweepLockKey('00000000-0000-4000-8000-000000000001');
    expect(sweepLockKey('00000000-0000-4000-8000-000000000001')).toBe(a);
    expect(sweepLockKey('00000000-0000-4000-8000-000000000002')).not.toBe(a);
    expect(a >= -(2n ** 63n) && a < 2n ** 63n).toBe(true);
  });

  it('serialises two callers on the same sweep and lets another sweep through', async () => {
    const sweepId = '00000000-0000-4000-8000-00000000000a';
    const events: string[] = [];
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstEntered!: () => void;
    const firstIn = new Promise<void>((resolve) => (firstEntered = resolve));

    const first = withSweepLock(t.db, sweepId, async () => {
      events.push('first:enter');
      firstEntered();
      await firstMayFinish;
      events.push('first:exit');
    });
    await firstIn;
    const second = withSweepLock(t.db, sweepId, async () => {
      events.push('second:enter');
      events.push('second:exit');
    });
    // The second caller is blocked in Postgres, not merely late.
    await waitUntil(async () => (await waitingAdvisoryLocks()) === 1);
    expect(events).toEqual(['first:enter']);

    // A different sweep is not blocked by the first lock.
    await withSweepLock(t.db, '00000000-0000-4000-8000-00000000000b', async () => {
      events.push('other');
    });
    expect(events).toEqual(['first:enter', 'other']);

    releaseFirst();
    await Promise.all([first, second]);
    expect(events).toEqual(['first:enter', 'other', 'first:exit', 'second:enter', 'second:exit']);
  });

  it('never overlaps among many concurrent callers, releases on error, and composes with repositories', async () => {
    const { sweep } = await createSweep(t.db, { name: 'l', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    let inside = 0;
    let maxInside = 0;
    const advance = () =>
      withSweepLock(t.db, sweep.id, async (tx) => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        // Real round trips inside the critical section give other callers time to interleave if they could.
        const count = await tx.trial.count({ where: { sweepId: sweep.id } });
        await createTrial(tx, sweep.id, { params: { count } });
        inside--;
      });
    await Promise.all(Array.from({ length: 8 }, advance));
    expect(maxInside).toBe(1);
    const params = (await t.db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { number: 'asc' } })).map((trial) => trial.params);
    // Each caller saw every earlier caller's trial: counts 0..7 in order.
    expect(params).toEqual(Array.from({ length: 8 }, (_, count) => ({ count })));

    await expect(
      withSweepLock(t.db, sweep.id, async () => {
        throw new Error('advance failed');
      }),
    ).rejects.toThrow('advance failed');
    await expect(withSweepLock(t.db, sweep.id, async () => 'free again')).resolves.toBe('free again');
  });
});
