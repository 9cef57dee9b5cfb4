// Acceptance: no request gets a 5xx. Every route of API_ROUTES is fuzzed (fast-check, fixed seed)
// over path parameters, query strings, cursors, headers, body bytes and content encodings against
// the real app on Postgres and Redis; every answer is a documented success or a 4xx with the JSON
// error body, and every 400 names a field. Some properties break one thing only and check that
// the error names exactly it.
import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { createApiToken, createTrial, setSweepStatus } from '@hypersweep/db';
import { API_ROUTES, ApiError, isMoreDetail, type ApiRoute } from '@hypersweep/schemas';
import { jsonLocations, jsonReplaced, mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';
import { closeClient, send, sendRaw, type RawRequest, type RawResponse } from './http.ts';

const SEED = 20261204;
/** Requests every run sends at least (the acceptance asks for 2,000). */
const MIN_REQUESTS = 2_000;
let sent = 0;

// ---------------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------------

/** Percent-encodes every code point; a lone surrogate as its 3 (invalid) UTF-8 bytes, as a hostile client would. */
function pct(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const UTF8 = new TextEncoder();

/** Malformed percent-encoding: truncated escapes, non-hex digits, overlong and surrogate UTF-8, bare bytes. */
const BAD_ESCAPES = ['%', '%Z', '%ZZ', '%1', 'a%2', '%%', '%E0%A4%A', '%C0%80', '%ED%A0%80', '%ED%BF%BF', '%FF', '%F4%90%80%80', '%C3', 'x%g0y', '%E2%82'];

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

interface World {
  base: string;
  token: string;
  ids: Record<string, readonly string[]>;
  cursors: { sweeps: readonly { sort: string; order: string; cursor: string }[]; trials: readonly { sort: string; order: string; cursor: string }[] };
  csvId: string;
}

/** Strings a hostile client sends: any UTF-16 (lone surrogates included), NUL, controls, long ones, SQL and markup. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udbff\udbff', '\u202e', '\u{1f600}', "' OR 1=1 --", '<script>', '../../etc/passwd', '__proto__', 'constructor', ''),
  fc.integer({ min: 200, max: 5_000 }).map((n) => 'n'.repeat(n)),
);

const jsonish = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

function pathParam(world: World, name: string): fc.Arbitrary<string> {
  const real = world.ids[name] ?? ['x'];
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...real).map(pct) },
    { weight: 2, arbitrary: fc.uuid().map(pct) },
    { weight: 3, arbitrary: fc.constantFrom(...BAD_ESCAPES) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...real), fc.constantFrom(...BAD_ESCAPES)).map(([id, bad]) => `${pct(id)}${bad}`) },
    { weight: 2, arbitrary: hostileString.map(pct) },
    { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '%2F', '%2e%2e', 'mnist', 'spirals', '00000000-0000-0000-0000-000000000000') },
  );
}

const CURSOR_SORTS = ['createdAt', 'name', 'number', 'bestValue', 'finalValue', 'x', '__proto__', ''];
const LISTING_SORTS = { sweeps: ['createdAt', 'name'], trials: ['number', 'createdAt', 'bestValue', 'finalValue'] } as const;
type Listing = keyof typeof LISTING_SORTS;

/** Values at and past the ranges of the cursor columns: int32, double, timestamptz, text. */
const outOfRangeNumber = fc.oneof(
  fc.constantFrom(2 ** 31, 2 ** 31 - 1, -1, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, 0, 1.5, -0),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const outOfRangeDate = fc.oneof(
  fc.constantFrom(
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '-000001-01-01T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '0001-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '2024-02-30T00:00:00.000Z',
    '2025-13-01T00:00:00.000Z',
    '1970-01-01T00:00:00Z',
    '2025-01-01',
    '2025-01-01T00:00:00.000+01:00',
    'not a date',
  ),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
);
const cursorText = fc.oneof(hostileString, fc.constantFrom('a\u0000b', '\ud800', 'z\udfff', '\u0000'));
const cursorValue = fc.oneof(outOfRangeNumber, outOfRangeDate, cursorText, fc.constant(null), jsonish);
const cursorAfter = fc.oneof(fc.uuid(), outOfRangeNumber, cursorText, fc.constant(null), jsonish);

/**
 * A forged cursor for a listing: its sort and order, every key present, values of the column's
 * kind but at or past its range; now and then a key missing, one extra, or another sort's shape.
 */
function forgedCursor(listing: Listing): fc.Arbitrary<Record<string, unknown>> {
  const sorts = LISTING_SORTS[listing];
  const afterOf = listing === 'sweeps' ? fc.oneof({ weight: 3, arbitrary: fc.uuid() }, { weight: 2, arbitrary: cursorAfter }) : fc.oneof({ weight: 3, arbitrary: outOfRangeNumber }, { weight: 2, arbitrary: cursorAfter });
  return fc
    .record({ sort: fc.constantFrom<string>(...sorts), order: fc.constantFrom('asc', 'desc'), after: afterOf })
    .chain(({ sort, order, after }) => {
      const value = sort === 'createdAt' ? outOfRangeDate : sort === 'name' ? cursorText : sort === 'number' ? outOfRangeNumber : fc.oneof(outOfRangeNumber, fc.constant(null));
      return fc.record({ sort: fc.constant(sort), order: fc.constant(order), value: fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: cursorValue }), after: fc.constant(after) });
    })
    .chain((p) =>
      fc.oneof(
        { weight: 8, arbitrary: fc.constant<Record<string, unknown>>(p) },
        { weight: 1, arbitrary: fc.constantFrom('sort', 'order', 'value', 'after').map((k) => Object.fromEntries(Object.entries(p).filter(([key]) => key !== k))) },
        { weight: 1, arbitrary: fc.tuple(hostileString, jsonish).map(([k, v]) => ({ ...p, [k]: v })) },
      ),
    );
}
const cursorPayload = fc.record(
  { sort: fc.oneof(fc.constantFrom(...CURSOR_SORTS), hostileString), order: fc.constantFrom('asc', 'desc', 'up', ''), value: cursorValue, after: cursorAfter, extra: jsonish },
  { requiredKeys: ['sort', 'order'] },
);

/** A cursor query value: a real one, a forged one, any JSON, any bytes, not base64url at all. */
function cursorString(world: World): fc.Arbitrary<string> {
  const real = [...world.cursors.sweeps, ...world.cursors.trials].map((c) => c.cursor);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...real) },
    { weight: 6, arbitrary: fc.oneof(forgedCursor('sweeps'), forgedCursor('trials'), cursorPayload).map((p) => b64url(JSON.stringify(p))) },
    { weight: 1, arbitrary: jsonish.map((v) => b64url(JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => b64url(b)) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 3000 }).map((n) => 'A'.repeat(n)) },
  );
}

