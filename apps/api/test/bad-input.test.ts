// Acceptance: every malformed request gets a 4xx with a JSON error naming the problem, never a 5xx.
import { ApiError } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';

type Body = Record<string, unknown>;
const valid = (): Body => JSON.parse(JSON.stringify(mnistTpeAshaSweep())) as Body;
/** A valid sweep with one value replaced at a dotted path ("search.budget.maxTrials"). */
function withValue(path: string, value: unknown): Body {
  const body = valid();
  const keys = path.split('.');
  let node = body as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return body;
}

interface Case {
  name: string;
  method?: string;
  path?: string;
  /** A JSON body, or raw text with `raw`. */
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  /** A detail path (or message fragment) the error must name. */
  names: string | RegExp;
}

const UUID0 = '00000000-0000-4000-8000-000000000000';
const big = 'x'.repeat(1_100_000);

const CASES: Case[] = [
  { name: 'missing name', json: withValue('name', undefined), status: 400, names: 'name' },
  { name: 'empty name', json: withValue('name', ''), status: 400, names: 'name' },
  { name: 'name not a string', json: withValue('name', 42), status: 400, names: 'name' },
  { name: 'name too long', json: withValue('name', 'n'.repeat(201)), status: 400, names: 'name' },
  { name: 'missing dataset', json: withValue('dataset', undefined), status: 400, names: 'dataset' },
  { name: 'unknown dataset type', json: withValue('dataset', { type: 'imagenet' }), status: 400, names: 'dataset.type' },
  { name: 'dataset limitTrain negative', json: withValue('dataset.limitTrain', -5), status: 400, names: 'dataset.limitTrain' },
  { name: 'dataset path injection field', json: withValue('dataset.dataDir', '/etc'), status: 400, names: 'dataset.dataDir' },
  { name: 'csv dataset id not a uuid', json: withValue('dataset', { type: 'csv', id: "1' OR '1'='1" }), status: 400, names: 'dataset.id' },
  { name: 'missing model', json: withValue('model', undefined), status: 400, names: 'model' },
  { name: 'unknown layer type', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'transformer', units: 4 }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].type' },
  { name: 'units zero', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'dense', units: 0 }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].units' },
  { name: 'units huge', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'dense', units: 1e12 }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].units' },
  { name: 'units a string', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'dense', units: '64' }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].units' },
  { name: 'dropout rate above 1', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'dropout', rate: 1.5 }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].rate' },
  { name: 'unknown activation', json: withValue('model.layers', [{ type: 'flatten' }, { type: 'dense', units: 8, activation: 'swish9' }, { type: 'dense', units: 10 }]), status: 400, names: 'model.layers[1].activation' },
  { name: 'no layers', json: withValue('model.layers', []), status: 400, names: 'model.layers' },
  { name: 'input shape negative', json: withValue('model.inputShape', [-28, 28]), status: 400, names: 'model.inputShape[0]' },
  { name: 'unknown loss', json: withValue('model.loss', 'hinge'), status: 400, names: 'model.loss' },
  { name: 'epochs zero', json: withValue('training.epochs', 0), status: 400, names: 'training.epochs' },
  { name: 'epochs a float', json: withValue('training.epochs', 2.5), status: 400, names: 'training.epochs' },
  { name: 'epochs huge', json: withValue('training.epochs', 1e308), status: 400, names: 'training.epochs' },
  { name: 'batch size negative', json: withValue('training.batchSize', -64), status: 400, names: 'training.batchSize' },
  { name: 'learning rate null', json: withValue('training.optimizer', { type: 'adam', learningRate: null }), status: 400, names: 'training.optimizer.learningRate' },
  { name: 'unknown optimizer', json: withValue('training.optimizer', { type: 'lion', learningRate: 0.1 }), status: 400, names: 'training.optimizer.type' },
  { name: 'microbatches above batch size', json: withValue('training.microbatches', 1000), status: 400, names: 'training.microbatches' },
  { name: 'negative budget', json: withValue('search.budget.maxTrials', -1), status: 400, names: 'search.budget.maxTrials' },
  { name: 'zero budget', json: withValue('search.budget.maxTrials', 0), status: 400, names: 'search.budget.maxTrials' },
  { name: 'budget a string', json: withValue('search.budget.maxTrials', 'ten'), status: 400, names: 'search.budget.maxTrials' },
  { name: 'concurrency above trials', json: withValue('search.budget.maxConcurrentTrials', 100), status: 400, names: 'search.budget.maxConcurrentTrials' },
  { name: 'negative epoch budget', json: withValue('search.budget.maxTotalEpochs', -10), status: 400, names: 'search.budget.maxTotalEpochs' },
  { name: 'loguniform with low ≤ 0', json: withValue('search.space.learningRate', { type: 'loguniform', low: 0, high: 1 }), status: 400, names: 'search.space.learningRate.low' },
  { name: 'uniform low above high', json: withValue('search.space.dropout', { type: 'uniform', low: 0.9, high: 0.1 }), status: 400, names: 'search.space.dropout.low' },
  { name: 'empty categorical', json: withValue('search.space.activation', { type: 'categorical', choices: [] }), status: 400, names: 'search.space.activation.choices' },
  { name: 'unknown sampler', json: withValue('search.sampler', { type: 'genetic' }), status: 400, names: 'search.sampler.type' },
  { name: 'unknown scheduler', json: withValue('search.scheduler', { type: 'pbt' }), status: 400, names: 'search.scheduler.type' },
  { name: 'seed negative', json: withValue('search.seed', -1), status: 400, names: 'search.seed' },
  { name: 'objective unknown metric', json: withValue('objective', { metric: 'f1' }), status: 400, names: 'objective.metric' },
  { name: 'objective mode contradicts', json: withValue('objective', { metric: 'val_loss', mode: 'maximize' }), status: 400, names: 'objective.mode' },
  { name: 'unknown top-level field', json: { ...valid(), owner: 'root' }, status: 400, names: 'owner' },
  { name: '__proto__ key', raw: JSON.stringify(valid()).replace(/^\{/, '{"__proto__":{"admin":true},'), status: 400, names: '__proto__' },
  { name: 'body is an array', json: [valid()], status: 400, names: /expected object/ },
  { name: 'body is a string', raw: '"sweep"', status: 400, names: /JSON/ },
  { name: 'NaN literal', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":NaN'), status: 400, names: /JSON/ },
  { name: 'Infinity literal', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":Infinity'), status: 400, names: /JSON/ },
  { name: 'number overflowing to Infinity', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":1e400'), status: 400, names: 'training.epochs' },
  { name: 'invalid JSON', raw: '{"name": "x",', status: 400, names: /JSON/ },
  { name: 'empty body', raw: '', status: 400, names: /./ },
  { name: 'SQL injection in name is data, but unknown enum is refused', json: withValue('objective', { metric: "val_loss'; DROP TABLE sweeps; --" }), status: 400, names: 'objective.metric' },
  { name: 'script injection in a layer type', json: withValue('model.layers', [{ type: '<script>alert(1)</script>' }]), status: 400, names: 'model.layers[0].type' },
  { name: 'body over the limit', json: withValue('description', big), status: 413, names: /larger than/ },
  { name: 'wrong content type', raw: JSON.stringify(valid()), headers: { 'content-type': 'text/plain' }, status: 415, names: /application\/json/ },
  { name: 'bad Idempotency-Key', json: valid(), headers: { 'idempotency-key': 'has spaces in it' }, status: 400, names: 'headers.Idempotency-Key' },
  { name: 'sweep id not a uuid', method: 'GET', path: "/api/v1/sweeps/1;DROP TABLE sweeps", status: 400, names: 'sweepId' },
  { name: 'unknown sweep', method: 'GET', path: `/api/v1/sweeps/${UUID0}`, status: 404, names: 'sweepId' },
  { name: 'limit not a number', method: 'GET', path: '/api/v1/sweeps?limit=lots', status: 400, names: 'limit' },
  { name: 'limit too large', method: 'GET', path: '/api/v1/sweeps?limit=100000', status: 400, names: 'limit' },
  { name: 'unknown status filter', method: 'GET', path: '/api/v1/sweeps?status=exploded', status: 400, names: 'status[0]' },
  { name: 'forged cursor', method: 'GET', path: '/api/v1/sweeps?cursor=eyJzb3J0IjoiX19wcm90b19fIn0', status: 400, names: 'cursor' },
  { name: 'repeated query parameter', method: 'GET', path: '/api/v1/sweeps?limit=1&limit=2', status: 400, names: 'limit' },
  { name: 'unknown query parameter', method: 'GET', path: '/api/v1/sweeps?drop=1', status: 400, names: 'drop' },
  { name: 'metrics maxPoints too small', method: 'GET', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/metrics?maxPoints=1`, status: 400, names: 'maxPoints' },
  { name: 'token with empty name', path: '/api/v1/tokens', json: { name: '' }, status: 400, names: 'name' },
  { name: 'predict with NaN', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, raw: '{"inputs":[[NaN]]}', status: 400, names: /JSON/ },
  { name: 'predict with ragged rows', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 2], [3]] }, status: 400, names: 'inputs' },
  { name: 'predict with a value beyond float32', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 1e308]] }, status: 400, names: 'inputs[0][1]' },
  { name: 'predict with a negative value beyond float32', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 2], [-1e39, 0]] }, status: 400, names: 'inputs[1][0]' },
  { name: 'predict with a number overflowing to Infinity', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, raw: '{"inputs":[[1e400]]}', status: 400, names: 'inputs[0][0]' },
  { name: 'predict with no rows', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [] }, status: 400, names: 'inputs' },
  { name: 'unknown route', method: 'GET', path: '/api/v1/nothing', status: 404, names: /no route/ },
  { name: 'wrong method', method: 'PUT', path: `/api/v1/sweeps/${UUID0}`, json: {}, status: 404, names: /no route/ },
  { name: 'CSV upload without a name', path: '/api/v1/datasets?labelColumn=y&task=classification', raw: 'a,y\n1,2\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'name' },
  { name: 'CSV upload with a path as name', path: '/api/v1/datasets?name=../../etc/passwd&labelColumn=y&task=classification', raw: 'a,y\n1,2\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'name' },
];

describe('malformed requests', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`has at least 40 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('$name → $status', async (c) => {
    const headers: Record<string, string> = { ...c.headers };
    let body: string | undefined;
    if (c.raw !== undefined) {
      body = c.raw;
      headers['content-type'] ??= 'application/json';
    } else if (c.json !== undefined) {
      body = JSON.stringify(c.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await t.request(c.path ?? '/api/v1/sweeps', { method: c.method ?? 'POST', headers, ...(body !== undefined ? { body } : {}) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const error = ApiError.parse(await res.json());
    expect(res.status, JSON.stringify(error)).toBe(c.status);
    const named = [error.error.message, ...error.error.details.map((d) => d.path)];
    if (typeof c.names === 'string') expect(error.error.details.map((d) => d.path), error.error.message).toContain(c.names);
    else expect(named.join('\n')).toMatch(c.names);
  });

  it('stores nothing for any of them', async () => {
    expect(await t.db.sweep.count()).toBe(0);
  });

  it('fuzz: any mutation of a valid sweep gets 201 or a 4xx naming a field, never a 5xx', async () => {
    const paths = ['name', 'dataset.limitTrain', 'model.inputShape', 'model.layers', 'training.epochs', 'training.batchSize', 'training.optimizer', 'search.budget.maxTrials', 'search.space.learningRate', 'search.seed', 'objective.metric'];
    const values = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.double(),
      fc.string({ maxLength: 20 }),
      fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), fc.string()), { maxKeys: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), values, async (path, value) => {
        const res = await t.request('/api/v1/sweeps', { method: 'POST', json: withValue(path, value) });
        const body = (await res.json()) as unknown;
        if (res.status === 201) return;
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(ApiError.parse(body).error.details.length).toBeGreaterThan(0);
      }),
      { numRuns: 150, seed: 20261125 },
    );
  });
});
