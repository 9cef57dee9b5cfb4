// Typed errors of the training engine; callers branch on `code`, never on messages.

export type NnErrorCode =
  | 'INVALID_SPEC'
  | 'SHAPE_MISMATCH'
  | 'NON_FINITE_LOSS'
  | 'INVALID_CHECKPOINT'
  | 'INVALID_EXPORT'
  | 'ABORTED'
  | 'OUT_OF_MEMORY';

export class NnError extends Error {
  readonly code: NnErrorCode;
  readonly details: unknown;
  constructor(code: NnErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NnError';
    this.code = code;
    this.details = details;
  }
}
