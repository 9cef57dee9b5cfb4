// A small typed client of the Hypersweep REST API: one function per route the CLI uses, each
// returning the response parsed with its zod schema from @hypersweep/schemas.
import {
  API_PREFIX,
  ApiError,
  DatasetInfo,
  DatasetList,
  Sweep,
  SweepEvent,
  SweepPage,
  Trial,
  TrialPage,
  zodIssuesToDetails,
  type CreateSweepRequestInput,
  type ErrorDetail,
  type SweepStatus,
  type TrialStatus,
} from '@hypersweep/schemas';
import type { SseMessage } from '@hypersweep/schemas/sse';
import { describeError, followSse, type FollowSseOptions } from './sse.ts';

export interface ApiConnection {
  /** e.g. "http://127.0.0.1:8080" (no /api/v1). */
  readonly baseUrl: string;
  /** Bearer token; omitted when undefined. */
  readonly token?: string | undefined;
  readonly fetch?: typeof fetch;
  /** Per-request timeout for JSON routes (not the event stream). Default 30 s. */
  readonly timeoutMs?: number;
}

/** A non-2xx answer: its status and body (the API's `{error: {code, message, details}}` when it is one). */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly body: unknown;
  /** The API's error code ("not_found", …), or "http_<status>" when the body was not an API error. */
  readonly code: string;
  readonly details: readonly ErrorDetail[];
  constructor(status: number, body: unknown, method: string, url: string) {
    const parsed = ApiError.safeParse(body);
    const message = parsed.success
      ? parsed.data.error.message
      : `${method} ${url} answered HTTP ${status}${typeof body === 'string' && body.trim() !== '' ? `: ${body.trim().slice(0, 200)}` : ''}`;
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.body = body;
    this.code = parsed.success ? parsed.data.error.code : `http_${status}`;
    this.details = parsed.success ? parsed.data.error.details : [];
  }
}

/** The API could not be reached, or answered 2xx with something that is not what the schema says. */
export class ApiClientError extends Error {
  readonly code: 'unreachable' | 'invalid_response';
  readonly details: readonly ErrorDetail[];
  constructor(code: 'unreachable' | 'invalid_response', message: string, details: readonly ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiClientError';
    this.code = code;
    this.details = details;
  }
}

interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof zodIssuesToDetails>[0] };
}

function apiUrl(conn: ApiConnection, path: string, query?: Record<string, string | number | undefined>): string {
  // Relative to the base, so an API mounted under a path prefix (https://host/hypersweep/) keeps it.
  const url = new URL(`${API_PREFIX.slice(1)}${path}`, conn.baseUrl.endsWith('/') ? conn.baseUrl : `${conn.baseUrl}/`);
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
  return url.toString();
}

function authHeaders(conn: ApiConnection): Record<string, string> {
  return conn.token ? { Authorization: `Bearer ${conn.token}` } : {};
}

