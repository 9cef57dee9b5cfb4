// Acceptance 3, 4 and 5: Redis loses everything mid-sweep; the API restarts under an SSE client;
// a cancel stops every running trial within 2 s. Then, on a private redis-server: a real FLUSHALL, and
// Redis killed and restarted empty, under three training workers — no trial changes hands.
import { deleteKeysWithPrefix, sleepUntil } from '@hypersweep/queue/testing';
import { SweepEvent, type Sweep, type Trial } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics, spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { RedisServer } from './lib/redis-server.ts';
import { Stack } from './lib/stack.ts';

const finished = (s: Sweep) => ['completed', 'failed', 'cancelled'].includes(s.status);

describe('recovery', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'recovery', workers: 2, threads: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const submit = async (spec: ReturnType<typeof spiralsSweep>) => stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec });
  const running = async (sweepId: string): Promise<Trial[]> => (await allTrials(stack, sweepId)).filter((t) => t.status === 'running');

  it('a Redis flush mid-sweep loses nothing: the reconciler restores the work and every trial is accounted for', async () => {
    const sweep = await submit(spiralsSweep({ name: 'flush', count: 6000, epochs: 6, maxTrials: 6, concurrency: 2 }));
    await sleepUntil(async () => (await running(sweep.id)).some((t) => t.epochsDone >= 1), { timeoutMs: 60_000, what: 'a trial past its first epoch' });
    const deleted = await deleteKeysWithPrefix(stack.redis, stack.prefix);
    expect(deleted).toBeGreaterThan(0);
    const done = await stack.waitForSweep<Sweep>(sweep.id, finished, 'the flushed sweep to finish');
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ total: 6, completed: 6, queued: 0, running: 0, failed: 0 });
    const trials = await allTrials(stack, sweep.id);
    expect(trials.every((t) => t.epochsDone === 6)).toBe(true);
    await expectCompleteMetrics(stack.db, trials);
    expect(done.testResult).not.toBeNull();
  });

  it('an API restart mid-sweep loses nothing, and an SSE client resuming with Last-Event-ID misses no event', async () => {
    const sweep = await submit(spiralsSweep({ name: 'restart', count: 4000, epochs: 5, maxTrials: 4, concurrency: 2 }));
    const ids: number[] = [];
    let sawEnd = false;
    const follow = async () => {
      const headers: Record<string, string> = ids.length ? { 'last-event-id': String(ids.at(-1)) } : {};
      const res = await stack.request(`/api/v1/sweeps/${sweep.id}/events`, { headers });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (chunk.done) return;
        text += new TextDecoder().decode(chunk.value);
        const frames = text.split('\n\n');
        text = frames.pop() ?? '';
        for (const frame of frames) {
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!data) continue;
          const event = SweepEvent.parse(JSON.parse(data));
          ids.push(event.id);
          if (event.type === 'sweep.updated' && event.data.status === 'completed' && event.data.best !== null && (await stack.json<Sweep>(`/api/v1/sweeps/${sweep.id}`)).testResult) {
            sawEnd = true;
            await reader.cancel();
            return;
          }
        }
      }
    };
    const first = follow();
    await sleepUntil(() => ids.length >= 5, { timeoutMs: 60_000, what: 'the first events' });
    await stack.stopApi('SIGTERM');
    await first; // the stream ends with the API
    const seenBeforeRestart = ids.length;
    await stack.startApi();
    while (!sawEnd) await follow();
    expect(seenBeforeRestart).toBeGreaterThan(0);
    const stored = await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id }, select: { seq: true }, orderBy: { seq: 'asc' } });
    const lastSeen = ids.at(-1)!;
    expect(ids).toEqual(stored.map((r) => r.seq).filter((id) => id <= lastSeen));
    const done = await stack.json<Sweep>(`/api/v1/sweeps/${sweep.id}`);
    expect(done).toMatchObject({ status: 'completed', counts: { completed: 4, total: 4 } });
    await expectCompleteMetrics(stack.db, await allTrials(stack, sweep.id));
  });

  it('cancel: every running trial stops within 2 s and no trial starts afterwards', async () => {
    const sweep = await submit(spiralsSweep({ name: 'cancel', count: 40_000, epochs: 50, maxTrials: 8, concurrency: 4 }));
    await sleepUntil(async () => (await running(sweep.id)).length === 2, { timeoutMs: 60_000, what: 'two running trials' });
    const cancelledAt = Date.now();
    const res = await stack.request(`/api/v1/sweeps/${sweep.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const lastEventAtCancel = (await stack.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } })).eventSeq;
    await sleepUntil(async () => (await running(sweep.id)).length === 0, { timeoutMs: 10_000, intervalMs: 50, what: 'no running trial' });
    const stoppedAfterMs = Date.now() - cancelledAt;
    expect(stoppedAfterMs).toBeLessThanOrEqual(2_000);
    // Workers are free again: give them the time to pick up anything left, then look.
    await stack.waitForSweep<Sweep>(sweep.id, (s) => s.counts.running === 0 && s.counts.queued === 0, 'a quiet sweep', 10_000);
    const trials = await allTrials(stack, sweep.id);
    expect(trials.filter((t) => t.status === 'running' || t.status === 'queued')).toEqual([]);
    expect((await startedEvents(stack.db, sweep.id)).filter((e) => e.id > lastEventAtCancel)).toEqual([]);
    const final = await stack.json<Sweep>(`/api/v1/sweeps/${sweep.id}`);
    expect(final.status).toBe('cancelled');
  });
});

describe('Redis lost under live workers (a private redis-server)', () => {
  let redis: RedisServer;
  let stack: Stack;
  beforeAll(async () => {
    redis = await RedisServer.start('redis-loss');
    stack = await Stack.start({ name: 'redis-loss', workers: 3, threads: 1, redisUrl: redis.url });
  });
  afterAll(async () => {
    if (redis && !redis.running) await redis.restart();
    await stack?.close();
    await redis?.stop();
  });

  const WORKERS = 3;
  const TRIALS = 5;
  // Trials of several seconds, so the ones training when Redis is lost outlive a reconciler's grace.
  const EPOCHS = 120;
  /** Longer than the grace a running trial's holder gets (3 × HEARTBEAT_MS + reconnection) plus RECONCILE_MS. */
  const OUTLIVED_MS = 8_000;

  /** Submits a sweep and waits until every worker trains one of its trials, each past its first epoch. */
  async function threeTraining(name: string): Promise<{ sweep: Sweep; holders: Map<string, string> }> {
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name, count: 40_000, epochs: EPOCHS, maxTrials: TRIALS, concurrency: WORKERS }) });
    let training: { id: string; workerId: string | null }[] = [];
    await sleepUntil(
      async () => {
        training = await stack.db.trial.findMany({ where: { sweepId: sweep.id, status: 'running', epochsDone: { gte: 1 } }, select: { id: true, workerId: true } });
        return training.length === WORKERS;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: `${WORKERS} trials past their first epoch` },
    );
    return { sweep, holders: new Map(training.map((t) => [t.id, t.workerId ?? ''])) };
  }

  /**
   * The sweep completes; no trial was started twice, the ones training when Redis was lost (at `lostAt`)
   * kept their worker — and one of them trained on long enough for a reconciler to take it away.
   */
  async function expectNoTrialChangedHands(sweep: Sweep, holders: Map<string, string>, lostAt: number): Promise<void> {
    const done = await stack.waitForSweep<Sweep>(sweep.id, finished, `sweep ${sweep.name} to finish`);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ total: TRIALS, completed: TRIALS, queued: 0, running: 0, failed: 0 });
    const trials = await allTrials(stack, sweep.id);
    const starts = await startedEvents(stack.db, sweep.id);
    for (const trial of trials) {
      const mine = starts.filter((s) => s.trialId === trial.id);
      expect({ trial: trial.number, attempt: trial.attempt, starts: mine.length }, JSON.stringify(mine)).toEqual({ trial: trial.number, attempt: 1, starts: 1 });
      expect(trial.epochsDone).toBe(EPOCHS);
      if (holders.has(trial.id)) expect(trial.workerId).toBe(holders.get(trial.id));
    }
    await expectCompleteMetrics(stack.db, trials);
    expect(done.testResult).not.toBeNull();
    const ends = await stack.db.trial.findMany({ where: { id: { in: [...holders.keys()] } }, select: { finishedAt: true } });
    expect(Math.max(...ends.map((t) => t.finishedAt?.getTime() ?? 0)) - lostAt).toBeGreaterThan(OUTLIVED_MS);
  }

  it('FLUSHALL while three workers train: every running trial keeps its worker and attempt; the sweep completes', async () => {
    const { sweep, holders } = await threeTraining('flushall');
    const flushedAt = Date.now();
    expect(await stack.redis.flushall()).toBe('OK');
    await expectNoTrialChangedHands(sweep, holders, flushedAt);
    // A reconciler did see the running trials without a job, and left them to their workers.
    expect(stack.workers.some((w) => w.output().includes('running trial has no live job'))).toBe(true);
  });

  it('Redis killed and restarted empty while three workers train: the same', async () => {
    const { sweep, holders } = await threeTraining('restart');
    const epochs = async () => (await stack.db.trial.aggregate({ where: { sweepId: sweep.id }, _sum: { epochsDone: true } }))._sum.epochsDone ?? 0;
    const atKill = await epochs();
    const killedAt = Date.now();
    // While Redis is down this client's reconnection attempts fail; without a listener ioredis prints each one.
    stack.redis.on('error', () => undefined);
    await redis.kill();
    // Training goes on without Redis: epochs are written to Postgres.
    await sleepUntil(async () => (await epochs()) > atKill, { timeoutMs: 60_000, intervalMs: 100, what: 'an epoch while Redis is down' });
    await redis.restart();
    await expectNoTrialChangedHands(sweep, holders, killedAt);
  });
});
