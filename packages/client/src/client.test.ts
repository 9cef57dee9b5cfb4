// HypersweepClient against a local node:http server that records requests: what each method sends
// (path, query, headers, body), how answers are parsed, and how failures become ApiErrors. The
// ask/tell tests check request shapes only, against the contract of docs/ask-tell.md (the routes
// were written alongside; their end-to-end tests are the API's, in test/ask-tell.test.ts).
import { formatSseEvent, type SweepEvent } from '@hypersweep/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTrial, SWEEP_ID, T0, epochEvent, trialId } from '../test/fixtures.ts';
import { jsonOf, startRecordingServer, type Answer, type RecordedRequest, type RecordingServer } from '../test/recording-server.ts';
import { HypersweepClient } from './client.ts';
import { ApiError } from './errors.ts';

const TOKEN = 'hs_test_token';
const T1 = trialId(1);
const MNIST = { id: 'mnist', name: 'mnist', kind: 'builtin', description: null, task: 'classification', featureShape: [784], numClasses: 10, sizes: { train: 60000, test: 10000 }, createdAt: null };

let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handle: (req: RecordedRequest) => Answer): Promise<RecordingServer> {
  server = await startRecordingServer(handle);
  return server;
}

const apiError = (status: number, code: string, message: string, details: { path: string; message: string }[] = []): Answer => ({ status, json: { error: { code, message, details } } });

describe('transport', () => {
  it('sends the bearer token (read at every request) and Accept, keeps a base path, joins list queries', async () => {
    const s = await serve(() => ({ json: { items: [makeTrial(0)], nextCursor: null } }));
    let token = 'first';
    const client = new HypersweepClient({ baseUrl: `${s.url}/prefix`, token: () => token });
    const page = await client.listTrials(SWEEP_ID, { limit: 5, status: ['running', 'queued'], sort: 'bestValue', order: 'desc', cursor: null });
    token = 'second';
    await client.listTrials(SWEEP_ID);
    expect(page.items[0]!.id).toBe(trialId(0));
    expect(s.requests.map((r) => r.path)).toEqual([`/prefix/api/v1/sweeps/${SWEEP_ID}/trials`, `/prefix/api/v1/sweeps/${SWEEP_ID}/trials`]);
    expect(Object.fromEntries(s.requests[0]!.query)).toEqual({ limit: '5', status: 'running,queued', sort: 'bestValue', order: 'desc' });
    expect(s.requests.map((r) => r.headers.authorization)).toEqual(['Bearer first', 'Bearer second']);
    expect(s.requests[0]!.headers.accept).toBe('application/json');
  });

  it('builds same-origin paths from an empty base (the dashboard)', () => {
    const client = new HypersweepClient({ baseUrl: '' });
    expect(client.url('/sweeps', { status: ['running'], cursor: undefined })).toBe('/api/v1/sweeps?status=running');
    expect(client.url('/healthz', {}, { root: true })).toBe('/healthz');
  });

  it('turns an API error body into an ApiError with its status, code, message and field details', async () => {
    const s = await serve(() => apiError(400, 'invalid_request', 'the request is invalid: name: must not be empty', [{ path: 'name', message: 'must not be empty' }]));
    const error = await new HypersweepClient({ baseUrl: s.url }).createSweep({ name: '' } as never, { idempotencyKey: 'key-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', message: 'the request is invalid: name: must not be empty', details: [{ path: 'name', message: 'must not be empty' }], answered: true });
    expect(s.requests[0]!.headers['idempotency-key']).toBe('key-1');
    expect(s.requests[0]!.headers['content-type']).toBe('application/json');
    expect(jsonOf(s.requests[0]!)).toEqual({ name: '' });
  });

  it('names the project of a submission, a sweep listing and both uploads in ?project=, and nothing when not given', async () => {
    const s = await serve(() => apiError(404, 'not_found', 'no project vision', [{ path: 'project', message: 'no such project' }]));
    const client = new HypersweepClient({ baseUrl: s.url });
    const refused = (p: Promise<unknown>) => p.catch((e: unknown) => e);
    expect(await refused(client.createSweep({ name: 'x' } as never, { project: 'vision' }))).toMatchObject({ status: 404, details: [{ path: 'project' }] });
    await refused(client.listSweeps({ project: 'vision', limit: 2 }));
    await refused(client.uploadCsvDataset('a,y\n1,0\n', { name: 'd', labelColumn: 'y', task: 'classification', project: 'vision' }));
    await refused(client.uploadIdxDataset({ name: 'i', trainImages: new Uint8Array([0]), trainLabels: new Uint8Array([0]), project: 'vision' }));
    await refused(client.createSweep({ name: 'x' } as never));
    expect(s.requests.map((r) => [r.method, r.path, r.query.get('project')])).toEqual([
      ['POST', '/api/v1/sweeps', 'vision'],
      ['GET', '/api/v1/sweeps', 'vision'],
      ['POST', '/api/v1/datasets', 'vision'],
      ['POST', '/api/v1/datasets/idx', 'vision'],
      ['POST', '/api/v1/sweeps', null],
    ]);
  });

  it('names a non-API error answer by its status and shows its text', async () => {
    const s = await serve(() => ({ status: 502, text: '<html>Bad Gateway</html>' }));
    const error = await new HypersweepClient({ baseUrl: s.url }).listDatasets().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http_502', details: [] });
    expect((error as Error).message).toBe(`GET ${s.url}/api/v1/datasets answered HTTP 502: <html>Bad Gateway</html>`);
  });

  it('calls onUnauthorized on a 401, then throws', async () => {
    const s = await serve(() => apiError(401, 'unauthorized', 'missing or invalid token'));
    const seen: number[] = [];
    const error = await new HypersweepClient({ baseUrl: s.url, onUnauthorized: (e) => seen.push(e.status) }).getCluster().catch((e: unknown) => e);
    expect(seen).toEqual([401]);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('refuses a 2xx body that does not match the schema, naming the fields', async () => {
    const s = await serve(() => ({ json: { items: [{ id: 'not-a-trial' }], nextCursor: null } }));
    const error = await new HypersweepClient({ baseUrl: s.url }).listTrials(SWEEP_ID).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 200, code: 'invalid_response', answered: false });
    expect((error as ApiError).details[0]?.path).toMatch(/^items\[0\]/);
  });

  it('says when the API is unreachable, silent past the timeout, or the caller aborted', async () => {
    const s = await serve(() => () => undefined); // never answers
    const slow = await new HypersweepClient({ baseUrl: s.url, timeoutMs: 100 }).listDatasets().catch((e: unknown) => e);
    expect(slow).toMatchObject({ status: 0, code: 'unreachable', message: `cannot reach the API at ${s.url}: no answer within 100 ms` });

    const controller = new AbortController();
    const pending = new HypersweepClient({ baseUrl: s.url }).listDatasets({ signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await pending).toMatchObject({ status: 0, code: 'aborted' });

    const url = s.url;
    await s.close();
    server = undefined;
    const down = await new HypersweepClient({ baseUrl: url }).listDatasets().catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 0, code: 'unreachable' });
    expect((down as Error).message).toMatch(new RegExp(`^cannot reach the API at ${url}: fetch failed \\(ECONNREFUSED\\)$`));
  });
});

