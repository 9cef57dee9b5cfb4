// The cached hot reads of a sweep on the real API: ETags and 304s, answers with every table they
// read locked (so: no query), fresh answers after each kind of change, the bound on staleness when
// a change notifies nothing, and the token's scope checked before any cached body is sent.
import { claimTrial, createApiToken, createProject, createTrial, recordEpoch, setSweepStatus } from '@hypersweep/db';
import { openSqlSession, type SqlSession } from '@hypersweep/db/testing';
import { createJsonLogger } from '@hypersweep/log';
import { sleepUntil } from '@hypersweep/queue/testing';
import { Sweep, SweepCurves, TrialPage } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventHub } from '../src/event-hub.ts';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

describe('cached sweep reads', () => {
  let t: TestApi;
  let sql: SqlSession;
  beforeAll(async () => {
    t = await startTestApi();
    sql = await openSqlSession(t.api.deps.config.databaseUrl);
  });
  afterAll(async () => {
    await sql?.close();
    await t?.close();
  });

  /** A running sweep with `n` trials, the first claimed with two epochs. */
  async function sweepWithTrials(name: string, n: number): Promise<{ id: string; trialIds: string[] }> {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(name) })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const trialIds: string[] = [];
    for (let i = 0; i < n; i++) trialIds.push((await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 * (i + 1) } })).id);
    await claimTrial(t.db, trialIds[0]!, 'w');
    for (const epoch of [1, 2]) await recordEpoch(t.db, trialIds[0]!, epoch, { val_accuracy: epoch / 10, val_loss: 1 / epoch });
    return { id: sweep.id, trialIds };
  }

  it('sends a strong ETag and answers If-None-Match with 304, and a changed sweep with its new body', async () => {
    const { id, trialIds } = await sweepWithTrials('etag', 3);
    const first = await t.request(`/api/v1/sweeps/${id}`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = Sweep.parse(await first.json());
    expect(body.counts).toMatchObject({ queued: 2, running: 1, total: 3 });
    expect(body.progress.epochsDone).toBe(2);

    const same = await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect(await same.text()).toBe('');
    // Weak comparison, as RFC 9110 asks of If-None-Match, and lists.
    expect((await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': `W/${etag}` } })).status).toBe(304);
    expect((await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': `"other", ${etag}` } })).status).toBe(304);
    expect((await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': '*' } })).status).toBe(304);
    expect((await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    expect((await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': etag.slice(0, -2) + '"' } })).status).toBe(200);

    // A worker's write (another connection, which notifies): the next reads see it, under a new ETag.
    await recordEpoch(t.db, trialIds[0]!, 3, { val_accuracy: 0.3, val_loss: 0.3 });
    const seen: Sweep[] = [];
    await sleepUntil(
      async () => {
        const res = await t.request(`/api/v1/sweeps/${id}`, { headers: { 'if-none-match': etag } });
        if (res.status === 200) seen.push(Sweep.parse(await res.json()));
        return res.status === 200;
      },
      { timeoutMs: 5_000, what: 'the sweep to change' },
    );
    expect(seen[0]!.progress.epochsDone).toBe(3);
    const now = await t.request(`/api/v1/sweeps/${id}`);
    expect(now.headers.get('etag')).not.toBe(etag);
  });

  it('answers repeated reads with no query: every table they read is locked meanwhile', async () => {
    const { id } = await sweepWithTrials('locked', 5);
    const paths = [`/api/v1/sweeps/${id}`, `/api/v1/sweeps/${id}/trials?limit=2&sort=bestValue&order=desc`, `/api/v1/sweeps/${id}/curves?names=val_loss&maxPoints=10`];
    // Entries live a second: a round slower than that (a loaded machine) proves nothing and is run again.
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      const warm = await Promise.all(paths.map(async (path) => ({ path, res: await t.request(path) })));
      const tags = warm.map(({ res }) => res.headers.get('etag')!);
      const bodies = await Promise.all(warm.map(({ res }) => res.text()));
      await sql.query('BEGIN');
      try {
        await sql.query('LOCK TABLE sweeps, trials, metrics, sweep_events, api_tokens, token_grants, projects IN ACCESS EXCLUSIVE MODE');
        if (Date.now() - started > 500 && attempt < 5) continue;
        const signal = AbortSignal.timeout(5_000);
        for (const [i, path] of paths.entries()) {
          const again = await t.request(path, { signal });
          expect(again.status, path).toBe(200);
          expect(await again.text(), path).toBe(bodies[i]);
          expect((await t.request(path, { headers: { 'if-none-match': tags[i]! }, signal })).status, path).toBe(304);
        }
        // A read that is not cached waits for the lock: the lock does hold queries back.
        const uncached = t.request(`/api/v1/sweeps/${id}/trials?limit=3`);
        await sleepUntil(
          async () => (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).length > 0,
          { timeoutMs: 5_000, what: 'the uncached read to wait for the lock' },
        );
        await sql.query('ROLLBACK');
        expect((await uncached).status).toBe(200);
        break;
      } finally {
        await sql.query('ROLLBACK');
      }
    }
  });

  it('pages of trials and curves follow every change of the sweep', async () => {
    const { id, trialIds } = await sweepWithTrials('pages', 4);
    const page = `/api/v1/sweeps/${id}/trials?limit=10`;
    const first = await t.request(page);
    const etag = first.headers.get('etag')!;
    expect(TrialPage.parse(await first.json()).items.map((trial) => trial.status)).toEqual(['running', 'queued', 'queued', 'queued']);
    expect((await t.request(page, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const curves = SweepCurves.parse(await (await t.request(`/api/v1/sweeps/${id}/curves?names=val_loss`)).json());
    expect(curves.trials.find((c) => c.trialId === trialIds[0])!.series[0]!.points).toHaveLength(2);

    await claimTrial(t.db, trialIds[1]!, 'w');
    await recordEpoch(t.db, trialIds[0]!, 3, { val_accuracy: 0.5, val_loss: 0.2 });
    await sleepUntil(
      async () => {
        const now = TrialPage.parse(await (await t.request(page)).json());
        return now.items[1]!.status === 'running' && now.items[0]!.epochsDone === 3;
      },
      { timeoutMs: 5_000, what: 'the page to show the claim and the epoch' },
    );
    const after = await t.request(page, { headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    const updated = SweepCurves.parse(await (await t.request(`/api/v1/sweeps/${id}/curves?names=val_loss`)).json());
    expect(updated.trials.find((c) => c.trialId === trialIds[0])!.series[0]!.points).toHaveLength(3);
    expect(updated.lastEventId).toBeGreaterThan(curves.lastEventId);

    // A cursor the listing cannot continue is still a 400, and never kept.
    expect((await t.request(`/api/v1/sweeps/${id}/trials?sort=number&cursor=eyJ4IjoxfQ`)).status).toBe(400);
  });

  it('serves a change that notifies nothing within about a second', async () => {
    const { id, trialIds } = await sweepWithTrials('silent', 2);
    const before = Sweep.parse(await (await t.request(`/api/v1/sweeps/${id}`)).json());
    expect(before.counts.failed).toBe(0);
    // Plain SQL: the triggers count it, but no event, so no notification.
    await sql.query(`UPDATE trials SET status = 'failed' WHERE id = $1`, [trialIds[1]]);
    const changedAt = Date.now();
    await sleepUntil(async () => Sweep.parse(await (await t.request(`/api/v1/sweeps/${id}`)).json()).counts.failed === 1, {
      timeoutMs: 5_000,
      what: 'the silent change to show',
    });
    // The bound is one second from the read that was cached; the rest is slack for a busy machine.
    expect(Date.now() - changedAt).toBeLessThan(2_500);
  });

  it('a cancel through this API is seen by the next read at once', async () => {
    const { id } = await sweepWithTrials('cancel', 3);
    expect(Sweep.parse(await (await t.request(`/api/v1/sweeps/${id}`)).json()).status).toBe('running');
    expect((await t.request(`/api/v1/sweeps/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    const after = Sweep.parse(await (await t.request(`/api/v1/sweeps/${id}`)).json());
    expect(after).toMatchObject({ status: 'cancelled', counts: { queued: 0, cancelled: 2 } });
  });

  it("checks the token's scope before a cached body or a 304 is sent", async () => {
    const { id } = await sweepWithTrials('scoped', 2);
    const project = await createProject(t.db, 'elsewhere');
    const { token } = await createApiToken(t.db, { name: 'elsewhere-reader', grants: [{ projectId: project.id, role: 'read' }] });
    const paths = [`/api/v1/sweeps/${id}`, `/api/v1/sweeps/${id}/trials`, `/api/v1/sweeps/${id}/curves`];
    for (const path of paths) {
      const warm = await t.request(path);
      expect(warm.status, path).toBe(200);
      const etag = warm.headers.get('etag')!;
      for (const headers of [{}, { 'if-none-match': etag }] as Record<string, string>[]) {
        const res = await t.request(path, { headers: { ...headers, authorization: `Bearer ${token}` } });
        expect(res.status, path).toBe(404);
        // Whatever the error answer carries, it is not the sweep's ETag (nor a 304 that would confirm it).
        expect(res.headers.get('etag'), path).not.toBe(etag);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body, path).toMatchObject({ error: { code: 'not_found' } });
        expect(Object.keys(body), path).toEqual(['error']);
      }
    }
  });
});

describe('the event hub tells watchers of every sweep', () => {
  it('calls changed for each notification and reset when its connection is lost', async () => {
    const t = await startTestApi();
    const hub = await createEventHub(t.api.deps.config.databaseUrl, createJsonLogger({ level: 'error', fields: { service: 'hub-test' } }));
    const sql = await openSqlSession(t.api.deps.config.databaseUrl);
    try {
      const changed: string[] = [];
      let resets = 0;
      const stop = hub.watchAll({ changed: (sweepId) => changed.push(sweepId), reset: () => resets++ });
      const sweepId = '00000000-0000-4000-8000-0000000000aa';
      await sql.query(`SELECT pg_notify('hypersweep_sweep_events', $1)`, [`${sweepId}:7`]);
      await sleepUntil(() => changed.includes(sweepId), { timeoutMs: 5_000, what: 'the notification' });
      // Both LISTEN connections of this database (the API's and this hub's) are cut: the hub reconnects and resets.
      await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      await sleepUntil(() => resets >= 1, { timeoutMs: 10_000, what: 'a reset after the lost connection' });
      stop();
      const seen = changed.length;
      // The hub's SSE side hears notifications again once it has reconnected; the unsubscribed watcher does not.
      let woken = false;
      const unsubscribe = hub.subscribe(sweepId, () => (woken = true));
      let n = 8;
      await sleepUntil(
        async () => {
          await sql.query(`SELECT pg_notify('hypersweep_sweep_events', $1)`, [`${sweepId}:${n++}`]);
          return woken;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the reconnected hub to hear a notification' },
      );
      unsubscribe();
      expect(changed.length).toBe(seen);
    } finally {
      await sql.close();
      await hub.close();
      await t.close();
    }
  });
});
