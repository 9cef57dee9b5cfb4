// A stand-in for apps/api while developing the dashboard: the same routes and response shapes
// (every body is checked against @hypersweep/schemas before it is sent), an in-memory sweep that
// trains fake trials live over SSE, a finished 1,000-trial sweep for performance, a finished sweep
// over depth with per-layer widths (conditional parameters; each trial's resolved spec), sweep
// control (pause, resume, budget, enqueued configurations checked against the space, delete; each a
// sweep.control event), projects with quotas and API tokens (created, listed, revoked; a created
// token signs requests in until it is revoked), who the caller is (/me), projects on sweeps and
// dataset uploads (`?project=` as apps/api/src/scope.ts takes it; a token sees only its projects'
// sweeps and uploads), CSV and IDX uploads (checked lightly: shapes, not every value), and dist/ served with the SPA fallback. `npm run mock -w @hypersweep/web` (after `npm run build`); token:
// dev-token. PORT=0 picks a free port; the line printed names the one taken.
import {
  ApiTokenCreated, ApiTokenList, ClusterView, CreateApiTokenRequest, CreateProjectRequest, CreateSweepRequest, CsvUploadQuery, DatasetInfo, DatasetList, IdxUploadFields, ProjectName, FINISHED_SWEEP_STATUSES, MetricSeries, PredictRequest, PredictResponse, ProjectInfo, ProjectList,
  ProjectPathParams, Sweep, SweepCurves, SweepEvent, SweepPage, TokenPathParams, Trial, TrialDetail, TrialModelExport, TrialPage, UpdateProjectRequest,
  WhoAmI, formatSseEvent, isBuiltinSweep, isMoreDetail, maxStepsOf, resolveTrialConfig, validationError, type ApiTokenInfo, type ProjectRole, type SweepStatus, type TrialCounts, type TrialResolved,
} from '@hypersweep/schemas';
import { compileModel, exportTfjs, Predictor, Rng } from '@hypersweep/nn';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';

const PORT = Number(process.env['PORT'] ?? 5174);
const TOKEN = process.env['MOCK_TOKEN'] ?? 'dev-token';
// MOCK_DIST: another build to serve (the browser tests build into a temporary directory).
const DIST = process.env['MOCK_DIST'] ?? fileURLToPath(new URL('../dist', import.meta.url));
const TICK_MS = Number(process.env['MOCK_TICK_MS'] ?? 400);

/** Seeded noise (nn's Rng) so the fake curves are the same every run. */
function rng(seed: number) {
  const r = Rng.fromSeed(seed);
  return () => r.double();
}

interface MockSweep {
  sweep: Sweep;
  trials: Trial[];
  metrics: Map<string, Map<string, { step: number; value: number }[]>>;
  events: SweepEvent[];
  listeners: Set<() => void>;
}
const sweeps = new Map<string, MockSweep>();
const now = () => new Date().toISOString();

function counts(trials: readonly Trial[]): TrialCounts {
  const c: TrialCounts = { queued: 0, running: 0, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: trials.length };
  for (const t of trials) c[t.status]++;
  return c;
}

function better(a: number, b: number, mode: 'minimize' | 'maximize') {
  return mode === 'minimize' ? a < b : a > b;
}

function refresh(m: MockSweep) {
  const s = m.sweep;
  s.counts = counts(m.trials);
  const finished = m.trials.filter((t) => t.status !== 'queued' && t.status !== 'running').length;
  const epochs = m.trials.reduce((n, t) => n + t.epochsDone, 0);
  s.progress = { trialsFinished: finished, maxTrials: s.spec.search.budget.maxTrials, epochsDone: epochs, maxTotalEpochs: s.spec.search.budget.maxTotalEpochs, fraction: FINISHED_SWEEP_STATUSES.has(s.status) ? 1 : Math.min(1, finished / s.spec.search.budget.maxTrials) };
  let best: Trial | undefined;
  for (const t of m.trials) if (t.bestValue !== null && (!best || better(t.bestValue, best.bestValue!, s.objective.mode))) best = t;
  s.best = best ? { trialId: best.id, number: best.number, value: best.bestValue!, params: best.params } : null;
  s.updatedAt = now();
}

function emit(m: MockSweep, type: SweepEvent['type'], data: unknown) {
  const event = SweepEvent.parse({ id: m.events.length + 1, type, sweepId: m.sweep.id, at: now(), data });
  m.events.push(event);
  for (const l of m.listeners) l();
}

function sweepUpdated(m: MockSweep) {
  refresh(m);
  emit(m, 'sweep.updated', { status: m.sweep.status, counts: m.sweep.counts, progress: m.sweep.progress, best: m.sweep.best });
}

function sampleParams(r: () => number): Trial['params'] {
  return {
    learningRate: 10 ** (-4 + 3 * r()),
    batchSize: [32, 64, 128][Math.floor(r() * 3)]!,
    dropout: 0.5 * r(),
    activation: ['relu', 'tanh', 'gelu'][Math.floor(r() * 3)]!,
  };
}

/** A fake but plausible curve: accuracy rises faster for learning rates near 3e-3. */
function fakeEpoch(params: Trial['params'], epoch: number, r: () => number) {
  const lr = params['learningRate'] as number;
  const dropout = typeof params['dropout'] === 'number' ? params['dropout'] : 0;
  const quality = Math.exp(-((Math.log10(lr) + 2.5) ** 2)) * (1 - 0.3 * dropout) * (params['activation'] === 'tanh' ? 0.9 : 1);
  const acc = Math.min(0.995, 0.1 + (0.88 * quality + 0.02) * (1 - Math.exp(-epoch / 3)) + 0.01 * (r() - 0.5));
  const loss = Math.max(0.02, 2.3 * (1 - acc) + 0.05 * r());
  return { val_accuracy: acc, val_loss: loss, train_accuracy: Math.min(1, acc + 0.02), train_loss: loss * 0.9 };
}

function newTrial(m: MockSweep, params: Trial['params']): Trial {
  const t: Trial = { id: randomUUID(), sweepId: m.sweep.id, number: m.trials.length, params, status: 'queued', attempt: 0, workerId: null, epochsDone: 0, bestValue: null, finalValue: null, lastMetrics: {}, reason: null, error: null, createdAt: now(), startedAt: null, finishedAt: null };
  m.trials.push(t);
  m.metrics.set(t.id, new Map());
  emit(m, 'trial.created', { trialId: t.id, number: t.number, params });
  return t;
}

function recordEpoch(m: MockSweep, t: Trial, metrics: Record<string, number>, live: boolean) {
  t.epochsDone++;
  const byName = m.metrics.get(t.id)!;
  for (const [k, v] of Object.entries(metrics)) {
    const list = byName.get(k) ?? [];
    list.push({ step: t.epochsDone, value: v });
    byName.set(k, list);
  }
  t.lastMetrics = metrics;
  const v = metrics[m.sweep.objective.metric]!;
  if (t.bestValue === null || better(v, t.bestValue, m.sweep.objective.mode)) t.bestValue = v;
  if (live) emit(m, 'trial.epoch', { trialId: t.id, number: t.number, epoch: t.epochsDone, metrics });
}

