// Acceptance: every malformed request gets a 4xx with a JSON error naming the problem, never a 5xx.
import { ApiError } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';
import { sleepUntil } from '@hypersweep/queue/testing';

type Body = Record<string, unknown>;
const valid = (): Body => JSON.parse(JSON.stringify(mnistTpeAshaSweep())) as Body;
/** `text` as UTF-8 with `marker` (one byte) replaced by raw `bytes`. */
const withBytes = (text: string, marker: string, bytes: number[]): Uint8Array => {
  const encoded = new TextEncoder().encode(text);
  const at = encoded.indexOf(marker.charCodeAt(0));
  return Uint8Array.from([...encoded.subarray(0, at), ...bytes, ...encoded.subarray(at + 1)]);
};
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
  /** A JSON body, raw text with `raw`, or bytes with `bytes`. */
  json?: unknown;
  raw?: string;
  bytes?: Uint8Array;
  headers?: Record<string, string>;
  status: number;
  /** A detail path (or message fragment) the error must name. */
  names: string | RegExp;
}

const UUID0 = '00000000-0000-4000-8000-000000000000';
const big = 'x'.repeat(1_100_000);
const cursor = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url');
const TRIALS = `/api/v1/sweeps/${UUID0}/trials`;
/** The fixture's model with other dense layers: flatten, the first, the fixture's dropout, the rest. */
const layers = (first: object, ...rest: object[]) => withValue('model.layers', [{ type: 'flatten' }, first, { type: 'dropout', rate: 0.1 }, ...rest]);
/** `body` with one search-space parameter set (or removed with undefined). */
function withSpace(body: Body, name: string, def: unknown): Body {
  const space = (body['search'] as Body)['space'] as Body;
  if (def === undefined) delete space[name];
  else space[name] = def;
  return body;
}
const withParam = (name: string, def: unknown) => withSpace(valid(), name, def);

