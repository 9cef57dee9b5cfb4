// The worker's heartbeat: every few seconds (and at once when its trials change) it tells Redis who it
// is and what it trains, so the cluster page can list it and the reconciler leaves its trials alone;
// on a graceful stop it removes itself.
import { getHeartbeat, publishHeartbeat, removeHeartbeat, type HeldTrial } from '@hypersweep/queue';
import type { WorkerHeartbeat } from '@hypersweep/schemas';
import type { Redis } from 'ioredis';
import type { Logger } from '@hypersweep/log';
import type { TrialProgress } from './run-trial.ts';

export interface HeartbeatOptions {
  redis: Redis;
  prefix: string;
  workerId: string;
  host: string;
  pid: number;
  /** Replica threads per trial. */
  threads: number;
  /** Names of the trainables this worker runs. */
  trainables?: readonly string[];
  intervalMs: number;
  /** The liveness key expires after this long without a heartbeat (default 3 × intervalMs). */
  ttlMs?: number;
  logger: Logger;
  /** Wall clock in ms (tests move it). */
  now?: () => number;
}

/**
 * Publishes this worker's `WorkerHeartbeat`. With several trials at once (CONCURRENCY > 1) the
 * heartbeat shows the one claimed first and the sum of their speeds. A failed publish (Redis
 * down) is logged and retried at the next beat; it never stops training.
 */
export class Heartbeat {
  /** Progress per delivery (job id): two deliveries of one trial can briefly overlap in a process. */
  private readonly trials = new Map<string, TrialProgress>();
  private readonly startedAt: string;
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: HeartbeatOptions) {
    this.startedAt = new Date(this.now()).toISOString();
  }

  /** Publishes now, then every `intervalMs`. */
  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.beat(), this.options.intervalMs);
    this.timer.unref();
    return this.beat();
  }

  /** Records a delivery's progress (from `runTrial`'s `onProgress`); a newly started one is published at once. */
  progress(jobId: string, progress: TrialProgress): void {
    const known = this.trials.has(jobId);
    this.trials.set(jobId, progress);
    if (!known) void this.beat();
  }

  /** The delivery ended (any outcome): the worker no longer trains its trial; published at once. */
  trialEnded(jobId: string): void {
    if (this.trials.delete(jobId)) void this.beat();
  }

  /** Whether a delivery other than `exceptJobId` in this process is on the trial. */
  isTraining(trialId: string, exceptJobId?: string): boolean {
    for (const [jobId, progress] of this.trials) if (jobId !== exceptJobId && progress.trialId === trialId) return true;
    return false;
  }

  /**
   * Waits (polling every `pollMs`, at most `timeoutMs`) until no other delivery in this process is on
   * the trial: the handover for a takeover within one worker.
   */
  async whenReleasedLocally(trialId: string, exceptJobId: string, { timeoutMs, pollMs = 50 }: { timeoutMs: number; pollMs?: number }): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.isTraining(trialId, exceptJobId)) {
      if (Date.now() > deadline) {
        this.options.logger.warn({ trialId }, 'another delivery in this process still trains the trial; training it anyway');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** Every delivery in this process with its claim's attempt: the reconciler leaves these trials to this worker. */
  heldTrials(): HeldTrial[] {
    return [...this.trials.values()].map((t) => ({ trialId: t.trialId, attempt: t.attempt }));
  }

  /** What the next beat publishes. */
  snapshot(): WorkerHeartbeat {
    const trials = [...this.trials.values()];
    const first = trials[0];
    return {
      workerId: this.options.workerId,
      host: this.options.host,
      pid: this.options.pid,
      threads: this.options.threads,
      currentTrial: first ? { sweepId: first.sweepId, trialId: first.trialId, attempt: first.attempt, epoch: first.epoch } : null,
      // An epoch timed at 0 s would report Infinity, which the schema (rightly) refuses.
      samplesPerSecond: trials.reduce((sum, t) => sum + (Number.isFinite(t.samplesPerSecond) && t.samplesPerSecond > 0 ? t.samplesPerSecond : 0), 0),
      // Replica threads included in RSS: the figure to watch for a worker that keeps growing.
      memory: this.memory(),
      trainables: [...(this.options.trainables ?? [])],
      startedAt: this.startedAt,
      at: new Date(this.now()).toISOString(),
    };
  }

  /** Stops beating and removes the heartbeat (graceful shutdown): the worker leaves the cluster view at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
    try {
      await removeHeartbeat(this.options.redis, this.options.prefix, this.options.workerId);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not remove the heartbeat; it expires on its own');
    }
  }

  /**
   * Publishes a heartbeat. One publish at a time: a beat asked for meanwhile is folded into one more
   * publish after it (so beats never overtake each other, nor pile up while Redis is unreachable).
   */
  private beat(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    const run = async () => {
      do {
        this.again = false;
        if (this.stopped) return;
        try {
          await publishHeartbeat(this.options.redis, this.options.prefix, this.snapshot(), this.ttlMs(), { trials: this.heldTrials() });
        } catch (error) {
          this.options.logger.warn({ err: error }, 'could not publish the heartbeat');
        }
      } while (this.again);
    };
    this.inFlight = run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private ttlMs(): number {
    return this.options.ttlMs ?? 3 * this.options.intervalMs;
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  private memory(): { rssBytes: number; heapUsedBytes: number } {
    const { heapUsed } = process.memoryUsage();
    return { rssBytes: process.memoryUsage.rss(), heapUsedBytes: heapUsed };
  }
}

export interface HandoverOptions {
  redis: Redis;
  prefix: string;
  /** The heartbeat interval of the cluster (HEARTBEAT_MS). */
  heartbeatMs: number;
  /** Give up waiting after this long (default 3 × heartbeatMs + 2 s) and train anyway. */
  timeoutMs?: number;
  /** How often the previous holder's heartbeat is read (default 100 ms). */
  pollMs?: number;
  logger: Logger;
}

/**
 * Waits until `previous.workerId` no longer trains `previous.trialId`, judged by its heartbeat:
 * - its live heartbeat names another trial or none → it stopped;
 * - only an expired heartbeat remains → the worker is dead;
 * - Redis knows nothing of it → it died long ago, or Redis lost its keys and a live worker will
 *   publish again within one interval: wait 1.5 intervals for that.
 * Never waits longer than `timeoutMs`; the old worker's Postgres poll stops it in any case.
 */
export async function waitForHandover(options: HandoverOptions, previous: { workerId: string; trialId: string }): Promise<void> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 3 * options.heartbeatMs + 2_000;
  const pollMs = options.pollMs ?? 100;
  const logger = options.logger.child({ trialId: previous.trialId, previousWorker: previous.workerId });
  for (;;) {
    const elapsed = Date.now() - started;
    let found: Awaited<ReturnType<typeof getHeartbeat>> = null;
    try {
      found = await getHeartbeat(options.redis, options.prefix, previous.workerId);
    } catch (error) {
      logger.warn({ err: error }, 'could not read the previous holder\'s heartbeat; not waiting for it');
      return;
    }
    if (found && !found.live) return;
    if (found && found.heartbeat.currentTrial?.trialId !== previous.trialId) {
      if (elapsed > 0) logger.info({ waitedMs: elapsed }, 'previous holder stopped training the trial');
      return;
    }
    if (!found && elapsed >= 1.5 * options.heartbeatMs) return;
    if (elapsed >= timeoutMs) {
      logger.warn({ waitedMs: elapsed }, 'previous holder still reports the trial; training it anyway');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
