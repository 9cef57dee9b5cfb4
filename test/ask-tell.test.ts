// Ask/tell end to end (docs/ask-tell.md): loops outside the workers lease the trials of an
// external sweep through the API. Concurrent askers never share a trial; ASHA's stop comes back
// as the answer to a report; a lapsed lease is retried (its steps kept) and then failed; a report
// on a lost lease gets a 409, as do all but one of concurrent reports of a step; a paused sweep
// hands out no trial until it is resumed.
import type { AskResponse, ReportResponse, Sweep, Trial } from '@hypersweep/schemas';
import { sleepUntil } from '@hypersweep/queue/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

const FINISHED = ['completed', 'failed', 'cancelled'];

describe('ask/tell', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'ask-tell', workers: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const submit = async (body: object): Promise<Sweep> => {
    const res = await stack.request('/api/v1/sweeps', { method: 'POST', json: body });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Sweep;
  };
  const ask = async (sweepId: string): Promise<AskResponse | null> => {
    const res = await stack.request(`/api/v1/sweeps/${sweepId}/ask`, { method: 'POST', json: {} });
    if (res.status === 204) return null;
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as AskResponse;
  };
  /** Asks until a trial comes (the sweep's advance creates them on a worker). */
  const askPatiently = async (sweepId: string): Promise<AskResponse> => {
    let got: AskResponse | null = null;
    await sleepUntil(async () => (got = await ask(sweepId)) !== null, { timeoutMs: 30_000, intervalMs: 100, what: 'a trial to lease' });
    return got!;
  };
  const post = (path: string, json: object) => stack.request(path, { method: 'POST', json });
  const trialOf = async (sweepId: string, trialId: string): Promise<Trial> => (await allTrials(stack, sweepId)).find((t) => t.id === trialId)!;

  it('never gives one trial to two concurrent askers', async () => {
    const sweep = await submit({ name: 'concurrent askers', external: { maxSteps: 2, leaseSeconds: 60 }, search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, budget: { maxTrials: 6, maxConcurrentTrials: 6 } }, objective: { metric: 'loss' } });
    await sleepUntil(async () => (await allTrials(stack, sweep.id)).length === 6, { timeoutMs: 30_000, intervalMs: 100, what: 'the six trials' });
    const leased: AskResponse[] = [];
    for (let round = 0; round < 3 && leased.length < 6; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => ask(sweep.id)));
      leased.push(...answers.filter((a): a is AskResponse => a !== null));
    }
    expect(leased).toHaveLength(6);
    expect(new Set(leased.map((a) => a.trial.id)).size).toBe(6);
    expect(new Set(leased.map((a) => a.lease.id)).size).toBe(6);
    for (const a of leased) expect(a.trial).toMatchObject({ attempt: 1, startStep: 0 });
    expect(await ask(sweep.id)).toBeNull();
    const trials = await allTrials(stack, sweep.id);
    expect(trials.every((t) => t.status === 'running' && t.workerId === `lease-${leased.find((a) => a.trial.id === t.id)!.lease.id}`)).toBe(true);
  });

  it('answers a report with ASHA\'s stop, and the sweep completes with its best trial', async () => {
    const sweep = await submit({
      name: 'asha over ask/tell',
      external: { maxSteps: 4, leaseSeconds: 60 },
      search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, scheduler: { type: 'asha', minResource: 1, reductionFactor: 2 }, budget: { maxTrials: 8, maxConcurrentTrials: 1 }, seed: 7 },
      objective: { metric: 'loss' },
    });
    const stops: { trialId: string; reason: string }[] = [];
    for (let n = 0; n < 8; n++) {
      const { trial, lease } = await askPatiently(sweep.id);
      const x = trial.params['x'] as number;
      for (let step = trial.startStep + 1; step <= 4; step++) {
        const res = await post(`/api/v1/sweeps/${sweep.id}/trials/${trial.id}/report`, { leaseId: lease.id, step, metrics: { loss: (x - 0.3) ** 2 + 1 / step } });
        expect(res.status, await res.clone().text()).toBe(200);
        const answer = (await res.json()) as ReportResponse;
        if (answer.decision === 'stop') {
          if (step < 4) stops.push({ trialId: trial.id, reason: answer.reason ?? '' });
          break;
        }
      }
      const told = await post(`/api/v1/sweeps/${sweep.id}/trials/${trial.id}/tell`, { leaseId: lease.id, status: 'completed' });
      expect(told.status, await told.clone().text()).toBe(200);
    }
    expect(stops.length, 'ASHA stopped some trials').toBeGreaterThan(0);
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => FINISHED.includes(s.status), 'the sweep to finish');
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    for (const stop of stops) {
      const t = trials.find((x) => x.id === stop.trialId)!;
      expect(t.status).toBe('stopped');
      expect(t.reason).toBe(stop.reason);
      expect(stop.reason).toMatch(/^asha stopped it/);
    }
    const values = trials.flatMap((t) => (t.finalValue === null ? [] : [t.finalValue]));
    expect(done.best?.value).toBe(Math.min(...values));
  });

  it('retries a trial whose lease lapsed (its steps kept), refuses the stale holder with 409, and fails it after maxAttempts', async () => {
    const sweep = await submit({ name: 'lapses', external: { maxSteps: 5, leaseSeconds: 5, maxAttempts: 2 }, search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, budget: { maxTrials: 1 } }, objective: { metric: 'loss' } });
    const first = await askPatiently(sweep.id);
    const report = (lease: string, step: number) => post(`/api/v1/sweeps/${sweep.id}/trials/${first.trial.id}/report`, { leaseId: lease, step, metrics: { loss: 1 / step } });
    expect((await report(first.lease.id, 1)).status).toBe(200);
    // Heartbeats keep the lease past its 5 s.
    for (let i = 0; i < 4; i++) {
      const beat = await post(`/api/v1/sweeps/${sweep.id}/trials/${first.trial.id}/heartbeat`, { leaseId: first.lease.id });
      expect(beat.status, await beat.clone().text()).toBe(200);
      await new Promise((r) => setTimeout(r, 2_000));
    }
    expect((await report(first.lease.id, 2)).status).toBe(200);
    // Silence: the lease lapses and the reconciler queues the trial again.
    await sleepUntil(async () => (await trialOf(sweep.id, first.trial.id)).status === 'queued', { timeoutMs: 20_000, intervalMs: 250, what: 'the lapsed trial to be queued again' });
    const stale = await report(first.lease.id, 3);
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('conflict');

    const second = await askPatiently(sweep.id);
    expect(second.trial).toMatchObject({ id: first.trial.id, attempt: 2, startStep: 2 });
    const again = await report(second.lease.id, 2);
    expect(again.status, 'a stored step is refused').toBe(409);
    expect((await report(second.lease.id, 3)).status).toBe(200);
    await sleepUntil(async () => (await trialOf(sweep.id, first.trial.id)).status === 'failed', { timeoutMs: 20_000, intervalMs: 250, what: 'the trial to fail after its second lapse' });
    const failed = await trialOf(sweep.id, first.trial.id);
    expect(failed.error).toMatch(/lease lapsed on attempt 2 of 2/);
    const rows = await stack.db.metric.findMany({ where: { trialId: failed.id, name: 'loss' }, orderBy: { step: 'asc' }, select: { step: true } });
    expect(rows.map((r) => r.step)).toEqual([1, 2, 3]);
  });

  it('stores exactly one of concurrent reports of the same step; the others get 409 naming the step', async () => {
    const sweep = await submit({ name: 'racing reports', external: { maxSteps: 3, leaseSeconds: 60 }, search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, budget: { maxTrials: 1 } }, objective: { metric: 'loss' } });
    const got = await askPatiently(sweep.id);
    const values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    // Checked before the locks only, all six once got a 200, and the stream told another value than the one stored.
    const answers = await Promise.all(values.map((loss) => post(`/api/v1/sweeps/${sweep.id}/trials/${got.trial.id}/report`, { leaseId: got.lease.id, step: 1, metrics: { loss } })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(values.length - 1);
    for (const r of answers.filter((a) => a.status === 409)) {
      expect(((await r.json()) as { error: { details: { path: string }[] } }).error.details.map((d) => d.path)).toContain('step');
    }
    const stored = values[statuses.indexOf(200)]!;
    const rows = await stack.db.metric.findMany({ where: { trialId: got.trial.id, name: 'loss' }, select: { step: true, value: true } });
    expect(rows).toEqual([{ step: 1, value: stored }]);
    const events = await stack.db.sweepEventRow.findMany({ where: { sweepId: sweep.id, type: 'trial.epoch' }, select: { data: true } });
    expect(events.map((e) => (e.data as { metrics: { loss: number } }).metrics.loss)).toEqual([stored]);
    expect((await post(`/api/v1/sweeps/${sweep.id}/trials/${got.trial.id}/tell`, { leaseId: got.lease.id, status: 'completed' })).status).toBe(200);
  });

  it('ends the leased trials of a cancelled sweep: heartbeat and report get 409, tell answers the trial as it ended', async () => {
    const sweep = await submit({ name: 'cancelled leases', external: { maxSteps: 5, leaseSeconds: 60 }, search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, budget: { maxTrials: 2 } }, objective: { metric: 'loss' } });
    const got = await askPatiently(sweep.id);
    const trialPath = `/api/v1/sweeps/${sweep.id}/trials/${got.trial.id}`;
    expect((await post(`${trialPath}/report`, { leaseId: got.lease.id, step: 1, metrics: { loss: 0.5 } })).status).toBe(200);
    expect((await post(`/api/v1/sweeps/${sweep.id}/cancel`, {})).status).toBe(200);
    // Heartbeats and reports once went on into the cancelled sweep, and the trial was queued again when they stopped.
    const beat = await post(`${trialPath}/heartbeat`, { leaseId: got.lease.id });
    expect(beat.status).toBe(409);
    expect(((await beat.json()) as { error: { details: { path: string }[] } }).error.details[0]!.path).toBe('leaseId');
    expect((await post(`${trialPath}/report`, { leaseId: got.lease.id, step: 2, metrics: { loss: 0.4 } })).status).toBe(409);
    const told = await post(`${trialPath}/tell`, { leaseId: got.lease.id, status: 'completed' });
    expect(told.status).toBe(200);
    expect(((await told.json()) as { trial: Trial }).trial).toMatchObject({ status: 'cancelled', epochsDone: 1 });
    const trials = await allTrials(stack, sweep.id);
    expect(trials.every((t) => t.status === 'cancelled')).toBe(true);
    // The loop's model is its own: said so, not "no checkpoint yet" as if one might come.
    const exported = await stack.request(`${trialPath}/export`);
    expect(exported.status).toBe(409);
    expect(((await exported.json()) as { error: { message: string } }).error.message).toMatch(/trains its own model/);
  });

  it('hands out no trial while the sweep is paused; a lease already held runs on, and asks resume with the sweep', async () => {
    const sweep = await submit({ name: 'paused asks', external: { maxSteps: 2, leaseSeconds: 60 }, search: { space: { x: { type: 'uniform', low: 0, high: 1 } }, budget: { maxTrials: 2, maxConcurrentTrials: 2 } }, objective: { metric: 'loss' } });
    const held = await askPatiently(sweep.id);
    await sleepUntil(async () => (await allTrials(stack, sweep.id)).length === 2, { timeoutMs: 30_000, intervalMs: 100, what: 'the second trial' });
    expect((await post(`/api/v1/sweeps/${sweep.id}/pause`, {})).status).toBe(200);

    const refused = await stack.request(`/api/v1/sweeps/${sweep.id}/ask`, { method: 'POST', json: {} });
    expect(refused.status, 'a paused sweep starts nothing').toBe(204);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const queued = (await allTrials(stack, sweep.id)).filter((t) => t.status === 'queued');
    expect(queued.map((t) => t.attempt)).toEqual([0]);

    for (const step of [1, 2]) {
      const res = await post(`/api/v1/sweeps/${sweep.id}/trials/${held.trial.id}/report`, { leaseId: held.lease.id, step, metrics: { loss: 1 / step } });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    expect((await trialOf(sweep.id, held.trial.id)).status).toBe('completed');

    expect((await post(`/api/v1/sweeps/${sweep.id}/resume`, {})).status).toBe(200);
    const next = await askPatiently(sweep.id);
    expect(next.trial.id).toBe(queued[0]!.id);
    expect(next.trial).toMatchObject({ attempt: 1, startStep: 0 });
  });

  it('refuses ask on a sweep whose trials run on the workers', async () => {
    const sweep = await submit({ name: 'built-in', dataset: { type: 'spirals', count: 200 }, model: { inputShape: [2], layers: [{ type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' }, training: { epochs: 1 }, search: { space: { learningRate: { type: 'loguniform', low: 0.01, high: 0.1 } }, budget: { maxTrials: 1 } }, objective: { metric: 'val_loss' } });
    const res = await stack.request(`/api/v1/sweeps/${sweep.id}/ask`, { method: 'POST', json: {} });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe('sweepId');
  });
});
