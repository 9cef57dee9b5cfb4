import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, parseRedisUrl, reconnectDelayMs } from './connection.ts';
import { QueueError } from './errors.ts';
import { createTrialWorker } from './trial-worker.ts';
import { randomTestPrefix } from './testing.ts';

const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('parseRedisUrl', () => {
  it('reads host, port, db and credentials', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({
      host: '127.0.0.1', port: 6379, db: 0, username: undefined, password: undefined, tls: false,
    });
    expect(parseRedisUrl('rediss://user:p%40ss@cache.example:6380/3')).toEqual({
      host: 'cache.example', port: 6380, db: 3, username: 'user', password: 'p@ss', tls: true,
    });
    expect(parseRedisUrl('redis://:secret@localhost')).toMatchObject({ host: 'localhost', port: 6379, password: 'secret' });
    expect(parseRedisUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000 });
  });

  it.each([
    ['not a url', 'not a URL'],
    ['http://localhost:6379', 'scheme must be redis:// or rediss://'],
    ['redis://localhost:6379/zero', 'database must be a number'],
    ['redis://localhost:6379/0?family=6', 'query strings'],
    ['redis://:6379', 'not a URL'],
  ])('rejects %s with a clear error', (url, problem) => {
    let caught: unknown;
    try {
      parseRedisUrl(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QueueError);
    expect((caught as QueueError).code).toBe('invalid_redis_url');
    expect((caught as QueueError).message).toContain(problem);
  });

  it('never puts the password in an error message', () => {
    expect(() => parseRedisUrl('redis://user:hunter2@host/x')).toThrow(/user:\*\*\*@/);
    expect(() => parseRedisUrl('redis://user:hunter2@host/x')).not.toThrow(/hunter2/);
  });
});

describe('createRedis', () => {
  const clients: ReturnType<typeof createRedis>[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
  });

  it('makes worker and events connections wait through outages and queue connections fail fast', async () => {
    const worker = createRedis(redisUrl, { role: 'worker' });
    const events = createRedis(redisUrl, { role: 'events' });
    const queue = createRedis(redisUrl, { role: 'queue' });
    clients.push(worker, events, queue);
    expect(worker.options.maxRetriesPerRequest).toBeNull();
    expect(events.options.maxRetriesPerRequest).toBeNull();
    expect(queue.options.maxRetriesPerRequest).toBe(3);
    expect(worker.options.lazyConnect).toBe(false);
    expect(await queue.ping()).toBe('PONG');
    expect(await worker.client('GETNAME')).toBe('hypersweep-worker');
  });

  it('backs off reconnects exponentially up to 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(reconnectDelayMs)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('refuses to build a worker on a connection BullMQ would reject', () => {
    const queue = createRedis(redisUrl, { role: 'queue' });
    clients.push(queue);
    expect(() =>
      createTrialWorker({ connection: queue, prefix: randomTestPrefix(), autorun: false, handler: async () => undefined }),
    ).toThrow(/maxRetriesPerRequest: null/);
  });
});
