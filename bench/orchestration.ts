// The orchestration layer's overheads on a real stack (api + worker processes, Postgres, Redis):
// submit → first trial running, per-trial overhead around training with a tiny model, reads of a
// sweep with 1,000 trials under 200 connections (autocannon in this process, the API in its own:
// the sweep, the same with If-None-Match answered 304, a page of its trials), and metric rows
// written per second. `npm run bench -- orchestration reads [duration=5]` measures the reads only,
// stored as the `reads` section of the results (the main figures stay as they were).
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
export async function sweepWithTrials(db: Db, n: number): Promise<string> {
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

export interface ReadLoadResult {
  p50_ms: number;
  p99_ms: number;
  rps: number;
  /** Connection errors, timeouts and answers of any other status than the expected one. */
  errors: number;
  total: number;
}

/** `connections` clients GET `path` for `durationS` seconds, each expecting `status`. */
export async function readLoad(
  stack: Stack,
  path: string,
  options: { connections: number; durationS: number; status: number; headers?: Record<string, string> },
): Promise<ReadLoadResult> {
  const result = await autocannon({
    url: `${stack.url}${path}`,
    connections: options.connections,
    duration: options.durationS,
    headers: { authorization: `Bearer ${stack.token}`, ...options.headers },
  });
  const expected = result.statusCodeStats?.[`${options.status}`]?.count ?? 0;
  const answered = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    rps: result.requests.average,
    errors: result.errors + result.timeouts + (answered - expected),
    total: result.requests.total,
  };
}

export interface ReadBenchOptions {
  connections: number;
  durationS: number;
  /** Seconds of load before each measured run (JIT, pools, caches), not measured. */
  warmupS: number;
}

/**
 * GET of the sweep, the same with the ETag it answered in If-None-Match (304: nothing to send
 * again), and the first page of its trials (and that page's 304 when it carries an ETag).
 */
export async function readBench(stack: Stack, sweepId: string, options: ReadBenchOptions): Promise<Record<string, ReadLoadResult>> {
  const sweepPath = `/api/v1/sweeps/${sweepId}`;
  const trialsPath = `/api/v1/sweeps/${sweepId}/trials?limit=50`;
  const measure = async (path: string, status: number, headers?: Record<string, string>) => {
    if (options.warmupS > 0) await readLoad(stack, path, { connections: options.connections, durationS: options.warmupS, status, ...(headers ? { headers } : {}) });
    return readLoad(stack, path, { connections: options.connections, durationS: options.durationS, status, ...(headers ? { headers } : {}) });
  };
  const out: Record<string, ReadLoadResult> = {};
  out.sweep = await measure(sweepPath, 200);
  const sweepTag = (await stack.request(sweepPath)).headers.get('etag');
  if (sweepTag) out.sweep_304 = await measure(sweepPath, 304, { 'if-none-match': sweepTag });
  out.trials = await measure(trialsPath, 200);
  const trialsTag = (await stack.request(trialsPath)).headers.get('etag');
  if (trialsTag) out.trials_304 = await measure(trialsPath, 304, { 'if-none-match': trialsTag });
  return out;
}

/** The read figures as flat metrics: `api_p99_ms` (the sweep), `api_304_p99_ms`, `api_trials_p99_ms`… */
function readMetrics(reads: Record<string, ReadLoadResult>): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [name, r] of Object.entries(reads)) {
    const prefix = name === 'sweep' ? 'api' : `api_${name.replace('sweep_', '')}`;
    metrics[`${prefix}_p50_ms`] = r.p50_ms;
    metrics[`${prefix}_p99_ms`] = r.p99_ms;
    metrics[`${prefix}_rps`] = r.rps;
    metrics[`${prefix}_errors`] = r.errors;
  }
  return metrics;
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

export async function run(args: string[] = []): Promise<{ metrics: Record<string, number>; details: unknown; section?: string }> {
  const readsOnly = args.includes('reads');
  const durationArg = args.find((a) => a.startsWith('duration='));
  const reads: ReadBenchOptions = { connections: 200, durationS: durationArg ? Number(durationArg.slice('duration='.length)) : 15, warmupS: 2 };
  if (!Number.isInteger(reads.durationS) || reads.durationS < 1) throw new Error(`duration must be a whole number of seconds, got ${durationArg}`);
  const stack = await Stack.start({ name: 'bench-orchestration', workers: readsOnly ? 0 : 1, threads: 1 });
  try {
    let submit: number[] = [];
    let overhead: number[] = [];
    let gap: number[] = [];
    if (!readsOnly) {
      await submitToRunning(stack, 3); // warm-up: module loading, dataset cache, connection pools
      submit = await submitToRunning(stack, 20);
      ({ overhead, gap } = await trialOverheads(stack, 30));
      // Workers off: nothing but the load test touches the database from here on.
      await stack.stopWorkers();
    }
    const sweepId = await sweepWithTrials(stack.db, 1000);
    const loads = await readBench(stack, sweepId, reads);
    const rows = readsOnly ? null : await metricRowsPerSecond(stack.db, sweepId);
    const metrics = {
      ...(readsOnly
        ? {}
        : {
            submit_to_running_ms_p50: percentile(submit, 50),
            submit_to_running_ms_p90: percentile(submit, 90),
            trial_overhead_ms_p50: percentile(overhead, 50),
            trial_overhead_ms_p90: percentile(overhead, 90),
            trial_gap_ms_p50: percentile(gap, 50),
          }),
      ...readMetrics(loads),
      ...(rows === null ? {} : { metrics_rows_per_sec: rows }),
    };
    return {
      ...(readsOnly ? { section: 'reads' } : {}),
      metrics,
      details: {
        submit,
        overhead,
        gap,
        autocannon: {
          connections: reads.connections,
          duration_s: reads.durationS,
          warmup_s: reads.warmupS,
          totals: Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, v.total])),
          rate_limit: 'off (RATE_LIMIT_RPS=0) for the load test',
          process: 'autocannon runs in the bench process; the API is its own child process',
        },
      },
    };
  } finally {
    await stack.close();
  }
}
