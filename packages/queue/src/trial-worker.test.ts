import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.ts';
import { ReleaseTrial, TrialCancelled } from './errors.ts';
import { JOB_NAMES, trialJobId } from './names.ts';
import type { TrialJob } from './payloads.ts';
import { createQueues, type JobQueues } from './queues.ts';
import { createTrialWorker, type TrialJobContext, type TrialWorker } from './trial-worker.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
let redis: Redis;
let queues: JobQueues;
const workers: TrialWorker[] = [];
// Handlers parked on a promise are released at the end so no abandoned handler outlives the file.
const parked: Array<() => void> = [];

function trial(): TrialJob {
  return { sweepId: randomUUID(), trialId: randomUUID(), attempt: 1 };
}

function worker(handler: (trial: TrialJob, context: TrialJobContext) => Promise<void>) {
  const created = createTrialWorker({ connection: redis, prefix, handler });
  workers.push(created);
  return created;
}

async function stateOf(job: TrialJob): Promise<string> {
  return queues.trialJobState(job.trialId, job.attempt);
}

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
  queues = createQueues({ connection: redis, prefix });
});

afterAll(async () => {
  for (const resolve of parked) resolve();
  await Promise.all(workers.map((created) => created.close(true)));
  await queues.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('TrialWorker', () => {
  it('fails an invalid payload at once, without retries and without calling the handler', async () => {
    let calls = 0;
    const created = worker(async () => void (calls += 1));
    const bogus = { sweepId: 'not-a-uuid', trialId: randomUUID(), attempt: 1 };
    // Bypass enqueueTrial's validation, as a producer built from another version of the schema would.
    await queues.trials.add(JOB_NAMES.trial, bogus, { jobId: 'bogus-1', attempts: 5, backoff: { type: 'fixed', delay: 1 } });
    await sleepUntil(async () => (await queues.trials.getJobState('bogus-1')) === 'failed', { what: 'bogus job failed' });
    const failed = await queues.trials.getJob('bogus-1');
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/invalid trial job bogus-1/);
    expect(calls).toBe(0);
    await created.close();
  });

  it('retries a trial whose handler throws an unexpected error', async () => {
    const job = trial();
    let calls = 0;
    const created = worker(async () => {
      calls += 1;
      if (calls === 1) throw new Error('replica crashed');
    });
    await queues.enqueueTrial(job, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
    await sleepUntil(async () => (await stateOf(job)) === 'completed', { what: 'retried trial completed' });
    expect(calls).toBe(2);
    expect((await queues.trials.getJob(trialJobId(job.trialId, 1)))?.attemptsMade).toBe(2);
    await created.close();
  });

  it('completes a cancelled trial without retrying it', async () => {
    const job = trial();
    let calls = 0;
    const created = worker(async () => {
      calls += 1;
      throw new TrialCancelled('sweep cancelled by user');
    });
    await queues.enqueueTrial(job, { attempts: 5, backoff: { type: 'fixed', delay: 1 } });
    await sleepUntil(async () => (await stateOf(job)) === 'completed', { what: 'cancelled trial completed' });
    const stored = await queues.trials.getJob(trialJobId(job.trialId, 1));
    expect(stored?.returnvalue).toEqual({ outcome: 'cancelled', reason: 'sweep cancelled by user' });
    expect(calls).toBe(1);
    await created.close();
  });

  it('aborts context.cancelled of the running trials a cancel signal targets', async () => {
    const target = trial();
    const bystander = trial();
    const running = new Set<string>();
    const created = createTrialWorker({
      connection: redis,
      prefix,
      concurrency: 2,
      handler: async (received, context) => {
        running.add(received.trialId);
        await new Promise<void>((resolve) => {
          context.cancelled.addEventListener('abort', () => resolve(), { once: true });
          parked.push(resolve);
        });
        if (context.cancelled.aborted) throw new TrialCancelled('stopped');
      },
    });
    workers.push(created);
    await queues.enqueueTrial(target);
    await queues.enqueueTrial(bystander);
    await sleepUntil(() => running.size === 2, { what: 'both trials running' });
    expect(created.runningTrials()).toHaveLength(2);
    expect(created.cancel({ scope: 'trial', sweepId: target.sweepId, trialId: target.trialId })).toBe(1);
    await sleepUntil(async () => (await stateOf(target)) === 'completed', { what: 'target cancelled' });
    expect(await stateOf(bystander)).toBe('active');
    expect(created.cancel({ scope: 'sweep', sweepId: bystander.sweepId })).toBe(1);
    await sleepUntil(async () => (await stateOf(bystander)) === 'completed', { what: 'bystander cancelled' });
    expect(created.runningTrials()).toEqual([]);
    await created.close();
  });

  it('puts a released trial back to waiting on shutdown, and another worker resumes it', async () => {
    const job = trial();
    const deliveries: Array<{ worker: string; deliveries: number }> = [];
    const first = worker(async (_received, context) => {
      deliveries.push({ worker: 'first', deliveries: context.deliveries });
      if (!context.shutdown.aborted) {
        await new Promise<void>((resolve) => context.shutdown.addEventListener('abort', () => resolve(), { once: true }));
      }
      // (A real handler checkpoints here.)
      throw new ReleaseTrial();
    });
    await queues.enqueueTrial(job, { attempts: 1 });
    await sleepUntil(() => deliveries.length === 1, { what: 'first worker took the trial' });
    await first.shutdown();
    expect(await stateOf(job)).toBe('waiting');
    const released = await queues.trials.getJob(trialJobId(job.trialId, 1));
    expect(released?.attemptsMade).toBe(0);

    const second = worker(async (_received, context) => void deliveries.push({ worker: 'second', deliveries: context.deliveries }));
    await sleepUntil(async () => (await stateOf(job)) === 'completed', { what: 'second worker completed the trial' });
    expect(deliveries).toEqual([
      { worker: 'first', deliveries: 1 },
      { worker: 'second', deliveries: 2 },
    ]);
    await second.close();
  });
});