/** A sweep in `project` (by name: the seeded ones are in default). */
function createMockSweep(request: CreateSweepRequest, project = 'default'): MockSweep {
  const sweep: Sweep = Sweep.parse({
    id: randomUUID(), name: request.name, project, description: request.description ?? null, status: 'running', objective: request.objective, seed: request.search.seed, spec: request,
    counts: counts([]), progress: { trialsFinished: 0, maxTrials: request.search.budget.maxTrials, epochsDone: 0, maxTotalEpochs: request.search.budget.maxTotalEpochs, fraction: 0 },
    best: null, testResult: null, error: null, createdAt: now(), updatedAt: now(), finishedAt: null,
  });
  const m: MockSweep = { sweep, trials: [], metrics: new Map(), events: [], listeners: new Set() };
  sweeps.set(sweep.id, m);
  return m;
}

function finish(m: MockSweep, status: SweepStatus) {
  m.sweep.status = status;
  m.sweep.finishedAt = now();
  refresh(m);
  if (m.sweep.best) m.sweep.testResult = { trialId: m.sweep.best.trialId, metrics: { test_accuracy: Math.max(0, (m.sweep.best.value as number) - 0.01), test_loss: 0.12 }, evaluatedAt: now() };
  sweepUpdated(m);
}

/** Advances a running sweep by one tick: start queued trials, train running ones an epoch, stop some early. */
function tick(m: MockSweep, r: () => number) {
  if (m.sweep.status !== 'running') return;
  const spec = m.sweep.spec;
  const running = m.trials.filter((t) => t.status === 'running');
  while (m.trials.length < spec.search.budget.maxTrials && m.trials.filter((t) => t.status === 'running' || t.status === 'queued').length < spec.search.budget.maxConcurrentTrials) {
    newTrial(m, sampleParams(r));
  }
  for (const t of m.trials.filter((x) => x.status === 'queued').slice(0, spec.search.budget.maxConcurrentTrials - running.length)) {
    t.status = 'running';
    t.attempt = 1;
    t.workerId = `mock-worker-${1 + (t.number % 2)}`;
    t.startedAt = now();
    emit(m, 'trial.started', { trialId: t.id, number: t.number, attempt: 1, workerId: t.workerId, resumedFromEpoch: 0 });
  }
  for (const t of m.trials.filter((x) => x.status === 'running')) {
    const metrics = fakeEpoch(t.params, t.epochsDone + 1, r);
    recordEpoch(m, t, metrics, true);
    const epochs = maxStepsOf(spec);
    if (t.epochsDone >= epochs) {
      t.status = 'completed';
      t.finalValue = (metrics as Record<string, number>)[m.sweep.objective.metric]!;
      t.finishedAt = now();
      emit(m, 'trial.completed', { trialId: t.id, number: t.number, epochsDone: t.epochsDone, finalValue: t.finalValue, bestValue: t.bestValue });
    } else if (t.epochsDone === 3 && t.bestValue !== null && (m.sweep.objective.mode === 'maximize' ? t.bestValue < 0.5 : t.bestValue > 1.2)) {
      t.status = 'stopped';
      t.reason = 'asha: below the rung-3 cutoff';
      t.finishedAt = now();
      emit(m, 'trial.stopped', { trialId: t.id, number: t.number, epochsDone: t.epochsDone, reason: t.reason, byUser: false });
    }
  }
  sweepUpdated(m);
  if (m.trials.length >= spec.search.budget.maxTrials && m.trials.every((t) => t.status !== 'running' && t.status !== 'queued')) finish(m, 'completed');
}

function mnistRequest(name: string, maxTrials: number, concurrency: number, epochs: number): CreateSweepRequest {
  return CreateSweepRequest.parse({
    name,
    dataset: { type: 'mnist', limitTrain: 5000, limitTest: 1000 },
    model: { inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 128, activation: 'relu' }, { type: 'dropout', rate: 0.2 }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' },
    training: { epochs, batchSize: 64 },
    search: {
      space: {
        learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 },
        batchSize: { type: 'categorical', choices: [32, 64, 128] },
        dropout: { type: 'uniform', low: 0, high: 0.5 },
        activation: { type: 'categorical', choices: ['relu', 'tanh', 'gelu'] },
      },
      sampler: { type: 'tpe', nStartupTrials: 8 },
      scheduler: { type: 'asha', reductionFactor: 3, minResource: 1 },
      budget: { maxTrials, maxConcurrentTrials: concurrency },
      seed: 42,
    },
    objective: { metric: 'val_accuracy' },
  });
}

/** What a trial trains, as GET of a trial returns it: the spec with its parameters applied. */
function resolvedOf(m: MockSweep, t: Trial): TrialResolved | null {
  // Only a built-in model sweep has a resolved spec (a trainable's trials run the worker's command).
  if (!isBuiltinSweep(m.sweep.spec)) return null;
  try {
    const { objective: _objective, ...resolved } = resolveTrialConfig(m.sweep.spec, t.params);
    return resolved;
  } catch {
    return null;
  }
}

/** Depth 1–3 with a width per layer: units_2 and units_3 exist only where their layers do. */
function depthRequest(): CreateSweepRequest {
  const width = { type: 'intlog', low: 16, high: 256 };
  return CreateSweepRequest.parse({
    name: 'depth: per-layer widths (conditional)',
    dataset: { type: 'mnist', limitTrain: 2000, limitTest: 500 },
    model: {
      inputShape: [28, 28],
      layers: [{ type: 'flatten' }, { $repeat: { times: { $param: 'depth' }, block: [{ type: 'dense', units: { $param: 'units_{i}' }, activation: 'relu' }] } }, { type: 'dense', units: 10 }],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 6, batchSize: 64, optimizer: { type: 'adam', learningRate: { $param: 'learningRate' } } },
    search: {
      space: {
        learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 },
        units_1: width,
        depth: { type: 'categorical', choices: [{ value: 1 }, { value: 2, params: { units_2: width } }, { value: 3, params: { units_2: width, units_3: width } }] },
      },
      budget: { maxTrials: 12, maxConcurrentTrials: 2 },
      seed: 3,
    },
    objective: { metric: 'val_accuracy' },
  });
}

