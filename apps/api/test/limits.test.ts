// Limits and edges of the hostile-request issue that a table of cases cannot say: error bodies stay
// small whatever the request, oversized headers get the JSON error (as do a missing Host, CONNECT,
// an odd Expect or transfer coding), the Bearer scheme in any case, JSON for any unrouted API path
// beside the dashboard, an uploaded CSV's shape checked at submission, and the trial memory limit from the config.
import { ApiError, Sweep } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeClient, send, sendRaw } from './http.ts';
import { parseEnv } from '../src/env.ts';

type Body = Record<string, unknown>;
const fixture = (): Body => JSON.parse(JSON.stringify(mnistTpeAshaSweep())) as Body;
const space = (body: Body) => (body['search'] as Body)['space'] as Body;

describe('limits', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    closeClient();
    await t?.close();
  });

  it('answers 10,000 bad categorical choices with 20 details and a count of the rest, in a few KiB', async () => {
    const body = fixture();
    space(body)['activation'] = { type: 'categorical', choices: Array.from({ length: 10_000 }, (_, i) => `act${i}`) };
    const res = await t.request('/api/v1/sweeps', { method: 'POST', json: body });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text.length).toBeLessThan(8_192);
    const error = ApiError.parse(JSON.parse(text));
    expect(error.error.details).toHaveLength(21);
    expect(error.error.details.slice(0, 20).map((d) => d.path)).toEqual(Array.from({ length: 20 }, (_, i) => `search.space.activation.choices[${i}]`));
    expect(error.error.details[20]).toEqual({ path: '', message: 'and 9980 more problems not listed' });
  });

  it('caps every detail: a 100 KB value echoed back is cut, and 900 unknown keys are counted, not listed', async () => {
    const body = fixture();
    // Under the 1,000 fields an object may have (bad-input.test.ts: more is refused as a whole).
    for (let i = 0; i < 900; i++) body[`k${i}`] = 1;
    const many = await t.request('/api/v1/sweeps', { method: 'POST', json: body });
    const text = await many.text();
    expect(many.status).toBe(400);
    expect(text.length).toBeLessThan(8_192);
    expect(ApiError.parse(JSON.parse(text)).error.details.at(-1)?.message).toBe('and 880 more problems not listed');
    const long = fixture();
    space(long)['activation'] = { type: 'categorical', choices: ['x'.repeat(100_000)] };
    const res = await t.request('/api/v1/sweeps', { method: 'POST', json: long });
    const error = ApiError.parse(await res.json());
    expect(res.status).toBe(400);
    expect(error.error.details[0]!.path).toBe('search.space.activation.choices[0]');
    expect(error.error.details[0]!.message.length).toBeLessThanOrEqual(500);
    expect(error.error.message.length).toBeLessThanOrEqual(1_000);
  });

  it('answers headers over 16 KiB with 431 and the JSON error body', async () => {
    const res = await send(t.url, { method: 'GET', path: '/api/v1/sweeps', headers: { authorization: `Bearer ${t.token}`, 'x-padding': 'p'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const error = ApiError.parse(JSON.parse(res.body.toString('utf8')));
    expect(error.error).toMatchObject({ code: 'headers_too_large', details: [{ path: 'headers' }] });
    // The server is fine afterwards.
    expect((await t.request('/api/v1/sweeps')).status).toBe(200);
  });

  it('answers in JSON what Node answered itself or not at all: no or two Hosts, an odd Expect, CONNECT, an unknown transfer coding, two tokens', async () => {
    const raw = async (head: string, body = '') => {
      const res = await sendRaw(t.url, new TextEncoder().encode(`${head}\r\n\r\n${body}`));
      expect(res.headers['content-type'], head).toMatch(/^application\/json/);
      return { status: res.status, error: ApiError.parse(JSON.parse(res.body.toString('utf8'))).error };
    };
    const auth = `Authorization: Bearer ${t.token}`;
    expect(await raw(`GET /api/v1/me HTTP/1.1\r\n${auth}`)).toMatchObject({ status: 400, error: { code: 'invalid_request', details: [{ path: 'headers.host' }] } });
    expect(await raw(`GET /api/v1/me HTTP/1.1\r\nHost: a\r\nHost: b\r\n${auth}`)).toMatchObject({ status: 400, error: { details: [{ path: 'headers.host' }] } });
    for (const host of ['a b', 'x\ty', '[::1', 'h@x', 'a/b', 'a:80:90', '\xff']) {
      expect(await raw(`GET /api/v1/me HTTP/1.1\r\nHost: ${host}\r\n${auth}`), JSON.stringify(host)).toMatchObject({ status: 400, error: { details: [{ path: 'headers.host' }] } });
    }
    const posted = await raw(`POST /api/v1/projects HTTP/1.1\r\nHost: a\r\n${auth}\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\nContent-Length: 13`, '{"name":"x1"}');
    expect(posted).toMatchObject({ status: 400, error: { details: [{ path: 'headers.content-type' }] } });
    expect(await raw(`GET /api/v1/me HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n${auth}`)).toMatchObject({ status: 417, error: { code: 'expectation_failed', details: [{ path: 'headers.expect' }] } });
    expect(await raw('CONNECT evil:443 HTTP/1.1\r\nHost: evil:443')).toMatchObject({ status: 405, error: { code: 'method_not_allowed' } });
    expect((await sendRaw(t.url, new TextEncoder().encode('CONNECT evil:443 HTTP/1.1\r\nHost: evil:443\r\n\r\n'))).headers['allow']).toMatch(/GET/);
    const sweep = JSON.stringify(fixture());
    const chunked = `${sweep.length.toString(16)}\r\n${sweep}\r\n0\r\n\r\n`;
    const gzipChunked = await raw(`POST /api/v1/sweeps HTTP/1.1\r\nHost: a\r\n${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked`, chunked);
    expect(gzipChunked).toMatchObject({ status: 501, error: { code: 'not_implemented', details: [{ path: 'headers.transfer-encoding' }] } });
    expect(await raw(`GET /api/v1/me HTTP/1.1\r\nHost: a\r\n${auth}\r\nAuthorization: Bearer hs_other`)).toMatchObject({ status: 400, error: { details: [{ path: 'headers.authorization' }] } });
    // HTTP/1.0 may leave Host out; plain chunked bodies are read as ever.
    const url = new URL(t.url);
    const exchange = (text: string) =>
      new Promise<string>((resolve, reject) => {
        // Written without half-closing: Node drops a request whose client ended its side before an async answer.
        const socket = connect({ host: url.hostname, port: Number(url.port) }, () => socket.write(text));
        let answer = '';
        socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    expect(await exchange(`GET /api/v1/me HTTP/1.0\r\n${auth}\r\n\r\n`)).toMatch(/^HTTP\/1\.[01] 200 /);
    // Names, addresses, ports and an empty Host (a target without an authority) pass.
    for (const host of ['[::1]:8080', 'api.example.com', '127.0.0.1:80', 'xn--bcher-kva.example', '', '[fe80::1%25eth0]:80', '[v1.fe80::a+en1]', 'API.Example.COM.', 'my_host:8080']) {
      expect(await exchange(`GET /api/v1/me HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\nConnection: close\r\n\r\n`), host).toMatch(/^HTTP\/1\.1 200 /);
    }
    expect(await t.db.sweep.count()).toBe(0);
    const plain = await exchange(`POST /api/v1/sweeps HTTP/1.1\r\nHost: a\r\n${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
    expect(plain).toMatch(/^HTTP\/1\.1 201 /);
  });

  it('accepts the Bearer scheme in any case and with several spaces (RFC 9110 §11.1), refuses other schemes', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR', 'Bearer  ']) {
      const res = await t.request('/api/v1/sweeps', { headers: { authorization: `${scheme} ${t.token}` } });
      expect(res.status, scheme).toBe(200);
    }
    for (const header of [`Basic ${t.token}`, `Bearer${t.token}`, `bearer ${t.token} x`]) {
      const res = await t.request('/api/v1/sweeps', { headers: { authorization: header } });
      expect(res.status, header).toBe(401);
      expect(ApiError.parse(await res.json()).error.details[0]?.path).toBe('headers.authorization');
    }
  });

  it('refuses a templated sweep one of whose combinations of range ends and choices cannot train, naming it', async () => {
    // Each corner (one parameter moved at a time, then all at their last) trains; k1 = k2 = 27 with
    // padding "valid" does not (the second kernel outgrows its 2×2 input). Accepted, 2 of 8 trials failed.
    const sweep = {
      name: 'corner gap',
      dataset: { type: 'mnist', limitTrain: 200, limitTest: 50 },
      model: {
        inputShape: [28, 28],
        loss: 'softmax_cross_entropy',
        layers: [
          { type: 'reshape', targetShape: [28, 28, 1] },
          { type: 'conv2d', filters: 2, kernelSize: { $param: 'k1' }, padding: { $param: 'pad' } },
          { type: 'conv2d', filters: 2, kernelSize: { $param: 'k2' } },
          { type: 'flatten' },
          { type: 'dense', units: 10 },
        ],
      },
      training: { epochs: 1, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.01 } },
      search: {
        space: { k1: { type: 'int', low: 1, high: 27 }, pad: { type: 'categorical', choices: ['valid', 'same'] }, k2: { type: 'int', low: 1, high: 27 } },
        budget: { maxTrials: 8 },
        seed: 1,
      },
      objective: { metric: 'val_accuracy' },
    };
    const res = await t.request('/api/v1/sweeps', { method: 'POST', json: sweep });
    expect(res.status).toBe(400);
    const details = ApiError.parse(await res.json()).error.details;
    expect(details[0]).toMatchObject({ path: 'model.layers[2].kernelSize', message: expect.stringContaining('(when k1 = 27, pad = "valid", k2 = 27): a trial drawn there could not train') });
    // Kernels that fit together at every end are taken.
    const fits = { ...sweep, search: { ...sweep.search, space: { ...sweep.search.space, k1: { type: 'int', low: 1, high: 13 }, k2: { type: 'int', low: 1, high: 13 } } } };
    const ok = await t.request('/api/v1/sweeps', { method: 'POST', json: fits });
    expect(ok.status, await ok.clone().text()).toBe(201);
  });

  it("checks a sweep against an uploaded CSV's stored shape, classes and task", async () => {
    const upload = async (name: string, task: string, csv: string) => {
      const res = await t.request(`/api/v1/datasets?name=${name}&labelColumn=label&task=${task}`, { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const rows = Array.from({ length: 40 }, (_, i) => `${i / 10},${(i * 7) % 5},${(i * 3) % 4},${['a', 'b', 'c'][i % 3]}`);
    const classes = await upload('three-classes', 'classification', `x1,x2,x3,label\n${rows.join('\n')}`);
    const values = await upload('regression', 'regression', `x1,label\n${Array.from({ length: 40 }, (_, i) => `${i},${i * 0.5}`).join('\n')}`);
    const sweep = (id: string, model: object, objective = 'val_accuracy') => ({
      name: 'csv fit',
      dataset: { type: 'csv', id },
      model,
      training: { epochs: 2, batchSize: 8, optimizer: { type: 'adam', learningRate: 0.01 } },
      search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 2 } },
      objective: { metric: objective },
    });
    const dense = (inputs: number, outputs: number, loss = 'softmax_cross_entropy') => ({ inputShape: [inputs], layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: outputs }], loss });
    const refusedAt = async (body: object, path: string, message: RegExp) => {
      const res = await t.request('/api/v1/sweeps', { method: 'POST', json: body });
      const error = ApiError.parse(await res.json());
      expect(res.status, JSON.stringify(error)).toBe(400);
      expect(error.error.details).toContainEqual({ path, message: expect.stringMatching(message) as unknown as string });
    };
    await refusedAt(sweep(classes, dense(2, 3)), 'model.inputShape', /\[2\].*\[3\]/);
    await refusedAt(sweep(classes, dense(3, 2)), 'model.layers[1].units', /2 units .* 3 classes/);
    await refusedAt(sweep(values, dense(1, 2)), 'model.loss', /classification dataset/);
    await refusedAt(sweep(values, dense(1, 2, 'mse'), 'val_loss'), 'model.layers[1].units', /2 units .* 1 targets/);
    expect((await t.request('/api/v1/sweeps', { method: 'POST', json: sweep(classes, dense(3, 3)) })).status).toBe(201);
    expect((await t.request('/api/v1/sweeps', { method: 'POST', json: sweep(values, dense(1, 1, 'mse'), 'val_loss') })).status).toBe(201);
  });

  it('refuses a sweep past the configured trial memory limit, and reads the limit from the environment', async () => {
    expect(parseEnv({ DATABASE_URL: 'postgresql://x' }).trialLimits).toEqual({ maxPlanBytes: 2 ** 31, threads: 8 });
    expect(parseEnv({ DATABASE_URL: 'postgresql://x', TRIAL_MEMORY_LIMIT_BYTES: '1073741824', TRIAL_MEMORY_THREADS: '4' }).trialLimits).toEqual({ maxPlanBytes: 2 ** 30, threads: 4 });
    expect(() => parseEnv({ DATABASE_URL: 'postgresql://x', TRIAL_MEMORY_LIMIT_BYTES: '5000000000' })).toThrow(/TRIAL_MEMORY_LIMIT_BYTES/);
    const accepted = await t.request('/api/v1/sweeps', { method: 'POST', json: fixture() });
    expect(accepted.status).toBe(201);
    // The fixture's largest trial (batch 128, adam, 8 threads, 2,500 images) needs about 6 MiB: under a 1 MiB limit it is refused.
    const limits = t.api.deps.config.trialLimits;
    t.api.deps.config.trialLimits = { maxPlanBytes: 1 << 20, threads: 8 };
    try {
      const res = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...fixture(), name: 'too big here' } });
      const error = ApiError.parse(await res.json());
      expect(res.status).toBe(400);
      expect(error.error.details[0]).toMatchObject({ path: expect.stringMatching(/^(dataset|search\.space\.batchSize\.choices\[2\]|model\.layers\[1\]\.units)$/) as unknown as string, message: expect.stringContaining('at most 1.0 MiB') as unknown as string });
    } finally {
      t.api.deps.config.trialLimits = limits;
    }
    Sweep.parse(await accepted.json());
  });
});

describe('the dashboard beside the API', () => {
  let t: TestApi;
  let web: string;
  beforeAll(async () => {
    web = mkdtempSync(join(tmpdir(), 'hs-web-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>dashboard</title>');
    t = await startTestApi({ WEB_DIST: web });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(web, { recursive: true, force: true });
  });

  it("serves the app's page for its routes, and JSON for any path naming the API that is not routed", async () => {
    const page = await t.request('/sweeps/abc', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>dashboard</title>');
    // A browser's Accept (or curl's */*) once got the page, 200, for an API path with a doubled slash.
    for (const path of ['//api/v1/me', '///api/v1/sweeps', '/api/v2/sweeps', '/API/v0', '//api']) {
      for (const accept of ['text/html', '*/*']) {
        const res = await t.request(path, { headers: { accept } });
        expect(res.status, `${path} (${accept})`).toBe(404);
        expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
        expect(ApiError.parse(await res.json()).error).toMatchObject({ code: 'not_found', details: [{ path: 'path' }] });
      }
    }
    // The API itself stays routed, whatever the case of its prefix.
    expect((await t.request('/API/V1/me')).status).toBe(200);
  });
});