const CASES: Case[] = [
  { name: 'missing name', json: withValue('name', undefined), status: 400, names: 'name' },
  { name: 'empty name', json: withValue('name', ''), status: 400, names: 'name' },
  { name: 'name not a string', json: withValue('name', 42), status: 400, names: 'name' },
  { name: 'name too long', json: withValue('name', 'n'.repeat(201)), status: 400, names: 'name' },
  { name: 'missing dataset', json: withValue('dataset', undefined), status: 400, names: 'dataset' },
  { name: 'unknown dataset type', json: withValue('dataset', { type: 'imagenet' }), status: 400, names: 'dataset.type' },
  { name: 'dataset limitTrain negative', json: withValue('dataset.limitTrain', -5), status: 400, names: 'dataset.limitTrain' },
  // Every trial would fail drawing its stratified validation hold-out: refused at submission.
  { name: 'dataset limitTrain 10 (one image a class: none for validation)', json: withValue('dataset.limitTrain', 10), status: 400, names: 'dataset.limitTrain' },
  { name: 'dataset limitTrain 50 (a validation hold-out of 5 for 10 classes)', json: withValue('dataset.limitTrain', 50), status: 400, names: 'dataset.limitTrain' },
  { name: 'dataset validationCount 5 for 10 classes', json: withValue('dataset.validationCount', 5), status: 400, names: 'dataset.validationCount' },
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
  // Once ran the API out of memory: a Hyperband cycle of 10³¹ trials, or millions of ASHA Rungs.
  { name: 'hyperband with a tiny minResource', json: withValue('search.scheduler', { type: 'hyperband', minResource: 1e-30 }), status: 400, names: 'search.scheduler.minResource' },
  { name: 'asha with η barely above 1', json: withValue('search.scheduler', { type: 'asha', reductionFactor: 1.000001, minResource: 1e-300 }), status: 400, names: 'search.scheduler.minResource' },
  { name: 'seed negative', json: withValue('search.seed', -1), status: 400, names: 'search.seed' },
  { name: 'objective unknown metric', json: withValue('objective', { metric: 'f1' }), status: 400, names: 'objective.metric' },
  { name: 'objective mode contradicts', json: withValue('objective', { metric: 'val_loss', mode: 'maximize' }), status: 400, names: 'objective.mode' },
  { name: 'unknown top-level field', json: { ...valid(), owner: 'root' }, status: 400, names: 'owner' },
  { name: '__proto__ key', raw: JSON.stringify(valid()).replace(/^\{/, '{"__proto__":{"admin":true},'), status: 400, names: '__proto__' },
  { name: 'body is an array', json: [valid()], status: 400, names: /expected object/ },
  { name: 'body is a string', raw: '"sweep"', status: 400, names: /JSON object/ },
  // Valid JSON, once called invalid ("Unexpected token 'n'").
  { name: 'body is null', raw: 'null', status: 400, names: /must be a JSON object, not null/ },
  { name: 'body is a number', raw: ' 42 ', status: 400, names: /must be a JSON object, not 42/ },
  { name: 'NaN literal', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":NaN'), status: 400, names: /JSON/ },
  { name: 'Infinity literal', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":Infinity'), status: 400, names: /JSON/ },
  { name: 'number overflowing to Infinity', raw: JSON.stringify(valid()).replace('"epochs":9', '"epochs":1e400'), status: 400, names: 'training.epochs' },
  { name: 'invalid JSON', raw: '{"name": "x",', status: 400, names: /JSON/ },
  { name: 'empty body', raw: '', status: 400, names: /./ },
  { name: 'SQL injection in name is data, but unknown enum is refused', json: withValue('objective', { metric: "val_loss'; DROP TABLE sweeps; --" }), status: 400, names: 'objective.metric' },
  { name: 'script injection in a layer type', json: withValue('model.layers', [{ type: '<script>alert(1)</script>' }]), status: 400, names: 'model.layers[0].type' },
  { name: 'body over the limit', json: withValue('description', big), status: 413, names: /larger than/ },
  { name: 'wrong content type', raw: JSON.stringify(valid()), headers: { 'content-type': 'text/plain' }, status: 415, names: /application\/json/ },
  // Quota counts are PostgreSQL integers: past 2³¹ − 1 the insert once failed with a 500.
  { name: 'a quota past 2³¹ − 1', path: '/api/v1/projects', json: { name: 'q1', quotas: { maxRunningTrials: 2_147_483_648 } }, status: 400, names: 'quotas.maxRunningTrials' },
  { name: 'a quota update past 2³¹ − 1', method: 'PATCH', path: '/api/v1/projects/default', json: { quotas: { maxEpochsPerDay: 2 ** 40 } }, status: 400, names: 'quotas.maxEpochsPerDay' },
  // Dropped silently before: a completed trial keeps no error.
  { name: 'an error told with status completed', path: '/api/v1/sweeps/00000000-0000-4000-8000-000000000000/trials/00000000-0000-4000-8000-000000000001/tell', json: { leaseId: '00000000-0000-4000-8000-000000000002', status: 'completed', error: 'CUDA out of memory' }, status: 400, names: 'error' },
  { name: 'a +json content type', raw: JSON.stringify(valid()), headers: { 'content-type': 'application/vnd.api+json' }, status: 415, names: 'headers.content-type' },
  // 5 KB of brackets once overflowed the stack of the checks that walk a document (a 500).
  { name: 'a space nested 2,500 levels deep', raw: JSON.stringify(valid()).replace('"space":{', `"space":{"x":${'['.repeat(2500)}${']'.repeat(2500)},`), status: 400, names: /search\.space\.x(\[0\])+/ },
  { name: 'a template nested 10,000 levels deep', raw: JSON.stringify({ ...valid(), template: { model: 1 } }).replace('"model":1', `"model":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), status: 400, names: /template\.model(\.a)+/ },
  // 90,000 unknown keys (1 MB) once held the event loop for half a second in the schema.
  { name: 'a body of 90,000 fields', raw: JSON.stringify(Object.fromEntries(Array.from({ length: 90_000 }, (_, i) => [`k${i}`, 1]))), status: 400, names: 'body' },
  { name: 'a space of 2,000 parameters', raw: JSON.stringify(valid()).replace('"space":{', `"space":{${Array.from({ length: 2_000 }, (_, i) => `"p${i}":1`).join(',')},`), status: 400, names: 'search.space' },
  { name: 'bad Idempotency-Key', json: valid(), headers: { 'idempotency-key': 'has spaces in it' }, status: 400, names: 'headers.Idempotency-Key' },
  { name: 'sweep id not a uuid', method: 'GET', path: "/api/v1/sweeps/1;DROP TABLE sweeps", status: 400, names: 'sweepId' },
  { name: 'unknown sweep', method: 'GET', path: `/api/v1/sweeps/${UUID0}`, status: 404, names: 'sweepId' },
  { name: 'limit not a number', method: 'GET', path: '/api/v1/sweeps?limit=lots', status: 400, names: 'limit' },
  // Query parameters a route does not document are refused, named, on every route.
  { name: 'a query on a route that takes none', method: 'GET', path: `/api/v1/sweeps/${UUID0}?format=zip`, status: 400, names: 'format' },
  { name: 'a misspelt ?project= on POST /sweeps', path: '/api/v1/sweeps?projct=default', json: valid(), status: 400, names: 'projct' },
  { name: 'a query on the model export', method: 'GET', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/export?format=onnx`, status: 400, names: 'format' },
  { name: 'a query on /me', method: 'GET', path: '/api/v1/me?verbose=1', status: 400, names: 'verbose' },
  { name: 'a misspelt ?project= behind a trailing slash', path: '/api/v1/sweeps/?projct=default', json: valid(), status: 400, names: 'projct' },
  { name: 'an unknown key on a path in other case', method: 'GET', path: '/api/v1/Sweeps?offset=10', status: 400, names: 'offset' },
  { name: 'an unknown key beside a documented one', method: 'GET', path: '/api/v1/sweeps?limit=5&offset=10', status: 400, names: 'offset' },
  { name: 'the documented ?lastEventId= passes (an unknown sweep: 404)', method: 'GET', path: `/api/v1/sweeps/${UUID0}/events?lastEventId=5`, status: 404, names: 'sweepId' },
  { name: 'the documented ?project= passes (an unknown project: 404)', path: '/api/v1/sweeps?project=nosuch', json: valid(), status: 404, names: 'project' },
  { name: 'limit too large', method: 'GET', path: '/api/v1/sweeps?limit=100000', status: 400, names: 'limit' },
  { name: 'unknown status filter', method: 'GET', path: '/api/v1/sweeps?status=exploded', status: 400, names: 'status[0]' },
  { name: 'forged cursor', method: 'GET', path: '/api/v1/sweeps?cursor=eyJzb3J0IjoiX19wcm90b19fIn0', status: 400, names: 'cursor' },
  { name: 'repeated query parameter', method: 'GET', path: '/api/v1/sweeps?limit=1&limit=2', status: 400, names: 'limit' },
  { name: 'unknown query parameter', method: 'GET', path: '/api/v1/sweeps?drop=1', status: 400, names: 'drop' },
  { name: 'metrics maxPoints too small', method: 'GET', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/metrics?maxPoints=1`, status: 400, names: 'maxPoints' },
  { name: 'token with empty name', path: '/api/v1/tokens', json: { name: '' }, status: 400, names: 'name' },
  // Both got a 201 before.
  { name: 'token with a blank name', path: '/api/v1/tokens', json: { name: '   ' }, status: 400, names: 'name' },
  { name: 'token with a two-line name', path: '/api/v1/tokens', json: { name: 'ci\nadmin' }, status: 400, names: 'name' },
  // Stored, then every list of tokens answered 500 (the row's year 10000 does not read back).
  { name: 'token expiring in the year 10000 by its offset', path: '/api/v1/tokens', json: { name: 'y10k', serverAdmin: true, expiresAt: '9999-12-31T23:59:59-00:01' }, status: 400, names: 'expiresAt' },
  { name: 'predict with NaN', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, raw: '{"inputs":[[NaN]]}', status: 400, names: /JSON/ },
  { name: 'predict with ragged rows', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 2], [3]] }, status: 400, names: 'inputs' },
  { name: 'predict with a value beyond float32', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 1e308]] }, status: 400, names: 'inputs[0][1]' },
  { name: 'predict with a negative value beyond float32', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [[1, 2], [-1e39, 0]] }, status: 400, names: 'inputs[1][0]' },
  { name: 'predict with a number overflowing to Infinity', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, raw: '{"inputs":[[1e400]]}', status: 400, names: 'inputs[0][0]' },
  { name: 'predict with no rows', path: `/api/v1/sweeps/${UUID0}/trials/${UUID0}/predict`, json: { inputs: [] }, status: 400, names: 'inputs' },
  // Strings PostgreSQL cannot store: refused at the field, never a 500.
  { name: 'lone surrogate in the name', raw: JSON.stringify(valid()).replace('"name":"mnist tpe+asha"', '"name":"a\\ud800b"'), status: 400, names: 'name' },
  { name: 'lone low surrogate in the description', raw: JSON.stringify({ ...valid(), description: 'x' }).replace('"description":"x"', '"description":"\\udc00"'), status: 400, names: 'description' },
  { name: 'NUL in the description', json: withValue('description', 'a\u0000b'), status: 400, names: 'description' },
  { name: 'lone surrogate in a token name', path: '/api/v1/tokens', raw: '{"name":"ci \\udbff"}', status: 400, names: 'name' },
  { name: 'NUL in a CSV label column', path: '/api/v1/datasets?name=nul&labelColumn=y%00&task=classification', raw: 'a,y\n1,2\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'labelColumn' },
  { name: 'a CSV label column the header lacks', path: '/api/v1/datasets?name=nolabel&labelColumn=class&task=classification', raw: 'a,y\n1,0\n2,1\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'labelColumn' },
  { name: 'a CSV label column the header names twice', path: '/api/v1/datasets?name=twice&labelColumn=y&task=classification', raw: 'a,y,y\n1,0,1\n2,1,0\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'labelColumn' },
  { name: 'a CSV label column index past the last column', path: '/api/v1/datasets?name=past&labelColumn=5&task=classification', raw: 'a,y\n1,0\n2,1\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'labelColumn' },
  // Both named "body" before: they are the query's options.
  { name: 'CSV hold-outs that leave no training rows', path: '/api/v1/datasets?name=f&labelColumn=y&task=classification&validationFraction=0.6&testFraction=0.5', raw: 'a,y\n1,0\n2,1\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'validationFraction' },
  { name: 'a quote as the CSV delimiter', path: '/api/v1/datasets?name=q&labelColumn=y&task=classification&delimiter=%22', raw: 'a,y\n1,2\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'delimiter' },
  // Number() took these silently: hex, binary, exponents, spaces, and an empty value as 0.
  { name: 'a hex page size', method: 'GET', path: '/api/v1/sweeps?limit=0x3', status: 400, names: 'limit' },
  { name: 'a page size with an exponent', method: 'GET', path: '/api/v1/sweeps?limit=3e0', status: 400, names: 'limit' },
  { name: 'a page size in spaces', method: 'GET', path: '/api/v1/sweeps?limit=%203%20', status: 400, names: 'limit' },
  { name: 'an empty CSV test fraction', path: '/api/v1/datasets?name=e&labelColumn=y&task=classification&testFraction=', raw: 'a,y\n1,0\n2,1\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'testFraction' },
  { name: 'a CSV validation fraction that underflows', path: '/api/v1/datasets?name=u&labelColumn=y&task=classification&validationFraction=1e-400', raw: 'a,y\n1,0\n2,1\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'validationFraction' },
  { name: 'NUL as the CSV delimiter', path: '/api/v1/datasets?name=nul&labelColumn=y&task=classification&delimiter=%00', raw: 'a,y\n1,2\n', headers: { 'content-type': 'text/csv' }, status: 400, names: 'delimiter' },
  // Reserved names: refused, not silently dropped by the search-space record.
  { name: '__proto__ as a search parameter', raw: JSON.stringify(valid()).replace('"space":{', '"space":{"__proto__":{"type":"uniform","low":0,"high":1},'), status: 400, names: 'search.space.__proto__' },
  { name: 'constructor as a search parameter', json: withParam('constructor', { type: 'uniform', low: 0, high: 1 }), status: 400, names: 'search.space.constructor' },
  { name: 'prototype as a search parameter', json: withParam('prototype', { type: 'uniform', low: 0, high: 1 }), status: 400, names: 'search.space.prototype' },
  {
    name: '__proto__ in a conditional sub-space',
    raw: JSON.stringify(valid()).replace('"params":{"momentum"', '"params":{"__proto__":{"type":"uniform","low":0,"high":1},"momentum"'),
    status: 400,
    names: 'search.space.optimizer.choices[0].params.__proto__',
  },
  { name: '__proto__ in grid pointsPerParam', raw: JSON.stringify(withValue('search.sampler', { type: 'grid', pointsPerParam: { learningRate: 3 } })).replace('"pointsPerParam":{', '"pointsPerParam":{"__proto__":2,'), status: 400, names: 'search.sampler.pointsPerParam.__proto__' },
  // Bodies that do not decode: 400 naming the header (unknown encodings are 415).
  // Decoded with U+FFFD for each bad byte and stored so, before.
  { name: 'a JSON body that is not UTF-8', bytes: withBytes(JSON.stringify({ ...valid(), name: 'probe \u0001 spirals' }), '\u0001', [0xff]), status: 400, names: 'body' },
  { name: 'a CSV body that is not UTF-8', path: '/api/v1/datasets?name=latin&labelColumn=y&task=classification', bytes: withBytes('a,y\n1,caf\u0001\n2,b\n', '\u0001', [0xe9]), headers: { 'content-type': 'text/csv' }, status: 400, names: 'body' },
  { name: 'gzip garbage', bytes: new TextEncoder().encode('not gzip at all'), headers: { 'content-encoding': 'gzip' }, status: 400, names: 'headers.content-encoding' },
  { name: 'deflate garbage', bytes: new TextEncoder().encode('not deflate'), headers: { 'content-encoding': 'deflate' }, status: 400, names: 'headers.content-encoding' },
  { name: 'brotli garbage', bytes: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x00]), headers: { 'content-encoding': 'br' }, status: 400, names: 'headers.content-encoding' },
  { name: 'truncated gzip', bytes: gzipSync(JSON.stringify(valid())).subarray(0, 40), headers: { 'content-encoding': 'gzip' }, status: 400, names: 'headers.content-encoding' },
  { name: 'unknown content encoding', bytes: new TextEncoder().encode('{}'), headers: { 'content-encoding': 'zstd' }, status: 415, names: 'headers.content-encoding' },
  { name: 'gzip garbage as a CSV upload', path: '/api/v1/datasets?name=z&labelColumn=y&task=classification', bytes: new TextEncoder().encode('nope'), headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' }, status: 400, names: 'headers.content-encoding' },
  { name: 'unknown charset', raw: '{}', headers: { 'content-type': 'application/json; charset=klingon' }, status: 415, names: 'headers.content-type' },
  // Path parameters that are not valid percent-encoding: 400 naming the parameter.
  { name: 'truncated escape in sweepId', method: 'GET', path: '/api/v1/sweeps/%E0%A4%A', status: 400, names: 'sweepId' },
  { name: 'bare % in sweepId before a literal', method: 'GET', path: '/api/v1/sweeps/%/trials', status: 400, names: 'sweepId' },
  { name: 'surrogate bytes in trialId', method: 'GET', path: `/api/v1/sweeps/${UUID0}/trials/%ED%A0%80`, status: 400, names: 'trialId' },
  { name: 'non-hex escape in datasetId', method: 'GET', path: '/api/v1/datasets/%ZZ', status: 400, names: 'datasetId' },
  { name: 'bad escape in tokenId', method: 'DELETE', path: '/api/v1/tokens/a%2', status: 400, names: 'tokenId' },
  { name: 'bad escape in a path no route has', method: 'GET', path: '/api/v1/%E0/nothing', status: 400, names: 'path' },
  // Forged cursors: out of the column's range, refused at cursor before Postgres.
  { name: 'cursor after beyond int32', method: 'GET', path: `${TRIALS}?cursor=${cursor({ sort: 'number', order: 'asc', value: 1, after: 2 ** 31 })}`, status: 400, names: 'cursor' },
  { name: 'cursor number value beyond int32', method: 'GET', path: `${TRIALS}?cursor=${cursor({ sort: 'number', order: 'asc', value: 2 ** 40, after: 1 })}`, status: 400, names: 'cursor' },
  { name: 'cursor bestValue with a uuid tie-break', method: 'GET', path: `${TRIALS}?sort=bestValue&cursor=${cursor({ sort: 'bestValue', order: 'asc', value: 1e308, after: UUID0 })}`, status: 400, names: 'cursor' },
  { name: 'cursor date before year 1', method: 'GET', path: `/api/v1/sweeps?cursor=${cursor({ sort: 'createdAt', order: 'desc', value: '-200000-01-01T00:00:00.000Z', after: UUID0 })}`, status: 400, names: 'cursor' },
  { name: 'cursor date past year 9999', method: 'GET', path: `/api/v1/sweeps?cursor=${cursor({ sort: 'createdAt', order: 'desc', value: '+275760-09-13T00:00:00.000Z', after: UUID0 })}`, status: 400, names: 'cursor' },
  { name: 'cursor date that does not exist', method: 'GET', path: `${TRIALS}?sort=createdAt&cursor=${cursor({ sort: 'createdAt', order: 'asc', value: '2025-02-30T00:00:00.000Z', after: 1 })}`, status: 400, names: 'cursor' },
  { name: 'cursor name with NUL', method: 'GET', path: `/api/v1/sweeps?sort=name&order=asc&cursor=${cursor({ sort: 'name', order: 'asc', value: 'a\u0000', after: UUID0 })}`, status: 400, names: 'cursor' },
  { name: 'cursor name with a lone surrogate', method: 'GET', path: `/api/v1/sweeps?sort=name&order=asc&cursor=${cursor({ sort: 'name', order: 'asc', value: '\ud800', after: UUID0 })}`, status: 400, names: 'cursor' },
  { name: 'cursor of the wrong arity', method: 'GET', path: `/api/v1/sweeps?cursor=${cursor({ sort: 'createdAt', order: 'desc', value: '2025-01-01T00:00:00.000Z' })}`, status: 400, names: 'cursor' },
  { name: 'cursor with an id that is no uuid', method: 'GET', path: `/api/v1/sweeps?cursor=${cursor({ sort: 'createdAt', order: 'desc', value: '2025-01-01T00:00:00.000Z', after: "1' OR '1'='1" })}`, status: 400, names: 'cursor' },
  // Sweeps that could never train: refused at submission, naming the field.
  { name: 'output layer units ≠ the dataset’s classes', json: layers({ type: 'dense', units: 64, activation: 'relu' }, { type: 'dense', units: 7 }), status: 400, names: 'model.layers[3].units' },
  { name: 'input shape ≠ the dataset’s', json: withValue('model.inputShape', [784]), status: 400, names: 'model.inputShape' },
  { name: 'mse on a classification dataset', json: { ...withValue('model.loss', 'mse'), objective: { metric: 'val_loss' } }, status: 400, names: 'model.loss' },
  { name: 'spirals with an MNIST model', json: withValue('dataset', { type: 'spirals' }), status: 400, names: 'model.inputShape' },
  { name: 'a layer too wide for any worker', json: layers({ type: 'dense', units: 16_384, activation: 'relu' }, { type: 'dense', units: 16_384 }, { type: 'dense', units: 10 }), status: 400, names: 'model.layers[3].units' },
  { name: 'a hidden range too wide for any worker', json: withSpace(layers({ type: 'dense', units: 64 }, { type: 'dense', units: 64 }, { type: 'dense', units: 10 }), 'hidden', { type: 'int', low: 32, high: 16_384 }), status: 400, names: 'search.space.hidden.high' },
  { name: 'a batch size choice too large for any worker', json: withSpace(layers({ type: 'dense', units: 1024 }, { type: 'dense', units: 10 }), 'batchSize', { type: 'categorical', choices: [32, 65_536] }), status: 400, names: 'search.space.batchSize.choices[1]' },
  { name: 'a base batch size too large for any worker', json: withSpace({ ...layers({ type: 'dense', units: 4096 }, { type: 'dense', units: 10 }), training: { epochs: 9, batchSize: 65_536, optimizer: { type: 'adam', learningRate: 1e-3 } } }, 'batchSize', undefined), status: 400, names: 'training.batchSize' },
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
    let body: string | Uint8Array | undefined;
    if (c.bytes !== undefined) {
      body = c.bytes;
      headers['content-type'] ??= 'application/json';
    } else if (c.raw !== undefined) {
      body = c.raw;
      headers['content-type'] ??= 'application/json';
    } else if (c.json !== undefined) {
      body = JSON.stringify(c.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await t.request(c.path ?? '/api/v1/sweeps', { method: c.method ?? 'POST', headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : Buffer.from(body) } : {}) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const error = ApiError.parse(await res.json());
    expect(res.status, JSON.stringify(error)).toBe(c.status);
    const named = [error.error.message, ...error.error.details.map((d) => d.path)];
    if (typeof c.names === 'string') expect(error.error.details.map((d) => d.path), error.error.message).toContain(c.names);
    else expect(named.join('\n')).toMatch(c.names);
  });

  it('answers 413 as soon as a body declares more than the limit, without reading it', async () => {
    // body-parser read all 30 MB (or 100 MB of CSV) before answering; here 8 bytes of them are sent.
    for (const [path, type, declared] of [
      ['/api/v1/sweeps', 'application/json', 30 << 20],
      ['/api/v1/datasets?name=huge&labelColumn=y&task=classification', 'text/csv', 100 << 20],
    ] as const) {
      const url = new URL(t.url);
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      let answer = '';
      socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.on('error', () => {});
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: ${type}\r\nContent-Length: ${declared}\r\n\r\n{"name":`);
      try {
        // Answered, and the connection closed by the server: the rest of the body is not awaited.
        await sleepUntil(() => closed, { timeoutMs: 10_000, intervalMs: 20, what: `an answer to ${declared} declared bytes` });
      } finally {
        socket.destroy();
      }
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(answer).toContain(`Content-Length ${declared} is more than`);
    }
  });

  it('invites a body (100 Continue) only when it reads it: a body refused on its headers is never asked for', async () => {
    const url = new URL(t.url);
    /** Sends the headers, waits for the first answer, then (if invited) the body; returns all answers. */
    const exchange = async (path: string, type: string, body: string, declared = Buffer.byteLength(body)) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      let answer = '';
      socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      socket.on('error', () => {});
      try {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: ${type}\r\nContent-Length: ${declared}\r\nExpect: 100-continue\r\n\r\n`);
        await sleepUntil(() => /\r\n\r\n/.test(answer), { timeoutMs: 10_000, intervalMs: 5, what: 'a first answer' });
        if (!answer.startsWith('HTTP/1.1 100 ')) return answer;
        socket.write(body);
        await sleepUntil(() => /\r\n\r\n[\s\S]*\r\n\r\n/.test(answer) && answer.endsWith('}'), { timeoutMs: 10_000, intervalMs: 5, what: 'the final answer' });
        return answer;
      } finally {
        socket.destroy();
      }
    };
    // Over the limit: 413 at once, no 100 (Node sent 100 Continue before any handler ran).
    const big = await exchange('/api/v1/sweeps', 'application/json', '', 30 << 20);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).not.toContain('100 Continue');
    // A type the route does not take: 415 at once.
    const xml = await exchange('/api/v1/sweeps', 'application/xml', '<sweep/>');
    expect(xml).toMatch(/^HTTP\/1\.1 415 /);
    // A body the route reads: invited, then answered (JSON and CSV alike).
    const json = JSON.stringify({ name: 'x' });
    const invited = await exchange('/api/v1/sweeps', 'application/json', json);
    expect(invited).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /);
    expect(invited).toContain('"path":"dataset"');
    const csv = await exchange('/api/v1/datasets?name=continued&labelColumn=y&task=classification', 'text/csv', `a,y\n${Array.from({ length: 40 }, (_, i) => `${i},${i % 2}`).join('\n')}\n`);
    expect(csv).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
  });

  it('stores nothing for any of them', async () => {
    expect(await t.db.sweep.count()).toBe(0);
    // The harness's own token only; and the list of tokens still reads.
    expect(await t.db.apiToken.count()).toBe(1);
    expect((await t.request('/api/v1/tokens')).status).toBe(200);
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

describe('a small training pool', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is accepted with a validation hold-out that can hold every class, or with none', async () => {
    const submit = async (dataset: object, metric = 'val_accuracy') => {
      const body = { ...valid(), dataset: { type: 'mnist', ...dataset }, objective: { metric, mode: metric.endsWith('loss') ? 'minimize' : 'maximize' } };
      return t.request('/api/v1/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    };
    expect((await submit({ limitTrain: 50, validationCount: 10 })).status).toBe(201);
    expect((await submit({ limitTrain: 20, validationFraction: 0 }, 'train_loss')).status).toBe(201);
    const refused = await submit({ limitTrain: 50, validationFraction: 0.1 });
    expect(refused.status).toBe(400);
    const error = ApiError.parse(await refused.json());
    expect(error.error.details[0]).toMatchObject({ path: 'dataset.validationFraction', message: expect.stringMatching(/^validation of 5 examples cannot hold one of each of the 10 classes \(of 50 training examples in 10 classes/) });

    // Spirals: 10 points make a hold-out of 1 for 2 spirals.
    const base = valid();
    const search = { ...(base['search'] as Body), space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } } };
    const spirals = { ...base, search, dataset: { type: 'spirals', count: 10 }, model: { inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' } };
    const few = await t.request('/api/v1/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spirals) });
    expect(few.status).toBe(400);
    expect(ApiError.parse(await few.json()).error.details[0]).toMatchObject({ path: 'dataset.count', message: expect.stringMatching(/^validation of 1 example cannot hold one of each of the 2 classes/) });
    const enough = await t.request('/api/v1/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spirals, dataset: { type: 'spirals', count: 20 } }) });
    expect(enough.status, await enough.clone().text()).toBe(201);

    // A templated pool size is checked at the corners of its range.
    const templated = (low: number) => ({ ...spirals, dataset: { type: 'spirals', count: { $param: 'points' } }, search: { ...search, space: { ...search.space, points: { type: 'int', low, high: 500 } } } });
    const corner = await t.request('/api/v1/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(templated(10)) });
    expect(corner.status).toBe(400);
    expect(ApiError.parse(await corner.json()).error.details[0]).toMatchObject({ path: 'dataset.count', message: expect.stringMatching(/^validation of 1 example cannot hold one of each of the 2 classes .*when every other parameter at its first value/) });
    const inRange = await t.request('/api/v1/sweeps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(templated(20)) });
    expect(inRange.status, await inRange.clone().text()).toBe(201);
  });
});