// A finished 1,000-trial × 50-epoch sweep (performance), and a live one.
{
  const r = rng(1);
  const big = createMockSweep(mnistRequest('big: 1000 trials × 50 epochs', 1000, 8, 50));
  for (let i = 0; i < 1000; i++) {
    const t = newTrial(big, sampleParams(r));
    t.status = 'running';
    t.attempt = 1;
    t.workerId = 'mock-worker-1';
    t.startedAt = now();
    const stopAt = r() < 0.6 ? 3 + Math.floor(r() * 10) : 50;
    for (let e = 1; e <= stopAt; e++) recordEpoch(big, t, fakeEpoch(t.params, e, r), true);
    t.finishedAt = now();
    if (stopAt < 50) {
      t.status = 'stopped';
      t.reason = 'asha';
      emit(big, 'trial.stopped', { trialId: t.id, number: t.number, epochsDone: t.epochsDone, reason: 'asha', byUser: false });
    } else {
      t.status = 'completed';
      t.finalValue = t.lastMetrics['val_accuracy']!;
      emit(big, 'trial.completed', { trialId: t.id, number: t.number, epochsDone: t.epochsDone, finalValue: t.finalValue, bestValue: t.bestValue });
    }
  }
  finish(big, 'completed');
  // Finished, 12 trials; the first has depth 1, so units_2 and units_3 are absent from it.
  const deep = createMockSweep(depthRequest());
  const dr = rng(3);
  for (let i = 0; i < 12; i++) {
    const depth = 1 + (i % 3);
    const params: Trial['params'] = { learningRate: 10 ** (-4 + 3 * dr()), units_1: 16 * 2 ** Math.floor(dr() * 4), depth };
    for (let l = 2; l <= depth; l++) params[`units_${l}`] = 16 * 2 ** Math.floor(dr() * 4);
    const t = newTrial(deep, params);
    t.status = 'completed';
    t.attempt = 1;
    t.workerId = 'mock-worker-2';
    t.startedAt = now();
    for (let e = 1; e <= 6; e++) recordEpoch(deep, t, fakeEpoch(t.params, e, dr), true);
    t.finalValue = t.lastMetrics['val_accuracy']!;
    t.finishedAt = now();
    emit(deep, 'trial.completed', { trialId: t.id, number: t.number, epochsDone: t.epochsDone, finalValue: t.finalValue, bestValue: t.bestValue });
  }
  finish(deep, 'completed');
  const live = createMockSweep(mnistRequest('live: mnist mlp', 40, 4, 12));
  const lr = rng(2);
  setInterval(() => {
    for (const m of sweeps.values()) tick(m, m === live ? lr : rng(m.events.length));
  }, TICK_MS).unref();
}

// A small MNIST-shaped model with random weights, exported as the API would export a trial's model.
const exportModel = compileModel({ inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' });
const exportParams = new Float32Array(exportModel.paramCount).map((_, i) => Math.sin(i * 12.9898) * 0.05);
const exported = exportTfjs(exportModel, exportParams, { normalization: { kind: 'affine', scale: 1 / 255, shift: 0 }, classNames: null });
const predictorPromise = Predictor.fromTfjs(exported.modelJson, exported.weights);

// ---------------------------------------------------------------------------------------------
// Sweep control, with the API's checks and errors
// ---------------------------------------------------------------------------------------------

type Problem = { path: string; message: string };

/** PATCH /sweeps/{id}: budget fields, positive integers (maxTotalEpochs may be null), none below what the sweep has. */
function budgetProblems(m: MockSweep, body: unknown): Problem[] {
  const budget = (body as { budget?: unknown } | null)?.budget;
  if (typeof budget !== 'object' || budget === null || Array.isArray(budget)) return [{ path: 'budget', message: 'must be an object' }];
  const b = budget as Record<string, unknown>;
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(b)) {
    if (!['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs'].includes(key)) problems.push({ path: `budget.${key}`, message: 'is not a budget field' });
    else if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1) && !(key === 'maxTotalEpochs' && value === null)) problems.push({ path: `budget.${key}`, message: 'must be a whole number ≥ 1' });
  }
  if (Object.keys(b).length === 0) problems.push({ path: 'budget', message: 'name at least one of maxTrials, maxConcurrentTrials, maxTotalEpochs' });
  if (typeof b['maxTrials'] === 'number' && b['maxTrials'] < m.trials.length) problems.push({ path: 'budget.maxTrials', message: `must be at least ${m.trials.length}, the trials the sweep has` });
  const epochs = m.trials.reduce((n, t) => n + t.epochsDone, 0);
  if (typeof b['maxTotalEpochs'] === 'number' && b['maxTotalEpochs'] < epochs) problems.push({ path: 'budget.maxTotalEpochs', message: `must be at least ${epochs}, the epochs the sweep has trained` });
  return problems;
}

/** One configuration against a flat space (the mock's sweeps have no conditional parameters to enqueue). */
function configurationProblems(space: Record<string, unknown>, config: unknown, i: number): Problem[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [{ path: `params[${i}]`, message: 'must be an object' }];
  const values = config as Record<string, unknown>;
  const problems: Problem[] = [];
  for (const [name, raw] of Object.entries(space)) {
    const def = raw as { type: string; low?: number; high?: number; choices?: unknown[] };
    const value = values[name];
    const path = `params[${i}].${name}`;
    if (value === undefined) problems.push({ path, message: 'is missing' });
    else if (def.type === 'categorical') {
      const choices = (def.choices ?? []).map((c) => (typeof c === 'object' && c !== null && 'value' in c ? (c as { value: unknown }).value : c));
      if (!choices.includes(value)) problems.push({ path, message: `must be one of ${choices.map(String).join(', ')}` });
    } else if (typeof value !== 'number' || value < def.low! || value > def.high! || ((def.type === 'int' || def.type === 'intlog') && !Number.isInteger(value))) {
      problems.push({ path, message: `must be ${def.type === 'int' || def.type === 'intlog' ? 'an integer' : 'a number'} from ${def.low} to ${def.high}` });
    }
  }
  for (const name of Object.keys(values)) if (!(name in space)) problems.push({ path: `params[${i}].${name}`, message: 'is not a parameter of the search space' });
  return problems;
}

function control(m: MockSweep, data: Record<string, unknown>) {
  emit(m, 'sweep.control', data);
}

// ---------------------------------------------------------------------------------------------
// Projects and tokens, with the API's roles (apps/api/src/scope.ts) and its refusals
// ---------------------------------------------------------------------------------------------

interface MockProject {
  id: string;
  name: string;
  createdAt: string;
  quotas: ProjectInfo['quotas'];
}
const projects = new Map<string, MockProject>();
const noQuotas = (): ProjectInfo['quotas'] => ({ maxRunningTrials: null, maxQueuedTrials: null, maxActiveSweeps: null, maxEpochsPerDay: null, maxDatasetBytes: null });
projects.set('default', { id: randomUUID(), name: 'default', createdAt: now(), quotas: noQuotas() });

/** A token as the API lists it, and its secret (the API keeps a hash; the mock is no vault). */
interface MockToken {
  info: ApiTokenInfo;
  secret: string;
}
// MOCK_TOKEN is a server admin with admin of the default project, as the first token of a server is.
const tokens: MockToken[] = [
  { secret: TOKEN, info: { id: randomUUID(), name: 'dev', prefix: TOKEN.slice(0, 11), grants: [{ project: 'default', role: 'admin' }], serverAdmin: true, expiresAt: null, createdAt: now(), lastUsedAt: null, revokedAt: null } },
];

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** The live token a request is signed with, else the API's 401. */
function authenticate(req: IncomingMessage): MockToken {
  const header = req.headers.authorization;
  if (header === undefined) throw new Refusal(401, 'unauthorized', 'missing bearer token', [{ path: 'headers.authorization', message: 'is required: Authorization: Bearer <token>' }]);
  const secret = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!secret) throw new Refusal(401, 'unauthorized', 'malformed Authorization header', [{ path: 'headers.authorization', message: 'must be "Bearer <token>"' }]);
  const token = tokens.find((t) => t.secret === secret);
  const live = token && token.info.revokedAt === null && (token.info.expiresAt === null || Date.parse(token.info.expiresAt) > Date.now());
  if (!token || !live) throw new Refusal(401, 'unauthorized', 'invalid or revoked token', [{ path: 'headers.authorization', message: 'is not a valid token' }]);
  token.info.lastUsedAt = now();
  return token;
}

