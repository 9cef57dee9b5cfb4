// Project quotas on real Postgres: they hold under concurrent submissions to two API replicas, a
// project at its running-trials quota starts nothing more until a slot frees, and storage past
// its quota is 413 naming the quota.
import { claimTrial, createProject, createTrial, finishTrial, setSweepStatus } from '@hypersweep/db';
import { createJsonLogger } from '@hypersweep/log';
import { ApiError } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningApi } from '../src/server.ts';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

describe('project quotas', () => {
  let t: TestApi;
  let replica: RunningApi;

  beforeAll(async () => {
    t = await startTestApi();
    replica = await startServer(t.api.deps.config, createJsonLogger({ level: 'error', fields: { service: 'api-replica' } }));
  }, 60_000);

  afterAll(async () => {
    await replica?.close();
    await t?.close();
  });

  const post = (base: string, path: string, json: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: JSON.stringify(json) });

  it('admits exactly maxActiveSweeps of 50 parallel submissions spread over two replicas; the rest get 429 naming the quota', async () => {
    await createProject(t.db, 'burst', { maxActiveSweeps: 7 });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(i % 2 === 0 ? t.url : replica.url, '/api/v1/sweeps?project=burst', spiralsSweep(`s${i}`))),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(43);
    const refused = answers.find((r) => r.status === 429)!;
    expect(ApiError.parse(await refused.json()).error).toMatchObject({ code: 'quota_exceeded', details: [{ path: 'quota.maxActiveSweeps' }] });
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'burst' } });
    expect(await t.db.sweep.count({ where: { projectId: project.id } })).toBe(7);
    // A paused sweep still counts; a slot frees when a sweep ends: the next submission is admitted.
    const [paused, one] = await t.db.sweep.findMany({ where: { projectId: project.id }, take: 2 });
    expect((await post(t.url, `/api/v1/sweeps/${paused!.id}/pause`, {})).status).toBe(200);
    expect((await post(replica.url, '/api/v1/sweeps?project=burst', spiralsSweep('while paused'))).status).toBe(429);
    expect((await post(t.url, `/api/v1/sweeps/${one!.id}/cancel`, {})).status).toBe(200);
    expect((await post(replica.url, '/api/v1/sweeps?project=burst', spiralsSweep('after'))).status).toBe(201);
  });

  it('starts no trial past maxRunningTrials, across sweeps and concurrent claims, and starts one when a slot frees', async () => {
    const project = await createProject(t.db, 'gpu', { maxRunningTrials: 2 });
    const trials = [];
    for (const name of ['a', 'b']) {
      const res = await post(t.url, '/api/v1/sweeps?project=gpu', spiralsSweep(name));
      const sweepId = ((await res.json()) as { id: string }).id;
      await setSweepStatus(t.db, sweepId, 'running');
      for (let i = 0; i < 3; i++) trials.push(await createTrial(t.db, sweepId, { params: { learningRate: 0.01 } }));
    }
    const claims = await Promise.all(trials.map((trial, i) => claimTrial(t.db, trial.id, `w${i}`)));
    const started = claims.filter((c) => c.changed);
    expect(started).toHaveLength(2);
    for (const c of claims.filter((c) => !c.changed)) expect(c.refusal?.quota).toBe('maxRunningTrials');
    const usage = await (await fetch(`${t.url}/api/v1/projects/gpu`, { headers: { authorization: `Bearer ${t.token}` } })).json();
    expect(usage).toMatchObject({ id: project.id, quotas: { maxRunningTrials: 2 }, usage: { runningTrials: 2, queuedTrials: 4 } });
    // Still full: a retried claim waits.
    const waiting = trials.find((trial) => !started.some((c) => c.row?.id === trial.id))!;
    expect((await claimTrial(t.db, waiting.id, 'again')).changed).toBe(false);
    await finishTrial(t.db, started[0]!.claim!, 'completed');
    const retried = await claimTrial(t.db, waiting.id, 'again');
    expect(retried.changed).toBe(true);
    expect(await t.db.trial.count({ where: { status: 'running', sweep: { projectId: project.id } } })).toBe(2);
  });

  it('refuses an upload past maxDatasetBytes with 413 naming the quota, and keeps nothing of it', async () => {
    await createProject(t.db, 'tiny', { maxDatasetBytes: 2_000 });
    const csv = (rows: number) => 'a,b,y\n' + Array.from({ length: rows }, (_, i) => `${i},${i % 3},${i % 2}`).join('\n');
    const upload = (name: string, rows: number) =>
      fetch(`${t.url}/api/v1/datasets?project=tiny&name=${name}&labelColumn=y&task=classification`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.token}`, 'content-type': 'text/csv' },
        body: csv(rows),
      });
    expect((await upload('first', 60)).status).toBe(201);
    const over = await upload('second', 400);
    expect(over.status).toBe(413);
    expect(ApiError.parse(await over.json()).error.details[0]?.path).toBe('quota.maxDatasetBytes');
    expect(await t.db.dataset.count({ where: { project: { name: 'tiny' } } })).toBe(1);
  });
});
