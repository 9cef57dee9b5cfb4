// The trainable helpers in a real child process, with the test as its worker: the environment
// and params file the worker sets, report lines read from the child's stdout, answers written to
// its stdin, SIGTERM sent to it (docs/trainables.md).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDir, params, TrainableError } from './trainable.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(PACKAGE_ROOT, 'test', 'trainable-script.ts');
const work = mkdtempSync(join(tmpdir(), 'hypersweep-trainable-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Trainable {
  readonly child: ChildProcessWithoutNullStreams;
  /** The next stdout line as JSON; null once stdout has ended. */
  nextReport(): Promise<unknown>;
  answer(value: unknown): void;
  /** Exit code and signal, and the "note" lines of stderr as values. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; notes: unknown[]; stderr: string }>;
}

function startTrainable(mode: string, env: Record<string, string>, stdin: 'pipe' | 'ignore' = 'pipe'): Trainable {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, mode], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; notes: unknown[]; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      const notes = stderr.split('\n').filter((l) => l.startsWith('note ')).map((l) => JSON.parse(l.slice(5)) as unknown);
      resolve({ code, signal, notes, stderr });
    }),
  );
  return {
    child,
    nextReport: async () => {
      const next = await lines.next();
      return next.done ? null : (JSON.parse(next.value) as unknown);
    },
    answer: (value) => child.stdin.write(`${JSON.stringify(value)}\n`),
    exited,
  };
}

function trialEnv(name: string, info: { params: Record<string, unknown>; maxSteps: number; startStep: number }): Record<string, string> {
  const dir = join(work, name);
  const file = join(work, `${name}.json`);
  const trial = { sweepId: '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10', trialId: '00000000-0000-4000-8000-000000000001', number: 0, attempt: 2 };
  writeFileSync(file, JSON.stringify({ ...info, trial, objective: { metric: 'val_accuracy', mode: 'maximize' } }));
  return {
    HYPERSWEEP_PARAMS_FILE: file,
    HYPERSWEEP_CHECKPOINT_DIR: dir,
    HYPERSWEEP_START_STEP: String(info.startStep),
    HYPERSWEEP_MAX_STEPS: String(info.maxSteps),
  };
}

describe('a JavaScript trainable under a worker', () => {
  it('reads its params and resume point, reports JSON lines, waits for each answer and stops on a stop', async () => {
    const env = trialEnv('loop', { params: { lr: 0.5, width: 32 }, maxSteps: 6, startStep: 2 });
    const t = startTrainable('loop', env);
    expect(await t.nextReport()).toEqual({ step: 3, metrics: { loss: 0.5 / 3, val_accuracy: 1 - 0.5 / 3 } });
    t.answer({ step: 3, decision: 'continue' });
    expect(await t.nextReport()).toEqual({ step: 4, metrics: { loss: 0.125, val_accuracy: 0.875 }, checkpoint: true });
    // A late answer to an earlier step is skipped; the one for this step decides.
    t.answer({ step: 3, decision: 'stop' });
    t.answer({ step: 4, decision: 'stop', reason: 'asha rung 1' });
    expect(await t.nextReport()).toBeNull();
    const { code, notes } = await t.exited;
    expect(code).toBe(0);
    expect(notes).toEqual([
      { params: { lr: 0.5, width: 32 }, startStep: 2, checkpointDir: env.HYPERSWEEP_CHECKPOINT_DIR, maxSteps: 6 },
      { step: 3, decision: 'continue', shouldStop: false },
      { step: 4, decision: 'stop', shouldStop: true },
      'done',
    ]);
    expect(JSON.parse(readFileSync(join(env.HYPERSWEEP_CHECKPOINT_DIR!, 'state.json'), 'utf8'))).toEqual({ step: 4 });
  });

  it('ends a wait for an answer on SIGTERM: the report returns stop and the process exits by itself', async () => {
    const t = startTrainable('sigterm', trialEnv('sigterm', { params: {}, maxSteps: 100, startStep: 0 }));
    expect(await t.nextReport()).toEqual({ step: 1, metrics: { loss: 1 } });
    t.answer({ step: 1, decision: 'continue' });
    expect(await t.nextReport()).toEqual({ step: 2, metrics: { loss: 0.5 } });
    t.child.kill('SIGTERM');
    const { code, signal, notes } = await t.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(notes).toEqual([{ step: 1, decision: 'continue', shouldStop: false }, { step: 2, decision: 'stop', shouldStop: true }, 'done']);
  });

  it('does not wait for answers when stdin is not a pipe (run by hand)', async () => {
    const t = startTrainable('unanswered', {}, 'ignore');
    const reports = [await t.nextReport(), await t.nextReport(), await t.nextReport(), await t.nextReport()];
    expect(reports).toEqual([{ step: 1, metrics: { loss: 1 } }, { step: 2, metrics: { loss: 0.5 } }, { step: 3, metrics: { loss: 1 / 3 } }, null]);
    const { code, notes } = await t.exited;
    expect(code).toBe(0);
    expect(notes).toEqual([1, 2, 3].map((step) => ({ step, decision: 'continue' })));
  });

  it('refuses a report the worker would refuse, before writing anything', async () => {
    const t = startTrainable('invalid', {});
    expect(await t.nextReport()).toBeNull();
    const { code, notes } = await t.exited;
    expect(code).toBe(0);
    expect(notes).toEqual([
      'INVALID_REPORT: step must be a positive integer, got 0',
      'INVALID_REPORT: metric name "Val-Loss" must match ^[a-z][a-z0-9_]{0,63}$',
      'INVALID_REPORT: metric loss must be a finite number, got NaN',
      'INVALID_REPORT: a report needs at least one metric',
    ]);
  });
});

describe('outside a worker', () => {
  it('says the process was not started by a worker', () => {
    expect(process.env.HYPERSWEEP_PARAMS_FILE).toBeUndefined();
    expect(() => params()).toThrow(TrainableError);
    expect(() => checkpointDir()).toThrow('HYPERSWEEP_CHECKPOINT_DIR is not set: this process was not started by a Hypersweep worker');
  });
});
