// The orchestration layer's overheads on a real stack (api + worker processes, Postgres, Redis):
// submit → first trial running, per-trial overhead around training with a tiny model, GET of a
// sweep with 1,000 trials under 200 connections (autocannon), and metric rows written per second.
import autocannon from 'autocannon';
import { claimTrial, createSweep, createTrial, recordEpochs, setSweepStatus, type Db, type Prisma } from '@hypersweep/db';
import { Rng } from '@hypersweep/nn';
import { CreateSweepRequest, type CreateSweepRequestInput, type Sweep } from '@hypersweep/schemas';
import { sleepUntil } from '@hypersweep/queue/testing';
import { Stack } from '../test/lib/stack.ts';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const tiny = (name: string, maxTrials: number, concurrency: number): CreateSweepRequestInput => ({
  name,
  dataset: { type: 'spirals', count: 64, testCount: 16 },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 4, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
  training: { epochs: 1, batchSize: 32, optimizer: { type: 'sgd', learningRate: 0.1 } },
  search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials, maxConcurrentTrials: concurrency } },
  objective: { metric: 'val_loss' },
});

async function waitFinished(stack: Stack, id: string): Promise<Sweep> {
  return stack.waitForSweep<Sweep>(id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'sweep end', 300_000);
}

/** POST → the first trial.started event, for sweeps submitted one after another. */
async function submitToRunning(stack: Stack, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: tiny(`submit-${i}`, 1, 1) });
    let startedAt = 0;
    await sleepUntil(
      async () => {
        const row = await stack.db.sweepEventRow.findFirst({ where: { sweepId: sweep.id, type: 'trial.started' } });
        if (row) startedAt = row.createdAt.getTime();
        return row !== null;
      },
      { timeoutMs: 30_000, intervalMs: 2, what: 'the first trial to start' },
    );
    out.push(startedAt - t0);
    await waitFinished(stack, sweep.id);
  }
  return out;
}

/** Per trial: wall time from claim to finish minus the time spent in training epochs. */
async function trialOverheads(stack: Stack, trials: number): Promise<{ overhead: number[]; gap: number[] }> {
  const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: tiny('overhead', trials, 1) });
  await waitFinished(stack, sweep.id);
  const rows = await stack.db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { number: 'asc' } });
  const overhead: number[] = [];
  const gap: number[] = [];
  for (const [i, t] of rows.entries()) {
    const seconds = await stack.db.metric.aggregate({ where: { trialId: t.id, name: 'epoch_seconds' }, _sum: { value: true } });
    overhead.push(t.finishedAt!.getTime() - t.startedAt!.getTime() - (seconds._sum.value ?? 0) * 1000);
    const prev = rows[i - 1];
    if (prev) gap.push(t.startedAt!.getTime() - prev.finishedAt!.getTime());
  }
  return { overhead, gap };
}

/** A running sweep with `n` trials, half of them with a metric, written straight to Postgres. */
async function sweepWithTrials(db: Db, n: number): Promise<string> {
  const spec = CreateSweepRequest.parse({ ...tiny('thousand', n, 1), search: { ...tiny('thousand', n, 1).search, budget: { maxTrials: n, maxConcurrentTrials: 1 } } });
  const { sweep } = await createSweep(db, {
    name: spec.name,
    spec: JSON.parse(JSON.stringify(spec)) as Prisma.InputJsonValue,
    seed: 1,
    objective: spec.objective,
    budget: spec.search.budget as unknown as Prisma.InputJsonValue,
  });
  await setSweepStatus(db, sweep.id, 'running');
  for (let i = 0; i < n; i++) {
    const trial = await createTrial(db, sweep.id, { params: { learningRate: 0.001 * (i + 1) } });
    if (i % 2 === 0) {
      await claimTrial(db, trial.id, 'bench');
      await recordEpochs(db, trial.id, [{ epoch: 1, metrics: { val_loss: 1 / (i + 1), val_accuracy: i / n } }]);
    }
  }
  return sweep.id;
}

async function metricRowsPerSecond(db: Db, sweepId: string): Promise<number> {
  const trials = await db.trial.findMany({ where: { sweepId, status: 'running' }, take: 16, select: { id: true } });
  const epochs = 40;
  const perEpoch = 10;
  const t0 = performance.now();
  await Promise.all(
    trials.map(async (t, i) => {
      const rng = Rng.fromSeed(i).split('metric-values');
      for (let e = 2; e < 2 + epochs; e++) {
        const metrics: Record<string, number> = {};
        for (let k = 0; k < perEpoch; k++) metrics[`m${k}`] = rng.double();
        await recordEpochs(db, t.id, [{ epoch: e, metrics }]);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return (trials.length * epochs * perEpoch) / seconds;
}

export async function run(): Promise<{ metrics: Record<string, number>; details: unknown }> {
  const stack = await Stack.start({ name: 'bench-orchestration', workers: 1, threads: 1 });
  try {
    await submitToRunning(stack, 3); // warm-up: module loading, dataset cache, connection pools
    const submit = await submitToRunning(stack, 20);
    const { overhead, gap } = await trialOverheads(stack, 30);
    // Workers off: nothing but the load test touches the database from here on.
    await stack.stopWorkers();
    const sweepId = await sweepWithTrials(stack.db, 1000);
    const result = await autocannon({
      url: `${stack.url}/api/v1/sweeps/${sweepId}`,
      connections: 200,
      duration: 15,
      headers: { authorization: `Bearer ${stack.token}` },
    });
    const rows = await metricRowsPerSecond(stack.db, sweepId);
    const metrics = {
      submit_to_running_ms_p50: percentile(submit, 50),
      submit_to_running_ms_p90: percentile(submit, 90),
      trial_overhead_ms_p50: percentile(overhead, 50),
      trial_overhead_ms_p90: percentile(overhead, 90),
      trial_gap_ms_p50: percentile(gap, 50),
      api_p50_ms: result.latency.p50,
      api_p99_ms: result.latency.p99,
      api_rps: result.requests.average,
      api_errors: result.errors + result.non2xx,
      metrics_rows_per_sec: rows,
    };
    return { metrics, details: { submit, overhead, gap, autocannon: { connections: 200, duration_s: 15, total: result.requests.total, rate_limit: 'off (RATE_LIMIT_RPS=0) for the load test' } } };
  } finally {
    await stack.close();
  }
}