describe('sweeps and trials', () => {
  it('lists every trial across pages, and refuses a cursor handed back twice', async () => {
    const pages: Record<string, { items: unknown[]; nextCursor: string | null }> = {
      '': { items: [makeTrial(0), makeTrial(1)], nextCursor: 'c1' },
      c1: { items: [makeTrial(2)], nextCursor: null },
    };
    const s = await serve((req) => ({ json: pages[req.query.get('cursor') ?? ''] }));
    const trials = await new HypersweepClient({ baseUrl: s.url }).listAllTrials(SWEEP_ID);
    expect(trials.map((t) => t.number)).toEqual([0, 1, 2]);
    expect(s.requests.map((r) => [r.query.get('limit'), r.query.get('cursor')])).toEqual([
      ['200', null],
      ['200', 'c1'],
    ]);
    pages.c1 = { items: [makeTrial(2)], nextCursor: 'c1' };
    await expect(new HypersweepClient({ baseUrl: s.url }).listAllTrials(SWEEP_ID)).rejects.toMatchObject({ code: 'invalid_response' });
  });

  it('reads a trial with its resolved spec, stops one, asks for metrics, predicts', async () => {
    const s = await serve((req) => {
      if (req.path.endsWith('/metrics')) return { json: { trialId: T1, series: [{ name: 'val_loss', points: [{ step: 1, value: 0.5 }], totalPoints: 1, downsampled: false }] } };
      if (req.path.endsWith('/predict')) return { json: { outputs: [[0.25, 0.75]], classes: [1] } };
      if (req.path.endsWith('/stop')) return { json: makeTrial(1, { status: 'stopped' }) };
      return { json: { ...makeTrial(1), resolved: null } };
    });
    const client = new HypersweepClient({ baseUrl: s.url });
    expect((await client.getTrial(SWEEP_ID, T1)).resolved).toBeNull();
    expect((await client.stopTrial(SWEEP_ID, T1)).status).toBe('stopped');
    expect((await client.getMetrics(SWEEP_ID, T1, { names: ['val_loss', 'train_loss'], maxPoints: 50 })).series[0]!.points).toEqual([{ step: 1, value: 0.5 }]);
    expect(await client.predict(SWEEP_ID, T1, [[1, 2]])).toEqual({ outputs: [[0.25, 0.75]], classes: [1] });
    expect(s.requests.map((r) => `${r.method} ${r.path.replace(`/api/v1/sweeps/${SWEEP_ID}/trials/${T1}`, '…')}`)).toEqual(['GET …', 'POST …/stop', 'GET …/metrics', 'POST …/predict']);
    expect(Object.fromEntries(s.requests[2]!.query)).toEqual({ names: 'val_loss,train_loss', maxPoints: '50' });
    expect(jsonOf(s.requests[3]!)).toEqual({ inputs: [[1, 2]] });
  });

  it('writes every trial as CSV: one row per trial, a column per parameter', async () => {
    const s = await serve(() => ({ json: { items: [makeTrial(1), makeTrial(0, { params: { learningRate: 0.5, activation: '=cmd' } })], nextCursor: null } }));
    const csv = await new HypersweepClient({ baseUrl: s.url }).trialsCsv(SWEEP_ID);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('number,trialId,status,epochsDone,bestValue,finalValue,attempt,workerId,reason,error,createdAt,startedAt,finishedAt,param.activation,param.learningRate,metric.val_accuracy,metric.val_loss');
    expect(lines[1]).toBe(`0,${trialId(0)},completed,5,0.9,0.89,1,worker-a,,,${T0},${T0},${T0},'=cmd,0.5,0.89,0.3`);
    expect(lines).toHaveLength(4); // header, two rows, the empty string after the last CRLF
  });
});

