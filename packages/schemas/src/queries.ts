// Query strings of the list and metrics routes (values arrive as strings and are coerced), the
// headers the API reads, and the opaque keyset cursor.
import { z } from 'zod';
import { MetricName, ProjectName, finite, int, text, unstorableReason, zodIssuesToDetails } from './common.ts';
import { SchemaError } from './errors.ts';
import { SweepStatus, TrialStatus } from './responses.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

// ---------------------------------------------------------------------------------------------
// Cursor
// ---------------------------------------------------------------------------------------------

/** The largest value of a PostgreSQL `integer` column (trial numbers). */
export const MAX_INT32 = 2_147_483_647;
/** Any UUID PostgreSQL's uuid type reads back (row ids). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A timestamp as the API writes one (Date#toISOString of a timestamptz(3)), years 1 to 9999. */
const ISO_TIMESTAMP = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Text a cursor may hold: what a Postgres text column can hold (no NUL, no lone surrogate). */
const cursorText = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((s, ctx) => {
      const why = unstorableReason(s);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    });

/**
 * What a cursor holds: the sort it belongs to and the last row's key (value, then id as
 * tie-break). Every value is one its column can hold, so a forged cursor is refused here and
 * never reaches PostgreSQL; the listing's own check (`cursorMisfit`) adds which kind of value.
 */
export const CursorPayload = z.strictObject({
  sort: cursorText(32),
  order: z.enum(['asc', 'desc']),
  /** The last row's sort value; null when it had none (nulls sort last). */
  value: z.union([finite(), cursorText(256), z.null()]),
  /** The last row's tie-breaker: its id, or its trial number. */
  after: z.union([z.string().regex(UUID, 'must be a UUID'), int(0, MAX_INT32)]),
});
export type CursorPayload = z.infer<typeof CursorPayload>;

/** A `timestamptz` value written by the API: ISO 8601 in UTC, a real date, years 1 to 9999. */
export function isCursorTimestamp(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = ISO_TIMESTAMP.exec(value);
  if (!m || Number(m[1]) < 1) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value;
}

type ValueKind = 'timestamp' | 'text' | 'int32' | 'number-or-null';
/** What each listing's sorts hold: the value's kind and the tie-breaker's. */
const LISTING_KEYS = {
  sweeps: { createdAt: ['timestamp', 'uuid'], name: ['text', 'uuid'] },
  trials: { number: ['int32', 'int32'], createdAt: ['timestamp', 'int32'], bestValue: ['number-or-null', 'int32'], finalValue: ['number-or-null', 'int32'] },
} as const satisfies Record<string, Record<string, readonly [ValueKind, 'uuid' | 'int32']>>;

const VALUE_KINDS: Record<ValueKind, string> = {
  timestamp: 'an ISO 8601 timestamp (years 1 to 9999)',
  text: 'a string',
  int32: 'an integer in [0, 2³¹−1]',
  'number-or-null': 'a number or null',
};

const isInt32 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_INT32;

/** Why a decoded cursor cannot continue `listing` sorted by its sort, or undefined when it can. */
export function cursorMisfit(listing: keyof typeof LISTING_KEYS, cursor: CursorPayload): string | undefined {
  const sorts: Readonly<Record<string, readonly [ValueKind, 'uuid' | 'int32']>> = LISTING_KEYS[listing];
  if (!Object.hasOwn(sorts, cursor.sort)) return `sort ${JSON.stringify(cursor.sort)} is not a sort of this listing`;
  const [valueKind, afterKind] = sorts[cursor.sort]!;
  const v = cursor.value;
  const valueOk =
    valueKind === 'timestamp' ? isCursorTimestamp(v) : valueKind === 'text' ? typeof v === 'string' : valueKind === 'int32' ? isInt32(v) : v === null || typeof v === 'number';
  if (!valueOk) return `value: must be ${VALUE_KINDS[valueKind]}`;
  const afterOk = afterKind === 'uuid' ? typeof cursor.after === 'string' : isInt32(cursor.after);
  if (!afterOk) return `after: must be ${afterKind === 'uuid' ? 'a UUID' : 'an integer in [0, 2³¹−1]'}`;
  return undefined;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** An opaque base64url string for the next page. */
export function encodeCursor(payload: CursorPayload): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(CursorPayload.parse(payload))));
}

