// A small stand-in for the REST API on node:http, serving schema-valid JSON and an SSE stream that
// drops its first connection mid-event, recording every request so tests can check what the CLI sent.
// Sweep control (pause, resume, budget, enqueued trials, delete) follows the API's contract: its
// 409s by status, and 400s naming budget.<field> and params[i].<name>. A CSV upload (POST /datasets,
// text/csv) is checked by the API's query schema and parsed by the API's own parser (@hypersweep/datasets),
// so its 400s name labelColumn or the body as the API's do, and a name taken is a 409.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatasetError, csvUploadErrorPath, csvUploadOptions, parseCsv } from '@hypersweep/datasets';
import { CreateSweepRequest, CsvUploadQuery, FINISHED_SWEEP_STATUSES, formatSseEvent, validationError, type ApiError, type DatasetInfo, type Sweep, type SweepEvent, type Trial } from '@hypersweep/schemas';
import { makeSweep, makeTrial, SWEEP_ID, sweepStory, T0, trialId } from './fixtures.ts';

export const TOKEN = 'hs_test-token';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON, or the text as received for a text/csv body. */
  body: unknown;
}

export interface FakeApi {
  url: string;
  requests: RecordedRequest[];
  sweeps: Sweep[];
  trials: Trial[];
  events: SweepEvent[];
  /** Last-Event-ID of each events connection ('' for none). */
  eventConnections: string[];
  /** Marks the sweep completed when a second events connection opens (a sweep that ends while the client is away). */
  finishOnReconnect: boolean;
  /** Tokens as GET /tokens lists them (the REST contract with project grants). */
  tokens: FakeToken[];
  /** CSV datasets uploaded (POST /datasets): a second upload of a name is refused with 409. */
  datasets: DatasetInfo[];
  close(): Promise<void>;
}

