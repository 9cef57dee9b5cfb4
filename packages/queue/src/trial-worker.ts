// A BullMQ worker for trial jobs: validates payloads and maps the handler's control-flow errors onto BullMQ.
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { assertWorkerConnection } from './connection.ts';
import { DeferTrial, QueueError, ReleaseTrial, TrialCancelled } from './errors.ts';
import { silentLogger, type QueueLogger } from './logger.ts';
import { DEFAULT_PREFIX, JOB_NAMES, QUEUES } from './names.ts';
import { TrialJobSchema, cancelSignalMatches, type CancelSignal, type TrialJob, type TrialJobResult } from './payloads.ts';
import { assertPrefix } from './queues.ts';

export type TrialBullJob = Job<TrialJob, TrialJobResult, typeof JOB_NAMES.trial>;

export interface TrialJobContext {
  readonly job: TrialBullJob;
  readonly jobId: string;
  /** How many times a worker has started this job (1 the first time; stalls and retries add one). */
  readonly deliveries: number;
  /** Aborted by `TrialWorker.cancel` (e.g. from the cancel channel); the handler throws TrialCancelled. */
  readonly cancelled: AbortSignal;
  /** Aborted by `TrialWorker.shutdown`; the handler checkpoints and throws ReleaseTrial. */
  readonly shutdown: AbortSignal;
}

export type TrialHandler = (trial: TrialJob, context: TrialJobContext) => Promise<void>;

export interface CreateTrialWorkerOptions {
  /** An ioredis client created with role `worker` (`maxRetriesPerRequest: null`); shared, not closed. */
  connection: Redis;
  prefix?: string;
  handler: TrialHandler;
  /** Trials run at once in this process. */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a dead worker's trial is retaken after it lapses. */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (of any worker). */
  stalledInterval?: number;
  /** Stalls a job survives before it is failed; each `kill -9` of a worker costs one. */
  maxStalledCount?: number;
  /** Stored on jobs as the worker that processes them. */
  name?: string;
  logger?: QueueLogger;
  /** Start fetching jobs immediately (default true). */
  autorun?: boolean;
  /** The queue to consume: a trainable's (names.ts trainableQueueName); default the built-in engine's. */
  queueName?: string;
}

interface RunningTrial {
  readonly trial: TrialJob;
  readonly cancel: AbortController;
}

export class TrialWorker {
  readonly worker: Worker<TrialJob, TrialJobResult, typeof JOB_NAMES.trial>;
  private readonly handler: TrialHandler;
  private readonly logger: QueueLogger;
  private readonly running = new Map<string, RunningTrial>();
  private readonly shutdownController = new AbortController();

  constructor(options: CreateTrialWorkerOptions) {
    assertWorkerConnection(options.connection, 'createTrialWorker');
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    this.handler = options.handler;
    this.logger = options.logger ?? silentLogger;
    const workerOptions = {
      connection: options.connection,
      prefix,
      concurrency: options.concurrency ?? 1,
      lockDuration: options.lockDuration ?? 30_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 3,
      autorun: options.autorun ?? true,
      ...(options.name === undefined ? {} : { name: options.name }),
    };
    this.worker = new Worker<TrialJob, TrialJobResult, typeof JOB_NAMES.trial>(
      options.queueName ?? QUEUES.trials,
      (job, token) => this.process(job, token),
      workerOptions,
    );
    // BullMQ emits 'error' for Redis and lock-renewal problems; without a listener Node would throw.
    this.worker.on('error', (error) => this.logger.error({ err: error }, 'trial worker error'));
    this.worker.on('lockRenewalFailed', (jobIds) =>
      this.logger.warn({ jobIds }, 'trial job lock renewal failed; another worker may take the trial'),
    );
  }

  /** Trials this process is running right now. */
  runningTrials(): TrialJob[] {
    return [...this.running.values()].map((running) => running.trial);
  }

  /** Aborts `context.cancelled` of every running trial the signal targets; returns how many. */
  cancel(signal: CancelSignal): number {
    let count = 0;
    for (const running of this.running.values()) {
      if (cancelSignalMatches(signal, running.trial) && !running.cancel.signal.aborted) {
        running.cancel.abort(signal);
        count += 1;
      }
    }
    return count;
  }

  /**
   * Graceful shutdown: stops taking jobs, aborts `context.shutdown` so handlers checkpoint and throw
   * ReleaseTrial, and resolves once every running handler has returned.
   */
  async shutdown(): Promise<void> {
    this.shutdownController.abort();
    await this.worker.close();
  }

  /** Closes the worker; with `force`, running jobs are abandoned and their locks left to expire. */
  async close(force = false): Promise<void> {
    await this.worker.close(force);
  }

  private async process(job: TrialBullJob, token: string | undefined): Promise<TrialJobResult> {
    const jobId = job.id ?? '';
    const parsed = TrialJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const error = new QueueError('invalid_payload', `invalid trial job ${jobId}: ${parsed.error.message}`);
      this.logger.error({ jobId, err: error }, 'invalid trial job payload; failing without retry');
      throw new UnrecoverableError(error.message);
    }
    const trial = parsed.data;
    const cancel = new AbortController();
    this.running.set(jobId, { trial, cancel });
    try {
      await this.handler(trial, {
        job,
        jobId,
        deliveries: job.attemptsStarted,
        cancelled: cancel.signal,
        shutdown: this.shutdownController.signal,
      });
      return { outcome: 'completed' };
    } catch (error) {
      if (error instanceof TrialCancelled) return { outcome: 'cancelled', reason: error.message };
      if (error instanceof ReleaseTrial) await this.release(job, token, error);
      if (error instanceof DeferTrial) await this.defer(job, token, error);
      throw error;
    } finally {
      this.running.delete(jobId);
    }
  }

  /** Moves the job to delayed for the deferral's time, then tells BullMQ (DelayedError) that it moved. */
  private async defer(job: TrialBullJob, token: string | undefined, reason: DeferTrial): Promise<never> {
    try {
      await job.moveToDelayed(Date.now() + reason.delayMs, token);
    } catch (error) {
      this.logger.warn({ jobId: job.id, err: error }, 'could not defer trial job');
    }
    throw new DelayedError(reason.message);
  }

  /** Moves the job back to waiting, then tells BullMQ (WaitingError) that it already moved. */
  private async release(job: TrialBullJob, token: string | undefined, reason: ReleaseTrial): Promise<never> {
    try {
      await job.moveToWait(token);
    } catch (error) {
      // Lock already lost: the stalled checker will return the job to waiting instead.
      this.logger.warn({ jobId: job.id, err: error }, 'could not release trial job');
    }
    throw new WaitingError(reason.message);
  }
}

export function createTrialWorker(options: CreateTrialWorkerOptions): TrialWorker {
  return new TrialWorker(options);
}