const RANK: Readonly<Record<ProjectRole, number>> = { read: 1, submit: 2, admin: 3 };
const roleIn = (caller: MockToken, project: string): ProjectRole | null => (caller.info.serverAdmin ? 'admin' : (caller.info.grants.find((g) => g.project === project)?.role ?? null));
function hasRole(caller: MockToken, project: string, need: ProjectRole): boolean {
  const role = roleIn(caller, project);
  return role !== null && RANK[role] >= RANK[need];
}

function requireServerAdmin(caller: MockToken) {
  if (!caller.info.serverAdmin) throw new Refusal(403, 'forbidden', 'only a server admin token may do this', [{ path: 'headers.authorization', message: 'needs a server admin token' }]);
}
function requireSomeAdmin(caller: MockToken) {
  if (caller.info.serverAdmin || caller.info.grants.some((g) => g.role === 'admin')) return;
  throw new Refusal(403, 'forbidden', 'managing tokens needs the admin role in a project', [{ path: 'headers.authorization', message: 'needs an admin role' }]);
}
/** A server admin manages every token; a project admin those wholly in projects it administers. */
const manages = (caller: MockToken, t: MockToken) => caller.info.serverAdmin || (!t.info.serverAdmin && t.info.grants.length > 0 && t.info.grants.every((g) => hasRole(caller, g.project, 'admin')));

/** A zod failure as the API's 400: "invalid body: <path>: <message>", a problem of the whole body at `body`. */
function invalidBody(error: z.ZodError): Refusal {
  const body = validationError(error, 'invalid body');
  return new Refusal(400, 'invalid_request', body.error.message, body.error.details.map((d) => (d.path === '' && !isMoreDetail(d) ? { ...d, path: 'body' } : d)));
}
async function parseBody<T>(schema: z.ZodType<T>, req: IncomingMessage): Promise<T> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    throw new Refusal(415, 'unsupported_media_type', 'the body must be application/json', [{ path: 'headers.content-type', message: `content-type ${req.headers['content-type'] ?? '(none)'} is not application/json` }]);
  }
  const parsed = schema.safeParse(await readJson(req));
  if (!parsed.success) throw invalidBody(parsed.error);
  return parsed.data;
}

/** A project with its usage: its sweeps and uploads. */
function presentProject(caller: MockToken, p: MockProject): ProjectInfo {
  const all = [...sweeps.values()].filter((m) => m.sweep.project === p.name);
  const trials = all.flatMap((m) => m.trials);
  const usage = {
    runningTrials: trials.filter((t) => t.status === 'running').length,
    queuedTrials: trials.filter((t) => t.status === 'queued').length,
    activeSweeps: all.filter((m) => !FINISHED_SWEEP_STATUSES.has(m.sweep.status)).length,
    epochsToday: trials.reduce((n, t) => n + t.epochsDone, 0),
    datasetBytes: uploads.filter((u) => u.project === p.name).reduce((n, u) => n + u.bytes, 0),
  };
  return { ...p, role: roleIn(caller, p.name) ?? 'read', usage };
}

/** A path segment decoded; a malformed %-escape is the API's 400 naming the parameter. */
function pathParam(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new Refusal(400, 'invalid_request', `invalid path: ${name}: a malformed %-escape`, [{ path: name, message: 'a malformed %-escape' }]);
  }
}

