// Liveness, readiness, Prometheus metrics, the OpenAPI document and the cluster view.
import { latestMetrics } from '@hypersweep/db';
import { listWorkers } from '@hypersweep/queue';
import { buildOpenApiDocument, type ReadyResponse } from '@hypersweep/schemas';
import { Router } from 'express';
import type { ApiDeps } from '../deps.ts';
import { isServerAdmin, roleIn, sweepProject } from '../scope.ts';

/** A worker whose last heartbeat is older than this is not counted as alive. */
export const WORKER_ALIVE_MS = 15_000;

/** A dependency that has not answered a readiness check by then is reported down. */
export const READY_CHECK_TIMEOUT_MS = 2_000;

async function check(fn: () => Promise<unknown>): Promise<ReadyResponse['checks'][string]> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  // A server that went silent answers nothing, not an error: readiness must not wait for it.
  const silent = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_CHECK_TIMEOUT_MS)));
  try {
    if ((await Promise.race([fn(), silent])) === 'timeout') return { ok: false, latencyMs: null, error: 'timeout' };
    return { ok: true, latencyMs: performance.now() - started, error: null };
  } catch {
    // The route is public: Prisma's text quotes our source and the database's address.
    return { ok: false, latencyMs: null, error: 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

const STEP_PARTS = { compute: 'step_compute_ms', reduce: 'step_reduce_ms', wait: 'step_wait_ms' } as const;

/** Mean of the latest per-step timings over running trials (an empty map when none runs). */
async function runningStepTimes(deps: ApiDeps): Promise<Record<string, number>> {
  const running = await deps.db.trial.findMany({ where: { status: 'running' }, select: { id: true }, take: 1000 });
  const latest = await latestMetrics(deps.db, running.map((t) => t.id));
  const out: Record<string, number> = {};
  for (const [part, name] of Object.entries(STEP_PARTS)) {
    const values = [...latest.values()].map((m) => m[name]).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[part] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return out;
}

/**
 * Trials per status, from the counts the trials' triggers keep on each sweep: a scrape reads the
 * sweeps, never the (much longer) trials table.
 */
async function trialsByState(deps: ApiDeps): Promise<Record<string, number>> {
  const { _sum: sum } = await deps.db.sweep.aggregate({
    _sum: { trialsQueued: true, trialsRunning: true, trialsCompleted: true, trialsStopped: true, trialsFailed: true, trialsCancelled: true },
  });
  const counts: Record<string, number> = {
    queued: sum.trialsQueued ?? 0,
    running: sum.trialsRunning ?? 0,
    completed: sum.trialsCompleted ?? 0,
    stopped: sum.trialsStopped ?? 0,
    failed: sum.trialsFailed ?? 0,
    cancelled: sum.trialsCancelled ?? 0,
  };
  return counts;
}

/** Public routes, mounted before authentication. */
export function publicRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [postgres, redis] = await Promise.all([check(() => deps.db.$queryRaw`SELECT 1`), check(() => deps.redis.ping())]);
    const ready = postgres.ok && redis.ok;
    const body: ReadyResponse = { status: ready ? 'ready' : 'not_ready', checks: { postgres, redis } };
    res.status(ready ? 200 : 503).json(body);
  });
  router.get('/metrics', async (_req, res) => {
    const [trials, sweeps, steps, depth, cluster] = await Promise.all([
      trialsByState(deps),
      deps.db.sweep.groupBy({ by: ['status'], _count: { _all: true } }),
      runningStepTimes(deps),
      deps.queues.depth().catch(() => null),
      listWorkers(deps.redis, deps.config.queuePrefix, { aliveWithinMs: WORKER_ALIVE_MS }).catch(() => null),
    ]);
    const alive = cluster?.workers.filter((w) => w.alive) ?? [];
    const text = await deps.metrics.render({
      trialsByState: trials,
      sweepsByState: Object.fromEntries(sweeps.map((g) => [g.status, g._count._all])),
      sseClients: deps.hub.subscribers,
      stepMs: steps,
      queueJobs: depth,
      workers: cluster && {
        alive: cluster.totals.alive,
        busy: cluster.totals.busy,
        samplesPerSecond: cluster.totals.samplesPerSecond,
        perWorker: alive.map((w) => ({ workerId: w.workerId, samplesPerSecond: w.samplesPerSecond, rssBytes: w.memory?.rssBytes ?? null })),
      },
    });
    res.type(deps.metrics.contentType).send(text);
  });
  return router;
}

/** Authenticated meta routes under /api/v1. */
export function metaRoutes(deps: ApiDeps): Router {
  const router = Router();
  const document = buildOpenApiDocument();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/workers', async (req, res) => {
    const view = await listWorkers(deps.redis, deps.config.queuePrefix, { aliveWithinMs: WORKER_ALIVE_MS });
    if (isServerAdmin(req)) return void res.json(view);
    // The cluster is shared; another project's trial on a worker is shown as busy, not named.
    const workers = [];
    for (const worker of view.workers) {
      const current = worker.currentTrial;
      const projectId = current ? await sweepProject(deps.db, current.sweepId) : null;
      workers.push(current && (projectId === null || roleIn(req, projectId) === null) ? { ...worker, currentTrial: null } : worker);
    }
    res.json({ ...view, workers });
  });
  return router;
}
