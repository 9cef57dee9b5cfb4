import { claimTrial, createTrial, recordEpoch, setSweepStatus, sweepEventsAfter } from '@hypersweep/db';
import {
  API_ROUTES,
  ApiError,
  ApiTokenCreated,
  ApiTokenList,
  ClusterView,
  DatasetInfo,
  DatasetList,
  MetricSeries,
  Sweep,
  SweepCurves,
  SweepPage,
  Trial,
  TrialDetail,
  TrialPage,
} from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, publishHeartbeat } from '@hypersweep/queue';
import { sleepUntil } from '@hypersweep/queue/testing';
import { CSV_THREAD_MIN_CHARS, parseThreadsAborted, parseThreadsInUse } from '@hypersweep/datasets/csv-check';
import { connect } from 'node:net';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

describe('REST API', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses requests without a valid token with 401 and an error body, and serves probes without one', async () => {
    for (const authorization of [undefined, 'Bearer nope', 'Basic abc', `Bearer ${t.token.slice(0, -1)}x`]) {
      const res = await fetch(`${t.url}/api/v1/sweeps`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(ApiError.parse(await res.json()).error.code).toBe('unauthorized');
    }
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: { ok: true }, redis: { ok: true } } });
  });

  it('creates, lists and revokes tokens; the secret is shown once and stored hashed', async () => {
    const res = await t.request('/api/v1/tokens', { method: 'POST', json: { name: 'ci', grants: [{ project: 'default', role: 'read' }] } });
    expect(res.status).toBe(201);
    const created = ApiTokenCreated.parse(await res.json());
    const stored = await t.db.apiToken.findUniqueOrThrow({ where: { id: created.id } });
    expect(stored.tokenHash).not.toContain(created.token);
    expect(JSON.stringify(stored)).not.toContain(created.token);
    const list = ApiTokenList.parse(await (await t.request('/api/v1/tokens')).json());
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect(list.items.map((i) => i.id)).toContain(created.id);
    expect((await t.request('/api/v1/sweeps', { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(200);
    expect((await t.request(`/api/v1/tokens/${created.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request('/api/v1/sweeps', { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(401);
  });

  it('submits a sweep once per Idempotency-Key, refuses the key for another body, and lists it', async () => {
    const body = mnistTpeAshaSweep();
    const first = await t.request('/api/v1/sweeps', { method: 'POST', json: body, headers: { 'idempotency-key': 'k-1' } });
    expect(first.status).toBe(201);
    const sweep = Sweep.parse(await first.json());
    expect(sweep).toMatchObject({ status: 'pending', objective: { metric: 'val_accuracy', mode: 'maximize' }, seed: 42 });
    const retries = await Promise.all(
      Array.from({ length: 5 }, () => t.request('/api/v1/sweeps', { method: 'POST', json: body, headers: { 'idempotency-key': 'k-1' } })),
    );
    expect(retries.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const r of retries) expect(Sweep.parse(await r.json()).id).toBe(sweep.id);
    expect(await t.db.sweep.count({ where: { idempotencyKey: 'k-1' } })).toBe(1);
    const conflict = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...body, name: 'other' }, headers: { 'idempotency-key': 'k-1' } });
    expect(conflict.status).toBe(422);
    expect(ApiError.parse(await conflict.json()).error.details[0]?.path).toBe('headers.Idempotency-Key');

    const page = SweepPage.parse(await (await t.request('/api/v1/sweeps?limit=1')).json());
    expect(page.items).toHaveLength(1);
    await t.request('/api/v1/sweeps', { method: 'POST', json: { ...body, name: 'aardvark' } });
    const byName = SweepPage.parse(await (await t.request('/api/v1/sweeps?sort=name&order=asc')).json());
    expect(byName.items.map((s) => s.name)).toEqual(['aardvark', 'mnist tpe+asha']);
    const wrongCursor = await t.request(`/api/v1/sweeps?sort=name&order=desc&cursor=${page.nextCursor}`);
    expect(wrongCursor.status).toBe(400);
    const got = Sweep.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}`)).json());
    expect(got.spec.search.budget.maxTrials).toBe(12);
    expect(got.lastEventId).toBe((await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } })).eventSeq);
    // The advance job is in Redis for a worker to pick up.
    expect(await t.api.deps.queues.sweeps.getJobCounts('waiting', 'prioritized', 'delayed')).toSatisfy(
      (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0) >= 1,
    );
  });

  it('pages trials with a keyset cursor, sorts by objective, filters by state and downsamples metrics', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('paging') })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const trials: Awaited<ReturnType<typeof createTrial>>[] = [];
    for (let i = 0; i < 7; i++) trials.push(await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 * (i + 1) } }));
    for (const [i, trial] of trials.entries()) {
      if (i % 2 === 1) continue;
      await claimTrial(t.db, trial.id, 'w');
      for (let epoch = 1; epoch <= 40; epoch++) await recordEpoch(t.db, trial.id, epoch, { val_accuracy: (i + epoch) / 100, val_loss: 1 / epoch });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = TrialPage.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/trials?limit=3&sort=bestValue&order=desc${q}`)).json());
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(7);
    expect(seen[0]).toBe(trials[6]!.id);
    const running = TrialPage.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/trials?status=running`)).json());
    expect(running.items).toHaveLength(4);
    expect(running.items[0]?.lastMetrics).toMatchObject({ val_loss: 1 / 40 });
    const badCursor = await t.request(`/api/v1/sweeps/${sweep.id}/trials?sort=number&cursor=${cursor ?? 'eyJ4IjoxfQ'}`);
    expect(badCursor.status).toBe(400);

    // All curves of the sweep at once, with the event id to follow the stream from.
    const curves = SweepCurves.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/curves?names=val_loss,val_accuracy&maxPoints=5`)).json());
    expect(curves.trials).toHaveLength(7);
    expect(curves.lastEventId).toBe((await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } })).eventSeq);
    const c0 = curves.trials.find((c) => c.trialId === trials[0]!.id)!;
    expect(c0.series.map((s) => [s.name, s.totalPoints, s.points.length])).toEqual([
      ['val_loss', 40, 5],
      ['val_accuracy', 40, 5],
    ]);
    expect(curves.trials.find((c) => c.trialId === trials[1]!.id)!.series[0]!.points).toEqual([]);
    const objective = SweepCurves.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/curves`)).json());
    expect(objective.trials[0]!.series.map((s) => s.name)).toEqual(['val_accuracy']);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/curves?names=a,b,c,d,e`)).status).toBe(400);

    const series = MetricSeries.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/trials/${trials[0]!.id}/metrics?names=val_loss&maxPoints=10`)).json());
    expect(series.series[0]).toMatchObject({ name: 'val_loss', totalPoints: 40, downsampled: true });
    expect(series.series[0]?.points).toHaveLength(10);
    const trial = TrialDetail.parse(await (await t.request(`/api/v1/sweeps/${sweep.id}/trials/${trials[0]!.id}`)).json());
    expect(trial.epochsDone).toBe(40);
    // Trials made outside a worker (this test seeds them) have no resolved spec.
    expect(trial.resolved).toBeNull();
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/trials/${'00000000-0000-4000-8000-000000000000'}`)).status).toBe(404);
  });

  it('stops a trial and cancels a sweep, with 409 for a second attempt', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('cancel') })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const a = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
    const b = await createTrial(t.db, sweep.id, { params: { learningRate: 0.02 } });
    await claimTrial(t.db, a.id, 'w');
    const stop = await t.request(`/api/v1/sweeps/${sweep.id}/trials/${a.id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(200);
    expect(Trial.parse(await stop.json())).toMatchObject({ status: 'stopped', reason: 'stopped by user' });
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/trials/${a.id}/stop`, { method: 'POST' })).status).toBe(409);
    const cancel = await t.request(`/api/v1/sweeps/${sweep.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(Sweep.parse(await cancel.json())).toMatchObject({ status: 'cancelled', counts: { stopped: 1, cancelled: 1 } });
    expect((await t.db.trial.findUniqueOrThrow({ where: { id: b.id } })).status).toBe('cancelled');
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/cancel`, { method: 'POST' })).status).toBe(409);
  });

  it('streams sweep events over SSE and resumes after Last-Event-ID without gaps or repeats', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('sse') })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const read = async (lastEventId: number | null, until: number): Promise<number[]> => {
      const controller = new AbortController();
      const res = await t.request(`/api/v1/sweeps/${sweep.id}/events`, {
        headers: lastEventId === null ? {} : { 'last-event-id': String(lastEventId) },
        signal: controller.signal,
      });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      const ids: number[] = [];
      let text = '';
      while (!ids.includes(until)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        const frames = text.split('\n\n');
        text = frames.pop() ?? '';
        for (const frame of frames) {
          const id = /^id: (\d+)$/m.exec(frame)?.[1];
          if (id) ids.push(Number(id));
        }
      }
      controller.abort();
      return ids;
    };
    const trial = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
    const firstBatch = await sweepEventsAfter(t.db, sweep.id, 0);
    const head = await read(null, firstBatch.at(-1)!.id);
    expect(head).toEqual(firstBatch.map((e) => e.id));
    // Live: events written while the stream is open arrive through NOTIFY.
    const live = read(head.at(-1)!, head.at(-1)! + 2);
    await claimTrial(t.db, trial.id, 'w');
    expect(await live).toEqual([head.at(-1)! + 1, head.at(-1)! + 2]);
    // Resume from the middle.
    for (let epoch = 1; epoch <= 3; epoch++) await recordEpoch(t.db, trial.id, epoch, { val_accuracy: epoch / 10 });
    const all = await sweepEventsAfter(t.db, sweep.id, 0);
    const resumed = await read(2, all.at(-1)!.id);
    expect(resumed).toEqual(all.filter((e) => e.id > 2).map((e) => e.id));
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/events`, { headers: { 'last-event-id': 'abc' } })).status).toBe(400);
  });

  it('checks a CSV of megabytes on a thread of its own: its shape stored, or its bad line named', async () => {
    const rows = Array.from({ length: 150_000 }, (_, i) => `${(i * 37) % 101},${(i % 7) / 4},${i % 2 === 0 ? 'even' : 'odd'}`);
    const big = `x1,x2,parity\n${rows.join('\n')}\n`;
    expect(big.length).toBeGreaterThan(CSV_THREAD_MIN_CHARS);
    const up = await t.request('/api/v1/datasets?name=big&labelColumn=parity&task=classification', { method: 'POST', body: big, headers: { 'content-type': 'text/csv' } });
    expect(up.status, await up.clone().text()).toBe(201);
    const info = DatasetInfo.parse(await up.json());
    expect(info).toMatchObject({ kind: 'csv', numClasses: 2, featureShape: [2] });
    const row = await t.db.dataset.findUniqueOrThrow({ where: { id: info.id }, select: { spec: true } });
    const sizes = (row.spec as { sizes: { train: number; test: number } }).sizes;
    expect(sizes.train + sizes.test).toBe(150_000);

    rows[140_000] = '7,seven,odd';
    const bad = await t.request('/api/v1/datasets?name=big-bad&labelColumn=parity&task=classification', { method: 'POST', body: `x1,x2,parity\n${rows.join('\n')}\n`, headers: { 'content-type': 'text/csv' } });
    expect(bad.status).toBe(400);
    expect(ApiError.parse(await bad.json()).error.details).toEqual([{ path: 'body (line 140002, column x2)', message: 'big-bad: line 140002, column "x2": feature "seven" is not a number' }]);
  });

  it('ends the parse of an upload whose client went away, and stores nothing of it', async () => {
    const rows = Array.from({ length: 600_000 }, (_, i) => `${(i * 37) % 101},${(i % 7) / 4},${i % 2 === 0 ? 'even' : 'odd'}`);
    const body = Buffer.from(`x1,x2,parity\n${rows.join('\n')}\n`);
    const url = new URL(t.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    socket.on('error', () => {});
    socket.write(`POST /api/v1/datasets?name=abandoned&labelColumn=parity&task=classification HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: text/csv\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
    // The API runs in this process: its parse thread is seen here.
    const abortedBefore = parseThreadsAborted();
    await sleepUntil(() => parseThreadsInUse() === 1, { timeoutMs: 30_000, intervalMs: 1, what: 'the upload to be parsing' });
    socket.destroy();
    await sleepUntil(() => parseThreadsAborted() === abortedBefore + 1 && parseThreadsInUse() === 0, { timeoutMs: 30_000, intervalMs: 5, what: 'the parse to be ended' });
    const later = await t.request('/api/v1/datasets?name=after-abandoned&labelColumn=x&task=classification', { method: 'POST', body: `a,x\n${Array.from({ length: 40 }, (_, i) => `${i},${i % 2}`).join('\n')}\n`, headers: { 'content-type': 'text/csv' } });
    expect(later.status).toBe(201);
    expect(await t.db.dataset.count({ where: { name: 'abandoned' } })).toBe(0);
  });

  it('lists built-in datasets, accepts a valid CSV upload and names the line of a broken one', async () => {
    const list = DatasetList.parse(await (await t.request('/api/v1/datasets')).json());
    expect(list.items.map((d) => d.id)).toEqual(expect.arrayContaining(['mnist', 'spirals']));
    const csv = 'x1,x2,label\n' + Array.from({ length: 60 }, (_, i) => `${i / 10},${(i * 7) % 5},${i % 3 === 0 ? 'a' : 'b'}`).join('\n');
    const up = await t.request('/api/v1/datasets?name=toy&labelColumn=label&task=classification', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });
    expect(up.status).toBe(201);
    const info = DatasetInfo.parse(await up.json());
    expect(info).toMatchObject({ kind: 'csv', numClasses: 2, featureShape: [2] });
    expect(DatasetInfo.parse(await (await t.request(`/api/v1/datasets/${info.id}`)).json()).name).toBe('toy');
    const dup = await t.request('/api/v1/datasets?name=toy&labelColumn=label&task=classification', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });
    expect(dup.status).toBe(409);
    const broken = await t.request('/api/v1/datasets?name=broken&labelColumn=label&task=classification', {
      method: 'POST',
      body: 'x1,label\n1,a\n2,"b\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(broken.status).toBe(400);
    const err = ApiError.parse(await broken.json());
    expect(err.error.details[0]?.path).toMatch(/line 3/);
    // A sweep can name the upload; an unknown id is refused at the field.
    const sweep = { ...spiralsSweep('csv'), dataset: { type: 'csv', id: info.id }, model: { inputShape: [2], layers: [{ type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' } };
    expect((await t.request('/api/v1/sweeps', { method: 'POST', json: sweep })).status).toBe(201);
    const missing = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...sweep, dataset: { type: 'csv', id: '00000000-0000-4000-8000-000000000000' } } });
    expect(missing.status).toBe(400);
    expect(ApiError.parse(await missing.json()).error.details[0]?.path).toBe('dataset.id');

    // Uploaded with no validation rows: a val_ objective or monitor could never be reported (every trial failed).
    const bare = await t.request('/api/v1/datasets?name=toy-no-val&labelColumn=label&task=classification&validationFraction=0', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });
    expect(bare.status).toBe(201);
    const onBare = { ...sweep, dataset: { type: 'csv', id: DatasetInfo.parse(await bare.json()).id } };
    const valObjective = await t.request('/api/v1/sweeps', { method: 'POST', json: onBare });
    expect(valObjective.status).toBe(400);
    expect(ApiError.parse(await valObjective.json()).error.details[0]).toMatchObject({ path: 'objective.metric', message: expect.stringMatching(/^val_accuracy needs a validation split/) });
    const monitor = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...onBare, objective: { metric: 'train_loss' }, training: { ...onBare.training, earlyStopping: { monitor: 'val_loss', patience: 2 } } } });
    expect(monitor.status).toBe(400);
    expect(ApiError.parse(await monitor.json()).error.details[0]?.path).toBe('training.earlyStopping.monitor');
    const trainObjective = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...onBare, objective: { metric: 'train_loss' } } });
    expect(trainObjective.status, await trainObjective.clone().text()).toBe(201);
  });

  it('mounts every documented route, serves the OpenAPI document, the cluster view and Prometheus metrics', async () => {
    const doc = (await (await t.request('/api/v1/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.1/);
    for (const route of API_ROUTES) {
      expect(doc.paths[route.path]?.[route.method], `${route.method} ${route.path}`).toBeDefined();
      // Every documented route answers something other than "no route".
      const path = route.path.replace('{sweepId}', '00000000-0000-4000-8000-000000000000').replace('{trialId}', '00000000-0000-4000-8000-000000000000').replace('{tokenId}', '00000000-0000-4000-8000-000000000000').replace('{datasetId}', 'mnist');
      if (path.endsWith('/events')) continue; // a stream; covered above
      const res = await t.request(path, { method: route.method.toUpperCase(), ...(route.method === 'post' ? { json: {} } : {}) });
      const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as { error?: { message: string } }) : {};
      expect(body.error?.message ?? '', `${route.method} ${route.path}`).not.toMatch(/^no route/);
    }
    const cluster = ClusterView.parse(await (await t.request('/api/v1/workers')).json());
    expect(cluster.workers).toEqual([]);
    const timed = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('timed') })).json());
    await setSweepStatus(t.db, timed.id, 'running');
    const trial = await createTrial(t.db, timed.id, { params: { learningRate: 0.01 } });
    await claimTrial(t.db, trial.id, 'w');
    await recordEpoch(t.db, trial.id, 1, { step_compute_ms: 12.5, step_reduce_ms: 0.25 });
    // A worker's heartbeat with its memory: the per-worker RSS gauge shows it.
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { role: 'queue' });
    const at = new Date().toISOString();
    await publishHeartbeat(redis, t.prefix, { workerId: 'w-mem', host: 'box', pid: 42, threads: 1, currentTrial: null, samplesPerSecond: 0, memory: { rssBytes: 123_456_789, heapUsedBytes: 9_999 }, startedAt: at, at }, 60_000);
    await redis.quit();
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^hypersweep_worker_rss_bytes\{worker="w-mem"\} 123456789$/m);
    expect(metrics).toMatch(/^hypersweep_step_ms\{part="compute"\} 12\.5$/m);
    expect(metrics).toMatch(/^hypersweep_step_ms\{part="reduce"\} 0\.25$/m);
    expect(metrics).toMatch(/^hypersweep_http_requests_total\{method="GET",route="\/api\/v1\/sweeps",status="200"\} \d+$/m);
    // Trials by state, read from the sweeps' counts, agree with a count of the trials themselves.
    for (const state of ['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'] as const) {
      const scraped = new RegExp(`^hypersweep_trials\\{state="${state}"\\} (\\d+)$`, 'm').exec(metrics)?.[1];
      expect(Number(scraped), state).toBe(await t.db.trial.count({ where: { status: state } }));
    }
    expect(Number(/^hypersweep_trials\{state="running"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^hypersweep_queue_jobs\{queue="sweeps",state="waiting"\} \d+$/m);
  });
});
