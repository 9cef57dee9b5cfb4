import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from './connection.ts';
import { withRedisLock } from './locks.ts';
import { reconcileLockKey } from './names.ts';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = randomTestPrefix();
let redis: Redis;

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('withRedisLock', () => {
  it('lets one holder in at a time and releases the lock afterwards', async () => {
    const key = reconcileLockKey(prefix);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = withRedisLock(redis, key, { owner: 'w1', ttlMs: 10_000 }, async () => {
      await held;
      return 'first';
    });
    await sleepUntil(async () => (await redis.exists(key)) === 1, { what: 'the first holder to take the lock' });

    const second = await withRedisLock(redis, key, { owner: 'w2', ttlMs: 10_000 }, async () => 'second');
    expect(second).toEqual({ acquired: false, holder: 'w1' });

    release();
    expect(await first).toEqual({ acquired: true, value: 'first' });
    expect(await redis.exists(key)).toBe(0);
    expect(await withRedisLock(redis, key, { owner: 'w2', ttlMs: 10_000 }, async () => 'again')).toEqual({ acquired: true, value: 'again' });
  });

  it('releases the lock when the work throws', async () => {
    const key = `${prefix}:throwing-lock`;
    await expect(withRedisLock(redis, key, { owner: 'w1', ttlMs: 10_000 }, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await redis.exists(key)).toBe(0);
  });

  it('a holder whose lock expired does not release the next holder', async () => {
    const key = `${prefix}:expiring-lock`;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = withRedisLock(redis, key, { owner: 'slow', ttlMs: 30 }, () => held);
    await sleepUntil(async () => (await redis.exists(key)) === 0, { what: 'the slow holder\'s lock to expire' });

    let releaseNext!: () => void;
    const heldNext = new Promise<void>((resolve) => (releaseNext = resolve));
    const next = withRedisLock(redis, key, { owner: 'next', ttlMs: 10_000 }, () => heldNext);
    await sleepUntil(async () => (await redis.exists(key)) === 1, { what: 'the next holder to take the lock' });
    release();
    await slow;
    expect((await redis.get(key))?.startsWith('next#')).toBe(true);
    releaseNext();
    await expect(next).resolves.toMatchObject({ acquired: true });
  });

  it('with holdForMs keeps the lock after the work, until that long after it was taken', async () => {
    const key = `${prefix}:rate-limit-lock`;
    expect(await withRedisLock(redis, key, { owner: 'w1', ttlMs: 10_000, holdForMs: 300 }, async () => 'done')).toEqual({ acquired: true, value: 'done' });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(await withRedisLock(redis, key, { owner: 'w2', ttlMs: 10_000 }, async () => 'early')).toEqual({ acquired: false, holder: 'w1' });
    await sleepUntil(async () => (await redis.exists(key)) === 0, { what: 'the held lock to expire' });
    expect(await withRedisLock(redis, key, { owner: 'w2', ttlMs: 10_000 }, async () => 'later')).toEqual({ acquired: true, value: 'later' });
  });
});
