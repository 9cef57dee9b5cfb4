// The process's side of a JavaScript trainable (docs/trainables.md): its parameters, checkpoint
// directory and start step from the environment the worker sets, reports as JSON lines on
// stdout, and the scheduler's answers read back from stdin. Node only; this module is the
// trainable's edge, so it alone reads process.env (through `trainableEnv`).
import { readFileSync, fstatSync } from 'node:fs';

export type Decision = 'continue' | 'stop';
export type ParamValue = string | number | boolean | null;

/** What HYPERSWEEP_PARAMS_FILE holds. */
export interface TrialInfo {
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly trial: { readonly sweepId: string; readonly trialId: string; readonly number: number; readonly attempt: number };
  readonly maxSteps: number;
  readonly startStep: number;
  readonly objective: { readonly metric: string; readonly mode: 'minimize' | 'maximize' };
}

export interface ReportOptions {
  /** The checkpoint directory now holds the state after this step: the worker stores it with the step. */
  readonly checkpoint?: boolean;
}

/** A mistake of the calling code (no worker environment, a bad report): thrown before anything is written. */
export class TrainableError extends Error {
  readonly code: 'NOT_A_TRAINABLE' | 'INVALID_REPORT';
  constructor(code: 'NOT_A_TRAINABLE' | 'INVALID_REPORT', message: string) {
    super(message);
    this.name = 'TrainableError';
    this.code = code;
  }
}

const METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_METRICS = 64;

/** The environment variables the worker sets (docs/trainables.md); read once per process. */
export function trainableEnv(env: Readonly<Record<string, string | undefined>> = process.env): {
  paramsFile: string | undefined;
  checkpointDir: string | undefined;
  startStep: string | undefined;
  maxSteps: string | undefined;
} {
  return {
    paramsFile: env.HYPERSWEEP_PARAMS_FILE,
    checkpointDir: env.HYPERSWEEP_CHECKPOINT_DIR,
    startStep: env.HYPERSWEEP_START_STEP,
    maxSteps: env.HYPERSWEEP_MAX_STEPS,
  };
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new TrainableError('NOT_A_TRAINABLE', `${name} is not set: this process was not started by a Hypersweep worker`);
  return value;
}

let info: TrialInfo | undefined;

/** The whole params file: parameters, the trial's ids, maxSteps, startStep, the objective. */
export function trialInfo(): TrialInfo {
  info ??= JSON.parse(readFileSync(required(trainableEnv().paramsFile, 'HYPERSWEEP_PARAMS_FILE'), 'utf8')) as TrialInfo;
  return info;
}

/** The trial's parameters, by the names of the sweep's search space. */
export function params(): Readonly<Record<string, ParamValue>> {
  return trialInfo().params;
}

/** The directory to save to (and, on a resume, holding what the last run saved). */
export function checkpointDir(): string {
  return required(trainableEnv().checkpointDir, 'HYPERSWEEP_CHECKPOINT_DIR');
}

/** The step the checkpoint was saved at: report from startStep() + 1. 0 on a fresh start. */
export function startStep(): number {
  const text = trainableEnv().startStep;
  if (text === undefined || text === '') return 0;
  const step = Number(text);
  if (!Number.isSafeInteger(step) || step < 0) throw new TrainableError('NOT_A_TRAINABLE', `HYPERSWEEP_START_STEP is not a step: ${text}`);
  return step;
}

/** The sweep's budget of reports for this trial. */
export function maxSteps(): number {
  return Number(required(trainableEnv().maxSteps, 'HYPERSWEEP_MAX_STEPS'));
}

// ---------------------------------------------------------------------------------------------
// Reports and answers
// ---------------------------------------------------------------------------------------------

let stopRequested = false;
let sigtermHandled = false;
/** Wakes a report waiting for its answer: after SIGTERM no answer may come. */
let wakeReport: (() => void) | null = null;

/**
 * True after the worker answered a report with `stop`, or after SIGTERM. From its first call on,
 * SIGTERM no longer ends the process by itself: the loop is expected to check it and exit
 * (after saving, if it likes), which it must do within the trainable's stopGraceSeconds. A
 * report waiting for its answer then returns 'stop'.
 */
