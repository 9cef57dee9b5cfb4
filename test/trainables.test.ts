// Trainables end to end (docs/trainables.md): two workers offer a Python and a JavaScript
// trainable from a trainables file; sweeps that name them run through the queue with TPE + ASHA
// (ASHA's stops reach the process as SIGTERM, or as the answer it reads), survive kill -9 of the
// worker running a trial (another resumes from the stored checkpoint directory), and fail a trial
// cleanly for a crash, a hang or a garbage line, leaving no process behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sweep, Trial } from '@hypersweep/schemas';
import { sleepUntil } from '@hypersweep/queue/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials } from './lib/sweeps.ts';
import { ROOT, Stack } from './lib/stack.ts';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const FIXTURES = join(ROOT, 'test', 'fixtures', 'trainables');
const FINISHED = ['completed', 'failed', 'cancelled'];

/** Every trial has one `loss` row per step 1..epochsDone (none missing, none twice) and none past it. */
async function expectSteps(stack: Stack, trials: readonly Trial[]): Promise<void> {
  for (const trial of trials) {
    const rows = await stack.db.metric.findMany({ where: { trialId: trial.id, name: 'loss' }, select: { step: true }, orderBy: { step: 'asc' } });
    expect(rows.map((r) => r.step), `trial ${trial.number} (${trial.status})`).toEqual(Array.from({ length: trial.epochsDone }, (_, i) => i + 1));
  }
}

