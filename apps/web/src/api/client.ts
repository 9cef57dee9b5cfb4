// The dashboard's REST client: every call carries the bearer token, every response is parsed with
// the API's own zod schemas (@hypersweep/schemas), and every error becomes an ApiRequestError with
// the API's {code, message, details} so forms can show each detail at its field.
import {
  API_PREFIX,
  ApiError,
  ClusterView,
  DatasetInfo,
  DatasetList,
  MetricSeries,
  PredictResponse,
  Sweep,
  SweepCurves,
  SweepPage,
  TrialModelExport,
  TrialPage,
  type CreateSweepRequestInput,
  type ErrorDetail,
  type SweepStatus,
  type TrialStatus,
} from '@hypersweep/schemas';
import type { z } from 'zod';
import { TrialResponse } from '../lib/resolved.ts';

export type TrialModelExport = z.infer<typeof TrialModelExport>;
export type DatasetList = z.infer<typeof DatasetList>;

export class ApiRequestError extends Error {
  readonly status: number;
  /** The API's error code, or a client-side one: network, invalid_response, aborted. */
  readonly code: string;
  readonly details: readonly ErrorDetail[];
  constructor(status: number, code: string, message: string, details: readonly ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The error of a failed response: the API's body when it is one, otherwise the status text. */
export function errorFromResponse(status: number, statusText: string, body: unknown): ApiRequestError {
  const parsed = ApiError.safeParse(body);
  if (parsed.success) {
    const e = parsed.data.error;
    return new ApiRequestError(status, e.code, e.message, e.details);
  }
  const code = status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : status >= 500 ? 'internal' : 'http_error';
  return new ApiRequestError(status, code, `${status} ${statusText || 'request failed'}`.trim());
}

export type QueryValue = string | number | boolean | readonly string[] | null | undefined;

/** "?a=1&status=running,queued" from defined values (arrays as the API's comma lists); "" when empty. */
export function buildQuery(params: Readonly<Record<string, QueryValue>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) search.set(key, value.join(','));
    } else {
      search.set(key, String(value));
    }
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}

export interface ApiClientOptions {
  /** Origin prefix; "" for the same origin (the API serves the dashboard). */
  readonly baseUrl?: string;
  readonly getToken: () => string | null;
  /** Called on every 401, before the error is thrown: the app returns to the login page. */
  readonly onUnauthorized: () => void;
  readonly fetch?: typeof fetch;
}

interface RequestOptions<T> {
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly body?: unknown;
  /** A multipart body instead of JSON; the browser sets its Content-Type (with the boundary). */
  readonly form?: FormData;
  readonly headers?: Readonly<Record<string, string>>;
  readonly schema?: z.ZodType<T>;
  readonly signal?: AbortSignal;
}

export interface ListTrialsParams {
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly status?: readonly TrialStatus[];
  readonly sort?: 'number' | 'bestValue' | 'finalValue' | 'createdAt';
  readonly order?: 'asc' | 'desc';
}

export interface ListSweepsParams {
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly status?: readonly SweepStatus[];
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl ?? '';
    // Bound: window.fetch throws "Illegal invocation" when called as a method of another object.
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Absolute URL of an API path ("/sweeps" → "/api/v1/sweeps"). */
  url(path: string, query: Readonly<Record<string, QueryValue>> = {}): string {
    return `${this.baseUrl}${API_PREFIX}${path}${buildQuery(query)}`;
  }

