// The control routes' answers without workers: a paused sweep takes configurations, a budget that
// would make the sweep invalid or go below what it has is refused naming the field, an unknown
// parameter or a configuration whose spec the engine refuses is named, only an ended sweep is
// deleted, and concurrent additions keep to the budget.
import { deleteSweep } from '@hypersweep/db';
import { ApiError, Sweep } from '@hypersweep/schemas';
import { sleepUntil } from '@hypersweep/queue/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

describe('sweep control routes', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  const detailPath = async (res: Response) => ApiError.parse(await res.json()).error.details[0]?.path;

  it('refuses a configuration inside the space whose spec the engine refuses, naming it, and stores none of the request', async () => {
    // Each choice passes at the corners (one parameter moved at a time, then all at their last);
    // the pair batchSize 4, microbatches 8 alone breaks "microbatches ≤ batchSize".
    const body = spiralsSweep('unbuildable pair');
    const templated = (space: Record<string, unknown>) => ({
      ...body,
      training: { ...body.training, batchSize: { $param: 'bs' }, microbatches: { $param: 'mb' } },
      search: { space, budget: { maxTrials: 5 } },
    });
    // A small space is checked at every combination of its choices when submitted.
    const small = await t.request('/api/v1/sweeps', { method: 'POST', json: templated({ bs: { type: 'categorical', choices: [16, 4, 8] }, mb: { type: 'categorical', choices: [1, 8, 2] } }) });
    expect(small.status).toBe(400);
    expect(ApiError.parse(await small.json()).error.details[0]).toEqual({ path: 'training.microbatches', message: 'must be ≤ batchSize (4), got 8 (when bs = 4, mb = 8): a trial drawn there could not train' });
    // One of more than 256 combinations is checked at its corners only; a configuration added by hand is checked itself.
    const bs = [16, 4, ...Array.from({ length: 15 }, (_, i) => 20 + 4 * i)];
    const mb = [1, 8, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16];
    expect(bs.length * mb.length).toBeGreaterThan(256);
    const created = await t.request('/api/v1/sweeps', { method: 'POST', json: templated({ bs: { type: 'categorical', choices: bs }, mb: { type: 'categorical', choices: mb } }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const sweep = Sweep.parse(await created.json());
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/pause`, { method: 'POST' })).status).toBe(200);
    const before = await t.db.trial.count({ where: { sweepId: sweep.id } });

    const refused = await t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ bs: 20, mb: 2 }, { bs: 4, mb: 8 }] } });
    expect(refused.status).toBe(400);
    const error = ApiError.parse(await refused.json()).error;
    expect(error.code).toBe('invalid_request');
    expect(error.details).toEqual([{ path: 'params[1]', message: 'makes a trial spec the engine refuses: training.microbatches: must be ≤ batchSize (4), got 8' }]);
    expect(await t.db.trial.count({ where: { sweepId: sweep.id } })).toBe(before);

    const added = await t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ bs: 16, mb: 8 }] } });
    expect(added.status).toBe(201);
    expect(await t.db.trial.count({ where: { sweepId: sweep.id } })).toBe(before + 1);
  });

  it('pauses, takes configurations while paused, refuses bad ones and bad budgets by field, resumes, deletes only when ended', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('control') })).json());
    const paused = await t.request(`/api/v1/sweeps/${sweep.id}/pause`, { method: 'POST' });
    expect(Sweep.parse(await paused.json()).status).toBe('paused');

    const added = await t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ learningRate: 0.01 }] } });
    expect(added.status).toBe(201);
    const unknown = await t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ lr: 0.01 }] } });
    expect(unknown.status).toBe(400);
    expect(await detailPath(unknown)).toBe('params[0].lr');
    const full = await t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ learningRate: 0.02 }, { learningRate: 0.03 }, { learningRate: 0.04 }] } });
    expect(full.status).toBe(409);
    expect(await detailPath(full)).toBe('budget.maxTrials');

    // Below training.epochs (3): no trial could train to its end.
    const epochs = await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTotalEpochs: 2 } } });
    expect(epochs.status).toBe(400);
    expect(await detailPath(epochs)).toBe('budget.maxTotalEpochs');
    const empty = await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: {} } });
    expect(empty.status).toBe(400);
    const raised = await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: 5, maxTotalEpochs: 30 } } });
    expect(Sweep.parse(await raised.json()).spec.search.budget).toMatchObject({ maxTrials: 5, maxTotalEpochs: 30 });
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`)).status).toBe(200);

    expect((await t.request(`/api/v1/sweeps/${sweep.id}/resume`, { method: 'POST' })).status).toBe(200);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/resume`, { method: 'POST' })).status).toBe(409);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/pause`, { method: 'POST' })).status).toBe(409);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: 9 } } })).status).toBe(409);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await t.db.trial.count({ where: { sweepId: sweep.id } })).toBe(0);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(404);
    // Gone for every route, as a sweep that never existed (some answered 409 "gone", or an empty 200);
    // below, also when another replica deleted it and this one still remembers its project.
    for (const [method, path] of [
      ['GET', ''],
      ['GET', '/trials'],
      ['GET', '/storage'],
      ['GET', '/curves'],
      ['POST', '/pause'],
      ['POST', '/resume'],
      ['POST', '/cancel'],
    ] as const) {
      const res = await t.request(`/api/v1/sweeps/${sweep.id}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await detailPath(res), `${method} ${path}`).toBe('sweepId');
    }
    const elsewhere = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('deleted elsewhere') })).json());
    expect((await t.request(`/api/v1/sweeps/${elsewhere.id}/cancel`, { method: 'POST' })).status).toBe(200);
    // This replica reads it (and remembers its project), then another deletes it.
    expect((await t.request(`/api/v1/sweeps/${elsewhere.id}/trials`)).status).toBe(200);
    expect((await deleteSweep(t.db, elsewhere.id)).deleted).toBe(true);
    await sleepUntil(async () => (await t.request(`/api/v1/sweeps/${elsewhere.id}/trials`)).status === 404, { timeoutMs: 5_000, intervalMs: 100, what: 'the cached page of the deleted sweep to lapse' });
    for (const [method, path] of [
      ['GET', '/storage'],
      ['POST', '/pause'],
      ['POST', '/resume'],
      ['POST', '/cancel'],
    ] as const) {
      const res = await t.request(`/api/v1/sweeps/${elsewhere.id}${path}`, { method });
      expect(res.status, `elsewhere: ${method} ${path}`).toBe(404);
      expect(await detailPath(res), `elsewhere: ${method} ${path}`).toBe('sweepId');
    }
  });

  it('never passes maxTrials with concurrent additions, and stores all or none of an addition a cancel races', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('racing adds') })).json());
    expect((await t.request(`/api/v1/sweeps/${sweep.id}/pause`, { method: 'POST' })).status).toBe(200);
    expect((await t.request(`/api/v1/sweeps/${sweep.id}`, { method: 'PATCH', json: { budget: { maxTrials: 5 } } })).status).toBe(200);
    // Twelve at once: counted, then created, each outside a lock, all twelve once got a 201.
    const adds = await Promise.all(
      Array.from({ length: 12 }, (_, i) => t.request(`/api/v1/sweeps/${sweep.id}/trials`, { method: 'POST', json: { params: [{ learningRate: 0.01 + i / 1000 }] } })),
    );
    expect(adds.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = adds.filter((r) => r.status !== 201);
    expect(refused.map((r) => r.status)).toEqual(Array(7).fill(409));
    for (const r of refused) expect(await detailPath(r)).toBe('budget.maxTrials');
    expect(await t.db.trial.count({ where: { sweepId: sweep.id } })).toBe(5);

    // The delays are the race itself: each sends the cancel at another point of the addition
    // (before it, inside its transaction, after it); either order must leave all or none.
    for (const delayMs of [0, 5, 20, 60]) {
      const racing = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(`cancel race ${delayMs}`) })).json());
      expect((await t.request(`/api/v1/sweeps/${racing.id}/pause`, { method: 'POST' })).status).toBe(200);
      expect((await t.request(`/api/v1/sweeps/${racing.id}`, { method: 'PATCH', json: { budget: { maxTrials: 100 } } })).status).toBe(200);
      const params = Array.from({ length: 100 }, (_, i) => ({ learningRate: 0.001 + i / 10_000 }));
      const add = t.request(`/api/v1/sweeps/${racing.id}/trials`, { method: 'POST', json: { params } });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const cancel = await t.request(`/api/v1/sweeps/${racing.id}/cancel`, { method: 'POST' });
      expect(cancel.status).toBe(200);
      const added = await add;
      // Either the addition came first (all 100 stored, then cancelled) or the cancel did (none).
      expect([201, 409]).toContain(added.status);
      expect(await t.db.trial.count({ where: { sweepId: racing.id } })).toBe(added.status === 201 ? 100 : 0);
    }
  });
});
