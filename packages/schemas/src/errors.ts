// Typed errors of @hypersweep/schemas; callers branch on `code`, never on messages.
import type { ErrorDetail } from './common.ts';

export type SchemaErrorCode = 'INVALID_TRIAL_PARAMS' | 'INVALID_CURSOR';

export class SchemaError extends Error {
  readonly code: SchemaErrorCode;
  /** Every problem with its path, in the same shape as an API error's details. */
  readonly details: readonly ErrorDetail[];
  constructor(code: SchemaErrorCode, details: readonly ErrorDetail[], options?: { cause?: unknown }) {
    const text = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
    super(text, options);
    this.name = 'SchemaError';
    this.code = code;
    this.details = details;
  }
}