/** The named project when the caller sees it, else 404 (as one that does not exist). */
function visibleProject(caller: MockToken, raw: string): MockProject {
  const parsed = ProjectPathParams.safeParse({ project: pathParam(raw, 'project') });
  if (!parsed.success) throw new Refusal(400, 'invalid_request', `invalid path: project: ${parsed.error.issues[0]?.message ?? 'invalid'}`, [{ path: 'project', message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  const p = projects.get(parsed.data.project);
  if (!p || roleIn(caller, p.name) === null) throw new Refusal(404, 'not_found', `no project ${parsed.data.project}`, [{ path: 'project', message: 'no such project' }]);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Projects of sweeps and dataset uploads (apps/api/src/scope.ts, routes/sweeps.ts, routes/datasets.ts)
// ---------------------------------------------------------------------------------------------

const noSuchProject = (name: string) => new Refusal(404, 'not_found', `no project ${name}`, [{ path: 'project', message: 'no such project' }]);

/** The projects whose sweeps and uploads the caller sees; null: all of them (a server admin). */
function visibleProjectNames(caller: MockToken): string[] | null {
  return caller.info.serverAdmin ? null : caller.info.grants.map((g) => g.project);
}

/** 404 unless the caller sees the project; 403 unless its role there is `need` (scope.ts requireRole). */
function requireRole(caller: MockToken, project: string, need: ProjectRole, hidden: () => Refusal): void {
  const role = roleIn(caller, project);
  if (role === null) throw hidden();
  if (RANK[role] < RANK[need]) {
    throw new Refusal(403, 'forbidden', `this token's role ${role} in the project does not allow this (${need} is needed)`, [{ path: 'headers.authorization', message: `needs the ${need} role in the project` }]);
  }
}

/**
 * The project a new sweep or upload goes to, as scope.ts targetProject: `?project=<name>` (a bad name
 * 400, one the caller does not see 404), else the token's only project, else default (a token with
 * several projects, none of them default, gets a 400 naming project); then the submit role.
 */
function targetProject(caller: MockToken, url: URL): string {
  const named = url.searchParams.getAll('project');
  let project: string;
  if (named.length > 0) {
    const name = named.length === 1 ? named[0]! : null;
    if (name === null || !ProjectName.safeParse(name).success) {
      throw new Refusal(400, 'invalid_request', 'invalid query: project: must be a project name: 1-63 of a-z, 0-9, _ and -, starting with a letter or digit', [{ path: 'project', message: 'must be a project name: 1-63 of a-z, 0-9, _ and -, starting with a letter or digit' }]);
    }
    if (!projects.has(name) || roleIn(caller, name) === null) throw noSuchProject(name);
    project = name;
  } else {
    const grants = caller.info.serverAdmin ? null : caller.info.grants;
    if (grants && grants.length === 1) project = grants[0]!.project;
    else if (grants && grants.length > 1 && !grants.some((g) => g.project === 'default')) {
      throw new Refusal(400, 'invalid_request', 'this token has several projects: name one with ?project=<name>', [{ path: 'project', message: 'is required for this token' }]);
    } else project = 'default';
  }
  requireRole(caller, project, 'submit', () => noSuchProject(named[0] ?? 'default'));
  return project;
}

/** GET /sweeps: the projects listed (null: all), `?project=` checked by ListSweepsQuery (400 at project) and then seen (else 404). */
function listedProjects(caller: MockToken, url: URL): string[] | null {
  const visible = visibleProjectNames(caller);
  const named = url.searchParams.getAll('project');
  if (named.length === 0) return visible;
  const parsed = ProjectName.safeParse(named.length === 1 ? named[0] : named);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'invalid';
    throw new Refusal(400, 'invalid_request', `invalid query: project: ${message}`, [{ path: 'project', message }]);
  }
  if (!projects.has(parsed.data) || (visible && !visible.includes(parsed.data))) throw noSuchProject(parsed.data);
  return [parsed.data];
}

/** An upload as GET /datasets lists it, in its project. */
interface MockUpload {
  project: string;
  info: DatasetInfo;
  bytes: number;
}
const uploads: MockUpload[] = [];

function storeUpload(project: string, info: DatasetInfo, bytes: number): DatasetInfo {
  if (uploads.some((u) => u.project === project && u.info.name === info.name)) throw new Refusal(409, 'conflict', `a dataset named ${info.name} exists`, [{ path: 'name', message: 'a dataset with this name exists' }]);
  uploads.push({ project, info: DatasetInfo.parse(info), bytes });
  return info;
}

async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** POST /datasets: the API's order (the query, the project, the content type, an empty file), then a light parse of the table. */
async function uploadCsv(req: IncomingMessage, url: URL, caller: MockToken): Promise<DatasetInfo> {
  const parsed = CsvUploadQuery.safeParse(Object.fromEntries([...url.searchParams.entries()]));
  if (!parsed.success) throw invalidQuery(parsed.error);
  const q = parsed.data;
  const project = targetProject(caller, url);
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('text/csv') && !type.startsWith('text/plain')) throw new Refusal(415, 'unsupported_media_type', 'upload the file as text/csv', [{ path: 'headers.content-type', message: `content-type ${type || '(none)'} is not text/csv` }]);
  const text = (await readBytes(req)).toString('utf8');
  if (text.trim() === '') throw new Refusal(400, 'invalid_request', 'the CSV file is empty', [{ path: 'body', message: 'is empty' }]);
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => l.split(q.delimiter));
  const width = rows[0]!.length;
  const bad = rows.findIndex((r) => r.length !== width);
  if (bad >= 0) throw new Refusal(400, 'invalid_request', `invalid CSV: line ${bad + 1} has ${rows[bad]!.length} fields, not ${width}`, [{ path: `body (line ${bad + 1})`, message: `has ${rows[bad]!.length} fields, not ${width}` }]);
  const header = q.header === 'true' || (q.header === 'auto' && rows[0]!.some((c) => c.trim() !== '' && Number.isNaN(Number(c))));
  const label = /^-?\d+$/.test(q.labelColumn) ? (Number(q.labelColumn) + width) % width : header ? rows[0]!.indexOf(q.labelColumn) : -1;
  if (label < 0) throw new Refusal(400, 'invalid_request', `invalid CSV: no column ${q.labelColumn}`, [{ path: 'labelColumn', message: `no column ${q.labelColumn}` }]);
  const data = header ? rows.slice(1) : rows;
  const test = Math.floor(data.length * (q.testFraction ?? 0.2));
  const classes = new Set(data.map((r) => r[label]));
  return storeUpload(project, { id: randomUUID(), name: q.name, kind: 'csv', description: null, task: q.task, featureShape: [width - 1], numClasses: q.task === 'classification' ? classes.size : null, sizes: { train: data.length - test, test }, createdAt: now() }, text.length);
}

/** An IDX file's dimensions and values (gzip or not), or why it is not one of the kind wanted. */
function idxDims(bytes: Uint8Array, kind: 'images' | 'labels'): { dims: number[]; values: Buffer } | string {
  let b = Buffer.from(bytes);
  if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b);
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08) return 'is not a ubyte IDX file (magic 0x0000080N)';
  const rank = b[3]!;
  if (kind === 'labels' ? rank !== 1 : rank !== 3 && rank !== 4) return `has rank ${rank}: ${kind === 'labels' ? 'labels are [N]' : 'images are [N, H, W] or [N, H, W, C]'}`;
  const dims = Array.from({ length: rank }, (_, i) => b.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((n, d) => n * d, 1);
  return b.length === 4 + 4 * rank + size ? { dims, values: b.subarray(4 + 4 * rank) } : `holds ${b.length - 4 - 4 * rank} bytes of data, not ${size}`;
}

/** POST /datasets/idx: the API's order (the project, the form's fields, the training pair), the files' headers checked. */
async function uploadIdx(req: IncomingMessage, url: URL, caller: MockToken): Promise<DatasetInfo> {
  const project = targetProject(caller, url);
  // The multipart body read by the platform's own parser.
  const body = await readBytes(req);
  const form = await new Request(url, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: new Blob([new Uint8Array(body)]) }).formData().catch(() => {
    throw new Refusal(400, 'invalid_request', 'the body must be multipart/form-data', [{ path: 'body', message: 'is not multipart/form-data' }]);
  });
  const fields: Record<string, string> = {};
  const files: Record<string, Uint8Array> = {};
  const parts: [string, FormDataEntryValue][] = [];
  form.forEach((value, key) => parts.push([key, value]));
  for (const [key, value] of parts) {
    if (typeof value === 'string') fields[key] = value;
    else files[key] = new Uint8Array(await value.arrayBuffer());
  }
  const parsed = IdxUploadFields.safeParse(fields);
  if (!parsed.success) throw invalidBody(parsed.error);
  const missing = (['trainImages', 'trainLabels'] as const).filter((f) => files[f] === undefined);
  if (missing.length > 0) throw new Refusal(400, 'invalid_request', `the upload needs a training pair: ${missing.join(' and ')} missing`, missing.map((path) => ({ path, message: 'required (an IDX file, gzip or not)' })));
  if ((files['testImages'] === undefined) !== (files['testLabels'] === undefined)) {
    const path = files['testImages'] ? 'testLabels' : 'testImages';
    throw new Refusal(400, 'invalid_request', `give testImages and testLabels together, or neither: ${path} missing`, [{ path, message: 'required with the other test file' }]);
  }
  const dims: Record<string, number[]> = {};
  let largestLabel = 0;
  for (const [field, bytes] of Object.entries(files)) {
    const d = idxDims(bytes, field.endsWith('Labels') ? 'labels' : 'images');
    if (typeof d === 'string') throw new Refusal(400, 'invalid_request', `invalid IDX upload: ${field} ${d}`, [{ path: field, message: d }]);
    dims[field] = d.dims;
    if (field.endsWith('Labels')) for (const label of d.values) largestLabel = Math.max(largestLabel, label);
  }
  const train = dims['trainImages']![0]!;
  if (dims['trainLabels']![0] !== train) throw new Refusal(400, 'invalid_request', `invalid IDX upload: trainLabels has ${dims['trainLabels']![0]} labels for ${train} images`, [{ path: 'trainLabels', message: `has ${dims['trainLabels']![0]} labels for ${train} images` }]);
  const test = dims['testImages']?.[0] ?? Math.floor(train * (parsed.data.testFraction ?? 0.1));
  const featureShape = dims['trainImages']!.slice(1);
  const info: DatasetInfo = {
    id: randomUUID(), name: parsed.data.name, kind: 'idx', description: `IDX images ${featureShape.join('×')} uint8`, task: 'classification', featureShape, numClasses: parsed.data.numClasses ?? Math.max(2, largestLabel + 1),
    sizes: { train: dims['testImages'] ? train : train - test, test }, createdAt: now(),
  };
  return storeUpload(project, info, Object.values(files).reduce((n, f) => n + f.length, 0));
}