/** Known query keys of each route, so values reach the schemas' deeper checks. */
const QUERY_VALUES: Record<string, (w: World) => fc.Arbitrary<string>> = {
  limit: () => fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.constantFrom('1e3', '0x10', ' 5', '5.5', '-0', 'NaN', 'Infinity', '')),
  status: () => fc.oneof(fc.constantFrom('running', 'queued,running', 'completed,failed,stopped', 'pending', ',,', 'exploded'), hostileString),
  sort: () => fc.oneof(fc.constantFrom(...CURSOR_SORTS)),
  order: () => fc.constantFrom('asc', 'desc', 'ASC', ''),
  cursor: cursorString,
  names: () => fc.oneof(fc.constantFrom('val_loss', 'val_loss,val_accuracy', 'a,b,c,d,e', 'Bad-Name', ''), hostileString),
  maxPoints: () => fc.oneof(fc.integer({ min: -1, max: 20_000 }).map(String), fc.constantFrom('1e400', 'x')),
  fromStep: () => fc.integer({ min: -1, max: 2_000_000 }).map(String),
  toStep: () => fc.integer({ min: -1, max: 2_000_000 }).map(String),
  lastEventId: () => fc.oneof(fc.integer({ min: -1, max: 2 ** 40 }).map(String), hostileString),
  name: () => fc.oneof(fc.string({ maxLength: 12 }).map((s) => `fz ${s.replace(/[^A-Za-z0-9 _.-]/g, '')}x`), hostileString),
  labelColumn: () => fc.oneof(fc.constantFrom('label', 'y', '0', '-1', '99'), hostileString),
  task: () => fc.constantFrom('classification', 'regression', 'clustering'),
  header: () => fc.constantFrom('true', 'false', 'auto', 'maybe'),
  delimiter: () => fc.oneof(fc.constantFrom(',', ';', '\t', '\u0000', ',,'), hostileString),
  validationFraction: () => fc.constantFrom('0', '0.2', '0.99', '1', '-1', 'x'),
  testFraction: () => fc.constantFrom('0', '0.2', '0.99', '1', '-1', 'x'),
};

