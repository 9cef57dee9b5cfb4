// HypersweepClient: one typed method per route of the REST API (apps/api/src/routes), responses
// parsed with the API's own zod schemas (@hypersweep/schemas), failures as ApiError. Browser-safe:
// fetch, FormData and Blob only, no Node modules.
import {
  API_PREFIX,
  ApiTokenCreated,
  CreateApiTokenRequest,
  ApiTokenList,
  ClusterView,
  DatasetInfo,
  DatasetList,
  HealthResponse,
  MetricSeries,
  PredictResponse,
  ReadyResponse,
  Sweep,
  SweepCurves,
  SweepPage,
  Trial,
  TrialDetail,
  TrialModelExport,
  TrialPage,
  zodIssuesToDetails,
  type ApiTokenInfo,
  type CreateSweepRequestInput,
  type SweepEvent,
  type SweepStatus,
  type TrialStatus,
} from '@hypersweep/schemas';
import { z } from 'zod';
import { parseAnswer } from './answers.ts';
import { AskAnswer, HeartbeatAnswer, ReportDecision, TellAnswer, type AskResult, type ReportRequest, type TellRequest } from './ask-tell.ts';
import { trialTable, trialTableCsv } from './csv.ts';
import { ApiError, describeError } from './errors.ts';
import { followSse, readBody, type FollowSseOptions, type SseMessage } from './sse.ts';
import { decodeSweepEvents, type DecodedSweepEvents, type SweepEventFilter } from './sweep-events.ts';

export type TrialModelExport = z.infer<typeof TrialModelExport>;
export type DatasetList = z.infer<typeof DatasetList>;
export type ApiTokenList = z.infer<typeof ApiTokenList>;
export type OpenApiDocument = Record<string, unknown>;

export interface HypersweepClientOptions {
  /** The API's origin, e.g. "http://127.0.0.1:8080" (no /api/v1); a path prefix is kept. "" or a path: relative to the page (the dashboard). */
  readonly baseUrl: string;
  /** Bearer token, or a function read at every request (a token that changes while signed in). */
  readonly token?: string | (() => string | null | undefined) | undefined;
  /** Replaces global fetch (tests, other transports). */
  readonly fetch?: typeof fetch;
  /** Per-request timeout of JSON routes (not the event stream); 0 for none. Default 30 s. */
  readonly timeoutMs?: number;
  /** Called on every 401 before the error is thrown (a dashboard returns to its login page). */
  readonly onUnauthorized?: (error: ApiError) => void;
}

/** Options every call takes. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface ListSweepsParams {
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly status?: readonly SweepStatus[];
  readonly sort?: 'createdAt' | 'name';
  readonly order?: 'asc' | 'desc';
  /** Only this project's sweeps (of those the token sees). */
  readonly project?: string;
}

export interface ListTrialsParams {
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly status?: readonly TrialStatus[];
  readonly sort?: 'number' | 'bestValue' | 'finalValue' | 'createdAt';
  readonly order?: 'asc' | 'desc';
}

export interface MetricsParams {
  readonly names?: readonly string[];
  readonly maxPoints?: number;
  readonly fromStep?: number;
  readonly toStep?: number;
}

/**
 * The files of an IDX upload (gzip or not: the server tells) and its fields. The training pair is
 * required by the API, which answers a 400 naming each missing file (forms show it at the input).
 */
export interface IdxUpload {
  readonly name: string;
  readonly trainImages?: Uint8Array | Blob | undefined;
  readonly trainLabels?: Uint8Array | Blob | undefined;
  readonly testImages?: Uint8Array | Blob | undefined;
  readonly testLabels?: Uint8Array | Blob | undefined;
  readonly numClasses?: number | undefined;
  readonly testFraction?: number | undefined;
  /** The project it goes to (default: the token's only project, else `default`). */
  readonly project?: string | undefined;
}

/** The query of a CSV upload (POST /datasets): see CsvUploadQuery of @hypersweep/schemas. */
export interface CsvUploadOptions {
  readonly name: string;
  /** A header name, or a 0-based index (negative from the end). */
  readonly labelColumn: string;
  readonly task: 'classification' | 'regression';
  readonly header?: 'true' | 'false' | 'auto';
  readonly delimiter?: string;
  readonly validationFraction?: number;
  readonly testFraction?: number;
  /** The project it goes to (default: the token's only project, else `default`). */
  readonly project?: string;
}

/** A parsed event of the stream, or the raw message when it does not match the schema (a newer server). */
export type SweepStreamItem =
  | { readonly kind: 'event'; readonly event: SweepEvent }
  | { readonly kind: 'unknown'; readonly message: Partial<SseMessage> & { readonly data: string }; readonly problem: string };

