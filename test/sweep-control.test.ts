// Control of a running sweep on a real stack (API and worker processes, Postgres, Redis): pause
// checkpoints and releases every running trial and starts nothing, resume completes the sweep with
// each epoch trained once; the budget is raised and lowered while it runs; enqueued configurations
// train with exactly their parameters; an ended trial keeps ≤ 2 checkpoints; delete leaves no row.
import { createQueues } from '@hypersweep/queue';
import { sleepUntil } from '@hypersweep/queue/testing';
import { ApiError, type Sweep, type Trial } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics, spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

const ended = (s: Sweep) => ['completed', 'failed', 'cancelled'].includes(s.status);

describe('control of a running sweep', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'control', workers: 2, threads: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (path: string, json?: unknown) => stack.request(path, { method: 'POST', ...(json === undefined ? {} : { json }) });
  const running = async (sweepId: string): Promise<Trial[]> => (await allTrials(stack, sweepId)).filter((t) => t.status === 'running');

  it('pause: running trials checkpoint and release within 10 s and nothing starts; resume completes every epoch exactly once', async () => {
    const EPOCHS = 30;
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name: 'pause', count: 40_000, epochs: EPOCHS, maxTrials: 4, concurrency: 2 }) });
    await sleepUntil(async () => (await running(sweep.id)).filter((t) => t.epochsDone >= 1).length === 2, { timeoutMs: 60_000, what: 'two trials past their first epoch' });
    const training = new Set((await running(sweep.id)).map((t) => t.id));

    const pausedAt = Date.now();
    const res = await post(`/api/v1/sweeps/${sweep.id}/pause`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Sweep).status).toBe('paused');
    const seqAtPause = (await stack.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } })).eventSeq;
    await sleepUntil(async () => (await running(sweep.id)).length === 0, { timeoutMs: 10_000, intervalMs: 50, what: 'every running trial released' });
    expect(Date.now() - pausedAt).toBeLessThanOrEqual(10_000);

    // Released, not ended: queued with their epochs, each resumable from its last epoch's checkpoint.
    const released = (await allTrials(stack, sweep.id)).filter((t) => training.has(t.id));
    expect(released).toHaveLength(2);
    // Each release is a trial.queued event naming the trial and the epochs it keeps.
    const queuedEvents = await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id, type: 'trial.queued' } });
    expect(queuedEvents.map((e) => (e.data as { trialId: string }).trialId).sort()).toEqual([...training].sort());
    for (const t of released) {
      expect(t.status).toBe('queued');
      const latest = await stack.db.checkpoint.findFirst({ where: { trialId: t.id }, orderBy: { epoch: 'desc' } });
      expect(latest?.epoch).toBe(t.epochsDone);
      expect(queuedEvents.find((e) => (e.data as { trialId: string }).trialId === t.id)?.data).toMatchObject({ epochsDone: t.epochsDone });
    }
    // Every queued trial's job has been looked at by a worker since the pause and put back to wait.
    const queues = createQueues({ connection: stack.redis, prefix: stack.prefix });
    const queued = (await allTrials(stack, sweep.id)).filter((t) => t.status === 'queued');
    await sleepUntil(
      async () => (await Promise.all(queued.map((t) => queues.trialJobState(t.id, Math.max(t.attempt, 1))))).every((state) => state === 'delayed'),
      { timeoutMs: 10_000, what: 'the paused trials’ jobs deferred by the workers' },
    );
    expect((await startedEvents(stack.db, sweep.id)).filter((e) => e.id > seqAtPause)).toEqual([]);
    expect(await running(sweep.id)).toEqual([]);
    const control = await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id, type: 'sweep.control' } });
    expect(control.map((e) => (e.data as { action: string }).action)).toEqual(['paused']);

    expect((await post(`/api/v1/sweeps/${sweep.id}/pause`)).status).toBe(409);
    const resumed = await post(`/api/v1/sweeps/${sweep.id}/resume`);
    expect(resumed.status).toBe(200);
    const done = await stack.waitForSweep<Sweep>(sweep.id, ended, 'the resumed sweep to finish', 120_000);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ total: 4, completed: 4 });
    const trials = await allTrials(stack, sweep.id);
    expect(trials.every((t) => t.epochsDone === EPOCHS)).toBe(true);
    await expectCompleteMetrics(stack.db, trials);
    // Retention: an ended trial keeps its latest checkpoint and its best epoch's, nothing else.
    let stored = 0;
    for (const t of trials) {
      const epochs = (await stack.db.checkpoint.findMany({ where: { trialId: t.id }, select: { epoch: true } })).map((c) => c.epoch);
      const values = await stack.db.metric.findMany({ where: { trialId: t.id, name: 'val_accuracy' }, orderBy: [{ value: 'desc' }, { step: 'desc' }], take: 1 });
      expect(epochs.length).toBeLessThanOrEqual(2);
      expect(epochs).toContain(EPOCHS);
      expect(epochs).toContain(values[0]!.step);
      stored += epochs.length;
    }
    const storage = await stack.json<{ checkpoints: number; checkpointBytes: number; metrics: number }>(`/api/v1/sweeps/${sweep.id}/storage`);
    expect(storage.checkpoints).toBe(stored);
    expect(storage.checkpointBytes).toBeGreaterThan(0);
    // The released trials went on from their checkpoints.
    const after = (await startedEvents(stack.db, sweep.id)).filter((e) => e.id > seqAtPause);
    for (const t of released) expect(after.find((e) => e.trialId === t.id)?.resumedFromEpoch).toBe(t.epochsDone);
  }, 240_000);

  it("a project at its running-trials quota runs one trial at a time on two free workers, and the sweep completes (the others wait, not fail)", async () => {
    const created = await stack.request('/api/v1/projects', { method: 'POST', json: { name: 'one-slot', quotas: { maxRunningTrials: 1 } } });
    expect(created.status).toBe(201);
    const sweep = await stack.json<Sweep>('/api/v1/sweeps?project=one-slot', { method: 'POST', json: spiralsSweep({ name: 'quota', count: 8000, epochs: 4, maxTrials: 4, concurrency: 2 }) });
    const done = await stack.waitForSweep<Sweep>(sweep.id, ended, 'the quota-bound sweep to finish', 120_000);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ total: 4, completed: 4, failed: 0 });
    // The claims' intervals (trial.started to the trial's end) never overlap.
    const trials = await stack.db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { startedAt: 'asc' } });
    for (let i = 1; i < trials.length; i++) expect(trials[i]!.startedAt!.getTime()).toBeGreaterThanOrEqual(trials[i - 1]!.finishedAt!.getTime());
  }, 180_000);

  it('PATCH raises and lowers maxTrials while the sweep runs; enqueued configurations train with exactly their parameters; delete leaves no row', async () => {
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name: 'budget', count: 20_000, epochs: 5, maxTrials: 2, concurrency: 1 }) });
    await sleepUntil(async () => (await running(sweep.id)).length === 1, { timeoutMs: 60_000, what: 'a running trial' });

    const raised = await stack.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: 6 } } });
    expect(raised.status).toBe(200);
    expect(((await raised.json()) as Sweep).spec.search.budget.maxTrials).toBe(6);

    const outside = await post(`/api/v1/sweeps/${sweep.id}/trials`, { params: [{ learningRate: 0.05 }, { learningRate: 7 }] });
    expect(outside.status).toBe(400);
    expect(ApiError.parse(await outside.json()).error.details[0]?.path).toBe('params[1].learningRate');
    const mine = [{ learningRate: 0.0123 }, { learningRate: 0.0456 }];
    const enqueued = await post(`/api/v1/sweeps/${sweep.id}/trials`, { params: mine });
    expect(enqueued.status).toBe(201);
    const ids = ((await enqueued.json()) as { items: Trial[] }).items.map((t) => t.id);
    expect(ids).toHaveLength(2);

    const created = (await allTrials(stack, sweep.id)).length;
    const tooLow = await stack.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: created - 1 } } });
    expect(tooLow.status).toBe(400);
    expect(ApiError.parse(await tooLow.json()).error.details[0]?.path).toBe('budget.maxTrials');
    // Lowered to what it has: no trial is created past it.
    expect((await stack.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: created } } })).status).toBe(200);
    expect((await stack.request(`/api/v1/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(409);

    const done = await stack.waitForSweep<Sweep>(sweep.id, ended, 'the budgeted sweep to finish', 120_000);
    expect(done.status).toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    expect(trials).toHaveLength(created);
    for (const [i, id] of ids.entries()) {
      const t = trials.find((x) => x.id === id)!;
      expect(t.params).toEqual(mine[i]);
      expect(t).toMatchObject({ status: 'completed', epochsDone: 5 });
    }
    const actions = (await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id, type: 'sweep.control' }, orderBy: { seq: 'asc' } })).map((e) => (e.data as { action: string }).action);
    expect(actions).toEqual(['budget', 'enqueued', 'budget']);

    expect((await stack.request(`/api/v1/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(204);
    const trialIds = trials.map((t) => t.id);
    expect(await stack.db.sweep.count({ where: { id: sweep.id } })).toBe(0);
    expect(await stack.db.trial.count({ where: { sweepId: sweep.id } })).toBe(0);
    expect(await stack.db.metric.count({ where: { trialId: { in: trialIds } } })).toBe(0);
    expect(await stack.db.checkpoint.count({ where: { trialId: { in: trialIds } } })).toBe(0);
    expect(await stack.db.sweepEventRow.count({ where: { sweepId: sweep.id } })).toBe(0);
    expect((await stack.request(`/api/v1/sweeps/${sweep.id}`)).status).toBe(404);
  }, 240_000);
});
