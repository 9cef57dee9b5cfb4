// One attempt of a trainable's trial (docs/trainables.md): the operator's command as a child
// process under a supervisor, parameters in, JSON-line reports out, each report stored (with the
// checkpoint directory when it says so) under the trial's claim and answered with the scheduler's
// decision; SIGTERM then SIGKILL to stop it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inTransaction, latestCheckpoint, recordEpoch, saveCheckpoint, type Db, type Prisma, type Trial, type TrialClaim } from '@hypersweep/db';
import { MAX_REPORT_METRICS, ReportMetrics, type TrainableSweepRequest } from '@hypersweep/schemas';
import type { Logger } from '@hypersweep/log';
import { isDirectoryManifest, packDirectory, unpackDirectory } from './checkpoint-dir.ts';
import type { TrainableConfig } from './trainables.ts';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.sh', import.meta.url));
/** Bytes of stderr kept for a failed trial's error. */
const STDERR_TAIL_BYTES = 2_000;
/** The longest report line read; a longer one fails the attempt. */
const MAX_LINE_CHARS = 64 * 1024;
/** The worker's own settings are not the trainable's business. */
const WITHHELD_ENV = ['DATABASE_URL', 'REDIS_URL', 'HYPERSWEEP_API_TOKEN'];

export type Verdict = { decision: 'stop' | 'continue'; reason: string };

export interface TrainableRun {
  readonly db: Db;
  readonly trial: Trial;
  readonly claim: TrialClaim;
  readonly spec: TrainableSweepRequest;
  readonly config: TrainableConfig;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Largest checkpoint directory stored, in bytes. */
  readonly maxCheckpointBytes: number;
  /** Where per-trial directories are made (default the OS temp directory). */
  readonly workRoot?: string;
  /** Runs a Postgres operation through transient faults (fenced writes throw claim_lost). */
  retried<T>(op: string, operation: () => Promise<T>): Promise<T>;
  /** The sweep scheduler's verdict on the trial's latest stored report. */
  verdict(): Promise<Verdict>;
  /** The objective of the trial's latest stored report, if any. */
  lastValue(): Promise<number | null>;
  progress(step: number): void;
}

type Ending = { kind: 'fail'; message: string } | { kind: 'stop'; reason: string } | { kind: 'done' } | { kind: 'abort' };

export type TrainableOutcome =
  | { status: 'completed' | 'stopped'; steps: number; finalValue: number | null; reason: string | null }
  | { status: 'aborted' };

/** A report line, checked: step in order, known-good metric names and values, the objective present; a string says why not. */
export function parseReport(line: string, expectedStep: number, maxSteps: number, objective: string): { step: number; metrics: Record<string, number>; checkpoint: boolean } | string {
  if (line.length > MAX_LINE_CHARS) return `longer than ${MAX_LINE_CHARS} characters`;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const { step, metrics, checkpoint, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) return `unknown field ${JSON.stringify(extra[0])} (a report holds step, metrics and checkpoint only)`;
  if (typeof step !== 'number' || !Number.isInteger(step)) return 'step must be an integer';
  if (step !== expectedStep) return `step ${step} out of order (expected ${expectedStep})`;
  if (step > maxSteps) return `step ${step} is past maxSteps (${maxSteps})`;
  if (checkpoint !== undefined && typeof checkpoint !== 'boolean') return 'checkpoint must be true or false';
  const parsed = ReportMetrics.safeParse(metrics);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `metrics${issue && issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'} (names ^[a-z][a-z0-9_]{0,63}$, finite numbers, at most ${MAX_REPORT_METRICS})`;
  }
  if (!(objective in parsed.data)) return `metrics lack the objective ${objective}`;
  return { step, metrics: parsed.data, checkpoint: checkpoint === true };
}

