// The client and the API commands against a node:http stand-in for the API: what they send (auth,
// Idempotency-Key, cursors, Last-Event-ID), what they print, and how errors come out.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maxStepsOf } from '@hypersweep/schemas';
import { startFakeApi, SWEEP_ID, TOKEN, trialId, type FakeApi } from '../test/api-server.ts';
import { spiralsRequest } from '../test/fixtures.ts';
import { runCli } from './cli.ts';
import { ApiError, HypersweepClient, type HypersweepClientOptions } from '@hypersweep/client';
import { reportError, type CommandContext } from './command.ts';
import { submitWithRetries } from './submit.ts';

const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-commands-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let api: FakeApi;
beforeEach(async () => {
  api = await startFakeApi({ sweepCount: 5, trialCount: 2 });
});
afterEach(async () => {
  await api.close();
});

function context(overrides: Partial<CommandContext> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN },
    isTTY: false,
    columns: 160,
    rows: 40,
    cwd: work,
    ...overrides,
  };
  return { ctx, out: () => out.join(''), err: () => err.join('') };
}

const client = (options: HypersweepClientOptions) => new HypersweepClient(options);

async function cli(argv: string[], overrides: Partial<CommandContext> = {}) {
  const c = context(overrides);
  const code = await runCli(argv, c.ctx);
  return { code, out: c.out(), err: c.err() };
}

describe('client', () => {
  it('sends the bearer token and parses responses with the schemas', async () => {
    const hs = client({ baseUrl: api.url, token: TOKEN });
    const sweep = await hs.getSweep(SWEEP_ID);
    expect(maxStepsOf(sweep.spec)).toBe(5);
    expect(api.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const trials = await hs.listAllTrials(SWEEP_ID);
    expect(trials.map((t) => t.number)).toEqual([0, 1]);
  });

  it('throws ApiError with the status, code and details of an error body', async () => {
    const error = await client({ baseUrl: api.url, token: TOKEN }).getSweep('99999999-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', details: [{ path: 'sweepId', message: 'no such sweep' }] });
    const unauthorized = await client({ baseUrl: api.url }).listSweeps().catch((e: unknown) => e);
    expect(unauthorized).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('refuses a 2xx body that does not match the schema, and says when the API is unreachable', async () => {
    const lying = (async () => Response.json({ items: [{ id: 'not-a-sweep' }], nextCursor: null })) as typeof fetch;
    const invalid = await client({ baseUrl: api.url, fetch: lying }).listSweeps().catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ApiError);
    expect((invalid as ApiError).code).toBe('invalid_response');
    expect((invalid as ApiError).details[0]?.path).toMatch(/^items\[0\]/);

    await api.close();
    const down = await client({ baseUrl: api.url }).listSweeps().catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'unreachable' });
    expect(String((down as Error).message)).toContain(`cannot reach the API at ${api.url}`);
  });

  it('keeps the path of a base URL (an API behind a prefix)', async () => {
    const urls: string[] = [];
    const spy = (async (url: string | URL | Request) => {
      urls.push(String(url));
      return Response.json({ items: [], nextCursor: null });
    }) as typeof fetch;
    await client({ baseUrl: 'https://example.test/hs', fetch: spy }).listSweeps({ limit: 5, status: ['running', 'pending'] });
    await client({ baseUrl: 'https://example.test/hs/', fetch: spy }).listSweeps();
    expect(urls).toEqual(['https://example.test/hs/api/v1/sweeps?limit=5&status=running%2Cpending', 'https://example.test/hs/api/v1/sweeps']);
  });

  it('retries a submission after a dropped connection with the same Idempotency-Key, but not a refused one', async () => {
    const keys: string[] = [];
    let calls = 0;
    const flaky = (async (url: string | URL | Request, init?: RequestInit) => {
      keys.push(new Headers(init?.headers).get('idempotency-key') ?? '');
      if (++calls === 1) throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      return fetch(url, init);
    }) as typeof fetch;
    const err: string[] = [];
    const sweep = await submitWithRetries(client({ baseUrl: api.url, token: TOKEN, fetch: flaky }), spiralsRequest(), 'key-42', { stderr: { write: (t: string) => err.push(t) } }, 1);
    expect(sweep.name).toBe(spiralsRequest().name);
    expect(keys).toEqual(['key-42', 'key-42']);
    expect(err.join('')).toContain('retrying in 1 ms with the same idempotency key');

    const refused = await submitWithRetries(client({ baseUrl: api.url, token: TOKEN }), { ...spiralsRequest(), name: '' }, 'key-43', { stderr: { write: () => true } }, 1).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400 });
    expect(api.requests.filter((q) => q.headers['idempotency-key'] === 'key-43')).toHaveLength(1);
  });

  it('follows the event stream across a dropped connection: Last-Event-ID sent, no event lost or repeated', async () => {
    const ids: number[] = [];
    const drops: string[] = [];
    for await (const item of client({ baseUrl: api.url, token: TOKEN }).sweepEvents(SWEEP_ID, { onDisconnect: (d) => drops.push(d.lastEventId) })) {
      expect(item.kind).toBe('event');
      if (item.kind !== 'event') break;
      ids.push(item.event.id);
      if (item.event.id === 9) break;
    }
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(api.eventConnections).toEqual(['', '3']);
    expect(drops).toEqual(['3']);
    const streamRequests = api.requests.filter((r) => r.path.endsWith('/events'));
    expect(streamRequests.every((r) => r.headers.authorization === `Bearer ${TOKEN}` && r.headers.accept === 'text/event-stream')).toBe(true);
  });
});

