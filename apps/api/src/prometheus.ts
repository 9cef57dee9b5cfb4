// The API's Prometheus metrics on prom-client: HTTP requests and latency by route pattern, the
// cluster's state as gauges set at scrape time, and the process's default metrics (CPU, memory,
// GC, event-loop lag).
import type { Logger } from '@hypersweep/log';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What a scrape reads from Postgres and Redis; `null` when that source could not be read. */
export interface ClusterState {
  trialsByState: Readonly<Record<string, number>>;
  sweepsByState: Readonly<Record<string, number>>;
  sseClients: number;
  /** Mean step time of the running trials, by part (compute, reduce, wait). */
  stepMs: Readonly<Record<string, number>>;
  /** Jobs per queue and state. */
  queueJobs: Readonly<Record<string, Readonly<Record<string, number>>>> | null;
  workers: {
    alive: number;
    busy: number;
    samplesPerSecond: number;
    perWorker: readonly { workerId: string; samplesPerSecond: number; rssBytes: number | null }[];
  } | null;
}

/** The label of a request that matched no route: never the client's path, which is unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

let processRegistry: Registry | null = null;

/**
 * Process metrics belong to the process, not to one app: collected once into their own registry
 * (each collection starts an event-loop monitor and a GC observer) and rendered by every app.
 */
function defaultMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** One per app: tests run several apps in one process, each with its own counts. */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'hypersweep_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'hypersweep_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly trials = this.gauge('hypersweep_trials', 'Trials by state', ['state']);
  private readonly sweeps = this.gauge('hypersweep_sweeps', 'Sweeps by state', ['state']);
  private readonly sseClients = this.gauge('hypersweep_sse_clients', 'Open event streams', []);
  private readonly stepMs = this.gauge('hypersweep_step_ms', 'Mean time per training step of the running trials, by part (latest epoch)', ['part']);
  private readonly queueJobs = this.gauge('hypersweep_queue_jobs', 'Jobs per queue and state', ['queue', 'state']);
  private readonly workers = this.gauge('hypersweep_workers', 'Workers with a recent heartbeat', []);
  private readonly workersBusy = this.gauge('hypersweep_workers_busy', 'Workers training a trial', []);
  private readonly samplesPerSecond = this.gauge('hypersweep_samples_per_second', 'Training throughput of all workers', []);
  private readonly workerSamplesPerSecond = this.gauge('hypersweep_worker_samples_per_second', 'Training throughput per worker', ['worker']);
  private readonly workerRssBytes = this.gauge('hypersweep_worker_rss_bytes', 'Resident memory per worker process, replica threads included', ['worker']);

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** The Prometheus text of the process's metrics and this app's, the cluster gauges set from `state`. */
  async render(state: ClusterState): Promise<string> {
    // Reset first: a state, queue or worker that disappeared must not keep its last value.
    const set = <L extends string>(gauge: Gauge<L>, samples: Iterable<[Partial<Record<L, string>>, number]>) => {
      gauge.reset();
      for (const [labels, value] of samples) gauge.set(labels, Number.isFinite(value) ? value : 0);
    };
    set(this.trials, Object.entries(state.trialsByState).map(([s, n]) => [{ state: s }, n]));
    set(this.sweeps, Object.entries(state.sweepsByState).map(([s, n]) => [{ state: s }, n]));
    set(this.sseClients, [[{}, state.sseClients]]);
    set(this.stepMs, Object.entries(state.stepMs).map(([part, ms]) => [{ part }, ms]));
    set(this.queueJobs, Object.entries(state.queueJobs ?? {}).flatMap(([queue, states]) => Object.entries(states).map(([s, n]): [{ queue: string; state: string }, number] => [{ queue, state: s }, n])));
    const workers = state.workers;
    set(this.workers, workers ? [[{}, workers.alive]] : []);
    set(this.workersBusy, workers ? [[{}, workers.busy]] : []);
    set(this.samplesPerSecond, workers ? [[{}, workers.samplesPerSecond]] : []);
    set(this.workerSamplesPerSecond, (workers?.perWorker ?? []).map((w) => [{ worker: w.workerId }, w.samplesPerSecond]));
    set(
      this.workerRssBytes,
      (workers?.perWorker ?? []).flatMap((w): [{ worker: string }, number][] => (w.rssBytes === null ? [] : [[{ worker: w.workerId }, w.rssBytes]])),
    );
    return `${await defaultMetrics().metrics()}\n${await this.registry.metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Counts and times every request by its route pattern (`/api/v1/sweeps/:sweepId`), and logs it at
 * debug level. The router sets `req.route` when a route matches, while `req.baseUrl` is still its
 * mount path; after an error it has unwound, so the pattern is taken at that moment.
 */
export function observeRequests(metrics: ApiMetrics, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    let route: unknown;
    let pattern = UNMATCHED_ROUTE;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: unknown) => {
        route = value;
        // Routing is case-insensitive: lower-case the mount path so "/API/v1" is not a new series.
        if (typeof value === 'object' && value !== null && 'path' in value) pattern = `${req.baseUrl.toLowerCase()}${String(value.path)}`;
      },
    });
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.requests.inc({ method: req.method, route: pattern, status: String(res.statusCode) });
      metrics.latency.observe({ method: req.method, route: pattern }, seconds);
      logger.debug({ req: { method: req.method, url: req.originalUrl, headers: req.headers }, res: { statusCode: res.statusCode }, route: pattern, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  };
}