/** A query's zod failure as the API's 400 ("invalid query: <path>: <message>"). */
function invalidQuery(error: z.ZodError): Refusal {
  const body = validationError(error, 'invalid query');
  return new Refusal(400, 'invalid_request', body.error.message, body.error.details.map((d) => (d.path === '' && !isMoreDetail(d) ? { ...d, path: 'query' } : d)));
}

/** GET /me, GET/POST /projects, GET/PATCH /projects/{name}, GET/POST /tokens, DELETE /tokens/{id}; false for any other route. */
async function accessRoutes(req: IncomingMessage, res: ServerResponse, p: string, caller: MockToken): Promise<boolean> {
  const named = /^\/projects\/([^/]+)$/.exec(p);
  if (req.method === 'GET' && p === '/me') {
    // Any live token may ask, no role needed (a revoked or expired one got its 401 in authenticate).
    send(res, 200, WhoAmI, { serverAdmin: caller.info.serverAdmin, token: caller.info });
  } else if (req.method === 'GET' && p === '/projects') {
    const items = [...projects.values()].filter((x) => roleIn(caller, x.name) !== null).sort((a, b) => a.name.localeCompare(b.name)).map((x) => presentProject(caller, x));
    send(res, 200, ProjectList, { items });
  } else if (req.method === 'POST' && p === '/projects') {
    requireServerAdmin(caller);
    const body = await parseBody(CreateProjectRequest, req);
    if (projects.has(body.name)) throw new Refusal(409, 'conflict', `a project named ${body.name} exists`, [{ path: 'name', message: 'is taken by another project' }]);
    const project: MockProject = { id: randomUUID(), name: body.name, createdAt: now(), quotas: { ...noQuotas(), ...body.quotas } };
    projects.set(project.name, project);
    res.setHeader('Location', `/api/v1/projects/${project.name}`);
    send(res, 201, ProjectInfo, presentProject(caller, project));
  } else if (named && req.method === 'GET') {
    send(res, 200, ProjectInfo, presentProject(caller, visibleProject(caller, named[1]!)));
  } else if (named && req.method === 'PATCH') {
    // The API's order: 404 for a project the caller does not see, then 403, then the body.
    const project = visibleProject(caller, named[1]!);
    requireServerAdmin(caller);
    const body = await parseBody(UpdateProjectRequest, req);
    project.quotas = { ...project.quotas, ...body.quotas };
    send(res, 200, ProjectInfo, presentProject(caller, project));
  } else if (req.method === 'GET' && p === '/tokens') {
    requireSomeAdmin(caller);
    // Newest first, as the API lists them.
    send(res, 200, ApiTokenList, { items: tokens.filter((t) => manages(caller, t)).map((t) => t.info).reverse() });
  } else if (req.method === 'POST' && p === '/tokens') {
    requireSomeAdmin(caller);
    const body = await parseBody(CreateApiTokenRequest, req);
    if (body.serverAdmin && !caller.info.serverAdmin) throw new Refusal(403, 'forbidden', 'only a server admin may create a server admin token', [{ path: 'serverAdmin', message: 'needs a server admin token' }]);
    body.grants.forEach((g, i) => {
      const path = `grants[${i}].project`;
      const role = projects.has(g.project) ? roleIn(caller, g.project) : null;
      // A token is granted only what its creator administers; a project it does not see does not exist.
      if (role === null) throw new Refusal(404, 'not_found', `no project ${g.project}`, [{ path, message: 'no such project' }]);
      if (RANK[role] < RANK.admin) throw new Refusal(403, 'forbidden', `this token's role ${role} in the project does not allow this (admin is needed)`, [{ path: 'headers.authorization', message: 'needs the admin role in the project' }]);
    });
    const secret = `hs_${randomBytes(32).toString('base64url')}`;
    const info: ApiTokenInfo = { id: randomUUID(), name: body.name, prefix: secret.slice(0, 11), grants: body.grants, serverAdmin: body.serverAdmin, expiresAt: body.expiresAt === undefined ? null : new Date(body.expiresAt).toISOString(), createdAt: now(), lastUsedAt: null, revokedAt: null };
    tokens.push({ info, secret });
    const { lastUsedAt: _lastUsed, revokedAt: _revoked, ...shown } = info;
    send(res, 201, ApiTokenCreated, { ...shown, token: secret });
  } else if (req.method === 'DELETE' && p.startsWith('/tokens/')) {
    requireSomeAdmin(caller);
    const parsed = TokenPathParams.safeParse({ tokenId: pathParam(p.slice('/tokens/'.length), 'tokenId') });
    if (!parsed.success) throw new Refusal(400, 'invalid_request', 'invalid path: tokenId: must be a UUID', [{ path: 'tokenId', message: 'must be a UUID' }]);
    const { tokenId } = parsed.data;
    const token = tokens.find((t) => t.info.id === tokenId);
    if (!token || !manages(caller, token) || token.info.revokedAt !== null) throw new Refusal(404, 'not_found', `no active token ${tokenId}`, [{ path: 'tokenId', message: 'no such active token' }]);
    token.info.revokedAt = now();
    res.writeHead(204);
    res.end();
  } else {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

function send<T>(res: ServerResponse, status: number, schema: z.ZodType<T> | null, body: unknown) {
  const checked = schema ? schema.parse(body) : body;
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(checked));
}
function error(res: ServerResponse, status: number, code: string, message: string, details: { path: string; message: string }[] = []) {
  send(res, status, null, { error: { code, message, details } });
}
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

/** A trial's series of the given metrics (all without names), each downsampled to maxPoints. */
function seriesOf(m: MockSweep, trialId: string, maxPoints: number, names?: readonly string[]) {
  return [...(m.metrics.get(trialId) ?? new Map<string, { step: number; value: number }[]>()).entries()]
    .filter(([name]) => !names || names.includes(name))
    .map(([name, points]) => {
      const step = Math.max(1, Math.ceil(points.length / maxPoints));
      const kept = points.filter((_, i) => i % step === 0 || i === points.length - 1);
      return { name, points: kept, totalPoints: points.length, downsampled: kept.length < points.length };
    });
}

/** Offset cursors (opaque to the client, as the real keyset ones are). */
function page<T>(items: T[], url: URL) {
  const limit = Math.min(200, Number(url.searchParams.get('limit') ?? 50));
  const offset = Number(Buffer.from(url.searchParams.get('cursor') ?? 'MA', 'base64url').toString() || 0);
  const slice = items.slice(offset, offset + limit);
  return { items: slice, nextCursor: offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64url') : null };
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml', '.wasm': 'application/wasm' };

function serveStatic(url: URL, res: ServerResponse) {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return error(res, 400, 'invalid_request', 'a malformed %-escape in the path');
  }
  const path = normalize(join(DIST, decoded));
  const file = path.startsWith(DIST) && existsSync(path) && statSync(path).isFile() ? path : join(DIST, 'index.html');
  if (!existsSync(file)) return error(res, 404, 'not_found', 'build the dashboard first: npm run build -w @hypersweep/web');
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (!path.startsWith('/api/')) return serveStatic(url, res);
  const p = path.replace(/^\/api\/v1/, '');
  // Every route checks roles as the API does: a sweep of a project the token does not see is a 404,
  // a role too weak for the action a 403.
  let caller: MockToken;
  try {
    caller = authenticate(req);
    if (await accessRoutes(req, res, p, caller)) return undefined;
  } catch (err) {
    if (err instanceof Refusal) return error(res, err.status, err.code, err.message, err.details);
    return error(res, 500, 'internal', err instanceof Error ? err.message : String(err));
  }
  const m = /^\/sweeps\/([^/]+)/.exec(p);
  const ms = m ? sweeps.get(m[1]!) : undefined;
  const noSuchSweep = () => error(res, 404, 'not_found', `no sweep ${m![1]}`, [{ path: 'sweepId', message: 'no such sweep' }]);
  if (m && p !== '/sweeps' && (!ms || roleIn(caller, ms.sweep.project!) === null)) return noSuchSweep();
  // Reads need the read role (any the token has there); everything else on a sweep, submit.
  if (ms && req.method !== 'GET' && !hasRole(caller, ms.sweep.project!, 'submit')) {
    return error(res, 403, 'forbidden', `this token's role ${roleIn(caller, ms.sweep.project!)} in the project does not allow this (submit is needed)`, [{ path: 'headers.authorization', message: 'needs the submit role in the project' }]);
  }
  const tm = /^\/sweeps\/[^/]+\/trials\/([^/]+)/.exec(p);
  const trial = tm && ms ? ms.trials.find((t) => t.id === tm[1]) : undefined;
  if (tm && !trial) return error(res, 404, 'not_found', `no trial ${tm[1]}`);
  try {
    if (req.method === 'GET' && p === '/sweeps') {
      const status = url.searchParams.get('status')?.split(',');
      const listed = listedProjects(caller, url);
      const list = [...sweeps.values()]
        .map((x) => x.sweep)
        .filter((s) => (!status || status.includes(s.status)) && (!listed || listed.includes(s.project!)))
        .reverse()
        .map(({ spec: _s, ...rest }) => rest);
      return send(res, 200, SweepPage, page(list, url));
    }
    if (req.method === 'POST' && p === '/sweeps') {
      // The project first, as the API: a token with several projects learns it must name one.
      const project = targetProject(caller, url);
      const parsed = CreateSweepRequest.safeParse(await readJson(req));
      if (!parsed.success) return send(res, 400, null, validationError(parsed.error));
      return send(res, 201, Sweep, createMockSweep(parsed.data, project).sweep);
    }
    if (ms && req.method === 'GET' && p === `/sweeps/${ms.sweep.id}`) return send(res, 200, Sweep, ms.sweep);
    if (ms && req.method === 'POST' && p.endsWith('/cancel') && !tm) {
      if (FINISHED_SWEEP_STATUSES.has(ms.sweep.status)) return error(res, 409, 'invalid_state', `the sweep is ${ms.sweep.status}`);
      for (const t of ms.trials) if (t.status === 'running' || t.status === 'queued') t.status = 'cancelled';
      finish(ms, 'cancelled');
      return send(res, 200, Sweep, ms.sweep);
    }
    if (ms && req.method === 'POST' && (p === `/sweeps/${ms.sweep.id}/pause` || p === `/sweeps/${ms.sweep.id}/resume`)) {
      const pause = p.endsWith('/pause');
      const from: readonly SweepStatus[] = pause ? ['pending', 'running'] : ['paused'];
      if (!from.includes(ms.sweep.status)) return error(res, 409, 'invalid_state', `the sweep is ${ms.sweep.status}`, [{ path: 'status', message: `cannot ${pause ? 'pause' : 'resume'} a ${ms.sweep.status} sweep` }]);
      // Paused: running trials checkpoint and go back to the queue (trial.queued each); none starts (tick skips the sweep).
      ms.sweep.status = pause ? 'paused' : 'running';
      control(ms, { action: pause ? 'paused' : 'resumed' });
      if (pause) {
        for (const t of ms.trials.filter((x) => x.status === 'running')) {
          t.status = 'queued';
          t.workerId = null;
          emit(ms, 'trial.queued', { trialId: t.id, number: t.number, attempt: t.attempt, epochsDone: t.epochsDone });
        }
      }
      sweepUpdated(ms);
      return send(res, 200, Sweep, ms.sweep);
    }
    if (ms && req.method === 'PATCH' && p === `/sweeps/${ms.sweep.id}`) {
      if (FINISHED_SWEEP_STATUSES.has(ms.sweep.status)) return error(res, 409, 'invalid_state', `the sweep is ${ms.sweep.status}`);
      const body = await readJson(req);
      const problems = budgetProblems(ms, body);
      if (problems.length > 0) return error(res, 400, 'invalid_request', `the request is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems);
      const change = (body as { budget: Partial<Sweep['spec']['search']['budget']> }).budget;
      ms.sweep.spec.search.budget = { ...ms.sweep.spec.search.budget, ...change };
      control(ms, { action: 'budget', budget: change });
      sweepUpdated(ms);
      return send(res, 200, Sweep, ms.sweep);
    }
    if (ms && req.method === 'POST' && p === `/sweeps/${ms.sweep.id}/trials`) {
      if (FINISHED_SWEEP_STATUSES.has(ms.sweep.status)) return error(res, 409, 'invalid_state', `the sweep is ${ms.sweep.status}`);
      const configs = (await readJson(req) as { params?: unknown } | null)?.params;
      if (!Array.isArray(configs) || configs.length === 0 || configs.length > 100) return error(res, 400, 'invalid_request', 'the request is invalid: params: 1 to 100 configurations', [{ path: 'params', message: 'must be 1 to 100 configurations' }]);
      const problems = configs.flatMap((c, i) => configurationProblems(ms.sweep.spec.search.space as Record<string, unknown>, c, i));
      if (problems.length > 0) return error(res, 400, 'invalid_request', `the request is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems);
      const budget = ms.sweep.spec.search.budget;
      if (ms.trials.length + configs.length > budget.maxTrials) return error(res, 409, 'invalid_state', `the sweep has ${ms.trials.length} of its ${budget.maxTrials} trials: raise maxTrials first`, [{ path: 'budget.maxTrials', message: 'reached' }]);
      const created = (configs as Trial['params'][]).map((params) => newTrial(ms, params));
      control(ms, { action: 'enqueued', trialIds: created.map((t) => t.id) });
      sweepUpdated(ms);
      return send(res, 201, null, { items: created.map((t) => Trial.parse(t)) });
    }
    if (ms && req.method === 'DELETE' && p === `/sweeps/${ms.sweep.id}`) {
      if (!FINISHED_SWEEP_STATUSES.has(ms.sweep.status)) return error(res, 409, 'invalid_state', `the sweep is ${ms.sweep.status}`, [{ path: 'status', message: 'only a completed, failed or cancelled sweep can be deleted' }]);
      sweeps.delete(ms.sweep.id);
      for (const l of ms.listeners) l();
      res.writeHead(204);
      return res.end();
    }
    if (ms && req.method === 'GET' && p.endsWith('/events')) {
      // As the API: a finished sweep's stream ends once caught up, and a resumption with nothing left gets 204.
      const finished = () => FINISHED_SWEEP_STATUSES.has(ms.sweep.status);
      let last = Number(req.headers['last-event-id'] ?? 0);
      if (req.headers['last-event-id'] !== undefined && finished() && last >= ms.events.length) {
        res.writeHead(204);
        return res.end();
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('retry: 2000\n\n');
      const flush = () => {
        const out = ms.events.slice(last).map(formatSseEvent).join('');
        last = ms.events.length;
        if (out) res.write(out);
        if (finished()) {
          ms.listeners.delete(flush);
          res.end();
        }
      };
      flush();
      if (!res.writableEnded) ms.listeners.add(flush);
      req.on('close', () => ms.listeners.delete(flush));
      return undefined;
    }
    if (ms && req.method === 'GET' && p === `/sweeps/${ms.sweep.id}/curves`) {
      const names = url.searchParams.getAll('names').flatMap((n) => n.split(',')).filter((n) => n !== '');
      const maxPoints = Number(url.searchParams.get('maxPoints') ?? 100);
      const trials = ms.trials.map((t) => ({ trialId: t.id, number: t.number, series: seriesOf(ms, t.id, maxPoints, names.length > 0 ? names : undefined) }));
      return send(res, 200, SweepCurves, { sweepId: ms.sweep.id, lastEventId: ms.events.length, trials });
    }
    if (ms && req.method === 'GET' && p === `/sweeps/${ms.sweep.id}/trials`) {
      const status = url.searchParams.get('status')?.split(',');
      const sort = url.searchParams.get('sort') ?? 'number';
      const dir = url.searchParams.get('order') === 'desc' ? -1 : 1;
      const key = (t: Trial) => (sort === 'bestValue' ? t.bestValue : sort === 'finalValue' ? t.finalValue : t.number);
      const list = ms.trials.filter((t) => !status || status.includes(t.status)).sort((a, b) => {
        const ka = key(a), kb = key(b);
        if (ka === null && kb === null) return a.number - b.number;
        if (ka === null) return 1;
        if (kb === null) return -1;
        return (ka - kb) * dir || a.number - b.number;
      });
      return send(res, 200, TrialPage, page(list, url));
    }
    if (trial && ms) {
      if (req.method === 'GET' && p.endsWith('/metrics')) {
        const maxPoints = Number(url.searchParams.get('maxPoints') ?? 500);
        return send(res, 200, MetricSeries, { trialId: trial.id, series: seriesOf(ms, trial.id, maxPoints) });
      }
      if (req.method === 'GET' && p.endsWith('/export')) {
        if (trial.status !== 'completed' && trial.status !== 'stopped') return error(res, 409, 'invalid_state', 'the trial has no final model yet');
        return send(res, 200, TrialModelExport, { modelJson: exported.modelJson, weightsBase64: Buffer.from(exported.weights).toString('base64') });
      }
      if (req.method === 'POST' && p.endsWith('/predict')) {
        const body = PredictRequest.parse(await readJson(req));
        const predictor = await predictorPromise;
        const out = predictor.predictRaw(body.inputs.flat(), body.inputs.length);
        const outputs = body.inputs.map((_, i) => Array.from(out.subarray(i * 10, i * 10 + 10)));
        return send(res, 200, PredictResponse, { outputs, classes: outputs.map((o) => o.indexOf(Math.max(...o))) });
      }
      if (req.method === 'POST' && p.endsWith('/stop')) {
        if (trial.status !== 'running' && trial.status !== 'queued') return error(res, 409, 'invalid_state', `the trial is ${trial.status}`);
        trial.status = 'stopped';
        trial.reason = 'stopped by a user';
        trial.finishedAt = now();
        emit(ms, 'trial.stopped', { trialId: trial.id, number: trial.number, epochsDone: trial.epochsDone, reason: trial.reason, byUser: true });
        sweepUpdated(ms);
        return send(res, 200, Trial, trial);
      }
      if (req.method === 'GET' && p === `/sweeps/${ms.sweep.id}/trials/${trial.id}`) return send(res, 200, TrialDetail, { ...trial, resolved: resolvedOf(ms, trial) });
    }
    if (req.method === 'GET' && p === '/datasets') {
      const visible = visibleProjectNames(caller);
      return send(res, 200, DatasetList, {
        items: [
          { id: 'mnist', name: 'MNIST', kind: 'builtin', description: 'handwritten digits', task: 'classification', featureShape: [28, 28], numClasses: 10, sizes: { train: 60000, test: 10000 }, createdAt: null },
          { id: 'spirals', name: 'Two spirals', kind: 'builtin', description: null, task: 'classification', featureShape: [2], numClasses: 2, sizes: { train: 2000, test: 500 }, createdAt: null },
          ...uploads.filter((u) => !visible || visible.includes(u.project)).map((u) => u.info),
        ],
      });
    }
    if (req.method === 'POST' && p === '/datasets') {
      const info = await uploadCsv(req, url, caller);
      res.setHeader('Location', `/api/v1/datasets/${info.id}`);
      return send(res, 201, DatasetInfo, info);
    }
    if (req.method === 'POST' && p === '/datasets/idx') {
      const info = await uploadIdx(req, url, caller);
      res.setHeader('Location', `/api/v1/datasets/${info.id}`);
      return send(res, 201, DatasetInfo, info);
    }
    if (req.method === 'GET' && p === '/workers') {
      const running = [...sweeps.values()].flatMap((x) => x.trials.filter((t) => t.status === 'running'));
      const workers = [1, 2].map((i) => {
        const t = running.find((x) => x.workerId === `mock-worker-${i}`);
        return { workerId: `mock-worker-${i}`, host: 'localhost', pid: 1000 + i, threads: 2, currentTrial: t ? { sweepId: t.sweepId, trialId: t.id, attempt: t.attempt, epoch: t.epochsDone } : null, samplesPerSecond: t ? 12_000 + i * 500 : 0, startedAt: now(), at: now(), alive: true };
      });
      return send(res, 200, ClusterView, { workers, totals: { workers: 2, alive: 2, busy: workers.filter((w) => w.currentTrial).length, threads: 4, samplesPerSecond: workers.reduce((s, w) => s + w.samplesPerSecond, 0) } });
    }
    return error(res, 404, 'not_found', `no route ${req.method} ${path}`);
  } catch (err) {
    if (err instanceof Refusal) return error(res, err.status, err.code, err.message, err.details);
    return error(res, 500, 'internal', err instanceof Error ? err.message : String(err));
  }
});

server.listen(PORT, '127.0.0.1', () => console.log(`mock API and dashboard on http://127.0.0.1:${(server.address() as AddressInfo).port} (token: ${TOKEN})`));