/** A query string: known keys with plausible or hostile values, unknown keys, repeats, odd escapes, huge ones. */
function queryString(world: World, route: ApiRoute): fc.Arbitrary<string> {
  const known = route.query ? Object.keys((route.query as unknown as { shape?: Record<string, unknown> }).shape ?? { limit: 1, cursor: 1, sort: 1, order: 1, status: 1 }) : [];
  const keys = [...known, 'cursor', 'limit'];
  const pair = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...keys).chain((k) => (QUERY_VALUES[k] ?? (() => hostileString))(world).map((v) => `${pct(k)}=${pct(v)}`)) },
    { weight: 1, arbitrary: fc.tuple(hostileString, hostileString).map(([k, v]) => `${pct(k)}=${pct(v)}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...BAD_ESCAPES, '+', '=', '&', '%00', '%ED%A0%80')).map(([k, v]) => `${k}=${v}`) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__=1', 'constructor=x', 'limit', '=', '&&', 'limit=1&limit=2', 'a[b]=c', 'cursor[]=x') },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 8, arbitrary: fc.array(pair, { minLength: 1, maxLength: 5 }).map((ps) => `?${ps.join('&')}`) },
    { weight: 1, arbitrary: fc.integer({ min: 2_000, max: 12_000 }).map((n) => `?names=${'a,'.repeat(n / 2)}`) },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/json; charset=bogus',
  'application/vnd.api+json',
  'text/csv',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  ';;',
  'application/json; charset="utf-8"; q=0',
];
const ENCODINGS = ['identity', 'gzip', 'deflate', 'br', 'zstd', 'x-gzip', 'compress', 'gzip, br', 'GZIP', 'identity, gzip', 'chunked'];

/** Header values a client can send (HTTP allows latin1, no controls but tab). */
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 60 });

function authorization(world: World): fc.Arbitrary<string | undefined> {
  const valid = fc.constantFrom(`Bearer ${world.token}`, `bearer ${world.token}`, `BEARER ${world.token}`, `bEaReR  ${world.token}`);
  const invalid = fc.oneof(
    fc.constantFrom(undefined, 'Bearer', 'Bearer ', `Basic ${b64url('a:b')}`, world.token, `Bearer ${world.token}x`, `Bearer ${world.token} extra`, `Token ${world.token}`, `Bearer ${'A'.repeat(600)}`),
    headerValue,
  );
  return fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

function headers(world: World, route: ApiRoute): fc.Arbitrary<Record<string, string>> {
  // Mostly the route's own content type, so bodies get past the parser to the route's checks.
  const natural = route.operationId === 'uploadDataset' ? 'text/csv' : 'application/json';
  return fc
    .record(
      {
        authorization: authorization(world),
        'content-type': fc.oneof({ weight: 6, arbitrary: fc.constant(natural) }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: headerValue }),
        'idempotency-key': fc.oneof(fc.string({ maxLength: 20 }).map((s) => `k-${s.replace(/[^\x21-\x7e]/g, '')}`), headerValue),
        'last-event-id': fc.oneof(fc.nat().map(String), headerValue),
        accept: fc.constantFrom('application/json', 'text/html', 'text/event-stream', '*/*'),
        'x-forwarded-for': headerValue,
      },
      { requiredKeys: ['authorization'] },
    )
    .map((h) => Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined)));
}

const spirals = (name: string) => ({
  name,
  dataset: { type: 'spirals', count: 200, testCount: 50 },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
  training: { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.01 } },
  search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 2 } },
  objective: { metric: 'val_accuracy' },
});

const locations = jsonLocations;
const replaced = jsonReplaced;

/** A JSON document for a POST route: valid, or valid with one location replaced by anything. */
function jsonDocument(route: ApiRoute, world: World): fc.Arbitrary<unknown> {
  const valid: unknown[] =
    route.operationId === 'createSweep'
      ? [spirals('fuzz'), mnistTpeAshaSweep(), { ...spirals('csv'), dataset: { type: 'csv', id: world.csvId } }]
      : route.operationId === 'createToken'
        ? [{ name: 'fuzz token' }]
        : route.operationId === 'predict'
          ? [{ inputs: [[0.5, -0.5]] }, { inputs: [[1e308, 0]] }, { inputs: [[-1e39, 1]] }]
          : [{}];
  return fc.constantFrom(...valid).chain((doc) => {
    const where = locations(doc);
    return fc.oneof(
      { weight: 2, arbitrary: fc.constant(doc) },
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...where), fc.oneof(jsonish, hostileString)).map(([at, v]) => replaced(doc, at, v)) },
    );
  });
}

/** Body bytes and the encoding header that goes with them (or not). */
interface Body {
  bytes?: Uint8Array;
  encoding?: string;
}

function body(route: ApiRoute, world: World): fc.Arbitrary<Body> {
  const csv = fc.oneof(
    fc.constant('x1,x2,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n'),
    fc.array(fc.array(fc.oneof(fc.double({ noNaN: true }).map(String), hostileString), { minLength: 1, maxLength: 4 }), { maxLength: 8 }).map((rows) => `x1,x2,label\n${rows.map((r) => r.join(',')).join('\n')}`),
  );
  const text = fc.oneof(
    { weight: 6, arbitrary: route.operationId === 'uploadDataset' ? csv : jsonDocument(route, world).map((d) => JSON.stringify(d) ?? 'null') },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"name":', '[1,2', 'NaN', '{"a":1,}', '"\\ud800"', '{"__proto__":{"x":1}}', 'null', '', 'x1,label\n1,a\n2,b\n3,a\n4,b\n') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  );
  const bytes = fc.oneof({ weight: 5, arbitrary: text.map((s) => UTF8.encode(s)) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) });
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant({}) },
    { weight: 10, arbitrary: bytes.map((b) => ({ bytes: b })) },
    {
      weight: 3,
      arbitrary: fc.tuple(bytes, fc.constantFrom('gzip', 'deflate', 'br')).map(([b, e]) => ({
        bytes: e === 'gzip' ? gzipSync(b) : e === 'deflate' ? deflateSync(b) : brotliCompressSync(b),
        encoding: e,
      })),
    },
    { weight: 3, arbitrary: fc.tuple(bytes, fc.constantFrom(...ENCODINGS)).map(([b, e]) => ({ bytes: b, encoding: e })) },
    { weight: 1, arbitrary: fc.constant({ bytes: gzipSync(Buffer.alloc(3 << 20, 32)), encoding: 'gzip' }) },
  );
}

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

/** Success statuses the route table documents, per method. */
const DOCUMENTED: Record<string, Set<number>> = {};
for (const r of API_ROUTES) for (const s of Object.keys(r.responses)) (DOCUMENTED[r.method.toUpperCase()] ??= new Set()).add(Number(s));

function describeRequest(r: RawRequest): string {
  const h = Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${JSON.stringify(v.slice(0, 80))}`)
    .join(', ');
  return `${r.method} ${r.path.slice(0, 300)} [${h}] body ${r.body?.byteLength ?? 0} B`;
}

