// A BullMQ worker for sweep-advance jobs: one at a time per process, payloads validated.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { assertWorkerConnection } from './connection.ts';
import { silentLogger, type QueueLogger } from './logger.ts';
import { DEFAULT_PREFIX, JOB_NAMES, QUEUES } from './names.ts';
import { SweepAdvanceJobSchema, type SweepAdvanceJob } from './payloads.ts';
import { assertPrefix } from './queues.ts';

export type SweepAdvanceBullJob = Job<SweepAdvanceJob, void, typeof JOB_NAMES.sweepAdvance>;

export interface SweepAdvanceContext {
  readonly job: SweepAdvanceBullJob;
  readonly jobId: string;
}

export type SweepAdvanceHandler = (advance: SweepAdvanceJob, context: SweepAdvanceContext) => Promise<void>;

export interface CreateSweepWorkerOptions {
  /** An ioredis client created with role `worker`; shared, not closed. */
  connection: Redis;
  prefix?: string;
  handler: SweepAdvanceHandler;
  lockDuration?: number;
  stalledInterval?: number;
  name?: string;
  logger?: QueueLogger;
  autorun?: boolean;
}

/**
 * Concurrency is 1 per process. Several processes may still advance the same sweep at once (e.g. a
 * stalled job retaken while the first run is alive), so the handler serialises per sweep with a
 * Postgres advisory lock; this worker does not try to.
 */
export class SweepWorker {
  readonly worker: Worker<SweepAdvanceJob, void, typeof JOB_NAMES.sweepAdvance>;
  private readonly logger: QueueLogger;

  constructor(options: CreateSweepWorkerOptions) {
    assertWorkerConnection(options.connection, 'createSweepWorker');
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    this.logger = options.logger ?? silentLogger;
    const handler = options.handler;
    this.worker = new Worker<SweepAdvanceJob, void, typeof JOB_NAMES.sweepAdvance>(
      QUEUES.sweeps,
      async (job) => {
        const parsed = SweepAdvanceJobSchema.safeParse(job.data);
        if (!parsed.success) {
          this.logger.error({ jobId: job.id }, 'invalid sweep advance payload; failing without retry');
          throw new UnrecoverableError(`invalid sweep advance job ${job.id ?? ''}: ${parsed.error.message}`);
        }
        await handler(parsed.data, { job, jobId: job.id ?? '' });
      },
      {
        connection: options.connection,
        prefix,
        concurrency: 1,
        lockDuration: options.lockDuration ?? 30_000,
        stalledInterval: options.stalledInterval ?? 30_000,
        autorun: options.autorun ?? true,
        ...(options.name === undefined ? {} : { name: options.name }),
      },
    );
    this.worker.on('error', (error) => this.logger.error({ err: error }, 'sweep worker error'));
  }

  async close(force = false): Promise<void> {
    await this.worker.close(force);
  }
}

export function createSweepWorker(options: CreateSweepWorkerOptions): SweepWorker {
  return new SweepWorker(options);
}
