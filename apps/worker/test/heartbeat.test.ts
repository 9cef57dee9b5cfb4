// The worker's heartbeat against real Redis (own prefix): published at start, at once when a trial
// starts or ends, removed on stop; and the handover wait reads it.
import { randomUUID } from 'node:crypto';
import { createRedis, getHeartbeat, listWorkers, publishHeartbeat } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Heartbeat, waitForHandover } from '../src/heartbeat.ts';
import { silentLogger } from '@hypersweep/log';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
let redis: Redis;

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function heartbeat(workerId: string, intervalMs = 60_000): Heartbeat {
  // A long interval: every publish the test sees was triggered by a start or a trial change.
  return new Heartbeat({ redis, prefix, workerId, host: 'host-a', pid: 123, threads: 2, intervalMs, logger: silentLogger });
}

async function current(workerId: string) {
  return (await getHeartbeat(redis, prefix, workerId))?.heartbeat ?? null;
}

describe('Heartbeat', () => {
  it('publishes at start, when a trial starts and ends, and removes itself on stop', async () => {
    const beat = heartbeat('hb-worker');
    await beat.start();
    expect(await current('hb-worker')).toMatchObject({ workerId: 'hb-worker', host: 'host-a', pid: 123, threads: 2, currentTrial: null, samplesPerSecond: 0 });
    expect(await redis.pttl(`${prefix}:workers:hb-worker`)).toBeGreaterThan(60_000);

    const trial = { sweepId: randomUUID(), trialId: randomUUID(), attempt: 1 };
    beat.progress('job-1', { ...trial, epoch: 0, samplesPerSecond: 0 });
    await sleepUntil(async () => (await current('hb-worker'))?.currentTrial?.trialId === trial.trialId, { what: 'the new trial in the heartbeat' });
    // Epoch progress rides along with the next beat; the snapshot has it at once.
    beat.progress('job-1', { ...trial, epoch: 2, samplesPerSecond: 5000 });
    expect(beat.snapshot()).toMatchObject({ currentTrial: { ...trial, epoch: 2 }, samplesPerSecond: 5000 });
    // The process's memory rides along: RSS includes the heap.
    const { memory } = beat.snapshot();
    expect(memory!.heapUsedBytes).toBeGreaterThan(0);
    expect(memory!.rssBytes).toBeGreaterThan(memory!.heapUsedBytes);

    beat.trialEnded('job-1');
    await sleepUntil(async () => (await current('hb-worker'))?.currentTrial === null, { what: 'the trial to leave the heartbeat' });
    expect((await listWorkers(redis, prefix)).workers.map((w) => [w.workerId, w.alive])).toEqual([['hb-worker', true]]);

    await beat.stop();
    expect(await getHeartbeat(redis, prefix, 'hb-worker')).toBeNull();
    expect((await listWorkers(redis, prefix)).workers).toEqual([]);
  });

  it('beats every interval', async () => {
    const beat = heartbeat('hb-ticking', 50);
    await beat.start();
    const first = (await current('hb-ticking'))?.at;
    await sleepUntil(async () => (await current('hb-ticking'))?.at !== first, { what: 'a second beat' });
    await beat.stop();
    expect(await current('hb-ticking')).toBeNull();
  });
});

describe('waitForHandover', () => {
  // `redis` exists only once beforeAll ran.
  const options = () => ({ redis, prefix, heartbeatMs: 200, pollMs: 10, logger: silentLogger });
  const trialId = randomUUID();
  const beatOf = (workerId: string, training: string | null) => ({
    workerId,
    host: 'h',
    pid: 1,
    threads: 1,
    currentTrial: training ? { sweepId: randomUUID(), trialId: training, attempt: 1, epoch: 1 } : null,
    samplesPerSecond: 0,
    startedAt: new Date().toISOString(),
    at: new Date().toISOString(),
  });

  it('waits while the previous holder reports the trial, and returns once it reports another', async () => {
    await publishHeartbeat(redis, prefix, beatOf('holder', trialId), 10_000);
    let done = false;
    const waiting = waitForHandover(options(), { workerId: 'holder', trialId }).then(() => (done = true));
    await sleepUntil(async () => (await redis.exists(`${prefix}:workers:holder`)) === 1, { what: 'the heartbeat' });
    expect(done).toBe(false);
    await publishHeartbeat(redis, prefix, beatOf('holder', null), 10_000);
    await waiting;
    expect(done).toBe(true);
  });

  it('does not wait for a dead holder (only an expired heartbeat left)', async () => {
    await publishHeartbeat(redis, prefix, beatOf('dead-holder', trialId), 20);
    await sleepUntil(async () => (await getHeartbeat(redis, prefix, 'dead-holder'))?.live === false, { what: 'the heartbeat to expire' });
    const started = Date.now();
    await waitForHandover({ ...options(), heartbeatMs: 60_000 }, { workerId: 'dead-holder', trialId });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives an unknown holder 1.5 intervals to reappear (Redis lost its keys), and at most timeoutMs overall', async () => {
    const started = Date.now();
    await waitForHandover(options(), { workerId: 'nobody', trialId });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);

    await publishHeartbeat(redis, prefix, beatOf('stuck-holder', trialId), 10_000);
    const stuckStarted = Date.now();
    await waitForHandover({ ...options(), timeoutMs: 250 }, { workerId: 'stuck-holder', trialId });
    expect(Date.now() - stuckStarted).toBeGreaterThanOrEqual(250);
  });
});