/** Reads a cursor back; throws SchemaError INVALID_CURSOR for anything a client made up or mangled. */
export function decodeCursor(cursor: string): CursorPayload {
  const invalid = (why: string): never => {
    throw new SchemaError('INVALID_CURSOR', [{ path: 'cursor', message: `is not a cursor returned by this API (${why})` }]);
  };
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) invalid('not base64url');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(cursor)));
  } catch {
    return invalid('undecodable');
  }
  const r = CursorPayload.safeParse(json);
  if (!r.success) invalid(zodIssuesToDetails(r.error).map((d) => `${d.path}: ${d.message}`).join('; '));
  return r.data!;
}

/** A cursor query parameter: decoded and checked, so handlers receive the payload. */
export const Cursor = z
  .string()
  .max(1024, 'is not a cursor returned by this API (too long)')
  .transform((s, ctx) => {
    try {
      return decodeCursor(s);
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.details[0]!.message });
      return z.NEVER;
    }
  })
  .meta({ description: 'Opaque base64url cursor from the previous page (nextCursor).' });

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

/**
 * Numbers in a query string as people write them: decimal digits only. `Number()` alone also
 * takes " 3 ", "0x3", "0b11", "3e0" and "" (as 0), each silently.
 */
const queryInt = (low: number, high: number, fallback?: number) => {
  const digits = z
    .string()
    .regex(/^\d{1,16}$/, 'must be an integer in decimal digits')
    .meta({ description: `an integer from ${low} to ${high}` });
  // The default as the query string would carry it, so the document shows it.
  return (fallback === undefined ? digits : digits.default(String(fallback))).transform(Number).pipe(int(low, high));
};
const queryDecimal = () =>
  z
    .string()
    .max(40, 'must be a decimal number such as 0.1 (or 1e-3)')
    // Any digits after the point: String(1 / 30) has 17 of them.
    .regex(/^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?$/, 'must be a decimal number such as 0.1 (or 1e-3)')
    .refine((t) => Number(t) !== 0 || !/[1-9]/.test(t.split(/[eE]/)[0]!), 'is too small to tell from 0')
    .transform(Number);

const limit = queryInt(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);

/** "running,queued" → ["running", "queued"]; one value is a list of one. */
function csvOf<T extends z.ZodType<unknown, string>>(item: T, max: number) {
  return z
    .string()
    .max(1024)
    .transform((s) => s.split(',').map((v) => v.trim()).filter((v) => v !== ''))
    .pipe(z.array(item).min(1, 'must name at least one value').max(max, `at most ${max} values`));
}

const order = z.enum(['asc', 'desc']);

/** A cursor only continues the listing it came from, with values of the kinds its sort holds. */
function sameListing(listing: keyof typeof LISTING_KEYS) {
  return (q: { cursor?: CursorPayload | undefined; sort: string; order: string }, ctx: z.RefinementCtx): void => {
    if (!q.cursor) return;
    if (q.cursor.sort !== q.sort || q.cursor.order !== q.order) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: `belongs to sort=${q.cursor.sort}&order=${q.cursor.order}, not sort=${q.sort}&order=${q.order}` });
      return;
    }
    const misfit = cursorMisfit(listing, q.cursor);
    if (misfit) ctx.addIssue({ code: 'custom', path: ['cursor'], message: `is not a cursor returned by this API (${misfit})` });
  };
}

export const ListSweepsQuery = z
  .strictObject({
    /** Only this project's sweeps (of those the token sees). */
    project: ProjectName.optional(),
    limit,
    cursor: Cursor.optional(),
    status: csvOf(SweepStatus, 5).optional(),
    sort: z.enum(['createdAt', 'name']).default('createdAt'),
    order: order.default('desc'),
  })
  .superRefine(sameListing('sweeps'));
export type ListSweepsQuery = z.infer<typeof ListSweepsQuery>;

/** Trials of a sweep: by number, or by the objective value (bestValue / finalValue; nulls last). */
export const TRIAL_SORTS = ['number', 'bestValue', 'finalValue', 'createdAt'] as const;
export const ListTrialsQuery = z
  .strictObject({
    limit,
    cursor: Cursor.optional(),
    status: csvOf(TrialStatus, 6).optional(),
    sort: z.enum(TRIAL_SORTS).default('number'),
    order: order.default('asc'),
  })
  .superRefine(sameListing('trials'));