/** The environment of the command: the worker's (without its secrets), the file's, then the trial's. */
function childEnv(run: TrainableRun, dirs: { params: string; checkpoint: string }, startStep: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...run.config.env };
  for (const key of WITHHELD_ENV) delete env[key];
  const { trial, claim, spec } = run;
  env.HYPERSWEEP_PARAMS_FILE = dirs.params;
  env.HYPERSWEEP_CHECKPOINT_DIR = dirs.checkpoint;
  env.HYPERSWEEP_START_STEP = String(startStep);
  env.HYPERSWEEP_MAX_STEPS = String(spec.trainable.maxSteps);
  env.HYPERSWEEP_SWEEP_ID = trial.sweepId;
  env.HYPERSWEEP_TRIAL_ID = trial.id;
  env.HYPERSWEEP_TRIAL_NUMBER = String(trial.number);
  env.HYPERSWEEP_ATTEMPT = String(claim.attempt);
  for (const [name, value] of Object.entries(trial.params as Record<string, unknown>)) {
    env[`HYPERSWEEP_PARAM_${name.toUpperCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

/**
 * Runs the trainable until it exits, is stopped or the attempt is aborted. Throws an Error (the
 * trial fails with its message) for a crash, a bad report line, a timeout or silence; database
 * errors pass through for the caller's handling.
 */
export async function runTrainable(run: TrainableRun): Promise<TrainableOutcome> {
  const { trial, claim, spec, config, logger } = run;
  const maxSteps = spec.trainable.maxSteps;
  const work = await mkdtemp(join(run.workRoot ?? tmpdir(), `hypersweep-${trial.id}-`));
  try {
    const checkpointDir = join(work, 'checkpoint');
    await mkdir(checkpointDir);
    const stored = await run.retried('checkpoint', () => latestCheckpoint(run.db, trial.id));
    let startStep = 0;
    if (stored && isDirectoryManifest(stored.manifest)) {
      await unpackDirectory(stored.manifest, new Uint8Array(stored.data), checkpointDir);
      startStep = stored.epoch;
      logger.info({ step: startStep }, 'trainable resumes from its checkpoint directory');
    }
    if (startStep >= maxSteps) return { status: 'completed', steps: startStep, finalValue: await run.lastValue(), reason: null };
    if (startStep > 0) {
      // A checkpoint stored just before a crash may not have been shown to the scheduler yet.
      const verdict = await run.retried('scheduler', () => run.verdict());
      if (verdict.decision === 'stop') return { status: 'stopped', steps: startStep, finalValue: await run.lastValue(), reason: verdict.reason };
    }
    const paramsFile = join(work, 'params.json');
    await writeFile(
      paramsFile,
      JSON.stringify({
        params: trial.params,
        trial: { sweepId: trial.sweepId, trialId: trial.id, number: trial.number, attempt: claim.attempt },
        maxSteps,
        startStep,
        objective: spec.objective,
      }),
    );
    return await supervise(run, spawn('/bin/sh', [SUPERVISOR, String(process.pid), ...config.command], {
      cwd: config.cwd,
      env: childEnv(run, { params: paramsFile, checkpoint: checkpointDir }, startStep),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    }), checkpointDir, startStep);
  } finally {
    await rm(work, { recursive: true, force: true }).catch((error: unknown) => logger.warn({ err: error, dir: work }, 'could not remove a trainable work directory'));
  }
}

async function supervise(run: TrainableRun, child: ChildProcessWithoutNullStreams, checkpointDir: string, startStep: number): Promise<TrainableOutcome> {
  const { claim, spec, config, logger, signal } = run;
  const maxSteps = spec.trainable.maxSteps;
  const objective = spec.objective.metric;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  // A process that does not read its answers closes stdin: nothing to tell it then.
  child.stdin.on('error', () => undefined);
  // Once the command is gone, whatever it left in its group goes too: a stray child holding stdout
  // would keep the report stream open until timeoutSeconds.
  void exited.then(() => group('SIGKILL'));
  const answer = (line: object): void => {
    if (child.stdin.writable) child.stdin.write(`${JSON.stringify(line)}\n`);
  };

  /** Why the process is being ended, once decided (a holder: closures set it). */
  const state: { ending: Ending | null } = { ending: null };
  const group = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // Already gone.
    }
  };
  let killing: Promise<void> | null = null;
  /** SIGTERM to the group (after `waitFirstMs`, for a process expected to exit by itself), SIGKILL after the grace period. */
  const end = (why: Ending, waitFirstMs = 0): void => {
    state.ending ??= why;
    killing ??= (async () => {
      const graceMs = config.stopGraceSeconds * 1000;
      const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
      if (waitFirstMs > 0 && (await within(waitFirstMs))) return;
      group('SIGTERM');
      if (await within(graceMs)) return;
      logger.warn({ graceSeconds: config.stopGraceSeconds }, 'trainable did not exit after SIGTERM; killing it');
      group('SIGKILL');
    })();
  };

  const overall = setTimeout(() => end({ kind: 'fail', message: `ran longer than timeoutSeconds (${config.timeoutSeconds} s)` }), config.timeoutSeconds * 1000);
  let silence: NodeJS.Timeout | undefined;
  const quietFor = () => {
    clearTimeout(silence);
    silence = setTimeout(() => end({ kind: 'fail', message: `sent no report for reportTimeoutSeconds (${config.reportTimeoutSeconds} s)` }), config.reportTimeoutSeconds * 1000);
  };
  quietFor();
  const onAbort = () => end({ kind: 'abort' });
  signal.addEventListener('abort', onAbort);
  if (signal.aborted) onAbort();

  let step = startStep;
  let lastValue: number | null = null;
  let lineNumber = 0;
  try {
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    for await (const line of lines) {
      lineNumber++;
      if (state.ending !== null) continue;
      quietFor();
      if (line.trim() === '') continue;
      const report = parseReport(line, step + 1, maxSteps, objective);
      if (typeof report === 'string') {
        end({ kind: 'fail', message: `stdout line ${lineNumber} is not a valid report (${report}): ${JSON.stringify(line.slice(0, 200))}` });
        continue;
      }
      // The directory is read before the transaction, which then only writes.
      const packed = report.checkpoint ? await packDirectory(checkpointDir, report.step, run.maxCheckpointBytes).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))) : null;
      if (packed instanceof Error) {
        end({ kind: 'fail', message: `step ${report.step}: ${packed.message}` });
        continue;
      }
      await run.retried('report', () =>
        inTransaction(run.db, async (tx) => {
          await recordEpoch(tx, claim, report.step, report.metrics);
          if (packed) await saveCheckpoint(tx, claim, report.step, packed.manifest as unknown as Prisma.InputJsonValue, packed.data);
        }),
      );
      step = report.step;
      lastValue = report.metrics[objective] ?? null;
      run.progress(step);
      if (signal.aborted) continue;
      if (step >= maxSteps) {
        answer({ step, decision: 'stop', reason: `reached maxSteps (${maxSteps})` });
        end({ kind: 'done' }, config.stopGraceSeconds * 1000);
        continue;
      }
      const verdict = await run.retried('scheduler', () => run.verdict());
      answer({ step, decision: verdict.decision, ...(verdict.decision === 'stop' ? { reason: verdict.reason } : {}) });
      if (verdict.decision === 'stop') end({ kind: 'stop', reason: verdict.reason });
    }
  } catch (error) {
    // A database error (or a lost claim) ends the attempt: the process goes first.
    end({ kind: 'abort' });
    await exited;
    throw error;
  } finally {
    clearTimeout(overall);
    clearTimeout(silence);
    signal.removeEventListener('abort', onAbort);
  }
  const status = await exited;
  await killing;
  const outcome = state.ending;
  const tail = stderrTail.trim() === '' ? '' : `; stderr ends: ${stderrTail.trim().slice(-1000)}`;
  logger.info({ code: status.code, signal: status.signal, steps: step, ending: outcome?.kind ?? 'exit' }, 'trainable exited');
  if (signal.aborted || outcome?.kind === 'abort') return { status: 'aborted' };
  if (outcome?.kind === 'fail') throw new Error(`trainable ${config.name}: ${outcome.message}${tail}`);
  if (outcome?.kind === 'stop') return { status: 'stopped', steps: step, finalValue: lastValue, reason: outcome.reason };
  if (outcome?.kind === 'done' || status.code === 0) return { status: 'completed', steps: step, finalValue: lastValue, reason: null };
  const how = status.code !== null ? `exit code ${status.code}` : `signal ${status.signal ?? 'unknown'}`;
  throw new Error(`trainable ${config.name} ended with ${how} after step ${step}${tail}`);
}
