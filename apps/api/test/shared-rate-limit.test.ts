// Rate limits live in Redis: two API apps with one prefix draw from one bucket per client, and
// when Redis cannot answer the API keeps serving (fail open) with a warning, not one per request.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createJsonLogger } from '@hypersweep/log';
import { createRedis } from '@hypersweep/queue';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import type { ApiDeps } from '../src/deps.ts';
import { ApiMetrics } from '../src/prometheus.ts';
import { RateLimiter } from '../src/rate-limit.ts';
import { startTestApi, type TestApi } from './harness.ts';

const BURST = 12;
const RPS = 0.5;

/** Another replica of the API: same database and prefix, its own metrics, limiter and Redis connection. */
async function replica(deps: ApiDeps, rateLimiter: RateLimiter): Promise<{ url: string; close(): Promise<void> }> {
  const server = createApp({ ...deps, metrics: new ApiMetrics(), rateLimiter }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: listen on a free one, then close it. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('rate limits shared through Redis', () => {
  let t: TestApi;
  let redis: Redis;
  beforeAll(async () => {
    t = await startTestApi({ RATE_LIMIT_RPS: String(RPS), RATE_LIMIT_BURST: String(BURST) });
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { role: 'queue' });
  });
  afterAll(async () => {
    await redis?.quit();
    await t?.close();
  });

  it("gives a client one burst across two replicas, not one per replica, in a bucket key that expires", async () => {
    const logger = createJsonLogger({ level: 'error' });
    const second = await replica(t.api.deps, new RateLimiter({ redis, prefix: t.prefix, logger }));
    try {
      const headers = { authorization: `Bearer ${t.token}` };
      const n = 3 * BURST;
      const started = performance.now();
      const statuses = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const response = await fetch(`${i % 2 === 0 ? t.url : second.url}/api/v1/sweeps`, { headers });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const allowed = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      // Exactly the burst, plus what refilled while the requests ran.
      expect(allowed).toBeGreaterThanOrEqual(BURST);
      expect(allowed).toBeLessThanOrEqual(BURST + Math.floor(seconds * RPS) + 1);
      // Both replicas refuse: the bucket is not per replica.
      const refusedBy = new Set(statuses.map((s, i) => (s === 429 ? i % 2 : -1)).filter((r) => r >= 0));
      expect(refusedBy).toEqual(new Set([0, 1]));

      const limited = await fetch(`${second.url}/api/v1/sweeps`, { headers });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited', details: [{ path: 'request' }] } });

      const keys = await redis.keys(`${t.prefix}:ratelimit:*`);
      expect(keys).toHaveLength(2);
      expect(keys).toContain(`${t.prefix}:ratelimit:address:ip:127.0.0.1`);
      expect(keys.filter((k) => k.startsWith(`${t.prefix}:ratelimit:client:t:`))).toHaveLength(1);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        // Never longer than it takes to refill the bucket, plus a second.
        expect(ttl).toBeLessThanOrEqual((BURST / RPS) * 1000 + 1000);
      }
    } finally {
      await second.close();
    }
  });

  it('loads the script again when Redis forgot it (EVALSHA falls back to EVAL)', async () => {
    const prefix = `${t.prefix}-noscript`;
    const limiter = new RateLimiter({ redis, prefix, logger: createJsonLogger({ level: 'error' }) });
    await redis.script('FLUSH');
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.take('client', 'k', 0.001, 2));
    expect(results).toEqual([{ allowed: true }, { allowed: true }, { allowed: false, retryAfterSeconds: expect.any(Number) }]);
    expect((results[2] as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(900);
    await redis.del(`${prefix}:ratelimit:client:k`);
  });

  it('lets requests through when Redis is unreachable, and warns once, not per request', async () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: 'warn', write: (line) => lines.push(line) });
    const dead = createRedis(`redis://127.0.0.1:${await closedPort()}`, { role: 'queue' });
    dead.on('error', () => undefined);
    const down = await replica(t.api.deps, new RateLimiter({ redis: dead, prefix: t.prefix, logger, timeoutMs: 200 }));
    try {
      const headers = { authorization: `Bearer ${t.token}` };
      const statuses = [];
      // Sequentially and in parallel: more than twice the burst and address burst together.
      for (let i = 0; i < BURST; i++) statuses.push((await fetch(`${down.url}/api/v1/sweeps`, { headers })).status);
      statuses.push(...(await Promise.all(Array.from({ length: 4 * BURST }, async () => (await fetch(`${down.url}/api/v1/sweeps`, { headers })).status))));
      expect(new Set(statuses)).toEqual(new Set([200]));
      const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string; err: { message: string } });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', msg: expect.stringContaining('rate limit unavailable') });
    } finally {
      await down.close();
      dead.disconnect();
    }
  });
});