export type ListTrialsQuery = z.infer<typeof ListTrialsQuery>;

export const DEFAULT_MAX_POINTS = 500;
export const MetricsQuery = z
  .strictObject({
    /** Comma-separated metric names; absent: every metric of the trial. */
    names: csvOf(MetricName, 32).optional(),
    /** Curves longer than this are downsampled (LTTB) to this many points, first and last kept. */
    maxPoints: queryInt(3, 10_000, DEFAULT_MAX_POINTS),
    fromStep: queryInt(0, 1_000_000).optional(),
    toStep: queryInt(0, 1_000_000).optional(),
  })
  .refine((q) => q.fromStep === undefined || q.toStep === undefined || q.fromStep <= q.toStep, {
    message: 'must be ≥ fromStep',
    path: ['toStep'],
  });
export type MetricsQuery = z.infer<typeof MetricsQuery>;

export const DEFAULT_CURVE_POINTS = 100;
/** Curves of a whole sweep: a few metrics, each downsampled per trial. */
export const SweepCurvesQuery = z.strictObject({
  /** Comma-separated metric names (at most 4); absent: the sweep's objective metric. */
  names: csvOf(MetricName, 4).optional(),
  maxPoints: queryInt(3, 1_000, DEFAULT_CURVE_POINTS),
});
export type SweepCurvesQuery = z.infer<typeof SweepCurvesQuery>;

/** CSV upload (POST /datasets with a text/csv body): what the query string says about the file. */
export const CsvUploadQuery = z.strictObject({
  /** The project the dataset goes to (default: the token's only project, or "default"). */
  project: ProjectName.optional(),
  name: z
    .string()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'letters, digits, space, _ . - only'),
  /** The label column: a header name, or a 0-based index (negative from the end). */
  labelColumn: text(200),
  task: z.enum(['classification', 'regression']),
  header: z.enum(['true', 'false', 'auto']).default('auto'),
  delimiter: z
    .string()
    .length(1, 'must be one character')
    .refine((d) => unstorableReason(d) === undefined, 'must not be NUL')
    .default(','),
  validationFraction: queryDecimal().pipe(z.number().min(0).lt(1)).optional(),
  testFraction: queryDecimal().pipe(z.number().min(0).lt(1)).optional(),
});
export type CsvUploadQuery = z.infer<typeof CsvUploadQuery>;

/**
 * IDX upload (POST /datasets/idx, multipart/form-data): the text fields beside the files. Limits of the
 * files themselves (sizes, classes, image sides) are checked by @hypersweep/datasets' checkIdxUpload.
 */
export const IdxUploadFields = z.strictObject({
  name: CsvUploadQuery.shape.name,
  /** Declared classes (labels must be below it); default: the largest training label + 1. */
  numClasses: queryInt(2, 256).optional(),
  /** Without test files: the share of the training file held out as the test set (default 0.1). */
  testFraction: queryDecimal().pipe(z.number().gt(0, 'must be > 0').lt(1, 'must be < 1')).optional(),
});
export type IdxUploadFields = z.infer<typeof IdxUploadFields>;

// ---------------------------------------------------------------------------------------------
// Path parameters and headers
// ---------------------------------------------------------------------------------------------

export const SweepPathParams = z.strictObject({ sweepId: z.uuid({ error: 'must be a UUID' }) });
export const TrialPathParams = SweepPathParams.extend({ trialId: z.uuid({ error: 'must be a UUID' }) });
export const DatasetPathParams = z.strictObject({ datasetId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a dataset id') });
export const TokenPathParams = z.strictObject({ tokenId: z.uuid({ error: 'must be a UUID' }) });

/** Idempotency-Key header of POST /sweeps: the same key and body create one sweep. */
export const IdempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Last-Event-ID header of the SSE stream: resume after this event id. */
export const LastEventId = z
  .string()
  .regex(/^\d{1,15}$/, 'must be an event id (a non-negative integer)')
  .transform(Number);

/** GET /sweeps/{id}/events: ?lastEventId= for an EventSource's first connection (which sets no header). */
export const EventsQuery = z.strictObject({ lastEventId: LastEventId.optional() });

/** POST /sweeps and POST /datasets/idx: the project it goes to (default: the token's only project, or "default"). */
export const TargetProjectQuery = z.strictObject({ project: ProjectName.optional() });