export function shouldStop(): boolean {
  if (!sigtermHandled) {
    sigtermHandled = true;
    process.on('SIGTERM', () => {
      stopRequested = true;
      wakeReport?.();
    });
  }
  return stopRequested;
}

/** Reads the worker's answer lines from stdin; only while a report waits, so an idle stdin never keeps the process alive. */
class AnswerReader {
  private buffer = '';
  private readonly lines: string[] = [];
  private ended = false;
  private waiter: (() => void) | null = null;
  private started = false;

  /** The next line; null once stdin has ended, or when a stop (SIGTERM) came first. */
  async next(): Promise<string | null> {
    const stdin = process.stdin as NodeJS.ReadStream & { ref?: () => void; unref?: () => void };
    if (!this.started) {
      this.started = true;
      stdin.setEncoding('utf8');
      stdin.on('data', (chunk: string) => {
        this.buffer += chunk;
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) !== -1) {
          this.lines.push(this.buffer.slice(0, nl).replace(/\r$/, ''));
          this.buffer = this.buffer.slice(nl + 1);
        }
        this.wake();
      });
      stdin.on('end', () => {
        this.ended = true;
        this.wake();
      });
    }
    while (this.lines.length === 0 && !this.ended && !stopRequested) {
      stdin.ref?.();
      stdin.resume();
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        wakeReport = resolve;
      });
      wakeReport = null;
    }
    stdin.pause();
    stdin.unref?.();
    return this.lines.shift() ?? null;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

let answers: AnswerReader | undefined;

/** stdin is a pipe or a socket (a worker's), not a terminal or a file: answers will come. */
function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

function checkReport(step: number, metrics: Readonly<Record<string, number>>): void {
  if (!Number.isSafeInteger(step) || step < 1) throw new TrainableError('INVALID_REPORT', `step must be a positive integer, got ${String(step)}`);
  const names = Object.keys(metrics);
  if (names.length === 0) throw new TrainableError('INVALID_REPORT', 'a report needs at least one metric');
  if (names.length > MAX_METRICS) throw new TrainableError('INVALID_REPORT', `at most ${MAX_METRICS} metrics per report, got ${names.length}`);
  for (const name of names) {
    if (!METRIC_NAME.test(name)) throw new TrainableError('INVALID_REPORT', `metric name "${name}" must match ${METRIC_NAME.source}`);
    const value = metrics[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TrainableError('INVALID_REPORT', `metric ${name} must be a finite number, got ${String(value)}`);
  }
}

/**
 * Reports one step: one JSON line on stdout. When stdin is a pipe (the worker's), waits for the
 * worker's answer to this step and returns it; otherwise (run by hand) returns 'continue'. A
 * `stop` answer also makes shouldStop() true. Nothing else may be written to stdout: log to stderr.
 */
export async function report(step: number, metrics: Readonly<Record<string, number>>, options: ReportOptions = {}): Promise<Decision> {
  checkReport(step, metrics);
  const line = JSON.stringify({ step, metrics, ...(options.checkpoint ? { checkpoint: true } : {}) });
  await new Promise<void>((resolve, reject) => process.stdout.write(`${line}\n`, (error) => (error ? reject(error) : resolve())));
  if (!stdinIsPipe()) return 'continue';
  answers ??= new AnswerReader();
  for (;;) {
    const text = await answers.next();
    if (text === null) {
      if (stopRequested) return 'stop';
      // stdin closed: nobody will answer any more, so nothing says stop.
      return 'continue';
    }
    if (text.trim() === '') continue;
    let answer: { step?: unknown; decision?: unknown };
    try {
      answer = JSON.parse(text) as { step?: unknown; decision?: unknown };
    } catch {
      process.stderr.write(`hypersweep: ignored an answer that is not JSON: ${text.slice(0, 200)}\n`);
      continue;
    }
    // An answer to an earlier step (one this process did not wait for) is skipped.
    if (typeof answer.step === 'number' && answer.step < step) continue;
    const decision: Decision = answer.decision === 'stop' ? 'stop' : 'continue';
    if (decision === 'stop') stopRequested = true;
    return decision;
  }
}