describe('datasets, tokens, meta', () => {
  it('uploads IDX files as multipart with their fields, and a CSV file as text/csv with its options', async () => {
    const s = await serve(() => ({ status: 201, json: MNIST }));
    const client = new HypersweepClient({ baseUrl: s.url });
    await client.uploadIdxDataset({ name: 'digits', trainImages: new Uint8Array([0, 0, 8, 3]), trainLabels: new Blob([new Uint8Array([0, 0, 8, 1])]), numClasses: 10 });
    await client.uploadCsvDataset('a,b,label\n1,2,0\n', { name: 'iris', labelColumn: 'label', task: 'classification', testFraction: 0.2 });
    const [idx, csv] = s.requests;
    expect(idx!.path).toBe('/api/v1/datasets/idx');
    expect(idx!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const body = idx!.body.toString('latin1');
    expect(body).toContain('name="name"\r\n\r\ndigits\r\n');
    expect(body).toContain('name="numClasses"\r\n\r\n10\r\n');
    expect(body).toContain('name="trainImages"; filename="trainImages"');
    expect(body).toContain('\x00\x00\x08\x03');
    expect(body).not.toContain('name="testImages"');
    expect(csv!.path).toBe('/api/v1/datasets');
    expect(csv!.headers['content-type']).toBe('text/csv');
    expect(Object.fromEntries(csv!.query)).toEqual({ name: 'iris', labelColumn: 'label', task: 'classification', testFraction: '0.2' });
    expect(csv!.body.toString()).toBe('a,b,label\n1,2,0\n');
  });

  it('lists, creates and revokes tokens', async () => {
    const grants = [{ project: 'vision', role: 'submit' as const }];
    const info = { id: T1, name: 'ci', prefix: 'hs_abcd', grants, serverAdmin: false, expiresAt: null, createdAt: T0, lastUsedAt: null, revokedAt: null };
    const s = await serve((req) => {
      if (req.method === 'DELETE') return { status: 204 };
      if (req.method === 'POST') return { status: 201, json: { id: T1, name: 'ci', prefix: 'hs_abcd', token: 'hs_abcd_secret', grants, serverAdmin: false, expiresAt: null, createdAt: T0 } };
      return { json: { items: [info] } };
    });
    const client = new HypersweepClient({ baseUrl: s.url, token: TOKEN });
    expect(await client.listTokens()).toEqual([info]);
    expect((await client.createToken({ name: 'ci', grants })).token).toBe('hs_abcd_secret');
    await expect(client.revokeToken(T1)).resolves.toBeUndefined();
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/tokens', 'POST /api/v1/tokens', `DELETE /api/v1/tokens/${T1}`]);
    expect(jsonOf(s.requests[1]!)).toEqual({ name: 'ci', grants });
  });

  it('reads health (outside /api/v1), readiness even when answered 503, the cluster and the OpenAPI document', async () => {
    const s = await serve((req) => {
      if (req.path === '/healthz') return { json: { status: 'ok' } };
      if (req.path === '/readyz') return { status: 503, json: { status: 'not_ready', checks: { redis: { ok: false, latencyMs: null, error: 'ECONNREFUSED' } } } };
      if (req.path.endsWith('/workers')) return { json: { workers: [], totals: { workers: 0, alive: 0, busy: 0, threads: 0, samplesPerSecond: 0 } } };
      return { json: { openapi: '3.1.0', paths: {} } };
    });
    const client = new HypersweepClient({ baseUrl: s.url });
    expect(await client.health()).toEqual({ status: 'ok' });
    expect((await client.ready()).status).toBe('not_ready');
    expect((await client.getCluster()).totals.alive).toBe(0);
    expect((await client.getOpenApi()).openapi).toBe('3.1.0');
    expect(s.requests.map((r) => r.path)).toEqual(['/healthz', '/readyz', '/api/v1/workers', '/api/v1/openapi.json']);
  });
});

describe('ask/tell (request shapes of docs/ask-tell.md)', () => {
  const LEASE = { id: 'lease-1', expiresAt: '2026-01-01T00:01:00.000Z', leaseSeconds: 60 };

  it('asks with {} and reads a claimed trial, a 204 with Retry-After, and a 409 for an ended sweep', async () => {
    const answers: Answer[] = [
      { json: { trial: { id: T1, number: 1, params: { lr: 0.01 }, attempt: 1, startStep: 0, maxSteps: 20, objective: { metric: 'val_loss', mode: 'minimize' } }, lease: LEASE } },
      { status: 204, headers: { 'Retry-After': '3' } },
      apiError(409, 'invalid_state', 'the sweep has ended', [{ path: 'sweepId', message: 'completed' }]),
    ];
    const s = await serve(() => answers.shift()!);
    const client = new HypersweepClient({ baseUrl: s.url, token: TOKEN });
    const asked = await client.ask(SWEEP_ID);
    expect(asked).toEqual({ status: 'assigned', trial: { id: T1, number: 1, params: { lr: 0.01 }, attempt: 1, startStep: 0, maxSteps: 20, objective: { metric: 'val_loss', mode: 'minimize' } }, lease: LEASE });
    expect(await client.ask(SWEEP_ID)).toEqual({ status: 'wait', retryAfterSeconds: 3 });
    await expect(client.ask(SWEEP_ID)).rejects.toMatchObject({ status: 409, code: 'invalid_state' });
    for (const r of s.requests) {
      expect(`${r.method} ${r.path}`).toBe(`POST /api/v1/sweeps/${SWEEP_ID}/ask`);
      expect(jsonOf(r)).toEqual({});
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(r.headers['content-type']).toBe('application/json');
    }
  });

  it('heartbeats, reports and tells with the lease id, and reads the scheduler’s decision', async () => {
    const s = await serve((req) => {
      if (req.path.endsWith('/heartbeat')) return { json: { expiresAt: LEASE.expiresAt } };
      if (req.path.endsWith('/report')) return { json: { decision: 'stop', reason: 'asha rung 1' } };
      return { json: { trial: { ...makeTrial(1), status: 'stopped' } } };
    });
    const client = new HypersweepClient({ baseUrl: s.url });
    expect(await client.heartbeat(SWEEP_ID, T1, 'lease-1')).toEqual({ expiresAt: LEASE.expiresAt });
    expect(await client.report(SWEEP_ID, T1, { leaseId: 'lease-1', step: 3, metrics: { val_loss: 0.25 } })).toEqual({ decision: 'stop', reason: 'asha rung 1' });
    expect((await client.tell(SWEEP_ID, T1, { leaseId: 'lease-1', status: 'completed' })).trial.status).toBe('stopped');
    await client.tell(SWEEP_ID, T1, { leaseId: 'lease-1', status: 'failed', error: 'out of memory' });
    const base = `/api/v1/sweeps/${SWEEP_ID}/trials/${T1}`;
    expect(s.requests.map((r) => [r.method, r.path, jsonOf(r)])).toEqual([
      ['POST', `${base}/heartbeat`, { leaseId: 'lease-1' }],
      ['POST', `${base}/report`, { leaseId: 'lease-1', step: 3, metrics: { val_loss: 0.25 } }],
      ['POST', `${base}/tell`, { leaseId: 'lease-1', status: 'completed' }],
      ['POST', `${base}/tell`, { leaseId: 'lease-1', status: 'failed', error: 'out of memory' }],
    ]);
  });

  it('turns a lost lease (409) into an ApiError', async () => {
    const s = await serve(() => apiError(409, 'conflict', 'the lease is lost', [{ path: 'leaseId', message: 'expired' }]));
    const error = await new HypersweepClient({ baseUrl: s.url }).report(SWEEP_ID, T1, { leaseId: 'old', step: 1, metrics: { val_loss: 1 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, code: 'conflict', details: [{ path: 'leaseId', message: 'expired' }] });
  });
});

describe('sweep event stream', () => {
  /** Writes these SSE frames on a text/event-stream answer, then ends it. */
  const stream =
    (...frames: string[]): Answer =>
    (res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (const f of frames) res.write(f);
      res.end();
    };

  it('follows across a closed connection with Last-Event-ID, drops a replayed id, ends on 204', async () => {
    const e = (id: number): SweepEvent => epochEvent(id);
    const answers: Answer[] = [
      stream('retry: 10\n\n', formatSseEvent(e(1)), formatSseEvent(e(2))),
      stream(formatSseEvent(e(2)), 'event: trial.epoch\nid: 3\ndata: {"not": "an event"}\n\n', formatSseEvent(e(4))),
      { status: 204 },
    ];
    const s = await serve(() => answers.shift()!);
    const items: string[] = [];
    for await (const item of new HypersweepClient({ baseUrl: s.url, token: TOKEN }).sweepEvents(SWEEP_ID, { sleep: async () => undefined })) {
      items.push(item.kind === 'event' ? `event ${item.event.id}` : `unknown ${item.message.lastEventId}: ${item.problem}`);
    }
    expect(items).toEqual(['event 1', 'event 2', expect.stringMatching(/^unknown 3: /), 'event 4']);
    expect(s.requests.map((r) => r.headers['last-event-id'] ?? null)).toEqual([null, '2', '4']);
    expect(s.requests.every((r) => r.path === `/api/v1/sweeps/${SWEEP_ID}/events` && r.headers.accept === 'text/event-stream' && r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('throws an ApiError for a refused stream (404), without retrying', async () => {
    const s = await serve(() => apiError(404, 'not_found', `no sweep ${SWEEP_ID}`, [{ path: 'sweepId', message: 'no such sweep' }]));
    const events = new HypersweepClient({ baseUrl: s.url }).sweepEvents(SWEEP_ID, { sleep: async () => undefined });
    await expect(events.next()).rejects.toMatchObject({ status: 404, code: 'not_found', details: [{ path: 'sweepId', message: 'no such sweep' }] });
    expect(s.requests).toHaveLength(1);
  });

  it('starts after a given id and filters by type, still moving the last id on', async () => {
    const s = await serve(() => stream(formatSseEvent(epochEvent(5)), formatSseEvent(epochEvent(6))));
    const batches: { events: number[]; lastId: number }[] = [];
    for await (const batch of new HypersweepClient({ baseUrl: s.url }).sweepEventBatches(SWEEP_ID, { lastEventId: 4, types: new Set(['sweep.updated']), shouldReconnect: () => false })) {
      batches.push({ events: batch.events.map((e) => e.id), lastId: batch.lastId });
    }
    expect(s.requests[0]!.headers['last-event-id']).toBe('4');
    expect(batches.at(-1)).toEqual({ events: [], lastId: 6 });
    expect(batches.flatMap((b) => b.events)).toEqual([]);
  });
});
