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

// A UTF-16 surrogate without its partner: JSON can carry one ("\ud800") but UTF-8 cannot, so
// PostgreSQL refuses it in text and jsonb columns alike.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL cannot store `s` (in a text or jsonb column), or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (it holds a lone UTF-16 surrogate)';
  return undefined;
}

/**
 * User text (names, descriptions): length-limited, no control characters, valid Unicode that
 * PostgreSQL can store, otherwise stored as is.
 */
export function text(maxLength: number, minLength = 1): z.ZodString {
  return z
    .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') })
    .min(minLength, minLength === 1 ? 'must not be empty' : `must be at least ${minLength} characters`)
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode (it holds a lone UTF-16 surrogate)');
}

/**
 * Names a JSON object may not use as keys. JSON.parse makes `__proto__` an own key, which zod's
 * records drop without a word (assigning it would replace the result's prototype); `constructor`
 * and `prototype` are refused with it so no key of user data can reach an object's machinery.
 */
export const RESERVED_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * How deeply a request's JSON may nest. The deepest document the API takes (a conditional space
 * inside a templated model) is about 20 levels; the checks that walk a document recurse, and a
 * few kilobytes of brackets would otherwise exhaust the stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The most fields an object of a request body may have. The widest legitimate ones (a search
 * space, a trial's parameters) hold at most 64; a schema reports every unknown key of a strict
 * object, so 90,000 of them (1 MB) held the event loop for half a second.
 */
export const MAX_OBJECT_KEYS = 1_000;

/** Where a JSON value is too deep or too wide, and which. */
export type JsonShapeProblem = { path: PropertyKey[]; problem: 'depth' } | { path: PropertyKey[]; problem: 'keys'; keys: number };

/**
 * The first container (depth first, walked without recursion) nested deeper than `maxDepth` levels
 * or, for an object, with more than `maxKeys` keys; null when there is none.
 */
export function jsonShapeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH, maxKeys = MAX_OBJECT_KEYS): JsonShapeProblem | null {
  // Containers only, each with a link to its parent: a megabyte of numbers (a predict request)
  // costs no allocation, and the path is built once, for the one at fault.
  interface Frame {
    node: object;
    depth: number;
    key: PropertyKey;
    parent: Frame | null;
  }
  const isContainer = (v: unknown): v is object => v !== null && typeof v === 'object';
  const pathOf = (frame: Frame): PropertyKey[] => {
    const path: PropertyKey[] = [];
    for (let f: Frame | null = frame; f?.parent; f = f.parent) path.unshift(f.key);
    return path;
  };
  if (!isContainer(value)) return null;
  const stack: Frame[] = [{ node: value, depth: 0, key: '', parent: null }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    if (top.depth >= maxDepth) return { path: pathOf(top), problem: 'depth' };
    if (Array.isArray(top.node)) {
      for (let i = top.node.length - 1; i >= 0; i--) {
        const child: unknown = top.node[i];
        if (isContainer(child)) stack.push({ node: child, depth: top.depth + 1, key: i, parent: top });
      }
    } else {
      const keys = Object.keys(top.node);
      if (keys.length > maxKeys) return { path: pathOf(top), problem: 'keys', keys: keys.length };
      for (let i = keys.length - 1; i >= 0; i--) {
        const child: unknown = (top.node as Record<string, unknown>)[keys[i]!];
        if (isContainer(child)) stack.push({ node: child, depth: top.depth + 1, key: keys[i]!, parent: top });
      }
    }
  }
  return null;
}

/** The path of the first value nested deeper than `max` levels (walked without recursion), or null. */
export function tooDeepPath(value: unknown, max = MAX_JSON_DEPTH): PropertyKey[] | null {
  return jsonShapeProblem(value, max, Infinity)?.path ?? null;
}

/** Paths of reserved keys (own properties) at any depth of a JSON value, the first `max`. */
export function reservedKeyPaths(value: unknown, max = 20): PropertyKey[][] {
  const out: PropertyKey[][] = [];
  const visit = (node: unknown, path: PropertyKey[]): void => {
    if (out.length >= max || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, [...path, i]));
      return;
    }
    for (const key of Object.keys(node)) {
      if (RESERVED_KEYS.includes(key)) out.push([...path, key]);
      if (out.length >= max) return;
      visit((node as Record<string, unknown>)[key], [...path, key]);
    }
  };
  visit(value, []);
  return out;
}

/**
 * `schema` with every reserved key (at any depth of its input) refused with an issue naming it,
 * checked on the raw input before a record can drop it.
 */
export function refuseReservedKeys<T extends z.ZodType>(schema: T) {
  // Typed with the schema's input: to callers the wrapper takes what the schema takes.
  return z.preprocess((input: z.input<T>, ctx) => {
    for (const path of reservedKeyPaths(input)) {
      ctx.addIssue({ code: 'custom', path: path as (string | number)[], message: `"${String(path.at(-1))}" is a reserved name`, input });
    }
    return input;
  }, schema);
}

