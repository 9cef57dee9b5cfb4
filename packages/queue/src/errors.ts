// Typed errors of the queue package, and the control-flow errors trial handlers throw to steer BullMQ.

export type QueueErrorCode = 'invalid_redis_url' | 'invalid_payload' | 'invalid_connection' | 'invalid_options';

export class QueueError extends Error {
  override readonly name = 'QueueError';
  readonly code: QueueErrorCode;
  override readonly cause: unknown;

  constructor(code: QueueErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message);
    this.code = code;
    this.cause = options.cause;
  }
}

/**
 * Thrown by a trial handler when the trial was cancelled (sweep cancelled, trial stopped, or a
 * scheduler told it to stop early). The job completes with outcome `cancelled` and is not retried.
 */
export class TrialCancelled extends Error {
  override readonly name = 'TrialCancelled';

  constructor(reason = 'cancelled') {
    super(reason);
  }
}

/**
 * Thrown by a trial handler after it checkpointed during a graceful shutdown. The job goes back
 * to `waiting` (not failed, no attempt used) so another worker resumes it from the checkpoint.
 */
export class ReleaseTrial extends Error {
  override readonly name = 'ReleaseTrial';

  constructor(reason = 'released by a shutting-down worker') {
    super(reason);
  }
}

/**
 * Thrown by a trial handler that may not start its trial yet (its project is at a quota). The job
 * waits `delayMs` in `delayed` (not failed, no attempt used) and is tried again: the trial starts
 * once a slot frees.
 */
export class DeferTrial extends Error {
  override readonly name = 'DeferTrial';

  constructor(
    reason: string,
    readonly delayMs: number,
  ) {
    super(reason);
  }
}
