import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.ts';
import { trialJobId } from './names.ts';
import type { TrialJob } from './payloads.ts';
import { createQueues, type JobQueues } from './queues.ts';
import { createTrialWorker, type TrialJobContext, type TrialWorker } from './trial-worker.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

// A file of its own: BullMQ throttles stalled checks queue-wide with a `stalled-check` key that lives
// for the stalledInterval of whichever worker checked last, so a worker with the default 30 s interval
// on the same prefix would delay recovery here by up to 30 s.
const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
const stall = { lockDuration: 1_000, stalledInterval: 500 };
let redis: Redis;
let queues: JobQueues;
const workers: TrialWorker[] = [];
const parked: Array<() => void> = [];

function worker(handler: (trial: TrialJob, context: TrialJobContext) => Promise<void>) {
  const created = createTrialWorker({ connection: redis, prefix, handler, ...stall });
  workers.push(created);
  return created;
}

function trial(): TrialJob {
  return { sweepId: randomUUID(), trialId: randomUUID(), attempt: 1 };
}

function park(): Promise<void> {
  return new Promise((resolve) => parked.push(resolve));
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

describe('stalled trials', () => {
  it('hands a dead worker\'s trial to another worker after the stall interval', async () => {
    const job = trial();
    const deliveries: Array<{ worker: string; deliveries: number }> = [];
    const doomed = worker(async (_received, context) => {
      deliveries.push({ worker: 'doomed', deliveries: context.deliveries });
      await park(); // never finishes: the process "dies" mid-trial
    });
    await queues.enqueueTrial(job);
    await sleepUntil(() => deliveries.length === 1, { what: 'doomed worker took the trial' });
    // A forced close stops lock renewal and abandons the job in `active`, like kill -9.
    await doomed.close(true);
    expect(await stateOf(job)).toBe('active');

    const startedAt = Date.now();
    const survivor = worker(async (_received, context) => void deliveries.push({ worker: 'survivor', deliveries: context.deliveries }));
    await sleepUntil(async () => (await stateOf(job)) === 'completed', { timeoutMs: 20_000, what: 'survivor completed the stalled trial' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400);
    expect(deliveries).toEqual([
      { worker: 'doomed', deliveries: 1 },
      { worker: 'survivor', deliveries: 2 },
    ]);
    const stored = await queues.trials.getJob(trialJobId(job.trialId, 1));
    expect(stored?.stalledCounter).toBe(1);
    // attemptsMade counts finished runs (the survivor's), not the stall: no retry attempt was used up.
    expect(stored?.attemptsMade).toBe(1);
    await survivor.close();
  });

  it('hands the trial of a SIGKILLed worker process to another worker', async () => {
    const job = trial();
    const fixture = fileURLToPath(new URL('./fixtures/doomed-worker.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, LOCK_DURATION_MS: '1000', STALLED_INTERVAL_MS: '500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await sleepUntil(() => output.includes('ready'), { timeoutMs: 20_000, what: `child worker ready (output: ${output})` });
      await queues.enqueueTrial(job);
      await sleepUntil(() => output.includes(`started ${job.trialId}`), { what: 'child worker took the trial' });
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    expect(await stateOf(job)).toBe('active');

    const deliveries: number[] = [];
    const survivor = worker(async (_received, context) => void deliveries.push(context.deliveries));
    await sleepUntil(async () => (await stateOf(job)) === 'completed', { timeoutMs: 20_000, what: 'survivor completed the trial' });
    expect(deliveries).toEqual([2]);
    await survivor.close();
  });
});
