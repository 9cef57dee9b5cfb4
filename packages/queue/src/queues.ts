// Typed producers for the trial and sweep-advance queues, plus the read side the reconciler and /metrics use.
import { Queue, type JobsOptions, type JobType } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { QueueError } from './errors.ts';
import { DEFAULT_PREFIX, JOB_NAMES, QUEUES, trainableQueueName, trialJobId } from './names.ts';
import {
  SweepAdvanceJobSchema,
  TrialJobSchema,
  type SweepAdvanceJob,
  type TrialJob,
  type TrialJobResult,
} from './payloads.ts';

export type TrialQueue = Queue<TrialJob, TrialJobResult, typeof JOB_NAMES.trial>;
export type SweepQueue = Queue<SweepAdvanceJob, void, typeof JOB_NAMES.sweepAdvance>;

/** Options a caller may set per trial job; the job id is never one of them. */
export type EnqueueTrialOptions = Pick<JobsOptions, 'priority' | 'delay' | 'attempts' | 'backoff'>;

/** Job states in which a job still counts as "Redis will run it". */
export const LIVE_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const satisfies readonly JobType[];

const DEPTH_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;
export type DepthState = (typeof DEPTH_STATES)[number];
export type QueueDepth = Record<'trials' | 'sweeps', Record<DepthState, number>>;

/**
 * Trials retry on unexpected errors (a redelivery resumes from the last checkpoint). Finished jobs
 * are kept for a while so a re-enqueue of a finished attempt stays a no-op and can be inspected.
 */
export const DEFAULT_TRIAL_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

/** Advancing a sweep only reads and writes Postgres, so it retries quickly. */
export const DEFAULT_SWEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1_000 },
};

export interface CreateQueuesOptions {
  /** An ioredis client from `createRedis`; shared, not closed by `close()`. */
  connection: Redis;
  prefix?: string;
  trialJobOptions?: JobsOptions;
  sweepJobOptions?: JobsOptions;
}

export class JobQueues {
  readonly trials: TrialQueue;
  readonly sweeps: SweepQueue;
  readonly prefix: string;
  /** Trial queues of trainables, opened on first use. */
  private readonly trainableQueues = new Map<string, TrialQueue>();
  private readonly options: CreateQueuesOptions;

  constructor(options: CreateQueuesOptions) {
    this.options = options;
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(this.prefix);
    this.trials = new Queue(QUEUES.trials, {
      connection: options.connection,
      prefix: this.prefix,
      defaultJobOptions: { ...DEFAULT_TRIAL_JOB_OPTIONS, ...options.trialJobOptions },
    });
    this.sweeps = new Queue(QUEUES.sweeps, {
      connection: options.connection,
      prefix: this.prefix,
      defaultJobOptions: { ...DEFAULT_SWEEP_JOB_OPTIONS, ...options.sweepJobOptions },
    });
  }

  /**
   * Enqueues one attempt of a trial under the job id `trialJobId(trialId, attempt)`. Enqueueing the
   * same attempt again while its job exists (live, or finished and still retained) does nothing.
   */
  async enqueueTrial(job: TrialJob, options: EnqueueTrialOptions = {}): Promise<string> {
    const payload = parsePayload(TrialJobSchema, job, 'trial job');
    const jobId = trialJobId(payload.trialId, payload.attempt);
    await this.trialQueue(payload.trainable).add(JOB_NAMES.trial, payload, { ...options, jobId });
    return jobId;
  }

  /** The queue of a trainable's trials, or the built-in engine's (no trainable). */
  trialQueue(trainable?: string): TrialQueue {
    if (trainable === undefined) return this.trials;
    let queue = this.trainableQueues.get(trainable);
    if (!queue) {
      queue = new Queue(trainableQueueName(trainable), {
        connection: this.options.connection,
        prefix: this.prefix,
        defaultJobOptions: { ...DEFAULT_TRIAL_JOB_OPTIONS, ...this.options.trialJobOptions },
      });
      this.trainableQueues.set(trainable, queue);
    }
    return queue;
  }

  /**
   * Asks for a sweep to be advanced. Deduplicated per sweep with BullMQ's `deduplication`
   * (`keepLastIfActive`): while an advance is waiting, further requests are dropped; while one is
   * running, one more is kept and starts when it ends, so no trial end goes unnoticed.
   * Returns the id of the job that will do the work (possibly an existing one).
   */
  async enqueueSweepAdvance(job: SweepAdvanceJob): Promise<string> {
    const payload = parsePayload(SweepAdvanceJobSchema, job, 'sweep advance job');
    const added = await this.sweeps.add(JOB_NAMES.sweepAdvance, payload, {
      deduplication: { id: payload.sweepId, keepLastIfActive: true },
    });
    return added.id ?? '';
  }

  /**
   * Ids of trial jobs Redis will still run (waiting, active, delayed, prioritized), read atomically.
   * The reconciler re-enqueues runnable Postgres trials whose job id is missing here.
   */
  async liveTrialJobIds(trainables: Iterable<string> = []): Promise<Set<string>> {
    const queues = [this.trials, ...[...new Set(trainables)].map((t) => this.trialQueue(t))];
    const ids = await Promise.all(queues.map((q) => q.getRanges([...LIVE_JOB_STATES], 0, -1)));
    return new Set(ids.flat());
  }

  /** State of one trial attempt's job, `'unknown'` when Redis holds no such job. */
  async trialJobState(trialId: string, attempt: number, trainable?: string): Promise<string> {
    return this.trialQueue(trainable).getJobState(trialJobId(trialId, attempt));
  }

  /** Job counts per state for both queues, for Prometheus gauges. */
  async depth(): Promise<QueueDepth> {
    const [trials, sweeps] = await Promise.all([
      this.trials.getJobCounts(...DEPTH_STATES),
      this.sweeps.getJobCounts(...DEPTH_STATES),
    ]);
    return { trials: countsOf(trials), sweeps: countsOf(sweeps) };
  }

  /** Closes both queues; the shared connection stays open for its owner to quit. */
  async close(): Promise<void> {
    await Promise.all([this.trials.close(), this.sweeps.close(), ...[...this.trainableQueues.values()].map((q) => q.close())]);
  }
}

export function createQueues(options: CreateQueuesOptions): JobQueues {
  return new JobQueues(options);
}

function countsOf(counts: Record<string, number>): Record<DepthState, number> {
  const result = {} as Record<DepthState, number>;
  for (const state of DEPTH_STATES) result[state] = counts[state] ?? 0;
  return result;
}

export function parsePayload<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new QueueError('invalid_payload', `invalid ${what}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** BullMQ builds keys as `<prefix>:<queue>:...`; a glob character would break SCAN-based cleanup. */
export function assertPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new QueueError('invalid_options', `invalid key prefix "${prefix}": use letters, digits, '_', '.', '-'`);
  }
}