function apiError(code: ApiError['error']['code'], message: string, details: ApiError['error']['details'] = []): ApiError {
  return { error: { code, message, details } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** A page of `items` from the keyset-like cursor "at:<index>" (opaque to the client). */
function page<T>(items: readonly T[], query: URLSearchParams): { items: T[]; nextCursor: string | null } {
  const limit = Number(query.get('limit') ?? 50);
  const start = query.get('cursor') ? Number(query.get('cursor')!.slice(3)) : 0;
  const slice = items.slice(start, start + limit);
  return { items: slice, nextCursor: start + limit < items.length ? `at:${start + limit}` : null };
}

export interface FakeToken {
  id: string;
  name: string;
  prefix: string;
  grants: { project: string; role: string }[];
  serverAdmin: boolean;
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const ROLES = ['read', 'submit', 'admin'];

/** POST /tokens: the body the API takes, checked field by field as its 400 would name them. */
function tokenBodyProblems(body: unknown): { path: string; message: string }[] {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: { path: string; message: string }[] = [];
  for (const key of Object.keys(b)) if (!['name', 'grants', 'serverAdmin', 'expiresAt'].includes(key)) problems.push({ path: key, message: 'unrecognized key' });
  if (typeof b.name !== 'string' || b.name === '') problems.push({ path: 'name', message: 'must be a non-empty string' });
  if (!Array.isArray(b.grants)) problems.push({ path: 'grants', message: 'must be an array' });
  else
    (b.grants as Record<string, unknown>[]).forEach((g, i) => {
      if (typeof g.project !== 'string') problems.push({ path: `grants[${i}].project`, message: 'must be a string' });
      if (!ROLES.includes(String(g.role))) problems.push({ path: `grants[${i}].role`, message: 'must be read, submit or admin' });
    });
  if (b.serverAdmin !== undefined && typeof b.serverAdmin !== 'boolean') problems.push({ path: 'serverAdmin', message: 'must be a boolean' });
  if (b.expiresAt !== undefined && (typeof b.expiresAt !== 'string' || Number.isNaN(Date.parse(b.expiresAt)))) problems.push({ path: 'expiresAt', message: 'must be an ISO 8601 date-time' });
  return problems;
}

/** PATCH /sweeps/{id}: `{budget: {maxTrials?, maxConcurrentTrials?, maxTotalEpochs?}}`, no lower than what the sweep has. */
function budgetProblems(body: unknown, sweep: Sweep): { path: string; message: string }[] {
  const budget = (body as { budget?: Record<string, unknown> } | undefined)?.budget;
  if (typeof budget !== 'object' || budget === null) return [{ path: 'budget', message: 'must be an object' }];
  const problems: { path: string; message: string }[] = [];
  for (const [key, value] of Object.entries(budget)) {
    if (!['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs'].includes(key)) problems.push({ path: `budget.${key}`, message: 'unrecognized key' });
    else if (!(Number.isInteger(value) && (value as number) >= 1) && !(key === 'maxTotalEpochs' && value === null)) problems.push({ path: `budget.${key}`, message: 'must be a positive integer' });
  }
  if (typeof budget.maxTrials === 'number' && budget.maxTrials < sweep.counts.total) {
    problems.push({ path: 'budget.maxTrials', message: `must be at least ${sweep.counts.total}, the trials the sweep has` });
  }
  return problems;
}

/** POST /sweeps/{id}/trials against the spirals space: learningRate in [1e-3, 1], activation relu or tanh, nothing else. */
function paramsProblems(body: unknown): { path: string; message: string }[] {
  const params = (body as { params?: unknown } | undefined)?.params;
  if (!Array.isArray(params) || params.length === 0 || params.length > 100) return [{ path: 'params', message: 'must be 1 to 100 configurations' }];
  const problems: { path: string; message: string }[] = [];
  params.forEach((config: Record<string, unknown>, i) => {
    const lr = config.learningRate;
    if (lr === undefined) problems.push({ path: `params[${i}].learningRate`, message: 'is missing' });
    else if (typeof lr !== 'number' || lr < 1e-3 || lr > 1) problems.push({ path: `params[${i}].learningRate`, message: 'must be a number from 0.001 to 1' });
    if (config.activation === undefined) problems.push({ path: `params[${i}].activation`, message: 'is missing' });
    else if (config.activation !== 'relu' && config.activation !== 'tanh') problems.push({ path: `params[${i}].activation`, message: 'must be one of relu, tanh' });
    for (const key of Object.keys(config)) if (key !== 'learningRate' && key !== 'activation') problems.push({ path: `params[${i}].${key}`, message: 'is not a parameter of the search space' });
  });
  return problems;
}

export async function startFakeApi(options: { sweepCount?: number; trialCount?: number } = {}): Promise<FakeApi> {
  const sweeps = Array.from({ length: options.sweepCount ?? 5 }, (_, i) =>
    i === 0 ? makeSweep() : makeSweep({ id: `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `sweep ${i}`, status: i % 2 === 0 ? 'completed' : 'running' }),
  );
  const trials = Array.from({ length: options.trialCount ?? 2 }, (_, n) =>
    n === 1 ? makeTrial(1, { status: 'running', epochsDone: 2, bestValue: 0.8, finalValue: null, finishedAt: null }) : makeTrial(n),
  );
  const events = sweepStory();
  const api: FakeApi = { url: '', requests: [], sweeps, trials, events, eventConnections: [], finishOnReconnect: false, tokens: [], datasets: [], close: async () => undefined };
  const idempotency = new Map<string, Sweep>();

  const handle = (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const url = new URL(req.url ?? '/', 'http://x');
    api.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return sendJson(res, 401, apiError('unauthorized', 'a valid bearer token is required'));
    const parts = url.pathname.replace(/^\/api\/v1\//, '').split('/');
    const sweep = sweeps.find((s) => s.id === parts[1]);

    if (req.method === 'POST' && url.pathname === '/api/v1/sweeps') {
      const parsed = CreateSweepRequest.safeParse(body);
      if (!parsed.success) return sendJson(res, 400, validationError(parsed.error));
      const key = String(req.headers['idempotency-key'] ?? '');
      const existing = idempotency.get(key);
      if (existing) return sendJson(res, 200, existing);
      const created = makeSweep({ id: `20000000-0000-4000-8000-${String(idempotency.size + 1).padStart(12, '0')}`, name: parsed.data.name, spec: parsed.data, status: 'pending', project: url.searchParams.get('project') ?? 'default' });
      idempotency.set(key, created);
      return sendJson(res, 201, created);
    }
    if (url.pathname === '/api/v1/me' && req.method === 'GET') {
      // The fake's one token: a server admin with admin of `default`, as a first token is.
      return sendJson(res, 200, { serverAdmin: true, token: { id: '30000000-0000-4000-8000-000000000000', name: 'first', prefix: TOKEN.slice(0, 11), grants: [{ project: 'default', role: 'admin' }], serverAdmin: true, expiresAt: null, createdAt: T0, lastUsedAt: T0, revokedAt: null } });
    }
    if (url.pathname === '/api/v1/tokens' && req.method === 'GET') return sendJson(res, 200, { items: api.tokens });
    if (url.pathname === '/api/v1/tokens' && req.method === 'POST') {
      const problems = tokenBodyProblems(body);
      if (problems.length > 0) return sendJson(res, 400, apiError('invalid_request', `the request is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems));
      const b = body as { name: string; grants: { project: string; role: string }[]; serverAdmin?: boolean; expiresAt?: string };
      const secret = `hs_fake${String(api.tokens.length + 1).padStart(38, '0')}`;
      const token: FakeToken = {
        id: `30000000-0000-4000-8000-${String(api.tokens.length + 1).padStart(12, '0')}`,
        name: b.name,
        prefix: secret.slice(0, 11),
        grants: b.grants,
        serverAdmin: b.serverAdmin ?? false,
        expiresAt: b.expiresAt === undefined ? null : new Date(b.expiresAt).toISOString(),
        createdAt: T0,
        lastUsedAt: null,
        revokedAt: null,
      };
      api.tokens.push(token);
      const { lastUsedAt: _l, revokedAt: _r, ...created } = token;
      return sendJson(res, 201, { ...created, token: secret });
    }
    if (url.pathname === '/api/v1/datasets' && req.method === 'POST') return uploadCsv(req, res, url, body);
    const tokenPath = /^\/api\/v1\/tokens\/([^/]+)$/.exec(url.pathname);
    if (tokenPath && req.method === 'DELETE') {
      const token = api.tokens.find((t) => t.id === tokenPath[1] && t.revokedAt === null);
      if (!token) return sendJson(res, 404, apiError('not_found', `no active token ${tokenPath[1]}`, [{ path: 'tokenId', message: 'no such active token' }]));
      token.revokedAt = T0;
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/v1/sweeps') {
      const statuses = url.searchParams.get('status')?.split(',');
      const project = url.searchParams.get('project');
      const items = sweeps.filter((s) => (!statuses || statuses.includes(s.status)) && (project === null || s.project === project)).map(({ spec: _spec, ...summary }) => summary);
      return sendJson(res, 200, page(items, url.searchParams));
    }
    if (parts[0] === 'sweeps' && !sweep) {
      return sendJson(res, 404, apiError('not_found', `no sweep ${parts[1]}`, [{ path: 'sweepId', message: 'no such sweep' }]));
    }
    if (!sweep) return sendJson(res, 404, apiError('not_found', 'no such route'));
    const rest = parts.slice(2).join('/');
    if (req.method === 'GET' && rest === '') return sendJson(res, 200, sweep);
    if (req.method === 'POST' && rest === 'cancel') {
      if (sweep.status !== 'running' && sweep.status !== 'pending') {
        return sendJson(res, 409, apiError('invalid_state', `sweep is ${sweep.status}`, [{ path: 'status', message: `cannot cancel a ${sweep.status} sweep` }]));
      }
      sweep.status = 'cancelled';
      return sendJson(res, 200, sweep);
    }
    if (req.method === 'POST' && (rest === 'pause' || rest === 'resume')) {
      const from: readonly string[] = rest === 'pause' ? ['pending', 'running'] : ['paused'];
      if (!from.includes(sweep.status)) {
        return sendJson(res, 409, apiError('invalid_state', `the sweep is ${sweep.status}`, [{ path: 'status', message: `cannot ${rest} a ${sweep.status} sweep` }]));
      }
      sweep.status = rest === 'pause' ? 'paused' : 'running';
      return sendJson(res, 200, sweep);
    }
    if (req.method === 'PATCH' && rest === '') {
      if (FINISHED_SWEEP_STATUSES.has(sweep.status)) return sendJson(res, 409, apiError('invalid_state', `the sweep is ${sweep.status}`));
      const problems = budgetProblems(body, sweep);
      if (problems.length > 0) return sendJson(res, 400, apiError('invalid_request', `the request is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems));
      const change = (body as { budget: Partial<Sweep['spec']['search']['budget']> }).budget;
      sweep.spec.search.budget = { ...sweep.spec.search.budget, ...change };
      sweep.progress = { ...sweep.progress, maxTrials: sweep.spec.search.budget.maxTrials, maxTotalEpochs: sweep.spec.search.budget.maxTotalEpochs };
      return sendJson(res, 200, sweep);
    }
    if (req.method === 'POST' && rest === 'trials') {
      if (FINISHED_SWEEP_STATUSES.has(sweep.status)) return sendJson(res, 409, apiError('invalid_state', `the sweep is ${sweep.status}`));
      const problems = paramsProblems(body);
      if (problems.length > 0) return sendJson(res, 400, apiError('invalid_request', `the request is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems));
      const configs = (body as { params: Trial['params'][] }).params;
      if (trials.length + configs.length > sweep.spec.search.budget.maxTrials) {
        return sendJson(res, 409, apiError('invalid_state', `the sweep has ${trials.length} of its ${sweep.spec.search.budget.maxTrials} trials`, [{ path: 'budget.maxTrials', message: 'reached' }]));
      }
      const created = configs.map((params, i) => makeTrial(trials.length + i, { params, status: 'queued', attempt: 0, workerId: null, epochsDone: 0, bestValue: null, finalValue: null, lastMetrics: {}, startedAt: null, finishedAt: null }));
      trials.push(...created);
      return sendJson(res, 201, { items: created });
    }
    if (req.method === 'DELETE' && rest === '') {
      if (!FINISHED_SWEEP_STATUSES.has(sweep.status)) {
        return sendJson(res, 409, apiError('invalid_state', `the sweep is ${sweep.status}`, [{ path: 'status', message: 'only a completed, failed or cancelled sweep can be deleted' }]));
      }
      sweeps.splice(sweeps.indexOf(sweep), 1);
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === 'GET' && rest === 'trials') return sendJson(res, 200, page(trials, url.searchParams));
    const stop = /^trials\/([^/]+)\/stop$/.exec(rest);
    if (req.method === 'POST' && stop) {
      const trial = trials.find((t) => t.id === stop[1]);
      if (!trial) return sendJson(res, 404, apiError('not_found', 'no such trial'));
      trial.status = 'stopped';
      return sendJson(res, 200, trial);
    }
    if (req.method === 'GET' && rest === 'events') return streamEvents(req, res, sweep);
    return sendJson(res, 404, apiError('not_found', 'no such route'));
  };

  /** POST /datasets as the API answers it (apps/api/src/routes/datasets.ts), without the database. */
  const uploadCsv = (req: IncomingMessage, res: ServerResponse, url: URL, body: unknown) => {
    const parsed = CsvUploadQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) return sendJson(res, 400, validationError(parsed.error, 'invalid query'));
    const q = parsed.data;
    if (!String(req.headers['content-type']).startsWith('text/csv') || typeof body !== 'string') {
      return sendJson(res, 415, apiError('unsupported_media_type', 'upload the file as text/csv', [{ path: 'headers.content-type', message: `content-type ${req.headers['content-type'] ?? '(none)'} is not text/csv` }]));
    }
    if (body.trim() === '') return sendJson(res, 400, apiError('invalid_request', 'the CSV file is empty', [{ path: 'body', message: 'is empty' }]));
    let table;
    try {
      table = parseCsv(body, csvUploadOptions(q));
    } catch (error) {
      if (!(error instanceof DatasetError)) throw error;
      return sendJson(res, 400, apiError('invalid_request', `invalid CSV: ${error.message}`, [{ path: csvUploadErrorPath(error), message: error.message }]));
    }
    if (api.datasets.some((d) => d.name === q.name)) {
      return sendJson(res, 409, apiError('conflict', `a dataset named ${q.name} exists`, [{ path: 'name', message: 'a dataset with this name exists' }]));
    }
    const stored: DatasetInfo = {
      id: `40000000-0000-4000-8000-${String(api.datasets.length + 1).padStart(12, '0')}`,
      name: q.name,
      kind: 'csv',
      description: null,
      task: q.task,
      featureShape: [...table.featureShape],
      numClasses: table.numClasses ?? null,
      sizes: { train: table.train.count + table.validation.count, test: table.test.count },
      createdAt: T0,
    };
    api.datasets.push(stored);
    return sendJson(res, 201, stored);
  };

  /**
   * The first connection sends events 1–3 and half of event 4, then drops; later ones replay after
   * Last-Event-ID. As the API does, a finished sweep's stream ends once it has sent every event, and
   * a request for one with nothing left to send gets 204.
   */
  const streamEvents = (req: IncomingMessage, res: ServerResponse, sweep: Sweep) => {
    const lastEventId = String(req.headers['last-event-id'] ?? '');
    api.eventConnections.push(lastEventId);
    if (api.finishOnReconnect && api.eventConnections.length === 2) sweep.status = 'completed';
    const finished = () => FINISHED_SWEEP_STATUSES.has(sweep.status);
    const after = lastEventId === '' ? 0 : Number(lastEventId);
    if (finished() && lastEventId !== '' && !events.some((e) => e.id > after)) {
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 10\n: connected\n\n');
    const pending = events.filter((e) => e.id > after);
    if (api.eventConnections.length === 1) {
      for (const e of pending.filter((e) => e.id <= 3)) res.write(formatSseEvent(e));
      const cut = formatSseEvent(pending.find((e) => e.id === 4)!);
      res.write(cut.slice(0, cut.length - 20), () => res.socket?.destroy());
      return;
    }
    for (const e of pending) {
      if (e.type === 'sweep.updated' && FINISHED_SWEEP_STATUSES.has(e.data.status)) {
        // The API records the outcome before it announces it.
        sweep.status = e.data.status;
        sweep.best = e.data.best;
        sweep.counts = e.data.counts;
        sweep.progress = e.data.progress;
        sweep.finishedAt = T0;
        if (e.data.status === 'completed') sweep.testResult = { trialId: trialId(2), metrics: { test_accuracy: 0.94, test_loss: 0.21 }, evaluatedAt: T0 };
      }
      res.write(formatSseEvent(e));
    }
    if (finished()) {
      res.end();
      return;
    }
    // Then stay open with heartbeats, as a live stream does, until the client goes away.
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), 1000);
    req.socket.once('close', () => clearInterval(heartbeat));
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (String(req.headers['content-type']).startsWith('text/csv')) return handle(req, res, text);
      let body: unknown;
      try {
        body = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        return sendJson(res, 400, apiError('invalid_json', 'the body is not JSON'));
      }
      handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}

export { SWEEP_ID, trialId };
