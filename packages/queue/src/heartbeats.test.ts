import { randomUUID } from 'node:crypto';
import { ClusterView, type WorkerHeartbeat } from '@hypersweep/schemas';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from './connection.ts';
import { QueueError } from './errors.ts';
import { getHeartbeat, getHeldTrials, listWorkers, publishHeartbeat, removeHeartbeat } from './heartbeats.ts';
import { lastHeartbeatsKey, workerHeartbeatKey, workerTrialsKey, workersIndexKey } from './names.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
let redis: Redis;
const prefixes: string[] = [];

function freshPrefix(): string {
  const prefix = randomTestPrefix();
  prefixes.push(prefix);
  return prefix;
}

function beat(workerId: string, at: number, edit: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    workerId,
    host: 'node-1',
    pid: 4242,
    threads: 2,
    currentTrial: null,
    samplesPerSecond: 0,
    startedAt: new Date(at - 60_000).toISOString(),
    at: new Date(at).toISOString(),
    ...edit,
  };
}

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('worker heartbeats', () => {
  it('publishes a heartbeat with a TTL and lists it as a ClusterView', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    const trial = { sweepId: randomUUID(), trialId: randomUUID(), attempt: 1, epoch: 3 };
    await publishHeartbeat(redis, prefix, beat('w-busy', now, { currentTrial: trial, samplesPerSecond: 1500, threads: 4 }), 6_000);
    await publishHeartbeat(redis, prefix, beat('w-idle', now), 6_000);

    const ttl = await redis.pttl(workerHeartbeatKey(prefix, 'w-busy'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(6_000);
    expect(Number(await redis.zscore(workersIndexKey(prefix), 'w-busy'))).toBe(now);

    const view = await listWorkers(redis, prefix, { now, aliveWithinMs: 6_000 });
    expect(ClusterView.parse(view)).toEqual(view);
    expect(view.workers.map((w) => [w.workerId, w.alive])).toEqual([
      ['w-busy', true],
      ['w-idle', true],
    ]);
    expect(view.workers[0]).toMatchObject({ currentTrial: trial, samplesPerSecond: 1500, threads: 4, host: 'node-1', pid: 4242 });
    expect(view.totals).toEqual({ workers: 2, alive: 2, busy: 1, threads: 6, samplesPerSecond: 1500 });
    expect(await getHeartbeat(redis, prefix, 'w-busy')).toMatchObject({ live: true, heartbeat: { currentTrial: trial } });
    expect(await getHeartbeat(redis, prefix, 'w-unknown')).toBeNull();
  });

  it('a newer heartbeat replaces the older one', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    await publishHeartbeat(redis, prefix, beat('w', now - 1_000, { samplesPerSecond: 10 }), 6_000);
    await publishHeartbeat(redis, prefix, beat('w', now, { samplesPerSecond: 20 }), 6_000);
    const view = await listWorkers(redis, prefix, { now });
    expect(view.workers).toHaveLength(1);
    expect(view.workers[0]).toMatchObject({ samplesPerSecond: 20, at: new Date(now).toISOString(), alive: true });
  });

  it('reports a worker whose key expired as not alive, then prunes it', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    await publishHeartbeat(redis, prefix, beat('w-dead', now, { currentTrial: { sweepId: randomUUID(), trialId: randomUUID(), attempt: 2, epoch: 1 }, samplesPerSecond: 99 }), 30);
    await publishHeartbeat(redis, prefix, beat('w-live', now), 60_000);
    await sleepUntil(async () => (await redis.exists(workerHeartbeatKey(prefix, 'w-dead'))) === 0, { what: 'the heartbeat key to expire' });
    expect(await getHeartbeat(redis, prefix, 'w-dead')).toMatchObject({ live: false, heartbeat: { samplesPerSecond: 99 } });

    const view = await listWorkers(redis, prefix, { now: now + 100, aliveWithinMs: 10_000, forgetAfterMs: 60_000 });
    expect(view.workers.map((w) => [w.workerId, w.alive])).toEqual([
      ['w-dead', false],
      ['w-live', true],
    ]);
    expect(view.workers[0]?.samplesPerSecond).toBe(99);
    // Totals count the living only.
    expect(view.totals).toEqual({ workers: 2, alive: 1, busy: 0, threads: 2, samplesPerSecond: 0 });

    // Silent for longer than forgetAfterMs: pruned from the index and the last-heartbeat hash.
    const later = await listWorkers(redis, prefix, { now: now + 120_000, aliveWithinMs: 10_000, forgetAfterMs: 60_000 });
    expect(later.workers.map((w) => w.workerId)).toEqual([]);
    expect(await redis.zrange(workersIndexKey(prefix), '0', '-1')).toEqual([]);
    expect(await redis.hkeys(lastHeartbeatsKey(prefix))).toEqual([]);
    expect(await getHeartbeat(redis, prefix, 'w-dead')).toBeNull();
  });

  it('a heartbeat older than aliveWithinMs is not alive even while its key exists', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    await publishHeartbeat(redis, prefix, beat('w-stale', now - 20_000), 60_000);
    const view = await listWorkers(redis, prefix, { now, aliveWithinMs: 5_000 });
    expect(view.workers).toMatchObject([{ workerId: 'w-stale', alive: false }]);
    expect(view.totals.alive).toBe(0);
  });

  it('removes a heartbeat on a graceful stop', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    await publishHeartbeat(redis, prefix, beat('w-stop', now), 6_000);
    await publishHeartbeat(redis, prefix, beat('w-stay', now), 6_000);
    await removeHeartbeat(redis, prefix, 'w-stop');
    const view = await listWorkers(redis, prefix, { now });
    expect(view.workers.map((w) => w.workerId)).toEqual(['w-stay']);
    expect(await redis.exists(workerHeartbeatKey(prefix, 'w-stop'), lastHeartbeatsKey(prefix))).toBe(1);
    expect(await getHeartbeat(redis, prefix, 'w-stop')).toBeNull();
  });

  it('lists nothing for an empty prefix, and drops index entries without a readable heartbeat', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    expect(await listWorkers(redis, prefix, { now })).toEqual({
      workers: [],
      totals: { workers: 0, alive: 0, busy: 0, threads: 0, samplesPerSecond: 0 },
    });
    await redis.zadd(workersIndexKey(prefix), now, 'ghost');
    await redis.hset(lastHeartbeatsKey(prefix), 'ghost', '{not json');
    expect((await listWorkers(redis, prefix, { now })).workers).toEqual([]);
    expect(await redis.zcard(workersIndexKey(prefix))).toBe(0);
  });

  it('stores the trials a worker holds with the heartbeat\'s TTL; the reconciler reads them per worker', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    const a = randomUUID();
    const b = randomUUID();
    const current = { sweepId: randomUUID(), trialId: a, attempt: 2, epoch: 1 };
    // Two deliveries at once (CONCURRENCY 2): the heartbeat shows one, the held trials both.
    await publishHeartbeat(redis, prefix, beat('w-two', now, { currentTrial: current }), 6_000, { trials: [{ trialId: a, attempt: 2 }, { trialId: b, attempt: 1 }] });
    // Without the option: the heartbeat's current trial.
    await publishHeartbeat(redis, prefix, beat('w-one', now, { currentTrial: current }), 6_000);
    await publishHeartbeat(redis, prefix, beat('w-idle', now), 6_000);
    await publishHeartbeat(redis, prefix, beat('w-short', now, { currentTrial: current }), 30);
    const ttl = await redis.pttl(workerTrialsKey(prefix, 'w-two'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(6_000);
    await sleepUntil(async () => (await redis.exists(workerTrialsKey(prefix, 'w-short'))) === 0, { what: 'the short entry to expire' });
    await redis.set(workerTrialsKey(prefix, 'w-garbled'), '{not json');

    const held = await getHeldTrials(redis, prefix, ['w-two', 'w-one', 'w-idle', 'w-short', 'w-garbled', 'w-never', 'w-two']);
    expect([...held.keys()].sort()).toEqual(['w-idle', 'w-one', 'w-two']);
    expect(held.get('w-two')).toEqual({ workerId: 'w-two', trials: [{ trialId: a, attempt: 2 }, { trialId: b, attempt: 1 }], ttlMs: 6_000, at: new Date(now).toISOString() });
    expect(held.get('w-one')?.trials).toEqual([{ trialId: a, attempt: 2 }]);
    expect(held.get('w-idle')?.trials).toEqual([]);
    expect(await getHeldTrials(redis, prefix, [])).toEqual(new Map());

    // A graceful stop removes them with the heartbeat.
    await removeHeartbeat(redis, prefix, 'w-two');
    expect(await redis.exists(workerTrialsKey(prefix, 'w-two'))).toBe(0);
    expect((await getHeldTrials(redis, prefix, ['w-two'])).size).toBe(0);
    await expect(publishHeartbeat(redis, prefix, beat('w-bad', now), 6_000, { trials: [{ trialId: a, attempt: -1 }] })).rejects.toMatchObject({ code: 'invalid_payload' });
  });

  it('refuses a heartbeat the schema refuses', async () => {
    const prefix = freshPrefix();
    const bad = { ...beat('w', Date.now()), threads: 0 };
    await expect(publishHeartbeat(redis, prefix, bad, 1_000)).rejects.toBeInstanceOf(QueueError);
    await expect(publishHeartbeat(redis, prefix, bad, 1_000)).rejects.toMatchObject({ code: 'invalid_payload' });
    await expect(publishHeartbeat(redis, 'bad prefix', beat('w', Date.now()), 1_000)).rejects.toMatchObject({ code: 'invalid_options' });
    expect(await redis.exists(workersIndexKey(prefix))).toBe(0);
  });

  it('rejects when Redis refuses a command of the transaction', async () => {
    const prefix = freshPrefix();
    await redis.set(workersIndexKey(prefix), 'not a sorted set');
    await expect(publishHeartbeat(redis, prefix, beat('w', Date.now()), 1_000)).rejects.toThrow(/WRONGTYPE/);
  });
});
