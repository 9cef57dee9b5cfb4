// The sweep-control calls against a recording node:http server: the method, path and body each
// sends, the answers parsed with the API's schemas, refusals as ApiErrors with their field paths;
// and sweep.control events read from parsed events, refused stream items and raw JSON alike.
import { CreateSweepRequest, formatSseEvent, type SweepEvent } from '@hypersweep/schemas';
import { makeSweep, mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import { afterEach, describe, expect, it } from 'vitest';
import { SWEEP_ID, T0, makeTrial, trialId } from '../test/fixtures.ts';
import { jsonOf, startRecordingServer, type Answer, type RecordedRequest, type RecordingServer } from '../test/recording-server.ts';
import { HypersweepClient } from './client.ts';
import { ApiError } from './errors.ts';
import { deleteSweep, describeSweepControl, enqueueTrials, pauseSweep, resumeSweep, sweepControlOf, updateSweepBudget } from './sweep-control.ts';

let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handle: (req: RecordedRequest) => Answer): Promise<HypersweepClient> {
  server = await startRecordingServer(handle);
  return new HypersweepClient({ baseUrl: server.url, token: 'hs_test' });
}

function sweepJson(status: string, budget: Record<string, unknown> = {}): Record<string, unknown> {
  const spec = CreateSweepRequest.parse(mnistTpeAshaSweep());
  // Built through the schema (a drift fails here), then given the status under test.
  const sweep = makeSweep({
    name: 'control',
    spec: { ...spec, search: { ...spec.search, budget: { ...spec.search.budget, ...budget } } },
    counts: { queued: 0, running: 1, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 2 },
    progress: { trialsFinished: 1, maxTrials: 12, epochsDone: 5, maxTotalEpochs: null, fraction: 1 / 12 },
  });
  return { ...sweep, status };
}

const refusal = (status: number, code: string, message: string, details: { path: string; message: string }[] = []): Answer => ({ status, json: { error: { code, message, details } } });

describe('sweep control calls', () => {
  it('pauses and resumes with a bodiless POST each, answering the sweep', async () => {
    const client = await serve((req) => ({ json: sweepJson(req.path.endsWith('/pause') ? 'paused' : 'running') }));
    expect((await pauseSweep(client, SWEEP_ID)).status).toBe('paused');
    expect((await resumeSweep(client, SWEEP_ID)).status).toBe('running');
    expect(server!.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /api/v1/sweeps/${SWEEP_ID}/pause`, `POST /api/v1/sweeps/${SWEEP_ID}/resume`]);
    expect(server!.requests.every((r) => r.body.length === 0 && r.headers.authorization === 'Bearer hs_test')).toBe(true);
  });

  it('carries a 409 invalid_state as an ApiError', async () => {
    const client = await serve(() => refusal(409, 'invalid_state', 'the sweep is completed', [{ path: 'status', message: 'cannot pause a completed sweep' }]));
    const error = await pauseSweep(client, SWEEP_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'invalid_state', details: [{ path: 'status', message: 'cannot pause a completed sweep' }] });
  });

  it('PATCHes the budget as {budget} (null lifts the epoch limit) and parses the sweep', async () => {
    const client = await serve(() => ({ json: sweepJson('running', { maxTrials: 40 }) }));
    const sweep = await updateSweepBudget(client, SWEEP_ID, { maxTrials: 40, maxTotalEpochs: null });
    expect(sweep.spec.search.budget.maxTrials).toBe(40);
    const req = server!.requests[0]!;
    expect(`${req.method} ${req.path}`).toBe(`PATCH /api/v1/sweeps/${SWEEP_ID}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(jsonOf(req)).toEqual({ budget: { maxTrials: 40, maxTotalEpochs: null } });
  });

  it('names the budget field the API refused, and refuses an answer that is not a sweep', async () => {
    let answer: Answer = refusal(400, 'invalid_request', 'the request is invalid: budget.maxTrials: below the 7 trials the sweep has', [{ path: 'budget.maxTrials', message: 'below the 7 trials the sweep has' }]);
    const client = await serve(() => answer);
    const refused = await updateSweepBudget(client, SWEEP_ID, { maxTrials: 3 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, code: 'invalid_request', details: [{ path: 'budget.maxTrials' }], answered: true });
    answer = { json: { id: SWEEP_ID } };
    const invalid = await updateSweepBudget(client, SWEEP_ID, { maxTrials: 30 }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 200, code: 'invalid_response', answered: false });
    expect((invalid as ApiError).message).toBe(`PATCH /sweeps/${SWEEP_ID} answered with a body that does not match its schema`);
  });

  it('enqueues configurations as {params: [...]} and returns the queued trials', async () => {
    const configs = [{ learningRate: 0.01, optimizer: 'adam' }, { learningRate: 0.1, optimizer: 'sgd' }];
    const client = await serve(() => ({ status: 201, json: { items: configs.map((params, i) => makeTrial(5 + i, { status: 'queued', params })) } }));
    const trials = await enqueueTrials(client, SWEEP_ID, configs);
    expect(trials.map((t) => [t.number, t.params, t.status])).toEqual([[5, configs[0], 'queued'], [6, configs[1], 'queued']]);
    const req = server!.requests[0]!;
    expect(`${req.method} ${req.path}`).toBe(`POST /api/v1/sweeps/${SWEEP_ID}/trials`);
    expect(jsonOf(req)).toEqual({ params: configs });
  });

  it('names the configuration and parameter the API refused', async () => {
    const client = await serve(() => refusal(400, 'invalid_request', 'the request is invalid', [{ path: 'params[1].learningRate', message: 'must be ≤ 0.1' }, { path: 'params[0].dropout', message: 'is not a parameter of the space' }]));
    const error = await enqueueTrials(client, SWEEP_ID, [{ dropout: 0.1 }, { learningRate: 2 }]).catch((e: unknown) => e);
    expect((error as ApiError).details.map((d) => d.path)).toEqual(['params[1].learningRate', 'params[0].dropout']);
  });

  it('deletes with DELETE and a 204, and carries the 409 of a running sweep', async () => {
    let status = 204;
    const client = await serve(() => (status === 204 ? { status: 204 } : refusal(409, 'invalid_state', 'the sweep is running')));
    await expect(deleteSweep(client, SWEEP_ID)).resolves.toBeUndefined();
    expect(`${server!.requests[0]!.method} ${server!.requests[0]!.path}`).toBe(`DELETE /api/v1/sweeps/${SWEEP_ID}`);
    status = 409;
    await expect(deleteSweep(client, SWEEP_ID)).rejects.toMatchObject({ status: 409, code: 'invalid_state' });
  });
});

