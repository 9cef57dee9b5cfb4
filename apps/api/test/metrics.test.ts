// /metrics on prom-client: route labels are route patterns whatever the client sends, the
// process's default metrics are there, and each app counts its own requests.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { ApiMetrics, UNMATCHED_ROUTE } from '../src/prometheus.ts';
import { startTestApi, type TestApi } from './harness.ts';

/** The label values of `name`'s samples, as [labels, value]. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{(.*)\\} (\\S+)$`).exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

describe('Prometheus metrics', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ RATE_LIMIT_RPS: '0' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('labels requests by route pattern, never by the path the client sent', async () => {
    const ids = Array.from({ length: 40 }, () => randomUUID());
    const paths = ids.flatMap((id, i) => [
      `/api/v1/sweeps/${id}`,
      `/api/v1/sweeps/${id}/trials/${ids[(i + 1) % ids.length]}`,
      `/API/V1/sweeps/${id}`,
      // Refused for its undocumented parameter (400), still labelled without the path or query.
      `/api/v1/sweeps/${id}?x=${id}`,
      `/api/v1/no-such-${id}`,
      `/api/no-such-${id}`,
      `/no-such-${id}`,
      `/api/v1/sweeps/%E0%A4%A-${id}`,
    ]);
    for (let i = 0; i < paths.length; i += 20) await Promise.all(paths.slice(i, i + 20).map((p) => t.request(p).then((r) => r.arrayBuffer())));
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const requests = samples(text, 'hypersweep_http_requests_total');
    const routes = new Set(requests.map((s) => s.labels.route));
    for (const id of ids) expect(text).not.toContain(id);
    expect(routes).toContain('/api/v1/sweeps/:sweepId');
    expect(routes).toContain('/api/v1/sweeps/:sweepId/trials/:trialId');
    expect(routes).toContain(UNMATCHED_ROUTE);
    // 320 distinct paths, a handful of series.
    expect(routes.size).toBeLessThanOrEqual(4);
    const sweep404 = requests.find((s) => s.labels.route === '/api/v1/sweeps/:sweepId' && s.labels.status === '404');
    // Both spellings of the prefix count as the one route: 80 requests.
    expect(sweep404?.value).toBe(80);
    const latency = samples(text, 'hypersweep_http_request_duration_seconds_count');
    expect(new Set(latency.map((s) => s.labels.route))).toEqual(new Set([...routes]));
  });

  it('adds the process, GC and event-loop metrics', async () => {
    const response = await fetch(`${t.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    // Each family once: the default metrics are not repeated per app.
    expect(text.match(/^# TYPE process_cpu_seconds_total /gm)).toHaveLength(1);
    expect(text).toMatch(/^hypersweep_sse_clients 0$/m);
  });

  it('counts each app on its own registry, so several apps in one process do not mix', async () => {
    const other = createApp({ ...t.api.deps, metrics: new ApiMetrics() }).listen(0, '127.0.0.1');
    await new Promise((resolve) => other.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const before = samples(await (await fetch(`${t.url}/metrics`)).text(), 'hypersweep_http_requests_total');
      for (let i = 0; i < 3; i++) await (await fetch(`${url}/healthz`)).arrayBuffer();
      const own = samples(await (await fetch(`${url}/metrics`)).text(), 'hypersweep_http_requests_total');
      expect(own).toEqual([{ labels: { method: 'GET', route: '/healthz', status: '200' }, value: 3 }]);
      const first = samples(await (await fetch(`${t.url}/metrics`)).text(), 'hypersweep_http_requests_total');
      const healthz = (list: typeof first) => list.find((s) => s.labels.route === '/healthz')?.value ?? 0;
      expect(healthz(first)).toBe(healthz(before));
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