/** Whether a process is still there (signal 0 only checks). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('trainables run by the workers', () => {
  let stack: Stack;
  let dir: string;
  const events = (trialId: string): string[] => {
    const file = join(dir, 'events', `${trialId}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  };
  const pidsOf = (trialId: string): number[] => events(trialId).flatMap((line) => (line.startsWith('start ') ? [Number(line.split(' ')[2])] : []));
  const submit = async (body: object): Promise<Sweep> => {
    const res = await stack.request('/api/v1/sweeps', { method: 'POST', json: body });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Sweep;
  };
  const finished = (sweep: Sweep) => stack.waitForSweep<Sweep>(sweep.id, (s) => FINISHED.includes(s.status), `sweep ${sweep.name} to finish`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hs-trainables-'));
    const eventsDir = join(dir, 'events');
    mkdirSync(eventsDir);
    const py = (env: Record<string, string> = {}) => ({ command: [PYTHON, join(FIXTURES, 'quadratic.py')], env: { EVENTS_DIR: eventsDir, ...env }, reportTimeoutSeconds: 3, stopGraceSeconds: 3, concurrency: 2 });
    writeFileSync(
      join(dir, 'trainables.json'),
      JSON.stringify({
        // Slower than the worker answers, so a stop finds the process still running.
        'quad-py': py({ SLEEP: '0.15' }),
        'quad-slow': py({ SLEEP: '0.4' }),
        'quad-js': { command: [process.execPath, join(FIXTURES, 'quadratic.mjs')], env: { EVENTS_DIR: eventsDir }, reportTimeoutSeconds: 10, concurrency: 2 },
      }),
    );
    stack = await Stack.start({
      name: 'trainables',
      workers: 2,
      workerEnv: { WORKER_TRAINABLES: join(dir, 'trainables.json'), WORKER_BUILTIN: 'false', JOB_LOCK_MS: '4000', STALLED_CHECK_MS: '1000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const space = { x: { type: 'uniform', low: 0, high: 1 } };

  it('refuses a trainable no live worker offers, and any command, path or code in its place', async () => {
    const cases: [object, string][] = [
      [{ name: 'nope', maxSteps: 3 }, 'trainable.name'],
      [{ name: 'quad-py', maxSteps: 3, command: ['sh', '-c', 'id'] }, 'trainable.command'],
      [{ name: '../bin/sh', maxSteps: 3 }, 'trainable.name'],
    ];
    for (const [trainable, path] of cases) {
      const res = await stack.request('/api/v1/sweeps', {
        method: 'POST',
        json: { name: 'refused', trainable, search: { space, budget: { maxTrials: 1 } }, objective: { metric: 'loss' } },
      });
      expect(res.status, JSON.stringify(trainable)).toBe(400);
      const body = (await res.json()) as { error: { details: { path: string }[] } };
      expect(body.error.details.map((d) => d.path)).toContain(path);
    }
    const workers = (await stack.json<{ workers: { trainables?: string[] }[] }>('/api/v1/workers')).workers;
    expect(workers.map((w) => [...(w.trainables ?? [])].sort())).toEqual([['quad-js', 'quad-py', 'quad-slow'], ['quad-js', 'quad-py', 'quad-slow']]);
  });

  it('runs a Python trainable with TPE + ASHA: steps, ASHA stops by SIGTERM, the best trial and the CSV export as for built-in trials', async () => {
    const sweep = await submit({
      name: 'python tpe asha',
      trainable: { name: 'quad-py', maxSteps: 8 },
      search: { space, sampler: { type: 'tpe', nStartupTrials: 3 }, scheduler: { type: 'asha', minResource: 1, reductionFactor: 2 }, budget: { maxTrials: 8, maxConcurrentTrials: 2 }, seed: 3 },
      objective: { metric: 'loss' },
    });
    const done = await finished(sweep);
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    expect(trials).toHaveLength(8);
    await expectSteps(stack, trials);
    const stopped = trials.filter((t) => t.status === 'stopped');
    expect(stopped.length, 'ASHA stopped some trials').toBeGreaterThan(0);
    for (const t of stopped) {
      expect(t.reason).toMatch(/^asha stopped it/);
      // The process was told by SIGTERM (it does not read answers) and exited by itself.
      expect(events(t.id), `trial ${t.number}`).toEqual(expect.arrayContaining([expect.stringMatching(/^sigterm \d+$/), expect.stringMatching(/^exit \d+$/)]));
    }
    for (const t of trials.filter((x) => x.status === 'completed')) expect(t.epochsDone).toBe(8);
    // The learning curves, as the dashboard draws them: one objective point per stored step.
    const curves = await stack.json<{ trials: { trialId: string; series: { name: string; totalPoints: number }[] }[] }>(`/api/v1/sweeps/${sweep.id}/curves`);
    expect(curves.trials).toHaveLength(8);
    for (const c of curves.trials) {
      expect(c.series.map((x) => [x.name, x.totalPoints])).toEqual([['loss', trials.find((t) => t.id === c.trialId)!.epochsDone]]);
    }
    const values = trials.flatMap((t) => (t.finalValue === null ? [] : [t.finalValue]));
    expect(done.best?.value).toBe(Math.min(...values));

    const csv = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/cli/src/main.ts'), 'export', sweep.id, '--format', 'csv'], {
      cwd: ROOT,
      env: { ...process.env, HYPERSWEEP_URL: stack.url, HYPERSWEEP_TOKEN: stack.token },
      encoding: 'utf8',
    });
    expect(csv.status, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines).toHaveLength(9);
    expect(lines[0]).toContain('param.x');
    expect(lines[0]).toContain('metric.loss');
  });

  it('runs a JavaScript trainable that reads its answers and ends itself on a stop', async () => {
    const sweep = await submit({
      name: 'js asha',
      trainable: { name: 'quad-js', maxSteps: 6 },
      search: { space, sampler: { type: 'random' }, scheduler: { type: 'asha', minResource: 1, reductionFactor: 3 }, budget: { maxTrials: 6, maxConcurrentTrials: 2 }, seed: 11 },
      objective: { metric: 'loss' },
    });
    const done = await finished(sweep);
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    await expectSteps(stack, trials);
    const stopped = trials.filter((t) => t.status === 'stopped');
    expect(stopped.length).toBeGreaterThan(0);
    for (const t of stopped) {
      expect(t.epochsDone).toBeLessThan(6);
      expect(events(t.id).at(-1), `trial ${t.number}`).toBe(`stopped ${t.epochsDone}`);
    }
    // The answer to the last step is a stop too ("reached maxSteps"); the trial is completed.
    for (const t of trials.filter((x) => x.status === 'completed')) expect(events(t.id).at(-1)).toBe('stopped 6');
  });

  it('fails a crashing, a hanging and a garbage-printing trial with a clear error, goes on, and leaves no process', async () => {
    const sweep = await submit({
      name: 'misbehaving',
      trainable: { name: 'quad-py', maxSteps: 4 },
      search: { space: { x: { type: 'categorical', choices: [0.4] }, fail: { type: 'categorical', choices: ['none', 'crash', 'hang', 'garbage'] } }, sampler: { type: 'grid' }, budget: { maxTrials: 4, maxConcurrentTrials: 2 } },
      objective: { metric: 'loss' },
    });
    const done = await finished(sweep);
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    const byFail = new Map(trials.map((t) => [(t.params as { fail: string }).fail, t]));
    expect(byFail.get('none')?.status).toBe('completed');
    expect(done.best?.trialId).toBe(byFail.get('none')?.id);
    const crash = byFail.get('crash')!;
    expect(crash.status).toBe('failed');
    expect(crash.error).toMatch(/exit code 3 after step 1/);
    expect(crash.error).toMatch(/diverged at step 2: loss is nan/);
    const hang = byFail.get('hang')!;
    expect(hang.status).toBe('failed');
    expect(hang.error).toMatch(/sent no report for reportTimeoutSeconds \(3 s\)/);
    const garbage = byFail.get('garbage')!;
    expect(garbage.status).toBe('failed');
    expect(garbage.error).toMatch(/stdout line 2 is not a valid report \(not JSON\): "epoch 2 done, loss=0.1"/);
    for (const t of trials) {
      const pids = pidsOf(t.id);
      expect(pids.length, `trial ${t.number} started`).toBeGreaterThan(0);
      for (const pid of pids) expect(running(pid), `trial ${t.number}'s process ${pid}`).toBe(false);
    }
    // Nor a supervisor or its watcher.
    const supervisors = () => spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('supervisor.sh') && l.includes(FIXTURES));
    await sleepUntil(() => supervisors().length === 0, { timeoutMs: 5_000, intervalMs: 100, what: 'no supervisor left' });
    expect(supervisors()).toEqual([]);
  });

  it('resumes from the stored checkpoint directory on another worker after kill -9, no step lost or repeated, no orphan', async () => {
    const sweep = await submit({
      name: 'kill -9',
      trainable: { name: 'quad-slow', maxSteps: 10 },
      search: { space, budget: { maxTrials: 1 } },
      objective: { metric: 'loss' },
    });
    let trial: Trial | undefined;
    await sleepUntil(
      async () => {
        [trial] = await allTrials(stack, sweep.id);
        return trial !== undefined && trial.status === 'running' && trial.epochsDone >= 3;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the trial to pass step 3' },
    );
    const holder = stack.workers.find((w) => w.name === trial!.workerId);
    expect(holder, `worker ${trial!.workerId}`).toBeDefined();
    const [firstPid] = pidsOf(trial!.id);
    expect(firstPid).toBeDefined();
    holder!.child.kill('SIGKILL');
    await holder!.exited;
    // The supervisor kills the trainable once its worker is gone.
    await sleepUntil(() => !running(firstPid!), { timeoutMs: 5_000, intervalMs: 50, what: 'the orphaned trainable to be killed' });
    stack.startWorker();

    const done = await finished(sweep);
    expect(done.status, done.error ?? '').toBe('completed');
    const [last] = await allTrials(stack, sweep.id);
    expect(last!.epochsDone).toBe(10);
    await expectSteps(stack, [last!]);
    const starts = events(last!.id).filter((l) => l.startsWith('start '));
    expect(starts).toHaveLength(2);
    const resumedAt = Number(starts[1]!.split(' ')[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(3);
    // The trainable's own log travelled in its checkpoint directory: 0, then the resumed step.
    const checkpoint = await stack.db.checkpoint.findFirst({ where: { trialId: last!.id }, orderBy: { epoch: 'desc' } });
    const manifest = checkpoint!.manifest as { files: { path: string; size: number }[] };
    let offset = 0;
    const files = new Map<string, string>();
    for (const f of manifest.files) {
      files.set(f.path, Buffer.from(checkpoint!.data.subarray(offset, offset + f.size)).toString('utf8'));
      offset += f.size;
    }
    expect(files.get('resume.log')?.trim().split('\n')).toEqual(['0', String(resumedAt)]);
    expect(JSON.parse(files.get('state.json') ?? '{}')).toEqual({ step: 10 });
  });
});