describe('sweep.control events', () => {
  const control = (id: number, data: Record<string, unknown>) => ({ id, type: 'sweep.control', sweepId: SWEEP_ID, at: T0, data });

  it('reads a control from an event, a refused stream item or JSON, and nothing from other events', () => {
    const enqueued = control(12, { action: 'enqueued', trialIds: [trialId(5), trialId(6)] });
    expect(sweepControlOf(enqueued)).toEqual({ id: 12, at: T0, action: 'enqueued', trialIds: [trialId(5), trialId(6)] });
    const refused = { kind: 'unknown' as const, message: { event: 'sweep.control', lastEventId: '13', data: JSON.stringify(control(13, { action: 'budget', budget: { maxTrials: 40, maxTotalEpochs: null } })) }, problem: 'type: unknown' };
    expect(sweepControlOf(refused)).toEqual({ id: 13, at: T0, action: 'budget', budget: { maxTrials: 40, maxTotalEpochs: null } });
    expect(sweepControlOf({ kind: 'event', event: control(14, { action: 'paused' }) })).toMatchObject({ id: 14, action: 'paused' });
    // A newer server's action, and fields it adds, still read.
    expect(sweepControlOf(control(15, { action: 'retention', kept: 2 }))).toMatchObject({ action: 'retention' });

    const epoch: SweepEvent = { id: 3, type: 'trial.epoch', sweepId: SWEEP_ID, at: T0, data: { trialId: trialId(1), number: 1, epoch: 1, metrics: {} } };
    expect(sweepControlOf(epoch)).toBeNull();
    expect(sweepControlOf({ kind: 'event', event: epoch })).toBeNull();
    expect(sweepControlOf({ kind: 'unknown', message: { event: 'sweep.control', data: 'not json' }, problem: 'data is not JSON' })).toBeNull();
    expect(sweepControlOf(control(16, { budget: {} }))).toBeNull();
    // The frame the API sends round-trips.
    expect(formatSseEvent(epoch)).toContain('event: trial.epoch');
  });

  it('describes each action in words', () => {
    expect(describeSweepControl({ action: 'paused' })).toBe('paused');
    expect(describeSweepControl({ action: 'resumed' })).toBe('resumed');
    expect(describeSweepControl({ action: 'budget', budget: { maxTrials: 40, maxTotalEpochs: null } })).toBe('budget changed: maxTrials 40, maxTotalEpochs no limit');
    expect(describeSweepControl({ action: 'budget', budget: { maxConcurrentTrials: 8 } })).toBe('budget changed: maxConcurrentTrials 8');
    expect(describeSweepControl({ action: 'enqueued', trialIds: ['a'] })).toBe('1 trial enqueued');
    expect(describeSweepControl({ action: 'enqueued', trialIds: ['a', 'b', 'c'] })).toBe('3 trials enqueued');
    expect(describeSweepControl({ action: 'retention' })).toBe('retention');
  });
});
