// Fenced writes. A worker is frozen with SIGSTOP in the middle of an epoch write (holding its
// transaction open) for longer than its job lock; the other worker takes the trial over; then the
// first is continued with SIGCONT. Its one epoch write that began under its claim commits (the
// takeover waited for it), but not one row or event written by it exists after the takeover — its
// next write is refused by the fence, long before its 500 ms Postgres poll would notice — and it
// stops the trial without marking it failed or cancelled; the new holder finishes it.
import { openSqlSession, type SqlSession } from '@hypersweep/db/testing';
import { listWorkers } from '@hypersweep/queue';
import { sleepUntil } from '@hypersweep/queue/testing';
import type { Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, sweepFinished, storedTrials, TRAINING_METRICS } from './lib/db-faults.ts';
import { spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { Stack, type ManagedProcess } from './lib/stack.ts';

const EPOCHS = 300;
const JOB_LOCK_MS = 2_500;

describe('a stale worker cannot write after a takeover', () => {
  let stack: Stack;
  let session: SqlSession;
  let frozen: ManagedProcess | undefined;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'fencing', workers: 2, threads: 1, workerEnv: { JOB_LOCK_MS: String(JOB_LOCK_MS), STALLED_CHECK_MS: '500' } });
    session = await openSqlSession(stack.database.database.url);
  });
  afterAll(async () => {
    if (frozen && frozen.child.exitCode === null) frozen.child.kill('SIGCONT');
    await session?.query('ROLLBACK').catch(() => undefined);
    await session?.close();
    await stack?.close();
  });

  /** Backends of the stack's database waiting on a lock. */
  const lockWaiters = async () =>
    (await session.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).map((r) => r.pid);

  it('paused past its lock mid-write and continued: it writes nothing after the takeover and stops', async () => {
    // Many short epochs: a worker is almost always about to write one.
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name: 'fencing', count: 400, epochs: EPOCHS, maxTrials: 1, concurrency: 1 }) });
    let holder = '';
    await sleepUntil(
      async () => {
        const trial = await stack.db.trial.findFirst({ where: { sweepId: sweep.id } });
        holder = trial?.workerId ?? '';
        return trial?.status === 'running' && trial.epochsDone >= 3;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'the trial to pass epoch 3' },
    );
    const first = stack.workers.find((w) => w.name === holder)!;
    const second = stack.workers.find((w) => w.name !== holder)!;
    expect(first).toBeDefined();

    // Hold the sweep row so the first worker's next epoch write waits inside its transaction, then
    // freeze the worker there and let its backend take the row: a write in progress, paused.
    await session.query('BEGIN');
    await session.query('SELECT id FROM sweeps WHERE id = $1 FOR UPDATE', [sweep.id]);
    await sleepUntil(async () => (await lockWaiters()).length > 0, { timeoutMs: 10_000, intervalMs: 10, what: 'the epoch write to wait on the sweep row' });
    frozen = first;
    first.child.kill('SIGSTOP');
    await session.query('ROLLBACK');
    const epochsAtFreeze = (await stack.db.trial.findFirst({ where: { sweepId: sweep.id } }))!.epochsDone;

    // Past its job lock, the second worker gets the job (stalled) and starts the takeover, which
    // waits behind the frozen transaction.
    await sleepUntil(() => logLines(second.output(), 'trial still running from a previous delivery; releasing it').length > 0, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the second worker to take the trial over',
    });
    await sleepUntil(async () => (await lockWaiters()).length > 0, { timeoutMs: 10_000, intervalMs: 10, what: 'the takeover to wait on the frozen write' });
    first.child.kill('SIGCONT');
    frozen = undefined;

    const done = await sweepFinished(stack.db, sweep.id, 180_000);
    expect(done.status).toBe('completed');
    const [trial] = await storedTrials(stack.db, sweep.id);
    expect(trial).toMatchObject({ status: 'completed', attempt: 2, epochsDone: EPOCHS });
    const epochs = Array.from({ length: EPOCHS }, (_, i) => i + 1);
    for (const name of TRAINING_METRICS) expect(trial!.series.get(name)?.steps, name).toEqual(epochs);
    expect(trial!.epochEvents).toEqual(epochs);

    // The takeover: the second worker's claim (attempt 2), resumed right after the last epoch the
    // first one committed — the write it was frozen in, at most.
    const starts = await startedEvents(stack.db, sweep.id);
    expect(starts.map((s) => [s.attempt, s.workerId])).toEqual([
      [1, first.name],
      [2, second.name],
    ]);
    const takeover = starts[1]!;
    expect(takeover.resumedFromEpoch).toBeGreaterThanOrEqual(epochsAtFreeze);
    expect(takeover.resumedFromEpoch).toBeLessThanOrEqual(epochsAtFreeze + 1);

    // Not one row or event of the first worker's claim after the takeover.
    const events = await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id }, orderBy: { seq: 'asc' } });
    const stale = events.filter((e) => e.attempt === 1);
    expect(stale.length).toBeGreaterThan(0);
    expect(stale.filter((e) => e.seq > takeover.id).map((e) => e.type)).toEqual([]);
    const metrics = await stack.db.metric.findMany({ where: { trialId: trial!.id }, select: { step: true, attempt: true } });
    const checkpoints = await stack.db.checkpoint.findMany({ where: { trialId: trial!.id }, select: { epoch: true, attempt: true } });
    expect(metrics.filter((m) => m.attempt === 1 && m.step > takeover.resumedFromEpoch)).toEqual([]);
    expect(metrics.filter((m) => m.step > takeover.resumedFromEpoch).every((m) => m.attempt === 2)).toBe(true);
    expect(checkpoints.filter((c) => c.attempt === 1 && c.epoch > takeover.resumedFromEpoch)).toEqual([]);

    // The first worker stopped the trial at its next write and marked it nothing (no failure, no
    // cancel), and lives on without it.
    const out = first.output();
    expect(logLines(out, 'claim lost: trial taken over or ended elsewhere; stopped training it').length + logLines(out, 'trial taken over by another worker; stopped training it').length).toBe(1);
    expect(logLines(out, 'trial failed')).toEqual([]);
    expect(logLines(out, 'trial cancelled')).toEqual([]);
    expect(events.filter((e) => e.type === 'trial.failed' || e.type === 'trial.stopped')).toEqual([]);
    expect(first.child.exitCode).toBeNull();
    await sleepUntil(async () => (await listWorkers(stack.redis, stack.prefix)).workers.find((w) => w.workerId === first.name)?.currentTrial === null, {
      timeoutMs: 10_000,
      what: 'the first worker’s heartbeat to show it idle',
    });
  });
});
