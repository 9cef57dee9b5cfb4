// Building blocks shared by every schema: finite numbers with sane bounds, bounded strings,
// ids and timestamps, and the API's error body with zod issues turned into path/message pairs.
import { z } from 'zod';
import { formatPath } from '@hypersweep/nn';

/** A number that must be finite; NaN and ±Infinity get a message that says so. */
export function finite(): z.ZodNumber {
  return z.number({ error: (iss) => (iss.input === undefined ? 'is required' : `must be a finite number, got ${describe(iss.input)}`) });
}

/** An integer in [min, max]; the bounds keep absurd values (1e300) out of the database. */
export function int(min: number, max: number): z.ZodNumber {
  return z
    .number({ error: (iss) => (iss.input === undefined ? 'is required' : `must be ${typeof iss.input === 'number' ? 'a finite number' : 'an integer'}, got ${describe(iss.input)}`) })
    .int({ error: (iss) => `must be an integer, got ${describe(iss.input)}` })
    .min(min, `must be ≥ ${min}`)
    .max(max, `must be ≤ ${max}`);
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

// C0 controls and DEL: NUL cannot be stored in a Postgres text column and the others corrupt logs
// and terminals. Everything else (quotes, angle brackets, SQL, emoji) is plain text.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** User text (names, descriptions): length-limited, no control characters, otherwise stored as is. */
export function text(maxLength: number, minLength = 1): z.ZodString {
  return z
    .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') })
    .min(minLength, minLength === 1 ? 'must not be empty' : `must be at least ${minLength} characters`)
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
}

/** Ids of stored rows (Postgres uuid columns). */
export const Id = z.uuid({ error: 'must be a UUID' });

/** Timestamps in responses: ISO 8601 in UTC, e.g. "2025-01-31T12:00:00.000Z". */
export const Timestamp = z.iso.datetime({ error: 'must be an ISO 8601 date-time' });

/** A metric name as stored per trial and step: "val_loss", "train_accuracy", "samples_per_sec". */
export const MetricName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower_snake_case, at most 64 characters');

/** A hyperparameter value as samplers produce it. */
export const ParamValue = z.union([finite(), z.string().max(256), z.boolean()]);
export const TrialParams = z.record(z.string().max(64), ParamValue);

/** Largest safe seed: the Sweep.seed column is a 32-bit signed int. */
export const MAX_SEED = 2_147_483_647;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export const ERROR_CODES = [
  'invalid_request',
  'invalid_json',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'invalid_state',
  'idempotency_conflict',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'internal',
  'unavailable',
] as const;
export const ApiErrorCode = z.enum(ERROR_CODES);
export type ApiErrorCode = z.infer<typeof ApiErrorCode>;

/** The HTTP status of each error code: the API's error middleware uses this table and nothing else. */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  idempotency_conflict: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export const ErrorDetail = z.strictObject({
  /** Where the problem is, e.g. "model.layers[2].units"; "" for the whole body. */
  path: z.string(),
  message: z.string(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

export const ApiError = z.strictObject({
  error: z.strictObject({
    code: ApiErrorCode,
    message: z.string(),
    details: z.array(ErrorDetail),
  }),
});
export type ApiError = z.infer<typeof ApiError>;

/** "spec.model.layers[2].units" from a zod path: the same format nn uses for its own errors. */
export { formatPath };

/** "a.b[2].c" back to ["a", "b", 2, "c"] (for paths reported by search and nn as strings). */
export function parsePath(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function issueDetails(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): ErrorDetail[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: 'is not a known field' }));
    case 'invalid_union': {
      if (issue.discriminator !== undefined && 'options' in issue && issue.errors.length === 0) {
        const options = (issue.options ?? []).map((o) => JSON.stringify(o)).join(', ');
        return [{ path: formatPath(path), message: `must be one of ${options}` }];
      }
      // Name the problems of the alternative that got furthest: the one with the fewest issues.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
      if (best && best.length > 0) return best.flatMap((i) => issueDetails(i, path));
      return [{ path: formatPath(path), message: issue.message }];
    }
    case 'invalid_key':
    case 'invalid_element':
      if (issue.issues.length > 0) return issue.issues.flatMap((i) => issueDetails(i, path));
      return [{ path: formatPath(path), message: issue.message }];
    default: {
      let message = issue.message;
      if (/received undefined$/.test(message)) message = 'is required';
      else if (/received (NaN|Infinity|-Infinity)$/.test(message)) message = `must be a finite number, ${message.slice(message.lastIndexOf('received'))}`;
      else message = message.replace(/^Invalid input: /, '');
      return [{ path: formatPath(path), message }];
    }
  }
}

/** Every zod issue as {path, message}; unknown keys become one detail each, naming the key. */
export function zodIssuesToDetails(error: z.ZodError | { issues: readonly z.core.$ZodIssue[] }, prefix: readonly PropertyKey[] = []): ErrorDetail[] {
  return error.issues.flatMap((i) => issueDetails(i, prefix));
}

/** The API's error body for a failed parse. */
export function validationError(error: z.ZodError, message = 'the request is invalid'): ApiError {
  const details = zodIssuesToDetails(error);
  const first = details[0];
  return {
    error: {
      code: 'invalid_request',
      message: first ? `${message}: ${first.path ? `${first.path}: ` : ''}${first.message}` : message,
      details,
    },
  };
}