/**
 * Strings PostgreSQL cannot store anywhere in a JSON value (keys and values), as details naming
 * each, the first `max` only: the walk stops there, so its work is bounded by the input's size.
 */
export function unstorableStrings(value: unknown, max = 20): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const visit = (node: unknown, path: PropertyKey[]): void => {
    if (out.length >= max) return;
    if (typeof node === 'string') {
      const why = unstorableReason(node);
      if (why) out.push({ path: formatPath(path), message: why });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length && out.length < max; i++) visit(node[i], [...path, i]);
      return;
    }
    for (const key of Object.keys(node)) {
      if (out.length >= max) return;
      const why = unstorableReason(key);
      if (why) out.push({ path: formatPath([...path, key]), message: `this field name ${why}` });
      else visit((node as Record<string, unknown>)[key], [...path, key]);
    }
  };
  visit(value, []);
  return out;
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
  'request_timeout',
  'headers_too_large',
  'method_not_allowed',
  'expectation_failed',
  'not_implemented',
  'rate_limited',
  'quota_exceeded',
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
  request_timeout: 408,
  headers_too_large: 431,
  /** CONNECT: the API is no proxy. */
  method_not_allowed: 405,
  /** An Expect header other than 100-continue. */
  expectation_failed: 417,
  /** A transfer coding other than chunked. */
  not_implemented: 501,
  rate_limited: 429,
  /** A project quota (named in the details as `quota.<name>`); storage quotas answer 413. */
  quota_exceeded: 429,
  internal: 500,
  unavailable: 503,
};

export const ErrorDetail = z.strictObject({
  /** Where the problem is, e.g. "model.layers[2].units"; the API says "body", "query" or "request" for the whole of one, and "" only in the summary of details left out. */
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

/** Error bodies list at most this many details, then one saying how many more there were. */
export const MAX_ERROR_DETAILS = 20;
/** Longest path or message of a detail: user input echoed back (a 1 MB name) is cut here. */
export const MAX_DETAIL_CHARS = 500;

function clip(s: string): string {
  return s.length <= MAX_DETAIL_CHARS ? s : `${s.slice(0, MAX_DETAIL_CHARS - 1)}…`;
}

function moreDetail(n: number): ErrorDetail {
  return { path: '', message: `and ${n} more problem${n === 1 ? '' : 's'} not listed` };
}

const SUMMARY = /^and (\d+) more problems? not listed$/;

/** Whether a detail is the summary capDetails / zodIssuesToDetails end a capped list with. */
export function isMoreDetail(d: ErrorDetail): boolean {
  return d.path === '' && SUMMARY.test(d.message);
}

/**
 * At most `max` details (each path and message cut to MAX_DETAIL_CHARS), then one saying how many
 * were left out. A list that already ends with such a summary keeps counting from it.
 */
export function capDetails(details: readonly ErrorDetail[], max = MAX_ERROR_DETAILS): ErrorDetail[] {
  const clipped = (d: ErrorDetail): ErrorDetail =>
    d.path.length <= MAX_DETAIL_CHARS && d.message.length <= MAX_DETAIL_CHARS ? d : { path: clip(d.path), message: clip(d.message) };
  const last = details.at(-1);
  const summary = last && last.path === '' ? SUMMARY.exec(last.message) : null;
  const listed = summary ? details.length - 1 : details.length;
  if (listed <= max) return details.map(clipped);
  return [...details.slice(0, max).map(clipped), moreDetail(listed - max + (summary ? Number(summary[1]) : 0))];
}

/**
 * Every zod issue as {path, message}; unknown keys become one detail each, naming the key. With
 * `max`, details stop being built after that many and one more says how many were left out.
 */
export function zodIssuesToDetails(
  error: z.ZodError | { issues: readonly z.core.$ZodIssue[] },
  prefix: readonly PropertyKey[] = [],
  max = Number.POSITIVE_INFINITY,
): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  let left = 0;
  for (const issue of error.issues) {
    if (out.length >= max) {
      // Not expanded: counting an issue is enough (one of unknown keys counts each key).
      left += issue.code === 'unrecognized_keys' ? issue.keys.length : 1;
      continue;
    }
    out.push(...issueDetails(issue, prefix));
  }
  if (out.length > max) {
    left += out.length - max;
    out.length = max;
  }
  if (left > 0) out.push(moreDetail(left));
  return Number.isFinite(max) ? out.map((d) => ({ path: clip(d.path), message: clip(d.message) })) : out;
}

/** The API's error body for a failed parse: at most MAX_ERROR_DETAILS details, then a count of the rest. */
export function validationError(error: z.ZodError, message = 'the request is invalid'): ApiError {
  const details = zodIssuesToDetails(error, [], MAX_ERROR_DETAILS);
  const first = details[0];
  return {
    error: {
      code: 'invalid_request',
      message: first ? `${message}: ${first.path ? `${first.path}: ` : ''}${first.message}` : message,
      details,
    },
  };
}

/** A project's name: what `?project=` and token grants name. */
export const ProjectName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a project name: 1-63 of a-z, 0-9, _ and -, starting with a letter or digit');
