import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.ts';
import { QueueError } from './errors.ts';
import { parseTrialJobId, trialJobId } from './names.ts';
import type { SweepAdvanceJob, TrialJob } from './payloads.ts';
import { createQueues, type JobQueues } from './queues.ts';
import { createSweepWorker, type SweepWorker } from './sweep-worker.ts';
import { createTrialWorker, type TrialWorker } from './trial-worker.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
let redis: Redis;
let queues: JobQueues;
const workers: Array<TrialWorker | SweepWorker> = [];

function trial(attempt = 1): TrialJob {
  return { sweepId: randomUUID(), trialId: randomUUID(), attempt };
}

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
  queues = createQueues({ connection: redis, prefix });
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  await queues.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('trial job ids', () => {
  it('round-trips and is accepted by BullMQ', () => {
    const id = randomUUID();
    expect(trialJobId(id, 7)).toBe(`trial_${id}_7`);
    expect(parseTrialJobId(trialJobId(id, 7))).toEqual({ trialId: id, attempt: 7 });
    expect(parseTrialJobId('advance-1')).toBeUndefined();
  });
});

describe('JobQueues', () => {
  it('runs an enqueued trial end to end with its parsed payload', async () => {
    const job = trial();
    const seen: Array<{ trial: TrialJob; jobId: string; deliveries: number }> = [];
    const worker = createTrialWorker({
      connection: redis,
      prefix,
      handler: async (received, context) => {
        seen.push({ trial: received, jobId: context.jobId, deliveries: context.deliveries });
      },
    });
    workers.push(worker);
    const jobId = await queues.enqueueTrial(job);
    expect(jobId).toBe(trialJobId(job.trialId, 1));
    await sleepUntil(async () => (await queues.trialJobState(job.trialId, 1)) === 'completed', { what: 'trial completed' });
    expect(seen).toEqual([{ trial: job, jobId, deliveries: 1 }]);
    const stored = await queues.trials.getJob(jobId);
    expect(stored?.returnvalue).toEqual({ outcome: 'completed' });
    await worker.close();
  });

  it('runs the same trial attempt once when it is enqueued twice, and a new attempt again', async () => {
    const job = trial();
    await queues.enqueueTrial(job);
    await queues.enqueueTrial(job);
    expect((await queues.depth()).trials.waiting).toBe(1);

    const runs: TrialJob[] = [];
    const worker = createTrialWorker({ connection: redis, prefix, handler: async (received) => void runs.push(received) });
    workers.push(worker);
    await sleepUntil(async () => (await queues.trialJobState(job.trialId, 1)) === 'completed', { what: 'trial completed' });
    // A finished, retained attempt is still a duplicate.
    await queues.enqueueTrial(job);
    const depth = await queues.depth();
    expect(depth.trials).toMatchObject({ waiting: 0, active: 0, delayed: 0, prioritized: 0 });
    expect(runs).toEqual([job]);

    const next = { ...job, attempt: 2 };
    await queues.enqueueTrial(next);
    await sleepUntil(async () => (await queues.trialJobState(job.trialId, 2)) === 'completed', { what: 'attempt 2 completed' });
    expect(runs).toEqual([job, next]);
    await worker.close();
  });

  it('rejects invalid payloads before they reach Redis', async () => {
    await expect(queues.enqueueTrial({ sweepId: 'x', trialId: randomUUID(), attempt: 1 })).rejects.toThrow(QueueError);
    await expect(queues.enqueueTrial({ ...trial(), attempt: 0 })).rejects.toMatchObject({ code: 'invalid_payload' });
    await expect(
      queues.enqueueSweepAdvance({ sweepId: randomUUID(), reason: 'bored' } as unknown as SweepAdvanceJob),
    ).rejects.toMatchObject({ code: 'invalid_payload' });
  });

  it('lists live trial jobs in every runnable state, and none after Redis loses the prefix', async () => {
    const waiting = trial();
    const delayed = trial();
    const prioritized = trial();
    const ids = [
      await queues.enqueueTrial(waiting),
      await queues.enqueueTrial(delayed, { delay: 60_000 }),
      await queues.enqueueTrial(prioritized, { priority: 5 }),
    ];
    const live = await queues.liveTrialJobIds();
    for (const id of ids) expect(live.has(id)).toBe(true);
    expect((await queues.depth()).trials).toMatchObject({ waiting: 1, delayed: 1, prioritized: 1 });

    // What the reconciler relies on: after a flush nothing is live, and re-enqueueing the same attempt works again.
    expect(await deleteKeysWithPrefix(redis, prefix)).toBeGreaterThan(0);
    expect(await queues.liveTrialJobIds()).toEqual(new Set());
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);

    const runs: TrialJob[] = [];
    const worker = createTrialWorker({ connection: redis, prefix, handler: async (received) => void runs.push(received) });
    workers.push(worker);
    await queues.enqueueTrial(waiting);
    await sleepUntil(async () => (await queues.trialJobState(waiting.trialId, 1)) === 'completed', { what: 're-enqueued trial completed' });
    expect(runs).toEqual([waiting]);
    await worker.close();
  });

  it('deduplicates sweep advances while one waits, and keeps one more while one runs', async () => {
    const sweepId = randomUUID();
    const otherSweepId = randomUUID();
    const first = await queues.enqueueSweepAdvance({ sweepId, reason: 'started' });
    expect(await queues.enqueueSweepAdvance({ sweepId, reason: 'trial-ended' })).toBe(first);
    await queues.enqueueSweepAdvance({ sweepId, reason: 'reconcile' });
    await queues.enqueueSweepAdvance({ sweepId: otherSweepId, reason: 'started' });
    expect((await queues.depth()).sweeps.waiting).toBe(2);

    const handled: SweepAdvanceJob[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstBlocked = new Promise<void>((resolve) => (releaseFirst = resolve));
    const worker = createSweepWorker({
      connection: redis,
      prefix,
      handler: async (advance) => {
        handled.push(advance);
        if (handled.length === 1) await firstBlocked;
      },
    });
    workers.push(worker);
    await sleepUntil(() => handled.length === 1, { what: 'first advance active' });
    expect(handled[0]).toEqual({ sweepId, reason: 'started' });

    // While sweep's advance runs, trial ends must not be lost: one more advance is kept (the latest).
    await queues.enqueueSweepAdvance({ sweepId, reason: 'trial-ended' });
    await queues.enqueueSweepAdvance({ sweepId, reason: 'cancelled' });
    releaseFirst();
    await sleepUntil(async () => (await queues.depth()).sweeps.completed === 3, { what: 'three advances completed' });
    expect(handled.slice(1)).toEqual(
      expect.arrayContaining([
        { sweepId: otherSweepId, reason: 'started' },
        { sweepId, reason: 'cancelled' },
      ]),
    );
    expect(handled).toHaveLength(3);
    expect((await queues.depth()).sweeps).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
    await worker.close();
  });
});
