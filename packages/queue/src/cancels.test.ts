import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { publishCancel, subscribeCancels, type CancelSubscription } from './cancels.ts';
import { createRedis } from './connection.ts';
import { TrialCancelled } from './errors.ts';
import { cancelChannel } from './names.ts';
import type { CancelSignal } from './payloads.ts';
import { createQueues, type JobQueues } from './queues.ts';
import { createTrialWorker, type TrialWorker } from './trial-worker.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
let publisher: Redis;
let workerRedis: Redis;
let queues: JobQueues;
const subscriptions: CancelSubscription[] = [];
const workers: TrialWorker[] = [];

beforeAll(() => {
  publisher = createRedis(redisUrl, { role: 'queue' });
  workerRedis = createRedis(redisUrl, { role: 'worker' });
  queues = createQueues({ connection: publisher, prefix });
});

afterAll(async () => {
  await Promise.all(subscriptions.map((subscription) => subscription.close()));
  await Promise.all(workers.map((worker) => worker.close(true)));
  await queues.close();
  await deleteKeysWithPrefix(publisher, prefix);
  await Promise.all([publisher.quit(), workerRedis.quit()]);
});

describe('cancel channel', () => {
  it('delivers sweep and trial cancellations to subscribers of the same prefix only', async () => {
    const received: CancelSignal[] = [];
    const otherPrefix: CancelSignal[] = [];
    subscriptions.push(await subscribeCancels({ connection: workerRedis, prefix, handler: (signal) => void received.push(signal) }));
    subscriptions.push(
      await subscribeCancels({ connection: workerRedis, prefix: `${prefix}-other`, handler: (signal) => void otherPrefix.push(signal) }),
    );
    const sweepSignal: CancelSignal = { scope: 'sweep', sweepId: randomUUID() };
    const trialSignal: CancelSignal = { scope: 'trial', sweepId: randomUUID(), trialId: randomUUID() };
    expect(await publishCancel({ connection: publisher, prefix }, sweepSignal)).toBe(1);
    await publishCancel({ connection: publisher, prefix }, trialSignal);
    await sleepUntil(() => received.length === 2, { what: 'two cancel signals' });
    expect(received).toEqual([sweepSignal, trialSignal]);
    expect(otherPrefix).toEqual([]);
  });

  it('ignores malformed messages and keeps listening', async () => {
    const received: CancelSignal[] = [];
    const warnings: string[] = [];
    subscriptions.push(
      await subscribeCancels({
        connection: workerRedis,
        prefix,
        handler: (signal) => void received.push(signal),
        logger: { warn: (_fields, message) => void warnings.push(message), error: () => undefined },
      }),
    );
    await publisher.publish(cancelChannel(prefix), 'not json');
    await publisher.publish(cancelChannel(prefix), JSON.stringify({ scope: 'galaxy' }));
    const signal: CancelSignal = { scope: 'sweep', sweepId: randomUUID() };
    await publishCancel({ connection: publisher, prefix }, signal);
    await sleepUntil(() => received.length === 1, { what: 'the valid signal' });
    expect(received).toEqual([signal]);
    expect(warnings).toEqual(['ignoring malformed cancel signal', 'ignoring malformed cancel signal']);
  });

  it('stops a running trial on another connection when its sweep is cancelled', async () => {
    const job = { sweepId: randomUUID(), trialId: randomUUID(), attempt: 1 };
    let started = false;
    const worker = createTrialWorker({
      connection: workerRedis,
      prefix,
      handler: async (_trial, context) => {
        started = true;
        await new Promise<void>((resolve) => context.cancelled.addEventListener('abort', () => resolve(), { once: true }));
        throw new TrialCancelled('sweep cancelled');
      },
    });
    workers.push(worker);
    subscriptions.push(await subscribeCancels({ connection: workerRedis, prefix, handler: (signal) => void worker.cancel(signal) }));
    await queues.enqueueTrial(job);
    await sleepUntil(() => started, { what: 'trial started' });
    await publishCancel({ connection: publisher, prefix }, { scope: 'sweep', sweepId: job.sweepId });
    await sleepUntil(async () => (await queues.trialJobState(job.trialId, 1)) === 'completed', { what: 'trial cancelled' });
    expect((await queues.trials.getJob(`trial_${job.trialId}_1`))?.returnvalue).toEqual({ outcome: 'cancelled', reason: 'sweep cancelled' });
  });

  it('refuses to publish a malformed signal', async () => {
    await expect(
      publishCancel({ connection: publisher, prefix }, { scope: 'trial', sweepId: randomUUID() } as unknown as CancelSignal),
    ).rejects.toMatchObject({ code: 'invalid_payload' });
  });
});
