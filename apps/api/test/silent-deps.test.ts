// Dependencies that go silent (a partition drops packets: no reset, no refusal) or are down when
// the API starts: readiness and the best-effort Redis steps of a stop answer in bounded time, a
// request that needs PostgreSQL gets 503 in JSON, and everything recovers on its own.
import { claimTrial, createTrial, getTrial, setSweepStatus } from '@hypersweep/db';
import { sleepUntil } from '@hypersweep/queue/testing';
import { ApiError, Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '@hypersweep/log';
import { QUEUE_COMMAND_TIMEOUT_MS } from '@hypersweep/queue';
import { READY_CHECK_TIMEOUT_MS } from '../src/routes/meta.ts';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';
import { startSilentProxy, type SilentProxy } from './silent-proxy.ts';

const REDIS_PORT = Number(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);

/** The outages' 503s are logged as request failures; the tests read the answers instead. */
const quiet = () => createJsonLogger({ level: 'error', write: () => undefined });

/** `fn`'s result and how long it took. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('Redis and PostgreSQL gone silent', () => {
  let t: TestApi;
  let redis: SilentProxy;
  let postgres: SilentProxy;
  beforeAll(async () => {
    redis = await startSilentProxy(REDIS_PORT);
    postgres = await startSilentProxy(5432);
    t = await startTestApi(
      { REDIS_URL: `redis://127.0.0.1:${redis.port}`, RATE_LIMIT_RPS: '0' },
      {
        logger: quiet(),
        databaseUrl: (url) => {
          const u = new URL(url);
          u.port = String(postgres.port);
          return u.toString();
        },
      },
    );
  });
  afterAll(async () => {
    redis?.restore();
    postgres?.restore();
    await t?.close();
    await redis?.close();
    await postgres?.close();
  });

  it('answers readiness and a stop in seconds while Redis is silent, the stop stored, and is ready again after', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('redis silent') })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
    await claimTrial(t.db, trial.id, 'w');
    redis.silence();
    try {
      const ready = await timed(() => t.request('/readyz'));
      expect(ready.value.status).toBe(503);
      expect(ready.ms).toBeLessThan(READY_CHECK_TIMEOUT_MS + 8_000);
      const body = (await ready.value.json()) as { checks: Record<string, { ok: boolean; error: string | null }> };
      expect(Object.values(body.checks).some((c) => !c.ok && c.error === 'timeout')).toBe(true);
      // The stop is in Postgres; the worker's nudge and the sweep's advance, side by side, wait for Redis no longer than its command timeout.
      const stop = await timed(() => t.request(`/api/v1/sweeps/${sweep.id}/trials/${trial.id}/stop`, { method: 'POST' }));
      expect(stop.value.status).toBe(200);
      expect(stop.ms).toBeLessThan(QUEUE_COMMAND_TIMEOUT_MS + 10_000);
      expect((await getTrial(t.db, trial.id))?.status).toBe('stopped');
    } finally {
      redis.restore();
    }
    await sleepUntil(async () => (await t.request('/readyz')).status === 200, { what: 'readiness to come back', timeoutMs: 40_000, intervalMs: 200 });
  }, 60_000);

  it('answers readiness in seconds while PostgreSQL is silent, and serves again after', async () => {
    postgres.silence();
    try {
      const ready = await timed(() => t.request('/readyz'));
      expect(ready.value.status).toBe(503);
      expect(ready.ms).toBeLessThan(READY_CHECK_TIMEOUT_MS + 8_000);

    } finally {
      postgres.restore();
    }
    await sleepUntil(async () => (await t.request('/api/v1/sweeps')).status === 200, { what: 'reads to come back', timeoutMs: 40_000, intervalMs: 200 });
  }, 90_000);
});

describe('PostgreSQL down when the API starts', () => {
  it('starts, answers 503, and serves once PostgreSQL is reachable, its event listener connected', async () => {
    // A port nothing listens on yet; the proxy opens there later.
    const probe = await startSilentProxy(5432);
    const port = probe.port;
    await probe.close();
    const t = await startTestApi({}, { logger: quiet(), databaseUrl: (url) => Object.assign(new URL(url), { port: String(port) }).toString() });
    let proxy: SilentProxy | null = null;
    try {
      const down = await t.request('/api/v1/sweeps');
      expect(down.status).toBe(503);
      expect(ApiError.parse(await down.json()).error.code).toBe('unavailable');
      proxy = await startSilentProxy(5432, '127.0.0.1', port);
      await sleepUntil(async () => (await t.request('/api/v1/sweeps')).status === 200, { what: 'the API to reach PostgreSQL', timeoutMs: 40_000, intervalMs: 200 });
      await sleepUntil(() => t.api.deps.hub.connected, { what: 'the event listener to connect', timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      await t.close();
      await proxy?.close();
    }
  }, 60_000);
});
