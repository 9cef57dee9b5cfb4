// `hypersweep pause | resume | budget | enqueue | delete` against the node:http stand-in of the API
// (test/api-server.ts, which answers as the API's contract says): what each sends, what it prints,
// the exit codes of refusals (1) and bad command lines (2), and the confirmation of delete; and
// `watch` of a sweep that is paused, which renders the pause and the controls and keeps waiting.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SweepEvent } from '@hypersweep/schemas';
import { SWEEP_ID, startFakeApi, TOKEN, trialId, type FakeApi } from '../test/api-server.ts';
import { T0 } from '../test/fixtures.ts';
import { runCli } from './cli.ts';
import type { CommandContext } from './command.ts';

const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-control-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let api: FakeApi;
beforeEach(async () => {
  api = await startFakeApi({ sweepCount: 3, trialCount: 2 });
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

async function cli(argv: string[], overrides: Partial<CommandContext> = {}) {
  const c = context(overrides);
  const code = await runCli(argv, c.ctx);
  return { code, out: c.out(), err: c.err() };
}

const sent = (method: string) => api.requests.filter((r) => r.method === method);

describe('hypersweep pause and resume', () => {
  it('pauses a running sweep and resumes it, each once', async () => {
    expect(await cli(['pause', SWEEP_ID])).toEqual({ code: 0, out: `sweep spirals, "quoted" (${SWEEP_ID}) is paused\n`, err: '' });
    expect(api.sweeps[0]!.status).toBe('paused');
    const again = await cli(['pause', SWEEP_ID]);
    expect(again.code).toBe(1);
    expect(again.err).toBe('error [invalid_state] (HTTP 409): the sweep is paused\n  status: cannot pause a paused sweep\n');

    expect(await cli(['resume', SWEEP_ID])).toMatchObject({ code: 0, out: `sweep spirals, "quoted" (${SWEEP_ID}) is running\n` });
    const twice = await cli(['resume', SWEEP_ID]);
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('cannot resume a running sweep');
    expect(sent('POST').map((r) => r.path)).toEqual([`/api/v1/sweeps/${SWEEP_ID}/pause`, `/api/v1/sweeps/${SWEEP_ID}/pause`, `/api/v1/sweeps/${SWEEP_ID}/resume`, `/api/v1/sweeps/${SWEEP_ID}/resume`]);
  });

  it('refuses a missing or malformed id, or a second one, before sending anything (exit 2)', async () => {
    for (const argv of [['pause'], ['resume', 'nope'], ['pause', SWEEP_ID, SWEEP_ID]]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain(`hypersweep ${argv[0]} <sweepId>`);
    }
    expect(api.requests).toHaveLength(0);
  });
});

describe('hypersweep budget', () => {
  it('sends only the fields given, none lifting the epoch limit, and prints the budget now', async () => {
    const r = await cli(['budget', SWEEP_ID, '--max-trials', '40', '--max-total-epochs', 'none']);
    expect(r).toEqual({ code: 0, out: `sweep spirals, "quoted" (${SWEEP_ID}) budget: maxTrials 40 · maxConcurrentTrials 2 · maxTotalEpochs no limit\n`, err: '' });
    expect(sent('PATCH').map((q) => [q.path, q.body])).toEqual([[`/api/v1/sweeps/${SWEEP_ID}`, { budget: { maxTrials: 40, maxTotalEpochs: null } }]]);
    await cli(['budget', SWEEP_ID, '--max-concurrent', '4', '--max-total-epochs', '500']);
    expect(sent('PATCH')[1]!.body).toEqual({ budget: { maxConcurrentTrials: 4, maxTotalEpochs: 500 } });
  });

  it('prints the field the API refused (below the trials the sweep has) and exits 1; 409 once the sweep ended', async () => {
    const low = await cli(['budget', SWEEP_ID, '--max-trials', '2']);
    expect(low.code).toBe(1);
    expect(low.err).toBe('error [invalid_request] (HTTP 400): the request is invalid: budget.maxTrials: must be at least 3, the trials the sweep has\n  budget.maxTrials: must be at least 3, the trials the sweep has\n');
    api.sweeps[0]!.status = 'completed';
    const ended = await cli(['budget', SWEEP_ID, '--max-trials', '10']);
    expect(ended.code).toBe(1);
    expect(ended.err).toContain('(HTTP 409)');
  });

  it('wants at least one option, each a positive integer (exit 2, nothing sent)', async () => {
    const none = await cli(['budget', SWEEP_ID]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('name at least one of --max-trials, --max-concurrent, --max-total-epochs');
    expect(none.err).toContain('hypersweep budget <sweepId>');
    for (const [flag, value] of [['--max-trials', '0'], ['--max-concurrent', 'four'], ['--max-total-epochs', '1.5']]) {
      const bad = await cli(['budget', SWEEP_ID, flag!, value!]);
      expect(bad.code, `${flag} ${value}`).toBe(2);
      expect(bad.err).toContain(`${flag}: "${value}" must be an integer from 1 to`);
    }
    expect(api.requests).toHaveLength(0);
  });
});

describe('hypersweep enqueue', () => {
  beforeEach(() => {
    // Room for more trials than the story's 2 of 3.
    api.sweeps[0]!.spec.search.budget.maxTrials = 10;
  });

  it('queues each --params configuration and prints the trials', async () => {
    const r = await cli(['enqueue', SWEEP_ID, '--params', '{"learningRate": 0.05, "activation": "relu"}', '--params', '{"activation":"tanh","learningRate":0.5}']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`queued trial #2 (${trialId(2)})  activation=relu learningRate=0.05\nqueued trial #3 (${trialId(3)})  activation=tanh learningRate=0.5\n`);
    expect(sent('POST').map((q) => [q.path, q.body])).toEqual([[`/api/v1/sweeps/${SWEEP_ID}/trials`, { params: [{ learningRate: 0.05, activation: 'relu' }, { activation: 'tanh', learningRate: 0.5 }] }]]);
  });

  it('reads an array from a YAML file, or one configuration from a JSON file, and prints JSON with --json', async () => {
    writeFileSync(join(work, 'configs.yaml'), '- { learningRate: 0.01, activation: relu }\n- learningRate: 0.02\n  activation: tanh\n');
    const yaml = await cli(['enqueue', SWEEP_ID, '--file', 'configs.yaml', '--json']);
    expect(yaml.code).toBe(0);
    const trials = JSON.parse(yaml.out) as { id: string; params: unknown; status: string }[];
    expect(trials.map((t) => [t.params, t.status])).toEqual([[{ learningRate: 0.01, activation: 'relu' }, 'queued'], [{ learningRate: 0.02, activation: 'tanh' }, 'queued']]);
    writeFileSync(join(work, 'one.json'), '{"learningRate": 0.3, "activation": "relu"}');
    expect((await cli(['enqueue', SWEEP_ID, '--file', 'one.json'])).out).toBe(`queued trial #4 (${trialId(4)})  activation=relu learningRate=0.3\n`);
    expect(sent('POST').map((q) => (q.body as { params: unknown[] }).params.length)).toEqual([2, 1]);
  });

  it('prints the params[i].<name> the API refused and exits 1', async () => {
    const r = await cli(['enqueue', SWEEP_ID, '--params', '{"learningRate": 0.05, "activation": "relu"}', '--params', '{"learningRate": 5, "activation": "relu", "momentum": 0.9}']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'error [invalid_request] (HTTP 400): the request is invalid: params[1].learningRate: must be a number from 0.001 to 1\n' +
        '  params[1].learningRate: must be a number from 0.001 to 1\n' +
        '  params[1].momentum: is not a parameter of the search space\n',
    );
    expect(api.trials).toHaveLength(2);
  });

  it('carries the 409 of a sweep at its maxTrials or ended', async () => {
    api.sweeps[0]!.spec.search.budget.maxTrials = 3;
    const full = await cli(['enqueue', SWEEP_ID, '--params', '{"learningRate": 0.05, "activation": "relu"}', '--params', '{"learningRate": 0.06, "activation": "relu"}']);
    expect(full.code).toBe(1);
    expect(full.err).toBe('error [invalid_state] (HTTP 409): the sweep has 2 of its 3 trials\n  budget.maxTrials: reached\n');
    api.sweeps[0]!.status = 'cancelled';
    expect((await cli(['enqueue', SWEEP_ID, '--params', '{"learningRate": 0.05, "activation": "relu"}'])).err).toBe('error [invalid_state] (HTTP 409): the sweep is cancelled\n');
  });

  it('checks the shape of configurations before sending (exit 1 naming params[i]), and the command line (exit 2)', async () => {
    writeFileSync(join(work, 'shapes.json'), '[{"learningRate": 0.1, "activation": "relu"}, [1, 2], {"activation": {"nested": true}}, {}]');
    const shapes = await cli(['enqueue', SWEEP_ID, '--file', 'shapes.json']);
    expect(shapes.code).toBe(1);
    expect(shapes.err).toMatch(/^error: shapes\.json: not valid configurations \(3 problems\)\n {2}params\[1\]: .+\n {2}params\[2\]\.activation: .+\n {2}params\[3\]: names no parameter\n$/);
    writeFileSync(join(work, 'broken.json'), '[{"learningRate": 0.1,]');
    const broken = await cli(['enqueue', SWEEP_ID, '--file', 'broken.json']);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/^error: broken\.json is not valid JSON\n {2}line 1, column \d+: /);
    writeFileSync(join(work, 'many.json'), JSON.stringify(Array.from({ length: 101 }, () => ({ learningRate: 0.1, activation: 'relu' }))));
    expect((await cli(['enqueue', SWEEP_ID, '--file', 'many.json'])).err).toContain('  params: at most 100 configurations per request, got 101\n');
    expect((await cli(['enqueue', SWEEP_ID, '--file', 'missing.yaml'])).err).toBe('error: cannot read missing.yaml (ENOENT)\n');

    const notJson = await cli(['enqueue', SWEEP_ID, '--params', "{learningRate: 0.1}"]);
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/^error: --params #1 is not JSON: /);
    expect((await cli(['enqueue', SWEEP_ID])).err).toContain('give the configurations with --params or --file');
    expect((await cli(['enqueue', SWEEP_ID, '--params', '{}', '--file', 'one.json'])).code).toBe(2);
    expect(api.requests).toHaveLength(0);
  });
});

describe('hypersweep delete', () => {
  const ended = () => {
    api.sweeps[0]!.status = 'completed';
  };

  it('refuses without --yes when it cannot ask (a script), sending nothing (exit 2)', async () => {
    ended();
    const r = await cli(['delete', SWEEP_ID]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('delete asks for confirmation on a terminal; pass --yes to delete without one');
    expect(api.requests).toHaveLength(0);
    expect(api.sweeps.some((s) => s.id === SWEEP_ID)).toBe(true);
  });

  it('asks on a terminal, naming the sweep, and deletes only on yes', async () => {
    ended();
    const questions: string[] = [];
    const no = await cli(['delete', SWEEP_ID], { ask: async (q) => (questions.push(q), 'n') });
    expect(no).toMatchObject({ code: 1, err: 'not deleted\n', out: '' });
    expect(questions).toEqual([`Delete sweep spirals, "quoted" (${SWEEP_ID}, completed) with its 3 trials, their metrics, checkpoints and events? This cannot be undone. [y/N] `]);
    expect(sent('DELETE')).toHaveLength(0);

    const yes = await cli(['delete', SWEEP_ID], { ask: async () => ' Yes\n' });
    expect(yes).toEqual({ code: 0, out: `deleted sweep ${SWEEP_ID}\n`, err: '' });
    expect(sent('DELETE').map((q) => q.path)).toEqual([`/api/v1/sweeps/${SWEEP_ID}`]);
    expect(api.sweeps.some((s) => s.id === SWEEP_ID)).toBe(false);
    // Gone: a second delete is the API's 404.
    const gone = await cli(['delete', SWEEP_ID, '--yes']);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('error [not_found] (HTTP 404)');
  });

  it('refuses a sweep that has not ended before asking; with --yes the API refuses it (409)', async () => {
    let asked = false;
    const running = await cli(['delete', SWEEP_ID], { ask: async () => ((asked = true), 'y') });
    expect(running.code).toBe(1);
    expect(running.err).toBe(`error: sweep spirals, "quoted" (${SWEEP_ID}) is running: only a completed, failed or cancelled sweep can be deleted (hypersweep cancel ${SWEEP_ID} first)\n`);
    expect(asked).toBe(false);
    const forced = await cli(['delete', SWEEP_ID, '-y']);
    expect(forced.code).toBe(1);
    expect(forced.err).toBe('error [invalid_state] (HTTP 409): the sweep is running\n  status: only a completed, failed or cancelled sweep can be deleted\n');
    expect(api.sweeps.some((s) => s.id === SWEEP_ID)).toBe(true);
  });

  it('is interrupted by Ctrl-C while asking (exit 130), deleting nothing', async () => {
    ended();
    const interrupt = new AbortController();
    const c = context({
      signal: interrupt.signal,
      ask: (_q) =>
        new Promise<string>((_resolve, reject) => {
          interrupt.signal.addEventListener('abort', () => reject(new DOMException('The operation was aborted', 'AbortError')));
          queueMicrotask(() => interrupt.abort());
        }),
    });
    expect(await runCli(['delete', SWEEP_ID], c.ctx)).toBe(130);
    expect(sent('DELETE')).toHaveLength(0);
  });
});

describe('hypersweep watch of a paused sweep', () => {
  const counts = { queued: 1, running: 0, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 3 };
  const progress = { trialsFinished: 1, maxTrials: 3, epochsDone: 7, maxTotalEpochs: null, fraction: 1 / 3 };
  const event = (id: number, type: string, data: unknown) => SweepEvent.parse({ id, type, sweepId: SWEEP_ID, at: T0, data });
  /** Events 1–4 of the story, then the sweep paused by a user (5), its two running trials released (6, 7), with its budget raised (9). */
  function pausedStory(): SweepEvent[] {
    return [
      ...api.events.slice(0, 4),
      event(5, 'sweep.control', { action: 'paused' }),
      event(6, 'trial.queued', { trialId: trialId(1), number: 1, attempt: 1, epochsDone: 2 }),
      event(7, 'trial.queued', { trialId: trialId(2), number: 2, attempt: 1, epochsDone: 2 }),
      event(8, 'sweep.updated', { status: 'paused', counts, progress, best: null }),
      event(9, 'sweep.control', { action: 'budget', budget: { maxTrials: 6, maxTotalEpochs: null } }),
    ];
  }

  it('prints the pause and the controls, and keeps waiting while the sweep is paused', async () => {
    api.events.splice(0, api.events.length, ...pausedStory());
    api.sweeps[0]!.status = 'paused';
    const interrupt = new AbortController();
    const c = context({ signal: interrupt.signal });
    let settled = false;
    const done = runCli(['watch', SWEEP_ID], c.ctx).finally(() => (settled = true));
    for (const deadline = Date.now() + 10_000; !c.out().includes('[9] ') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    expect(c.out()).toMatch(/^watching sweep spirals, "quoted" \([^)]+\): paused, 2 trials so far$/m);
    expect(c.out()).toMatch(/^\[5\] \S+ \S+ sweep paused by a user$/m);
    expect(c.out()).toMatch(/^\[6\] \S+ \S+ trial #1 queued again, 2 epochs kept$/m);
    expect(c.out()).toMatch(/^\[8\] \S+ \S+ sweep paused {2}1\/3 trials finished/m);
    expect(c.out()).toMatch(/^\[9\] \S+ \S+ sweep budget changed by a user: maxTrials 6, maxTotalEpochs no limit$/m);
    // The stream stays open (heartbeats) and watch with it: a paused sweep has not ended.
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(api.eventConnections.length).toBeGreaterThanOrEqual(2);
    interrupt.abort();
    expect(await done).toBe(130);
    expect(c.err()).toContain('stopped watching; the sweep goes on');
  });

  it('shows a paused sweep in the live table with how to resume it and its last control', async () => {
    api.events.splice(0, api.events.length, ...pausedStory());
    api.sweeps[0]!.status = 'paused';
    const interrupt = new AbortController();
    const c = context({ signal: interrupt.signal, isTTY: true, columns: 120, rows: 30 });
    const done = runCli(['watch', SWEEP_ID], c.ctx);
    for (const deadline = Date.now() + 10_000; !c.out().includes('last control: budget changed') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    interrupt.abort();
    expect(await done).toBe(130);
    const last = c.out().slice(c.out().lastIndexOf('\x1b[0J'));
    expect(last).toContain('sweep spirals, "quoted"  paused  maximize val_accuracy');
    expect(last).toContain(`paused: no trial starts until it is resumed (hypersweep resume ${SWEEP_ID})`);
    expect(last).toMatch(/last control: budget changed: maxTrials 6, maxTotalEpochs no limit \(2026-01-02 03:04:05Z\)/);
    // Trials #1 and #2 were training when the sweep paused: released, queued again.
    expect(last).toMatch(/^1\s+queued\s+2\/5/m);
    expect(last).toMatch(/^2\s+queued\s+2\/5/m);
  });

  it('follows a paused sweep through its resume to the end (exit 0)', async () => {
    const end = api.events[api.events.length - 1]!;
    api.events.splice(0, api.events.length, ...pausedStory(), event(10, 'sweep.control', { action: 'resumed' }), { ...end, id: 11 });
    const r = await cli(['watch', SWEEP_ID]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\[10\] \S+ \S+ sweep resumed by a user$/m);
    expect(r.out).toMatch(/^\[11\] \S+ \S+ sweep completed /m);
    expect(r.out).toMatch(/^sweep spirals, "quoted" completed$/m);
  });
});

describe('help', () => {
  it('lists the control commands with their usage, and prints each one’s help', async () => {
    const top = await cli(['--help']);
    for (const name of ['pause', 'resume', 'budget', 'enqueue', 'delete']) {
      expect(top.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      const r = await cli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toContain(`hypersweep ${name} <sweepId>`);
    }
    expect((await cli(['budget', '--help'])).out).toContain('--max-total-epochs <n|none>');
    expect((await cli(['enqueue', '--help'])).out).toContain("--params <json>");
    expect((await cli(['delete', '--help'])).out).toContain('--yes, -y');
  });
});
