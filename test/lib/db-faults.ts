// Reading a stack's Postgres while faults are injected into it, and comparing two runs of a sweep.
import type { Db } from '@hypersweep/db';
import { sleepUntil } from '@hypersweep/queue/testing';

/** `read` retried while the server is away (a restart, terminated connections), for up to `timeoutMs`. */
export async function patiently<T>(read: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const FINISHED = ['completed', 'failed', 'cancelled'];

/** Polls Postgres (not the API, which may answer 503 meanwhile) until the sweep has finished. */
export async function sweepFinished(db: Db, sweepId: string, timeoutMs: number): Promise<{ status: string; bestTrialId: string | null; testResult: unknown }> {
  let sweep: { status: string; bestTrialId: string | null; testResult: unknown } | null = null;
  await sleepUntil(
    async () => {
      sweep = await db.sweep.findUnique({ where: { id: sweepId }, select: { status: true, bestTrialId: true, testResult: true } }).catch(() => null);
      return sweep !== null && FINISHED.includes(sweep.status);
    },
    { timeoutMs, intervalMs: 250, what: `sweep ${sweepId} to finish` },
  );
  return sweep!;
}

/** The training metrics: deterministic functions of the sweep's seed (timings are not). */
export const TRAINING_METRICS = ['train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'learning_rate'] as const;

export interface StoredTrial {
  id: string;
  number: number;
  params: unknown;
  status: string;
  attempt: number;
  epochsDone: number;
  finalValue: number | null;
  /** name → values at steps 1, 2, … (index = step - 1); `steps` lists the steps stored. */
  series: Map<string, { steps: number[]; values: number[] }>;
  /** Epochs of the trial's `trial.epoch` events, in event order. */
  epochEvents: number[];
}

/** Every trial of a sweep with its training metrics and epoch events, by number. */
export async function storedTrials(db: Db, sweepId: string): Promise<StoredTrial[]> {
  const trials = await db.trial.findMany({ where: { sweepId }, orderBy: { number: 'asc' } });
  const metrics = await db.metric.findMany({
    where: { trial: { sweepId }, name: { in: [...TRAINING_METRICS] } },
    orderBy: [{ trialId: 'asc' }, { name: 'asc' }, { step: 'asc' }],
  });
  const events = await db.sweepEventRow.findMany({ where: { sweepId, type: 'trial.epoch' }, orderBy: { seq: 'asc' } });
  return trials.map((trial) => {
    const series = new Map<string, { steps: number[]; values: number[] }>();
    for (const m of metrics) {
      if (m.trialId !== trial.id) continue;
      const s = series.get(m.name) ?? { steps: [], values: [] };
      s.steps.push(m.step);
      s.values.push(m.value);
      series.set(m.name, s);
    }
    const epochEvents = events.filter((e) => (e.data as { trialId: string }).trialId === trial.id).map((e) => (e.data as { epoch: number }).epoch);
    return {
      id: trial.id,
      number: trial.number,
      params: trial.params,
      status: trial.status,
      attempt: trial.attempt,
      epochsDone: trial.epochsDone,
      finalValue: trial.finalValue,
      series,
      epochEvents,
    };
  });
}

/** Lines of a worker's JSON log with the given message. */
export function logLines(output: string, msg: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) out.push(entry);
    } catch {
      // A line cut by the output buffer.
    }
  }
  return out;
}