export type SweepEventsOptions = Omit<FollowSseOptions, 'lastEventId'> &
  SweepEventFilter & {
    /** Resume after this event id (a sweep's `lastEventId`, or the last one a previous follow saw). */
    readonly lastEventId?: number | string;
  };

type QueryValue = string | number | boolean | readonly string[] | null | undefined;
type Query = Readonly<Record<string, QueryValue>>;

interface RequestOptions extends CallOptions {
  readonly query?: Query;
  readonly json?: unknown;
  readonly form?: FormData;
  readonly text?: { readonly body: string; readonly contentType: string };
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** /healthz and /readyz live outside /api/v1. */
  readonly root?: boolean;
}

const enc = encodeURIComponent;

/** Every item of a keyset-paginated listing, page after page, following `nextCursor`. */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (page.nextCursor === null) return;
    // A server that hands back a cursor it already gave would loop forever.
    if (seen.has(page.nextCursor)) throw new ApiError(200, 'invalid_response', 'the API returned the same page cursor twice');
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

export class HypersweepClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly tokenOf: () => string | null | undefined;

  constructor(private readonly options: HypersweepClientOptions) {
    this.baseUrl = options.baseUrl;
    // Bound: window.fetch throws "Illegal invocation" when called as a method of another object.
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    const token = options.token;
    this.tokenOf = typeof token === 'function' ? token : () => token;
  }

  // -------------------------------------------------------------------------------------------
  // Transport
  // -------------------------------------------------------------------------------------------

  /** The URL of an API path ("/sweeps" → "<base>/api/v1/sweeps"), with the defined query values (arrays as comma lists). */
  url(path: string, query: Query = {}, options: { root?: boolean } = {}): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) {
        if (value.length > 0) search.set(key, value.join(','));
      } else {
        search.set(key, String(value));
      }
    }
    const qs = search.toString();
    const full = `${options.root ? '' : API_PREFIX}${path}${qs ? `?${qs}` : ''}`;
    if (/^[a-z][a-z0-9+.-]*:/i.test(this.baseUrl)) {
      // Relative to the base, so an API mounted under a path prefix (https://host/hypersweep/) keeps it.
      return new URL(full.slice(1), this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`).toString();
    }
    return `${this.baseUrl.replace(/\/$/, '')}${full}`;
  }

  /** The Authorization header when there is a token. */
  authHeaders(): Record<string, string> {
    const token = this.tokenOf();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /**
   * One authorised HTTP exchange, the body unread. A failure to get an answer is an ApiError
   * (`unreachable`, `aborted`); a 401 calls onUnauthorized. Statuses are the caller's business.
   */
  async send(method: string, url: string, init: { headers?: Record<string, string>; body?: BodyInit; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Response> {
    const timeoutMs = init.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signal = init.signal && timeout ? AbortSignal.any([init.signal, timeout]) : (init.signal ?? timeout);
    let response: Response;
    try {
      response = await this.fetchImpl(url, { method, headers: { ...this.authHeaders(), ...init.headers }, body: init.body, signal });
    } catch (error) {
      if (init.signal?.aborted) throw new ApiError(0, 'aborted', 'the request was cancelled', { cause: error });
      const why = timeout?.aborted ? `no answer within ${timeoutMs} ms` : describeError(error);
      throw new ApiError(0, 'unreachable', `cannot reach the API${this.baseUrl ? ` at ${this.baseUrl}` : ''}: ${why}`, { cause: error });
    }
    if (response.status === 401) {
      // Reported before the body is read, so the app reacts even if the caller drops the error.
      this.options.onUnauthorized?.(new ApiError(401, 'unauthorized', 'the API refused the token'));
    }
    return response;
  }

  /** A JSON route: sends, checks the status, parses the body with `schema`. */
  async request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, schema: z.ZodType<T>, options: RequestOptions = {}): Promise<T> {
    const url = this.url(path, options.query, { root: options.root });
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    let body: BodyInit | undefined = options.form;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.text) {
      headers['Content-Type'] = options.text.contentType;
      body = options.text.body;
    }
    const response = await this.send(method, url, { headers, body, signal: options.signal, timeoutMs: options.timeoutMs });
    const json = await readBody(response);
    if (!response.ok) throw ApiError.fromResponse(response.status, json, `${method} ${url}`);
    return this.parse(schema, json, response.status, `${method} ${path}`);
  }

  private parse<T>(schema: z.ZodType<T>, json: unknown, status: number, what: string): T {
    const parsed = parseAnswer(schema, json);
    if (!parsed.success) {
      throw new ApiError(status, 'invalid_response', `${what} answered with a body that does not match its schema`, { details: zodIssuesToDetails(parsed.error), body: json });
    }
    return parsed.data;
  }

  // -------------------------------------------------------------------------------------------
  // Sweeps and trials
  // -------------------------------------------------------------------------------------------

  /**
   * POST /sweeps. With an Idempotency-Key the server creates one sweep per key (per project), so a
   * retried submit is safe; `project` names the project (default: the token's only one, else `default`).
   */
  createSweep(body: CreateSweepRequestInput, options: CallOptions & { idempotencyKey?: string; project?: string } = {}): Promise<Sweep> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : {};
    return this.request('POST', '/sweeps', Sweep, { json: body, headers, query: { project: options.project }, signal: options.signal });
  }

  /** GET /sweeps: one page, newest first unless told otherwise. */
  listSweeps(params: ListSweepsParams = {}, options: CallOptions = {}): Promise<SweepPage> {
    const { limit, cursor, status, sort, order, project } = params;
    return this.request('GET', '/sweeps', SweepPage, { query: { limit, cursor, status, sort, order, project }, signal: options.signal });
  }

  getSweep(sweepId: string, options: CallOptions = {}): Promise<Sweep> {
    return this.request('GET', `/sweeps/${enc(sweepId)}`, Sweep, options);
  }

  /** POST /sweeps/{id}/cancel: running trials stop, no new trial starts. */
  cancelSweep(sweepId: string, options: CallOptions = {}): Promise<Sweep> {
    return this.request('POST', `/sweeps/${enc(sweepId)}/cancel`, Sweep, options);
  }

  /** GET /sweeps/{id}/trials: one page (by number, ascending, unless told otherwise). */
  listTrials(sweepId: string, params: ListTrialsParams = {}, options: CallOptions = {}): Promise<TrialPage> {
    const { limit, cursor, status, sort, order } = params;
    return this.request('GET', `/sweeps/${enc(sweepId)}/trials`, TrialPage, { query: { limit, cursor, status, sort, order }, signal: options.signal });
  }

  /** Every trial of a sweep (pages of 200 unless `limit` says otherwise), up to `max`. */
  async listAllTrials(sweepId: string, params: Omit<ListTrialsParams, 'cursor'> = {}, options: CallOptions & { max?: number } = {}): Promise<Trial[]> {
    const max = options.max ?? Number.POSITIVE_INFINITY;
    const out: Trial[] = [];
    for await (const trial of paginate((cursor) => this.listTrials(sweepId, { limit: 200, ...params, cursor }, options))) {
      if (out.length >= max) break;
      out.push(trial);
    }
    return out;
  }

  /** GET one trial, with the spec it trains (`resolved`). */
  getTrial(sweepId: string, trialId: string, options: CallOptions = {}): Promise<TrialDetail> {
    return this.request('GET', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}`, TrialDetail, options);
  }

  /** POST …/stop: a running trial is stopped, a queued one cancelled. */
  stopTrial(sweepId: string, trialId: string, options: CallOptions = {}): Promise<Trial> {
    return this.request('POST', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/stop`, Trial, options);
  }

  /** A trial's metric curves, downsampled to `maxPoints`. */
  getMetrics(sweepId: string, trialId: string, params: MetricsParams = {}, options: CallOptions = {}): Promise<MetricSeries> {
    const { names, maxPoints, fromStep, toStep } = params;
    return this.request('GET', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/metrics`, MetricSeries, { query: { names, maxPoints, fromStep, toStep }, signal: options.signal });
  }

  /** Every trial's curves of a few metrics, downsampled, with the event id they are current to. */
  getCurves(sweepId: string, params: Pick<MetricsParams, 'names' | 'maxPoints'> = {}, options: CallOptions = {}): Promise<SweepCurves> {
    return this.request('GET', `/sweeps/${enc(sweepId)}/curves`, SweepCurves, { query: { names: params.names, maxPoints: params.maxPoints }, signal: options.signal });
  }

  /** A trial's model in the TensorFlow.js Layers format (model.json and base64 weights). */
  exportModel(sweepId: string, trialId: string, options: CallOptions = {}): Promise<TrialModelExport> {
    return this.request('GET', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/export`, TrialModelExport, options);
  }

  /** Predictions of a trial's model on raw feature rows. */
  predict(sweepId: string, trialId: string, inputs: readonly (readonly number[])[], options: CallOptions = {}): Promise<PredictResponse> {
    return this.request('POST', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/predict`, PredictResponse, { json: { inputs }, signal: options.signal });
  }

  /** Every trial of a sweep as CSV (RFC 4180, CRLF): the table of `trialTable`. */
  async trialsCsv(sweepId: string, options: CallOptions = {}): Promise<string> {
    return trialTableCsv(trialTable(await this.listAllTrials(sweepId, {}, options)));
  }

  // -------------------------------------------------------------------------------------------
  // Event stream
  // -------------------------------------------------------------------------------------------

  /**
   * GET /sweeps/{id}/events, followed across disconnections (Last-Event-ID, backoff), as the
   * decoded events of each network chunk, with the last id it moved to. Ids at or below the last
   * one delivered are dropped.
   * Ends when the server says the sweep is over (204), on the signal, or when `shouldReconnect` declines.
   */
  async *sweepEventBatches(sweepId: string, options: SweepEventsOptions = {}): AsyncGenerator<DecodedSweepEvents, void, undefined> {
    const { types, prefilter, lastEventId, ...follow } = options;
    const start = lastEventId === undefined ? '' : String(lastEventId);
    let lastId = /^\d+$/.test(start) ? Number(start) : 0;
    const url = this.url(`/sweeps/${enc(sweepId)}/events`);
    const connect = ({ lastEventId: resumeAfter, signal }: { lastEventId: string; signal: AbortSignal }) =>
      this.send('GET', url, {
        headers: { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', ...(resumeAfter !== '' ? { 'Last-Event-ID': resumeAfter } : {}) },
        signal,
        timeoutMs: 0,
      });
    for await (const messages of followSse(connect, { ...follow, lastEventId: start })) {
      const decoded = decodeSweepEvents(messages, lastId, { types, prefilter });
      // A batch of filtered-out messages still moves the last id on: yielded, with no events.
      if (decoded.events.length > 0 || decoded.rejected.length > 0 || decoded.lastId > lastId) yield decoded;
      lastId = decoded.lastId;
    }
  }

  /** The same stream one item at a time: each event, or a message the schema refused (a newer server's event). */
  async *sweepEvents(sweepId: string, options: SweepEventsOptions = {}): AsyncGenerator<SweepStreamItem, void, undefined> {
    for await (const batch of this.sweepEventBatches(sweepId, options)) {
      for (const { message, problem } of batch.rejected) yield { kind: 'unknown', message, problem };
      for (const event of batch.events) yield { kind: 'event', event };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ask/tell (docs/ask-tell.md): a training loop that runs anywhere claims trials under a lease
  // -------------------------------------------------------------------------------------------

  /** POST /sweeps/{id}/ask: claims a queued trial (two askers never get the same one), or says when to ask again. */
  async ask(sweepId: string, options: CallOptions = {}): Promise<AskResult> {
    const url = this.url(`/sweeps/${enc(sweepId)}/ask`);
    const response = await this.send('POST', url, { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: '{}', signal: options.signal });
    const json = await readBody(response);
    if (response.status === 204) {
      const header = response.headers.get('retry-after');
      const seconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header.trim()) : null;
      return { status: 'wait', retryAfterSeconds: seconds };
    }
    if (!response.ok) throw ApiError.fromResponse(response.status, json, `POST ${url}`);
    return { status: 'assigned', ...this.parse(AskAnswer, json, response.status, `POST /sweeps/${sweepId}/ask`) };
  }

  /** Keeps the lease alive; an ApiError 409 once it is lost. */
  heartbeat(sweepId: string, trialId: string, leaseId: string, options: CallOptions = {}): Promise<HeartbeatAnswer> {
    return this.request('POST', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/heartbeat`, HeartbeatAnswer, { json: { leaseId }, signal: options.signal });
  }

  /** One step's metrics (steps in order from startStep + 1); the answer is the scheduler's decision. Renews the lease. */
  report(sweepId: string, trialId: string, report: ReportRequest, options: CallOptions = {}): Promise<ReportDecision> {
    const body = { leaseId: report.leaseId, step: report.step, metrics: report.metrics };
    return this.request('POST', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/report`, ReportDecision, { json: body, signal: options.signal });
  }

  /** The final result: `completed` (also after a stop decision) or `failed` with an error. */
  tell(sweepId: string, trialId: string, result: TellRequest, options: CallOptions = {}): Promise<TellAnswer> {
    const body = { leaseId: result.leaseId, status: result.status, ...(result.error !== undefined ? { error: result.error } : {}) };
    return this.request('POST', `/sweeps/${enc(sweepId)}/trials/${enc(trialId)}/tell`, TellAnswer, { json: body, signal: options.signal });
  }

  // -------------------------------------------------------------------------------------------
  // Datasets
  // -------------------------------------------------------------------------------------------

  /** GET /datasets: the built-ins and every upload. */
  listDatasets(options: CallOptions = {}): Promise<DatasetList> {
    return this.request('GET', '/datasets', DatasetList, options);
  }

  getDataset(datasetId: string, options: CallOptions = {}): Promise<DatasetInfo> {
    return this.request('GET', `/datasets/${enc(datasetId)}`, DatasetInfo, options);
  }

  /** POST /datasets: a CSV file, parsed by the server with these options (name, labelColumn, task, …). */
  uploadCsvDataset(csv: string, query: CsvUploadOptions, options: CallOptions = {}): Promise<DatasetInfo> {
    return this.request('POST', '/datasets', DatasetInfo, { query: { ...query }, text: { body: csv, contentType: 'text/csv' }, signal: options.signal, timeoutMs: this.uploadTimeoutMs() });
  }

  /** POST /datasets/idx as multipart/form-data: stored whole, or refused with nothing stored. */
  uploadIdxDataset(upload: IdxUpload, options: CallOptions = {}): Promise<DatasetInfo> {
    const form = new FormData();
    form.append('name', upload.name);
    if (upload.numClasses !== undefined) form.append('numClasses', String(upload.numClasses));
    if (upload.testFraction !== undefined) form.append('testFraction', String(upload.testFraction));
    for (const field of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
      const file = upload[field];
      if (file === undefined) continue;
      // Bytes are copied onto their own ArrayBuffer: Blob takes no view of a possibly shared buffer.
      const blob = file instanceof Uint8Array ? new Blob([new Uint8Array(file)]) : file;
      // A browser File keeps its name; bytes are named after their field.
      const fileName = 'name' in file && typeof file.name === 'string' ? file.name : field;
      form.append(field, blob, fileName);
    }
    return this.request('POST', '/datasets/idx', DatasetInfo, { form, query: { project: upload.project }, signal: options.signal, timeoutMs: this.uploadTimeoutMs() });
  }

  /** Tens of megabytes over a slow link take longer than a JSON call. */
  private uploadTimeoutMs(): number {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    return timeoutMs === 0 ? 0 : Math.max(timeoutMs, 600_000);
  }

  // -------------------------------------------------------------------------------------------
  // Tokens
  // -------------------------------------------------------------------------------------------

  /** Every token by prefix (never the secret), revoked ones included. */
  async listTokens(options: CallOptions = {}): Promise<ApiTokenInfo[]> {
    return (await this.request('GET', '/tokens', ApiTokenList, options)).items;
  }

  /** A new token: the only time its secret (`token`) is shown. */
  createToken(request: z.input<typeof CreateApiTokenRequest>, options: CallOptions = {}): Promise<ApiTokenCreated> {
    return this.request('POST', '/tokens', ApiTokenCreated, { json: request, signal: options.signal });
  }

  async revokeToken(tokenId: string, options: CallOptions = {}): Promise<void> {
    await this.request('DELETE', `/tokens/${enc(tokenId)}`, z.undefined(), options);
  }

  // -------------------------------------------------------------------------------------------
  // Meta
  // -------------------------------------------------------------------------------------------

  /** GET /healthz (public): the process is up. */
  health(options: CallOptions = {}): Promise<z.infer<typeof HealthResponse>> {
    return this.request('GET', '/healthz', HealthResponse, { ...options, root: true });
  }

  /** GET /readyz (public): PostgreSQL and Redis checks; answered 503 when not ready, returned all the same. */
  async ready(options: CallOptions = {}): Promise<ReadyResponse> {
    const url = this.url('/readyz', {}, { root: true });
    const response = await this.send('GET', url, { headers: { Accept: 'application/json' }, signal: options.signal });
    const json = await readBody(response);
    if (!response.ok && response.status !== 503) throw ApiError.fromResponse(response.status, json, `GET ${url}`);
    return this.parse(ReadyResponse, json, response.status, 'GET /readyz');
  }

  /** GET /workers: every worker's last heartbeat and the cluster's totals. */
  getCluster(options: CallOptions = {}): Promise<ClusterView> {
    return this.request('GET', '/workers', ClusterView, options);
  }

  /** GET /openapi.json: the OpenAPI 3.1 document of the API. */
  getOpenApi(options: CallOptions = {}): Promise<OpenApiDocument> {
    return this.request('GET', '/openapi.json', z.record(z.string(), z.unknown()), options);
  }
}