/** Every answer: a documented success, or a 4xx with the API's JSON error naming a field. Returns the error, if any. */
function checkAnswer(r: RawRequest, res: RawResponse): ApiError | null {
  const what = `${describeRequest(r)} → ${res.status} ${res.body.toString('utf8').slice(0, 300)}`;
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  expect(res.status, what).toBeLessThan(500);
  const type = String(res.headers['content-type'] ?? '');
  if (res.status < 400) {
    expect([...(DOCUMENTED[r.method] ?? [])], what).toContain(res.status);
    if (res.status !== 204) expect(type, what).toMatch(/^(application\/json|text\/event-stream|text\/plain)/);
    return null;
  }
  expect(type, what).toMatch(/^application\/json/);
  const error = ApiError.parse(JSON.parse(res.body.toString('utf8')));
  // Named: at least one detail with a path; a capped list ends with the count of the rest.
  expect(error.error.details.length, what).toBeGreaterThan(0);
  expect(error.error.details.some((d) => d.path !== '' && !isMoreDetail(d)), what).toBe(true);
  // Small, whatever the request: at most 20 details and a summary.
  expect(error.error.details.length, what).toBeLessThanOrEqual(21);
  expect(res.body.byteLength, what).toBeLessThan(32_768);
  return error;
}

async function exchange(world: World, r: RawRequest): Promise<{ res: RawResponse; error: ApiError | null }> {
  sent++;
  const res = await send(world.base, r);
  return { res, error: checkAnswer(r, res) };
}