/** The body as JSON when it parses (whatever the content type says), else as text. */
async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function request<T>(
  conn: ApiConnection,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  schema: Schema<T>,
  options: { query?: Record<string, string | number | undefined>; body?: unknown; form?: FormData; headers?: Record<string, string>; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<T> {
  const url = apiUrl(conn, path, options.query);
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(conn), ...options.headers };
  // A form sets its own multipart Content-Type (with the boundary).
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const timeoutMs = options.timeoutMs ?? conn.timeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await (conn.fetch ?? fetch)(url, {
      method,
      headers,
      body: options.form ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeError(error);
    throw new ApiClientError('unreachable', `cannot reach the API at ${conn.baseUrl}: ${why}`, [], { cause: error });
  }
  const body = await readBody(response);
  if (!response.ok) throw new ApiRequestError(response.status, body, method, url);
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new ApiClientError('invalid_response', `${method} ${path} answered with a body that does not match its schema`, zodIssuesToDetails(parsed.error));
  }
  return parsed.data;
}

const sweepPath = (sweepId: string) => `/sweeps/${encodeURIComponent(sweepId)}`;

/** POST /sweeps. The server creates one sweep per Idempotency-Key, so a retried submit is safe. */
export function createSweep(conn: ApiConnection, body: CreateSweepRequestInput, options: { idempotencyKey: string }): Promise<Sweep> {
  return request(conn, 'POST', '/sweeps', Sweep, { body, headers: { 'Idempotency-Key': options.idempotencyKey } });
}

export interface ListSweepsParams {
  readonly limit?: number;
  readonly cursor?: string;
  readonly status?: readonly SweepStatus[];
}

/** GET /sweeps: one page, newest first. */
export function listSweeps(conn: ApiConnection, params: ListSweepsParams = {}): Promise<SweepPage> {
  return request(conn, 'GET', '/sweeps', SweepPage, {
    query: { limit: params.limit, cursor: params.cursor, status: params.status?.join(',') },
  });
}

export function getSweep(conn: ApiConnection, sweepId: string): Promise<Sweep> {
  return request(conn, 'GET', sweepPath(sweepId), Sweep);
}

export function cancelSweep(conn: ApiConnection, sweepId: string): Promise<Sweep> {
  return request(conn, 'POST', `${sweepPath(sweepId)}/cancel`, Sweep);
}

export interface ListTrialsParams {
  readonly limit?: number;
  readonly cursor?: string;
  readonly status?: readonly TrialStatus[];
  readonly sort?: 'number' | 'bestValue' | 'finalValue' | 'createdAt';
  readonly order?: 'asc' | 'desc';
}

/** GET /sweeps/{id}/trials: one page (by number, ascending, unless told otherwise). */
export function listTrials(conn: ApiConnection, sweepId: string, params: ListTrialsParams = {}): Promise<TrialPage> {
  return request(conn, 'GET', `${sweepPath(sweepId)}/trials`, TrialPage, {
    query: { limit: params.limit, cursor: params.cursor, status: params.status?.join(','), sort: params.sort, order: params.order },
  });
}

export function getTrial(conn: ApiConnection, sweepId: string, trialId: string): Promise<Trial> {
  return request(conn, 'GET', `${sweepPath(sweepId)}/trials/${encodeURIComponent(trialId)}`, Trial);
}

export function stopTrial(conn: ApiConnection, sweepId: string, trialId: string): Promise<Trial> {
  return request(conn, 'POST', `${sweepPath(sweepId)}/trials/${encodeURIComponent(trialId)}/stop`, Trial);
}

/** GET /datasets: the built-ins and every upload. */
export function listDatasets(conn: ApiConnection): Promise<{ items: DatasetInfo[] }> {
  return request(conn, 'GET', '/datasets', DatasetList);
}

/** The files of an IDX upload (as read from disk: gzip or not, the server tells) and its fields. */
export interface IdxUpload {
  readonly name: string;
  readonly trainImages: Uint8Array;
  readonly trainLabels: Uint8Array;
  readonly testImages?: Uint8Array | undefined;
  readonly testLabels?: Uint8Array | undefined;
  readonly numClasses?: number | undefined;
  readonly testFraction?: number | undefined;
}

/** POST /datasets/idx as multipart/form-data: stored whole, or refused with nothing stored. */
export function uploadIdxDataset(conn: ApiConnection, upload: IdxUpload): Promise<DatasetInfo> {
  const form = new FormData();
  form.append('name', upload.name);
  if (upload.numClasses !== undefined) form.append('numClasses', String(upload.numClasses));
  if (upload.testFraction !== undefined) form.append('testFraction', String(upload.testFraction));
  for (const field of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
    const bytes = upload[field];
    // A copy on its own ArrayBuffer: Blob takes no view of a possibly shared buffer.
    if (bytes) form.append(field, new Blob([new Uint8Array(bytes)]), field);
  }
  // Tens of megabytes over a slow link take longer than a JSON call.
  return request(conn, 'POST', '/datasets/idx', DatasetInfo, { form, timeoutMs: Math.max(conn.timeoutMs ?? 0, 600_000) });
}

/** Every item of a keyset-paginated listing, page after page, following `nextCursor`. */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (page.nextCursor === null) return;
    // A server that hands back a cursor it already gave would loop forever.
    if (seen.has(page.nextCursor)) throw new ApiClientError('invalid_response', 'the API returned the same page cursor twice');
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

/** All trials of a sweep, by number, in pages of `pageSize` (max 200). */
export async function listAllTrials(conn: ApiConnection, sweepId: string, params: Omit<ListTrialsParams, 'cursor'> = {}): Promise<Trial[]> {
  const out: Trial[] = [];
  for await (const trial of paginate((cursor) => listTrials(conn, sweepId, { limit: 200, ...params, cursor }))) out.push(trial);
  return out;
}

/** A parsed event of the stream, or the raw message when it does not match the schema (a newer server). */
export type SweepStreamItem = { readonly kind: 'event'; readonly event: SweepEvent } | { readonly kind: 'unknown'; readonly message: SseMessage; readonly problem: string };

export type SweepEventsOptions = Pick<FollowSseOptions, 'lastEventId' | 'signal' | 'baseDelayMs' | 'maxDelayMs' | 'maxFailures' | 'idleTimeoutMs' | 'onOpen' | 'onDisconnect' | 'sleep'>;

/**
 * GET /sweeps/{id}/events, followed across disconnections (Last-Event-ID, backoff). Events are
 * parsed with `SweepEvent`; ids at or below the last one yielded are dropped, so a server that
 * replays too much never makes the caller see an event twice.
 */
export async function* sweepEvents(conn: ApiConnection, sweepId: string, options: SweepEventsOptions = {}): AsyncGenerator<SweepStreamItem, void, undefined> {
  let lastId = options.lastEventId !== undefined && /^\d+$/.test(options.lastEventId) ? Number(options.lastEventId) : 0;
  const url = apiUrl(conn, `${sweepPath(sweepId)}/events`);
  const stream = followSse(url, {
    ...options,
    headers: authHeaders(conn),
    ...(conn.fetch ? { fetch: conn.fetch } : {}),
    toError: async (response) => new ApiRequestError(response.status, await readBody(response), 'GET', url),
  });
  for await (const message of stream) {
    let json: unknown;
    try {
      json = JSON.parse(message.data) as unknown;
    } catch {
      yield { kind: 'unknown', message, problem: 'data is not JSON' };
      continue;
    }
    const parsed = SweepEvent.safeParse(json);
    if (!parsed.success) {
      const first = zodIssuesToDetails(parsed.error)[0];
      yield { kind: 'unknown', message, problem: first ? `${first.path || '(event)'}: ${first.message}` : 'does not match the schema' };
      continue;
    }
    if (parsed.data.id <= lastId) continue;
    lastId = parsed.data.id;
    yield { kind: 'event', event: parsed.data };
  }
}
