// Typed errors of the data-parallel trainer.

export type TrainerErrorCode = 'REPLICA_FAILED' | 'THREAD_DIED' | 'TIMEOUT' | 'ABORTED' | 'NON_FINITE_LOSS' | 'POOL_CLOSED' | 'INVALID_OPTIONS';

export class TrainerError extends Error {
  readonly code: TrainerErrorCode;
  readonly details: unknown;
  constructor(code: TrainerErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainerError';
    this.code = code;
    this.details = details;
  }
}
