// Soak: 200 small trials through 3 worker processes on a real stack. Nothing may be lost or written
// twice, and the workers' memory must not grow (RSS sampled from /proc through the run).
import { readFileSync } from 'node:fs';
import type { Sweep } from '@hypersweep/schemas';
import { spiralsSweep } from '../test/lib/sweeps.ts';
import { Stack } from '../test/lib/stack.ts';

// `npm run bench -- soak [trials]`: 200 by default; a longer run shows a slow trend better.
const DEFAULT_TRIALS = 200;
const EPOCHS = 30;

function rssBytes(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export async function run(args: string[] = []): Promise<{ metrics: Record<string, number>; details: unknown }> {
  const TRIALS = args[0] ? Number(args[0]) : DEFAULT_TRIALS;
  if (!Number.isInteger(TRIALS) || TRIALS < 10) throw new Error(`trials must be an integer >= 10, got ${args[0]}`);
  const stack = await Stack.start({ name: 'bench-soak', workers: 3, threads: 1 });
  const samples = new Map<number, { t: number; rss: number }[]>();
  const timer = setInterval(() => {
    for (const w of stack.workers) {
      const pid = w.child.pid;
      const rss = pid ? rssBytes(pid) : null;
      if (pid && rss !== null) samples.set(pid, [...(samples.get(pid) ?? []), { t: Date.now(), rss }]);
    }
  }, 500);
  try {
    const t0 = Date.now();
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', {
      method: 'POST',
      json: spiralsSweep({ name: 'soak', count: 60_000, epochs: EPOCHS, maxTrials: TRIALS, concurrency: 3 }),
    });
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the soak sweep to finish', 1_800_000);
    const minutes = (Date.now() - t0) / 60_000;
    clearInterval(timer);

    const trials = await stack.db.trial.findMany({ where: { sweepId: sweep.id }, select: { id: true, status: true, epochsDone: true, attempt: true } });
    const finished = trials.filter((t) => t.status === 'completed');
    const lost = TRIALS - finished.length;
    const [dup] = await stack.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM (SELECT 1 FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = ${sweep.id}::uuid GROUP BY m.trial_id, m.name, m.step HAVING count(*) > 1) d`;
    const [missing] = await stack.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM trials t WHERE t.sweep_id = ${sweep.id}::uuid
        AND (SELECT count(*) FROM metrics m WHERE m.trial_id = t.id AND m.name = 'val_accuracy') <> t.epochs_done`;

    // RSS growth per worker: the median of its last 10 % of samples against the median of 20–30 %
    // of the run (after start-up, dataset loading, JIT warm-up and the heap's first growth), the
    // worst worker reported.
    const growth = [...samples.values()].map((s) => {
      const n = s.length;
      const base = median(s.slice(Math.floor(n * 0.2), Math.max(Math.floor(n * 0.3), Math.floor(n * 0.2) + 1)).map((x) => x.rss));
      const end = median(s.slice(Math.floor(n * 0.9)).map((x) => x.rss));
      // Steady state: the middle tenth (45–55 %) against the last tenth. A leak keeps growing here;
      // a heap that has reached its working set does not.
      const mid = median(s.slice(Math.floor(n * 0.45), Math.max(Math.floor(n * 0.55), Math.floor(n * 0.45) + 1)).map((x) => x.rss));
      return { base, end, pct: ((end - base) / base) * 100, secondHalfPct: ((end - mid) / mid) * 100 };
    });
    const metrics = {
      trials: trials.length,
      lost_trials: lost,
      duplicated_metric_rows: Number(dup?.n ?? 0),
      trials_with_missing_metrics: Number(missing?.n ?? 0),
      rss_growth_pct: Math.max(...growth.map((g) => g.pct)),
      rss_growth_second_half_pct: Math.max(...growth.map((g) => g.secondHalfPct)),
      trials_per_min: finished.length / minutes,
      sweep_completed: done.status === 'completed' ? 1 : 0,
      retried_trials: trials.filter((t) => t.attempt > 1).length,
      // trials_per_min depends on how many epochs the scheduler let the trials run.
      epochs_trained: trials.reduce((sum, t) => sum + t.epochsDone, 0),
      stopped_early: trials.filter((t) => t.status === 'stopped').length,
    };
    return {
      metrics,
      details: {
        workers: 3,
        epochs: EPOCHS,
        minutes,
        rss: growth.map((g) => ({ base_mb: g.base / 2 ** 20, end_mb: g.end / 2 ** 20, pct: g.pct })),
        // Each worker's RSS in MB at every tenth of the run, to see the trend.
        rss_deciles_mb: [...samples.values()].map((s) => Array.from({ length: 10 }, (_, i) => Math.round(s[Math.floor((i * s.length) / 10)]!.rss / 2 ** 20))),
      },
    };
  } finally {
    clearInterval(timer);
    await stack.close();
  }
}