  /** Headers of every request: the bearer token when signed in. */
  authHeaders(): Record<string, string> {
    const token = this.options.getToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /** A raw authorised fetch (the SSE stream reads its body itself). */
  async rawFetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = { ...this.authHeaders(), ...(init.headers as Record<string, string> | undefined) };
    let response: Response;
    try {
      response = await this.fetchImpl(url, { ...init, headers });
    } catch (err) {
      if (init.signal?.aborted) throw new ApiRequestError(0, 'aborted', 'the request was cancelled');
      throw new ApiRequestError(0, 'network', `cannot reach the API: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (response.status === 401) this.options.onUnauthorized();
    return response;
  }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, opts: RequestOptions<T> = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    let body: string | FormData | undefined = opts.form;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const response = await this.rawFetch(this.url(path, opts.query), { method, headers, body, signal: opts.signal });
    const text = await response.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!response.ok) throw errorFromResponse(response.status, response.statusText, json);
    if (!opts.schema) return json as T;
    const parsed = opts.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'unexpected shape';
      throw new ApiRequestError(response.status, 'invalid_response', `the API answered ${method} ${path} with an unexpected body (${where})`);
    }
    return parsed.data;
  }

  listSweeps(params: ListSweepsParams = {}, signal?: AbortSignal) {
    return this.request('GET', '/sweeps', { query: { limit: params.limit, cursor: params.cursor, status: params.status }, schema: SweepPage, signal });
  }
  getSweep(sweepId: string, signal?: AbortSignal) {
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}`, { schema: Sweep, signal });
  }
  createSweep(body: CreateSweepRequestInput | unknown, idempotencyKey: string) {
    return this.request('POST', '/sweeps', { body, headers: { 'Idempotency-Key': idempotencyKey }, schema: Sweep });
  }
  cancelSweep(sweepId: string) {
    return this.request('POST', `/sweeps/${encodeURIComponent(sweepId)}/cancel`, { schema: Sweep });
  }
  listTrials(sweepId: string, params: ListTrialsParams = {}, signal?: AbortSignal) {
    const { limit, cursor, status, sort, order } = params;
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}/trials`, { query: { limit, cursor, status, sort, order }, schema: TrialPage, signal });
  }
  getTrial(sweepId: string, trialId: string, signal?: AbortSignal) {
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}/trials/${encodeURIComponent(trialId)}`, { schema: TrialResponse, signal });
  }
  stopTrial(sweepId: string, trialId: string) {
    return this.request('POST', `/sweeps/${encodeURIComponent(sweepId)}/trials/${encodeURIComponent(trialId)}/stop`, { schema: TrialResponse });
  }
  getMetrics(sweepId: string, trialId: string, params: { names?: readonly string[]; maxPoints?: number } = {}, signal?: AbortSignal) {
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}/trials/${encodeURIComponent(trialId)}/metrics`, {
      query: { names: params.names, maxPoints: params.maxPoints },
      schema: MetricSeries,
      signal,
    });
  }
  /** Every trial's curves of a few metrics, downsampled, with the event id they are current to. */
  getCurves(sweepId: string, params: { names?: readonly string[]; maxPoints?: number } = {}, signal?: AbortSignal) {
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}/curves`, {
      query: { names: params.names, maxPoints: params.maxPoints },
      schema: SweepCurves,
      signal,
    });
  }
  exportModel(sweepId: string, trialId: string, signal?: AbortSignal) {
    return this.request('GET', `/sweeps/${encodeURIComponent(sweepId)}/trials/${encodeURIComponent(trialId)}/export`, { schema: TrialModelExport, signal });
  }
  predict(sweepId: string, trialId: string, inputs: number[][]) {
    return this.request('POST', `/sweeps/${encodeURIComponent(sweepId)}/trials/${encodeURIComponent(trialId)}/predict`, { body: { inputs }, schema: PredictResponse });
  }
  listDatasets(signal?: AbortSignal) {
    return this.request('GET', '/datasets', { schema: DatasetList, signal });
  }
  /** POST /datasets/idx: fields name, numClasses?, testFraction? and the files trainImages, trainLabels, testImages?, testLabels?. */
  uploadIdxDataset(form: FormData) {
    return this.request('POST', '/datasets/idx', { form, schema: DatasetInfo });
  }
  getCluster(signal?: AbortSignal) {
    return this.request('GET', '/workers', { schema: ClusterView, signal });
  }
}

/** All pages of a keyset-paginated listing, up to `max` items, in order. */
export async function fetchAllPages<T>(
  page: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>,
  max = 10_000,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const p = await page(cursor);
    out.push(...p.items);
    cursor = p.nextCursor;
  } while (cursor !== null && out.length < max);
  return out.slice(0, max);
}