function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? 'x');
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('fuzz: every route, hostile requests, never a 5xx', () => {
  let t: TestApi;
  let world: World;

  beforeAll(async () => {
    t = await startTestApi({ RATE_LIMIT_RPS: '0' });
    const sweeps: string[] = [];
    for (const name of ['fuzz a', 'fuzz b', 'fuzz c']) {
      const res = await t.request('/api/v1/sweeps', { method: 'POST', json: spirals(name) });
      expect(res.status).toBe(201);
      sweeps.push(((await res.json()) as { id: string }).id);
    }
    await setSweepStatus(t.db, sweeps[0]!, 'running');
    const trials: string[] = [];
    for (let i = 0; i < 3; i++) trials.push((await createTrial(t.db, sweeps[0]!, { params: { learningRate: 0.01 * (i + 1) } })).id);
    const csv = 'x1,x2,label\n' + Array.from({ length: 40 }, (_, i) => `${i / 10},${(i * 7) % 5},${i % 2 === 0 ? 'a' : 'b'}`).join('\n');
    const up = await t.request('/api/v1/datasets?name=fuzzcsv&labelColumn=label&task=classification', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });
    expect(up.status).toBe(201);
    const csvId = ((await up.json()) as { id: string }).id;
    // Tokens the fuzz may revoke (never the one it authenticates with).
    const spare: string[] = [];
    for (let i = 0; i < 4; i++) spare.push((await createApiToken(t.db, `spare ${i}`)).id);
    const cursorOf = async (path: string) => ((await (await t.request(path)).json()) as { nextCursor: string | null }).nextCursor!;
    const cursors: World['cursors'] = { sweeps: [], trials: [] };
    for (const [sort, order] of [['createdAt', 'desc'], ['name', 'asc']] as const) {
      (cursors.sweeps as { sort: string; order: string; cursor: string }[]).push({ sort, order, cursor: await cursorOf(`/api/v1/sweeps?limit=1&sort=${sort}&order=${order}`) });
    }
    for (const [sort, order] of [['number', 'asc'], ['createdAt', 'desc'], ['bestValue', 'desc']] as const) {
      (cursors.trials as { sort: string; order: string; cursor: string }[]).push({ sort, order, cursor: await cursorOf(`/api/v1/sweeps/${sweeps[0]}/trials?limit=1&sort=${sort}&order=${order}`) });
    }
    world = { base: t.url, token: t.token, ids: { sweepId: sweeps, trialId: trials, tokenId: spare, datasetId: ['mnist', 'spirals', csvId] }, cursors, csvId };
  });

  afterAll(async () => {
    closeClient();
    await t?.close();
  });

  it('any route with any path parameters, query, headers and body: a documented success or a JSON 4xx naming a field', async () => {
    // Routes that take a body (or a query schema) have the most to check: drawn more often.
    const routes = fc.oneof(...API_ROUTES.map((route) => ({ weight: route.body ? 4 : route.query ? 2 : 1, arbitrary: fc.constant(route) })));
    const request = routes
      .chain((route) => {
        const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
        const params = fc.record(Object.fromEntries(names.map((n) => [n, pathParam(world, n)])) as Record<string, fc.Arbitrary<string>>);
        const method = fc.oneof({ weight: 9, arbitrary: fc.constant(route.method.toUpperCase()) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') });
        return fc.tuple(fc.constant(route), method, params, queryString(world, route), headers(world, route), body(route, world));
      })
      .map(([route, method, params, query, hs, b]): RawRequest => {
        const h = { ...hs };
        if (b.encoding !== undefined) h['content-encoding'] = b.encoding;
        return { method, path: `${fillPath(route.path, params)}${query}`, headers: h, ...(b.bytes !== undefined ? { body: b.bytes } : {}) };
      });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await exchange(world, r);
      }),
      { numRuns: 1_200, seed: SEED },
    );
  });

  it('a path parameter that is not valid percent-encoding is a 400 naming that parameter, on every route that has one', async () => {
    const routes = API_ROUTES.filter((r) => r.path.includes('{'));
    const request = fc.constantFrom(...routes).chain((route) => {
      const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      return fc.tuple(fc.constant(route), fc.constantFrom(...names), fc.constantFrom(...BAD_ESCAPES), fc.string({ maxLength: 8 }).map(pct), fc.boolean());
    });
    await fc.assert(
      fc.asyncProperty(request, async ([route, name, bad, around, before]) => {
        const params = Object.fromEntries(Object.entries(world.ids).map(([k, v]) => [k, v[0]!]));
        // A '-' after the escape keeps what follows from completing it ('%1' + '0' would be valid).
        params[name] = before ? `${bad}-${around}` : `${around}${bad}`;
        const r: RawRequest = { method: route.method.toUpperCase(), path: fillPath(route.path, params), headers: { authorization: `Bearer ${world.token}` } };
        const { res, error } = await exchange(world, r);
        expect(res.status, describeRequest(r)).toBe(400);
        expect(error!.error.details.map((d) => d.path)).toContain(name);
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  it('a forged cursor with values out of its column’s range is a 400 naming cursor; a real one pages', async () => {
    const request = fc
      .constantFrom<Listing>('sweeps', 'trials')
      .chain((which) => fc.tuple(fc.constant(which), forgedCursor(which), fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), fc.constantFrom('%', '%Z', '%ZZ', '!', '=')));
    await fc.assert(
      fc.asyncProperty(request, async ([which, payload, ownListing, junk]) => {
        // Mostly the query asks for the cursor's own sort and order, so the value checks run.
        const real = world.cursors[which][0]!;
        const sort = ownListing && typeof payload['sort'] === 'string' ? payload['sort'] : real.sort;
        const order = ownListing && typeof payload['order'] === 'string' ? payload['order'] : real.order;
        const prefix = which === 'sweeps' ? '/api/v1/sweeps' : `/api/v1/sweeps/${world.ids['sweepId']![0]}/trials`;
        const cursor = b64url(JSON.stringify(payload));
        const r: RawRequest = { method: 'GET', path: `${prefix}?sort=${pct(sort)}&order=${pct(order)}&limit=1&cursor=${cursor}`, headers: { authorization: `Bearer ${world.token}` } };
        const { res, error } = await exchange(world, r);
        if (res.status === 200) return;
        expect(res.status, describeRequest(r)).toBe(400);
        expect(error!.error.details.map((d) => d.path), JSON.stringify(error)).toContain('cursor');
        // Mangled (not base64url) it is refused at cursor too.
        const broken = await exchange(world, { ...r, path: `${prefix}?cursor=${cursor}${junk}` });
        expect(broken.res.status).toBe(400);
        expect(broken.error!.error.details.map((d) => d.path)).toContain('cursor');
      }),
      { numRuns: 250, seed: SEED },
    );
    for (const which of ['sweeps', 'trials'] as const) {
      for (const c of world.cursors[which]) {
        const prefix = which === 'sweeps' ? '/api/v1/sweeps' : `/api/v1/sweeps/${world.ids['sweepId']![0]}/trials`;
        const { res } = await exchange(world, { method: 'GET', path: `${prefix}?sort=${c.sort}&order=${c.order}&limit=1&cursor=${c.cursor}`, headers: { authorization: `Bearer ${world.token}` } });
        expect(res.status, `${which} ${c.sort}`).toBe(200);
      }
    }
  });

  it('a body that does not decode as its Content-Encoding says is a 400 naming the header; an unknown encoding a 415', async () => {
    const posts = API_ROUTES.filter((r) => r.method === 'post');
    const garbage = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.string({ minLength: 1 }).map((s) => UTF8.encode(s)));
    const request = fc.tuple(fc.constantFrom(...posts), garbage, fc.constantFrom('gzip', 'deflate', 'br', 'x-gzip', 'zstd', 'compress', 'rot13', 'gzip, gzip'));
    await fc.assert(
      fc.asyncProperty(request, async ([route, bytes, encoding]) => {
        const params = Object.fromEntries(Object.entries(world.ids).map(([k, v]) => [k, v[0]!]));
        const csv = route.operationId === 'uploadDataset';
        const r: RawRequest = {
          method: 'POST',
          path: `${fillPath(route.path, params)}${csv ? '?name=enc&labelColumn=label&task=classification' : ''}`,
          headers: { authorization: `Bearer ${world.token}`, 'content-type': csv ? 'text/csv' : 'application/json', 'content-encoding': encoding },
          body: bytes,
        };
        const { res, error } = await exchange(world, r);
        const decode = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync }[encoding as 'gzip' | 'deflate' | 'br'];
        if (!decode) {
          expect(res.status, describeRequest(r)).toBe(415);
          expect(error!.error.details.map((d) => d.path)).toContain('headers.content-encoding');
          return;
        }
        let decodes = true;
        try {
          decode(bytes);
        } catch {
          decodes = false;
        }
        // Random bytes can be a valid stream (brotli has no magic number): then the route judges the decoded body.
        if (decodes) return;
        expect(res.status, describeRequest(r)).toBe(400);
        expect(error!.error.details.map((d) => d.path)).toContain('headers.content-encoding');
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  it('a string PostgreSQL cannot store is a 400 naming its field, in every free-text field', async () => {
    // Control characters are refused by their own rule; here only the unstorable one is wrong.
    // eslint-disable-next-line no-control-regex
    const around = fc.string({ maxLength: 10 }).map((s) => s.replace(/[\u0000-\u001f\u007f]/g, ''));
    const unstorable = (bad: string[]) => fc.tuple(around, fc.constantFrom(...bad), around).map(([a, b, c]) => `${a}${b}${c}`);
    // JSON carries lone surrogates ("\ud800"); a query string cannot (invalid UTF-8 decodes to U+FFFD), NUL it can.
    const target = fc.oneof(
      fc.tuple(fc.constantFrom('sweep.name', 'sweep.description', 'token.name'), unstorable(['\u0000', '\ud800', '\udfff', '\udbff\u0041'])),
      fc.tuple(fc.constantFrom('dataset.name', 'dataset.labelColumn'), unstorable(['\u0000'])),
    );
    await fc.assert(
      fc.asyncProperty(target, async ([field, value]) => {
        const auth = { authorization: `Bearer ${world.token}` };
        let r: RawRequest;
        let expected: string;
        if (field.startsWith('sweep.')) {
          const key = field.slice('sweep.'.length);
          r = { method: 'POST', path: '/api/v1/sweeps', headers: { ...auth, 'content-type': 'application/json' }, body: UTF8.encode(JSON.stringify({ ...spirals('ok'), [key]: value })) };
          expected = key;
        } else if (field === 'token.name') {
          r = { method: 'POST', path: '/api/v1/tokens', headers: { ...auth, 'content-type': 'application/json' }, body: UTF8.encode(JSON.stringify({ name: value })) };
          expected = 'name';
        } else {
          const key = field.slice('dataset.'.length);
          const q = { name: 'strings', labelColumn: 'label', task: 'classification', [key]: value };
          r = {
            method: 'POST',
            path: `/api/v1/datasets?${Object.entries(q).map(([k, v]) => `${k}=${pct(v)}`).join('&')}`,
            headers: { ...auth, 'content-type': 'text/csv' },
            body: UTF8.encode('x1,label\n1,a\n2,b\n3,a\n4,b\n'),
          };
          expected = key;
        }
        const { res, error } = await exchange(world, r);
        expect(res.status, describeRequest(r)).toBe(400);
        expect(error!.error.details.map((d) => d.path)).toContain(expected);
      }),
      { numRuns: 150, seed: SEED },
    );
  });

  it('Authorization: the Bearer scheme in any case is accepted; anything else is a 401 naming the header', async () => {
    const scheme = fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }).map((upper) => [...'bearer'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
    const request = fc.tuple(scheme, fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.constantFrom('/api/v1/sweeps', '/api/v1/tokens', '/api/v1/datasets', '/api/v1/workers'));
    await fc.assert(
      fc.asyncProperty(request, async ([s, spaces, valid, path]) => {
        const credentials = valid ? world.token : `${world.token.slice(0, -2)}zz`;
        const r: RawRequest = { method: 'GET', path, headers: { authorization: `${s}${' '.repeat(spaces)}${credentials}` } };
        const { res, error } = await exchange(world, r);
        if (valid) expect(res.status, describeRequest(r)).toBe(200);
        else {
          expect(res.status).toBe(401);
          expect(error!.error.details.map((d) => d.path)).toContain('headers.authorization');
        }
      }),
      { numRuns: 100, seed: SEED },
    );
  });

  it('raw requests Node refuses before the app (headers over 16 KiB, broken request lines) get a JSON 4xx too', async () => {
    const token = world.token;
    const raw = fc.oneof(
      fc.integer({ min: 17, max: 64 }).map((k) => ({ bytes: UTF8.encode(`GET /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Big: ${'a'.repeat(k * 1024)}\r\n\r\n`), status: 431 })),
      // 1 KiB headers: up to 12 fit in the 16 KiB limit, from 20 on they do not.
      fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 20, max: 40 })).map((n) => ({
        bytes: UTF8.encode(`GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: n }, (_, i) => `X-H${i}: ${'b'.repeat(1000)}`).join('\r\n')}\r\n\r\n`),
        status: n > 16 ? 431 : 200,
      })),
      fc.constantFrom('GET / HTTP/9.9\r\n\r\n', 'GET\r\n\r\n', 'G\u00e9T / HTTP/1.1\r\n\r\n', 'GET /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET /x HTTP/1.1\r\nHo st: x\r\n\r\n').map((s) => ({ bytes: Buffer.from(s, 'latin1'), status: 400 })),
      // Noise, and a body that breaks the parser after its request was answered: any answer there is must be JSON.
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ bytes: Buffer.concat([b, Buffer.from('\r\n\r\n')]), status: 0 })),
      fc.constant({ bytes: UTF8.encode('POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), status: 0 }),
    );
    await fc.assert(
      fc.asyncProperty(raw, async ({ bytes, status }) => {
        sent++;
        const res = await sendRaw(world.base, bytes);
        const what = `${JSON.stringify(Buffer.from(bytes).subarray(0, 80).toString('latin1'))} → ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
        if (status !== 0) expect(res.status, what).toBe(status);
        // Noise may end without any answer (e.g. only line breaks); whatever answer there is follows the rules.
        if (res.status === 0) return;
        expect(res.status, what).toBeGreaterThanOrEqual(200);
        expect(res.status, what).toBeLessThan(500);
        if (res.status >= 400) {
          expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
          const error = ApiError.parse(JSON.parse(res.body.toString('utf8')));
          expect(error.error.details.some((d) => d.path !== ''), what).toBe(true);
        }
      }),
      { numRuns: 100, seed: SEED },
    );
  });

  it(`sent at least ${MIN_REQUESTS} generated requests`, () => {
    expect(sent).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