describe('hypersweep submit', () => {
  it('validates, submits with a generated Idempotency-Key and prints the sweep id', async () => {
    writeFileSync(join(work, 'sweep.json'), JSON.stringify(spiralsRequest()));
    const r = await cli(['submit', 'sweep.json']);
    expect(r.err).toMatch(/idempotency key [0-9a-f-]{36}/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^20000000-0000-4000-8000-000000000001\n$/);
    const post = api.requests.find((q) => q.method === 'POST')!;
    expect(post.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.body).toEqual(spiralsRequest());
  });

  it('submits into the project of --project, else HYPERSWEEP_PROJECT, else lets the API choose; a malformed name exits 2 unsent', async () => {
    writeFileSync(join(work, 'project.json'), JSON.stringify(spiralsRequest()));
    expect((await cli(['submit', 'project.json', '--project', 'vision'])).code).toBe(0);
    expect((await cli(['submit', 'project.json'], { env: { HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN, HYPERSWEEP_PROJECT: 'nlp' } })).code).toBe(0);
    expect((await cli(['submit', 'project.json'])).code).toBe(0);
    const posts = api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/sweeps');
    expect(posts.map((q) => q.query.get('project'))).toEqual(['vision', 'nlp', null]);
    const bad = await cli(['submit', 'project.json', '--project', 'Not A Name']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--project: "Not A Name" is not a project name');
    expect(api.requests.filter((q) => q.method === 'POST')).toHaveLength(3);
  });

  it('reuses a given Idempotency-Key, so a retried submit returns the same sweep', async () => {
    writeFileSync(join(work, 'retry.json'), JSON.stringify(spiralsRequest()));
    const first = await cli(['submit', 'retry.json', '--idempotency-key', 'my-key-1']);
    const again = await cli(['submit', 'retry.json', '--idempotency-key', 'my-key-1']);
    expect(first.code).toBe(0);
    expect(again.out).toBe(first.out);
    expect(api.requests.filter((q) => q.method === 'POST').map((q) => q.headers['idempotency-key'])).toEqual(['my-key-1', 'my-key-1']);
    expect((await cli(['submit', 'retry.json', '--idempotency-key', 'has space'])).code).toBe(2);
  });

  it('prints the field errors of an invalid sweep and sends nothing', async () => {
    writeFileSync(join(work, 'bad.yaml'), 'name: x\ndataset: { type: spirals }\nmodel: { inputShape: [2], layers: [], loss: mse }\ntraining: { epochs: 0 }\nsearch: { space: {}, budget: { maxTrials: 1 } }\nobjective: { metric: val_loss }\nsurprise: 1\n');
    const r = await cli(['submit', 'bad.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: bad\.yaml is not a valid sweep \(\d+ problems\)\n/);
    expect(r.err).toContain('  training.epochs: must be ≥ 1\n');
    expect(r.err).toContain('  surprise: is not a known field\n');
    expect(api.requests).toHaveLength(0);
  });

  it('carries the API’s own validation errors with their paths, and prints each', async () => {
    const body = { ...spiralsRequest(), name: '' };
    const error = await client({ baseUrl: api.url, token: TOKEN }).createSweep(body, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', details: [{ path: 'name', message: 'must not be empty' }] });
    const printed: string[] = [];
    expect(reportError(error, { stderr: { write: (t: string) => printed.push(t) } })).toBe(1);
    expect(printed.join('')).toBe('error [invalid_request] (HTTP 400): the request is invalid: name: must not be empty\n  name: must not be empty\n');
  });

  it('submits and watches with --watch', async () => {
    writeFileSync(join(work, 'watch.json'), JSON.stringify(spiralsRequest()));
    api.sweeps.push({ ...api.sweeps[0]!, id: '20000000-0000-4000-8000-000000000001' });
    // The new sweep's events come from the shared story; point the fake's stream at it.
    const r = await cli(['submit', 'watch.json', '--watch']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('20000000-0000-4000-8000-000000000001');
    expect(r.out).toContain('sweep completed  3/3 trials finished');
    expect(r.out).toContain('test result');
  });
});

describe('hypersweep watch', () => {
  it('prints one line per event across a reconnection and exits 0 with the best trial and test result', async () => {
    const r = await cli(['watch', SWEEP_ID]);
    expect(r.code).toBe(0);
    const eventLines = r.out.split('\n').filter((l) => /^\[\d+\] /.test(l));
    expect(eventLines.map((l) => Number(/^\[(\d+)\]/.exec(l)![1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.out).toMatch(/^watching sweep spirals, "quoted" \(6f1c1f2e-[^)]+\): running, 2 trials so far\n/);
    expect(r.out).toContain(`best trial #2 (${trialId(2)})  val_accuracy 0.9500\n`);
    expect(r.out).toContain(`test result (trial ${trialId(2)}): test_accuracy 0.9400  test_loss 0.2100\n`);
    expect(r.err).toMatch(/connection lost \(.+\); reconnecting in 10 ms after event 3\n/);
    expect(api.eventConnections).toEqual(['', '3']);
  });

  it('redraws a live table on a terminal', async () => {
    const r = await cli(['watch', SWEEP_ID], { isTTY: true, columns: 100, rows: 30 });
    expect(r.code).toBe(0);
    expect(r.out.startsWith('\x1b[?25l')).toBe(true);
    expect(r.out).toContain('\x1b[0J');
    expect(r.out).toContain('\x1b[?25h');
    const lastFrame = r.out.slice(r.out.lastIndexOf('\x1b[0J'));
    expect(lastFrame).toContain('sweep spirals, "quoted"  completed');
    expect(lastFrame).toMatch(/\*2\s+completed\s+5\/5 █+/);
    expect(lastFrame).toMatch(/ 1\s+stopped\s+3\/5/);
    expect(r.out).toContain('test result');
  });

  it('ends at once for a sweep that is already over, exiting 3 when it was cancelled and 4 when it failed', async () => {
    api.sweeps[0]!.status = 'cancelled';
    const r = await cli(['watch', SWEEP_ID]);
    expect(r.code).toBe(3);
    expect(r.out).toContain('sweep spirals, "quoted" is cancelled');
    expect(api.eventConnections).toEqual([]);
    api.sweeps[0]!.status = 'failed';
    expect(await cli(['watch', SWEEP_ID])).toMatchObject({ code: 4, out: expect.stringContaining('sweep spirals, "quoted" is failed') });
    api.sweeps[0]!.status = 'completed';
    expect((await cli(['watch', SWEEP_ID])).code).toBe(0);
  });

  it('exits 3 when the watched sweep ends cancelled, and 4 when it ends failed (with --watch of submit too)', async () => {
    for (const [status, code] of [['cancelled', 3], ['failed', 4]] as const) {
      const last = api.events.length - 1;
      const end = api.events[last]!;
      if (end.type !== 'sweep.updated') throw new Error('the story ends with the sweep');
      api.events[last] = { ...end, data: { ...end.data, status } };
      api.eventConnections = [];
      api.sweeps[0]!.status = 'running';
      const r = await cli(['watch', SWEEP_ID]);
      expect(r.code, status).toBe(code);
      expect(r.out).toMatch(new RegExp(`^\\[9\\] \\S+ \\S+ sweep ${status} `, 'm'));
      expect(r.out).toMatch(new RegExp(`^sweep spirals, "quoted" ${status}$`, 'm'));
    }
    writeFileSync(join(work, 'failing.json'), JSON.stringify(spiralsRequest()));
    api.sweeps.push({ ...api.sweeps[0]!, status: 'running', id: '20000000-0000-4000-8000-000000000001' });
    expect((await cli(['submit', 'failing.json', '--watch'])).code).toBe(4);
  });

  it('ends cleanly when the server ends a finished sweep’s stream and then answers 204, without the terminal event', async () => {
    api.events.pop(); // the sweep ends without a sweep.updated the CLI sees: only the server knows
    api.finishOnReconnect = true;
    const r = await cli(['watch', SWEEP_ID]);
    expect(r.code).toBe(0);
    const eventLines = r.out.split('\n').filter((l) => /^\[\d+\] /.test(l));
    expect(eventLines.map((l) => Number(/^\[(\d+)\]/.exec(l)![1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Dropped after 3, ended by the server after 8, then 204: no fourth connection, no error.
    expect(api.eventConnections).toEqual(['', '3', '8']);
    expect(r.out).toContain('sweep spirals, "quoted" completed');
    expect(r.err).not.toMatch(/error|not an event stream/i);
  });

  it('stops watching on an interrupt with exit code 130', async () => {
    api.events.pop(); // no terminal event: the stream stays open (heartbeats) after event 8
    const interrupt = new AbortController();
    const c = context({ signal: interrupt.signal });
    const done = runCli(['watch', SWEEP_ID], c.ctx);
    for (const deadline = Date.now() + 10_000; !c.out().includes('[8] ') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    expect(c.out()).toContain('[8] ');
    interrupt.abort();
    expect(await done).toBe(130);
    expect(c.err()).toContain('stopped watching; the sweep goes on');
    expect(c.out()).not.toContain('best trial');
  });
});

describe('hypersweep list, show, cancel, stop, export', () => {
  it('lists one page, hinting at the next cursor, or every page with --all', async () => {
    const one = await cli(['list', '--limit', '2']);
    expect(one.code).toBe(0);
    expect(one.out.trim().split('\n')).toHaveLength(3);
    expect(one.err).toContain('more sweeps: hypersweep list --cursor at:2');

    const all = await cli(['list', '--limit', '2', '--all']);
    expect(all.out.trim().split('\n')).toHaveLength(6);
    expect(api.requests.filter((q) => q.path === '/api/v1/sweeps').map((q) => q.query.get('cursor'))).toEqual([null, null, 'at:2', 'at:4']);

    const running = await cli(['list', '--status', 'running', '--json']);
    const page = JSON.parse(running.out) as { items: { status: string }[] };
    expect(page.items.every((s) => s.status === 'running')).toBe(true);
    expect(api.requests.at(-1)!.query.get('status')).toBe('running');

    const bad = await cli(['list', '--status', 'sleeping']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--status: "sleeping" is not one of pending, running, paused, completed, cancelled, failed');
  });

  it('lists the project of each sweep when the listing spans several, and one project with --project', async () => {
    api.sweeps.forEach((s, i) => Object.assign(s, { project: i % 2 === 0 ? 'vision' : 'nlp' }));
    const all = await cli(['list']);
    expect(all.code).toBe(0);
    const [header, ...rows] = all.out.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+PROJECT\s+STATUS/);
    expect(rows.map((r) => /\b(vision|nlp)\b/.exec(r)?.[1])).toEqual(['vision', 'nlp', 'vision', 'nlp', 'vision']);
    const vision = await cli(['list', '--project', 'vision']);
    expect(api.requests.at(-1)!.query.get('project')).toBe('vision');
    const visionRows = vision.out.trimEnd().split('\n');
    // One project: no column for it.
    expect(visionRows[0]).not.toContain('PROJECT');
    expect(visionRows).toHaveLength(4);
  });

  it('shows a sweep with all its trials, paginating', async () => {
    await api.close();
    api = await startFakeApi({ trialCount: 450 });
    const r = await cli(['show', SWEEP_ID]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('status     running');
    expect(r.out).toContain('best so far #0');
    expect(r.out.split('\n').filter((l) => /^\s*\*?\d+\s+(completed|running)\s/.test(l))).toHaveLength(450);
    expect(api.requests.filter((q) => q.path.endsWith('/trials')).map((q) => q.query.get('cursor'))).toEqual([null, 'at:200', 'at:400']);
  });

  it('cancels a sweep, and prints the API error when it cannot', async () => {
    const ok = await cli(['cancel', SWEEP_ID]);
    expect(ok).toMatchObject({ code: 0, out: `sweep spirals, "quoted" (${SWEEP_ID}) is cancelled\n` });
    const again = await cli(['cancel', SWEEP_ID]);
    expect(again.code).toBe(1);
    expect(again.err).toBe('error [invalid_state] (HTTP 409): sweep is cancelled\n  status: cannot cancel a cancelled sweep\n');
  });

  it('stops a trial by id or by number', async () => {
    const byId = await cli(['stop', SWEEP_ID, trialId(1)]);
    expect(byId).toMatchObject({ code: 0, out: `trial #1 (${trialId(1)}) is stopped\n` });
    const byNumber = await cli(['stop', SWEEP_ID, '#0']);
    expect(byNumber.out).toBe(`trial #0 (${trialId(0)}) is stopped\n`);
    const missing = await cli(['stop', SWEEP_ID, '7']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('has no trial #7');
  });

  it('exports every trial as CSV to stdout, or as JSON to a file', async () => {
    const csv = await cli(['export', SWEEP_ID]);
    expect(csv.code).toBe(0);
    const lines = csv.out.split('\r\n');
    expect(lines[0]).toBe('number,trialId,status,epochsDone,bestValue,finalValue,attempt,workerId,reason,error,createdAt,startedAt,finishedAt,param.activation,param.learningRate,metric.val_accuracy,metric.val_loss');
    expect(lines[1]).toBe(`0,${trialId(0)},completed,5,0.9,0.89,1,worker-a,,,2026-01-02T03:04:05.000Z,2026-01-02T03:04:05.000Z,2026-01-02T03:04:05.000Z,tanh,0.01,0.89,0.3`);
    expect(lines).toHaveLength(4); // header, two trials, and the empty string after the final CRLF

    const json = await cli(['export', SWEEP_ID, '--out', 'trials.json']);
    expect(json).toMatchObject({ code: 0, out: '', err: 'wrote 2 trials to trials.json\n' });
    const records = JSON.parse(readFileSync(join(work, 'trials.json'), 'utf8')) as Record<string, unknown>[];
    expect(records[1]).toMatchObject({ number: 1, status: 'running', finalValue: null, 'param.activation': 'relu' });
    expect((await cli(['export', SWEEP_ID, '--format', 'xml'])).code).toBe(2);
  });

  it('prints a 404 with its details and exits 1; a bad id never reaches the API', async () => {
    const missing = await cli(['show', '99999999-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('error [not_found] (HTTP 404): no sweep 99999999-0000-4000-8000-000000000000\n  sweepId: no such sweep\n');
    const bad = await cli(['show', '../../etc']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('sweep id "../../etc" is not a UUID');
    expect(api.requests).toHaveLength(1);
  });

  it('takes --url and --token over the environment, and reports a missing token as the API does', async () => {
    const r = await cli(['list', '--url', api.url, '--token', TOKEN], { env: { HYPERSWEEP_URL: 'http://127.0.0.1:1', HYPERSWEEP_TOKEN: 'wrong' } });
    expect(r.code).toBe(0);
    const noToken = await cli(['list'], { env: { HYPERSWEEP_URL: api.url } });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toBe('error [unauthorized] (HTTP 401): a valid bearer token is required\n');
  });

  it('prints help for every command', async () => {
    for (const name of ['submit', 'watch', 'list', 'show', 'cancel', 'stop', 'export', 'token', 'start']) {
      const r = await cli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toContain(`hypersweep ${name}`);
    }
    const top = await cli([]);
    expect(top.code).toBe(2);
    expect(top.out).toContain('commands:');
    expect(top.out).toContain('exit codes: 0 success (watch: the sweep completed), 1 error, 2 usage error,\n  3 the watched sweep was cancelled, 4 the watched sweep failed, 130 interrupted');
    expect((await cli(['watch', '--help'])).out).toContain('Exit code: 0 completed, 3 cancelled, 4 failed');
    for (const flag of ['--version', '-V']) expect(await cli([flag])).toMatchObject({ code: 0, out: '0.1.0\n', err: '' });
    expect((await cli(['frobnicate'])).err).toContain('unknown command "frobnicate"');
  });
});

describe('the hypersweep process', () => {
  it('runs as bin/hypersweep.js → the built dist/hypersweep.js (npm run build) with the environment and exits with the command’s code', async () => {
    const bin = new URL('../bin/hypersweep.js', import.meta.url).pathname;
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN } });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code) => resolve({ code, out, err }));
      });
    const ok = await run(['export', SWEEP_ID, '--format', 'json']);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toHaveLength(2);
    const missing = await run(['cancel', '99999999-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('error [not_found] (HTTP 404)');
    // stdin is a pipe: delete cannot ask, so it refuses without --yes.
    const noTerminal = await run(['delete', SWEEP_ID]);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.err).toContain('delete asks for confirmation on a terminal; pass --yes to delete without one');
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, out: `${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n` });
    for (const file of [bin, new URL('../dist/hypersweep.js', import.meta.url)]) expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
