import { ApiError } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';

describe('rate limits', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lets a burst through per token, then answers 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await t.request('/api/v1/sweeps')).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toContain(429);
    const limited = await t.request('/api/v1/sweeps');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(ApiError.parse(await limited.json()).error.code).toBe('rate_limited');
  });

  it('limits bad tokens per address before they reach the database', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await fetch(`${t.url}/api/v1/sweeps`, { headers: { authorization: `Bearer ${'x'.repeat(43)}` } })).status);
    expect(statuses).toContain(401);
    expect(statuses).toContain(429);
    expect(statuses.indexOf(429)).toBeGreaterThan(0);
  });

  it('never limits the probes', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, async () => (await fetch(`${t.url}/healthz`)).status));
    expect(new Set(statuses)).toEqual(new Set([200]));
  });
});
