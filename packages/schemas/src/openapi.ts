// The OpenAPI 3.1 document of the REST API, generated from the zod schemas (z.toJSONSchema) so
// the document cannot drift from what the API validates. Named schemas become $ref components.
import { z } from 'zod';
import { ApiError } from './common.ts';
import { SweepEvent } from './events.ts';
import {
  CsvUploadQuery,
  DatasetPathParams,
  IdempotencyKey,
  IdxUploadFields,
  LastEventId,
  EventsQuery,
  ListSweepsQuery,
  ListTrialsQuery,
  MetricsQuery,
  SweepCurvesQuery,
  TargetProjectQuery,
  SweepPathParams,
  TokenPathParams,
  TrialPathParams,
} from './queries.ts';
import {
  CreateProjectRequest,
  EnqueueTrialsRequest,
  EnqueuedTrials,
  SweepStorage,
  UpdateSweepRequest,
  ProjectInfo,
  ProjectList,
  ProjectPathParams,
  UpdateProjectRequest,
  ApiTokenCreated,
  ApiTokenInfo,
  ApiTokenList,
  WhoAmI,
  BestTrial,
  ClusterView,
  CreateApiTokenRequest,
  DatasetInfo,
  DatasetList,
  HealthResponse,
  MetricSeries,
  PredictRequest,
  SweepCurves,
  PredictResponse,
  ReadyResponse,
  Sweep,
  SweepPage,
  SweepProgress,
  SweepStatus,
  SweepSummary,
  Trial,
  TrialCounts,
  TrialDetail,
  TrialModelExport,
  TrialPage,
  TrialStatus,
  WorkerStatus,
} from './responses.ts';
import { CreateSweepRequest, DatasetRef, ModelSpec, ObjectiveSpec, SearchSpec, TrainingSpec } from './sweep.ts';
import { ExternalSweepRequest, TrainableSweepRequest } from './kinds.ts';
import { AskResponse, LeaseRequest, LeaseResponse, ReportRequest, ReportResponse, TellRequest, TellResponse } from './ask-tell.ts';

export const API_PREFIX = '/api/v1';

type Io = 'input' | 'output';

/** Request bodies, as clients write them (defaults optional). */
const REQUEST_COMPONENTS: Record<string, z.ZodType> = {
  CreateSweepRequest,
  TrainableSweepRequest,
  ExternalSweepRequest,
  LeaseRequest,
  ReportRequest,
  TellRequest,
  DatasetRef,
  ModelSpec,
  TrainingSpec,
  SearchSpec,
  CreateApiTokenRequest,
  CreateProjectRequest,
  UpdateProjectRequest,
  UpdateSweepRequest,
  EnqueueTrialsRequest,
  PredictRequest,
};

/** Responses, as the API sends them (defaults applied). */
const RESPONSE_COMPONENTS: Record<string, z.ZodType> = {
  ApiError,
  ProjectInfo,
  ProjectList,
  EnqueuedTrials,
  SweepStorage,
  SweepStatus,
  TrialStatus,
  TrialCounts,
  SweepProgress,
  BestTrial,
  Objective: ObjectiveSpec,
  SweepSpec: CreateSweepRequest,
  AskResponse,
  LeaseResponse,
  ReportResponse,
  TellResponse,
  Sweep,
  SweepSummary,
  SweepPage,
  Trial,
  TrialDetail,
  TrialPage,
  MetricSeries,
  SweepCurves,
  WorkerStatus,
  ClusterView,
  ApiTokenInfo,
  ApiTokenList,
  ApiTokenCreated,
  WhoAmI,
  DatasetInfo,
  DatasetList,
  TrialModelExport,
  PredictResponse,
  SweepEvent,
  HealthResponse,
  ReadyResponse,
};

type Json = Record<string, unknown>;

interface Body {
  readonly schema?: z.ZodType;
  /** A component name, when the body is one. */
  readonly ref?: string;
  readonly contentType?: string;
  readonly description: string;
}

export interface ApiRoute {
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** Full path with {params}, e.g. "/api/v1/sweeps/{sweepId}". */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  readonly pathParams?: z.ZodObject;
  readonly query?: z.ZodType;
  readonly headers?: readonly { name: string; schema: z.ZodType; required: boolean; description: string }[];
  readonly body?: Body;
  /** Status → body (undefined body: no content). Error statuses get ApiError automatically. */
  readonly responses: Readonly<Record<number, Body>>;
  readonly errors: readonly number[];
  /** Reachable without a bearer token. */
  readonly public?: boolean;
}

const json = (ref: string, description: string): Body => ({ ref, description });
const idxFile = (description: string) => z.string().meta({ format: 'binary', description });
/** The parts of POST /datasets/idx: IdxUploadFields beside the files. */
const IdxUploadForm = IdxUploadFields.extend({
  trainImages: idxFile('ubyte IDX images [N, H, W] (magic 0x00000803) or [N, H, W, C] with C 1 or 3 (0x00000804), gzip or not'),
  trainLabels: idxFile('ubyte IDX labels [N] (magic 0x00000801), gzip or not'),
  testImages: idxFile('test images, shaped like trainImages').optional(),
  testLabels: idxFile('test labels').optional(),
});
const COMMON_ERRORS = [400, 401, 429, 431];

/** Every route of the API; the API mounts exactly these (a test there can compare). */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'post', path: `${API_PREFIX}/sweeps`, operationId: 'createSweep', tag: 'sweeps',
    summary: 'Submit a sweep; the same Idempotency-Key and body create it once',
    query: TargetProjectQuery,
    headers: [{ name: 'Idempotency-Key', schema: IdempotencyKey, required: false, description: 'Retries with the same key return the sweep created first' }],
    body: json('CreateSweepRequest', 'The sweep'),
    responses: { 201: json('Sweep', 'Created'), 200: json('Sweep', 'Already created with this Idempotency-Key') },
    errors: [...COMMON_ERRORS, 413, 415, 422],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps`, operationId: 'listSweeps', tag: 'sweeps', summary: 'List sweeps (keyset pagination)',
    query: ListSweepsQuery, responses: { 200: json('SweepPage', 'A page of sweeps') }, errors: COMMON_ERRORS,
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}`, operationId: 'getSweep', tag: 'sweeps', summary: 'A sweep with counts, progress and best trial',
    pathParams: SweepPathParams, responses: { 200: json('Sweep', 'The sweep') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/cancel`, operationId: 'cancelSweep', tag: 'sweeps', summary: 'Cancel a sweep: running trials stop, none starts',
    pathParams: SweepPathParams, responses: { 200: json('Sweep', 'The cancelled sweep') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/pause`, operationId: 'pauseSweep', tag: 'sweeps', summary: 'Pause a sweep: running trials checkpoint and release, none starts',
    pathParams: SweepPathParams, responses: { 200: json('Sweep', 'The paused sweep') }, errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/resume`, operationId: 'resumeSweep', tag: 'sweeps', summary: 'Resume a paused sweep where it stood',
    pathParams: SweepPathParams, responses: { 200: json('Sweep', 'The running sweep') }, errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  {
    method: 'patch', path: `${API_PREFIX}/sweeps/{sweepId}`, operationId: 'updateSweep', tag: 'sweeps', summary: "Change a sweep's budget (maxTrials, maxConcurrentTrials, maxTotalEpochs)",
    pathParams: SweepPathParams, body: json('UpdateSweepRequest', 'Budget fields to set'), responses: { 200: json('Sweep', 'The sweep') }, errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials`, operationId: 'enqueueTrials', tag: 'sweeps', summary: 'Enqueue given configurations (warm start, your own guesses)',
    pathParams: SweepPathParams, body: json('EnqueueTrialsRequest', 'The configurations'), responses: { 201: json('EnqueuedTrials', 'The queued trials') }, errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/storage`, operationId: 'getSweepStorage', tag: 'sweeps', summary: 'What the sweep stores: checkpoints (count, bytes), metric rows, events',
    pathParams: SweepPathParams, responses: { 200: json('SweepStorage', 'Its storage') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'delete', path: `${API_PREFIX}/sweeps/{sweepId}`, operationId: 'deleteSweep', tag: 'sweeps', summary: 'Delete an ended sweep with its trials, metrics, checkpoints and events',
    pathParams: SweepPathParams, responses: { 204: { description: 'Deleted' } }, errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/ask`, operationId: 'askTrial', tag: 'ask-tell',
    summary: "Lease a queued trial of an external sweep (docs/ask-tell.md); 204 with Retry-After when none is ready",
    pathParams: SweepPathParams, responses: { 200: json('AskResponse', 'The leased trial'), 204: { description: 'No trial ready yet, or the sweep is paused' } }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/heartbeat`, operationId: 'heartbeatTrial', tag: 'ask-tell', summary: "Renew a trial's lease",
    pathParams: TrialPathParams, body: json('LeaseRequest', 'The lease'), responses: { 200: json('LeaseResponse', 'Renewed') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/report`, operationId: 'reportTrial', tag: 'ask-tell', summary: "Store a step's metrics; the answer is the sweep scheduler's continue or stop",
    pathParams: TrialPathParams, body: json('ReportRequest', 'One step'), responses: { 200: json('ReportResponse', 'The decision') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/tell`, operationId: 'tellTrial', tag: 'ask-tell', summary: 'End a leased trial: completed or failed',
    pathParams: TrialPathParams, body: json('TellRequest', 'How it ended'), responses: { 200: json('TellResponse', 'The trial') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/trials`, operationId: 'listTrials', tag: 'trials', summary: "A sweep's trials: filter by state, sort by number or objective",
    pathParams: SweepPathParams, query: ListTrialsQuery, responses: { 200: json('TrialPage', 'A page of trials') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}`, operationId: 'getTrial', tag: 'trials', summary: 'A trial',
    pathParams: TrialPathParams, responses: { 200: json('TrialDetail', 'The trial, with the spec it trains') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/stop`, operationId: 'stopTrial', tag: 'trials', summary: 'Stop one trial',
    pathParams: TrialPathParams, responses: { 200: json('Trial', 'The stopped trial') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/metrics`, operationId: 'getTrialMetrics', tag: 'trials', summary: 'Metric curves, downsampled to maxPoints',
    pathParams: TrialPathParams, query: MetricsQuery, responses: { 200: json('MetricSeries', 'The curves') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/curves`, operationId: 'getSweepCurves', tag: 'sweeps', summary: "Every trial's curves, downsampled, and the event id to follow the stream from",
    pathParams: SweepPathParams, query: SweepCurvesQuery, responses: { 200: json('SweepCurves', 'The curves') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/export`, operationId: 'exportTrialModel', tag: 'models', summary: "The trial's model in the TensorFlow.js Layers format",
    pathParams: TrialPathParams, responses: { 200: json('TrialModelExport', 'model.json and weights') }, errors: [...COMMON_ERRORS, 404, 409],
  },
  {
    method: 'post', path: `${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/predict`, operationId: 'predict', tag: 'models', summary: "Predict with the trial's model",
    pathParams: TrialPathParams, body: json('PredictRequest', 'Inputs'), responses: { 200: json('PredictResponse', 'Outputs') }, errors: [...COMMON_ERRORS, 404, 409, 413],
  },
  {
    method: 'get', path: `${API_PREFIX}/sweeps/{sweepId}/events`, operationId: 'streamSweepEvents', tag: 'sweeps', summary: 'Server-sent events of a sweep; resume with Last-Event-ID',
    pathParams: SweepPathParams,
    query: EventsQuery,
    headers: [{ name: 'Last-Event-ID', schema: LastEventId, required: false, description: 'Replay the events after this id' }],
    responses: {
      200: {
        ref: 'SweepEvent',
        contentType: 'text/event-stream',
        description:
          'One SSE frame per event: id, event (the type), data (this JSON). A running sweep\'s stream stays open; a finished (completed, cancelled or failed) sweep\'s stream ends once every stored event is sent',
      },
      204: { description: 'The sweep is finished and Last-Event-ID is at or after its last event: nothing more will come, do not reconnect' },
    },
    errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/datasets`, operationId: 'listDatasets', tag: 'datasets', summary: 'Built-in and uploaded datasets',
    responses: { 200: json('DatasetList', 'The datasets') }, errors: COMMON_ERRORS,
  },
  {
    method: 'post', path: `${API_PREFIX}/datasets`, operationId: 'uploadDataset', tag: 'datasets', summary: 'Upload a CSV dataset (size-limited, validated)',
    query: CsvUploadQuery, body: { schema: z.string(), contentType: 'text/csv', description: 'The CSV file' },
    responses: { 201: json('DatasetInfo', 'Stored') }, errors: [...COMMON_ERRORS, 409, 413, 415],
  },
  {
    method: 'post', path: `${API_PREFIX}/datasets/idx`, operationId: 'uploadIdxDataset', tag: 'datasets',
    summary: 'Upload an IDX image dataset (ubyte images and labels, each gzip or not; stored whole or not at all)',
    query: TargetProjectQuery,
    body: { schema: IdxUploadForm, contentType: 'multipart/form-data', description: 'The files (trainImages, trainLabels; testImages and testLabels together or neither) and the fields name, numClasses?, testFraction?' },
    responses: { 201: json('DatasetInfo', 'Stored') }, errors: [...COMMON_ERRORS, 409, 413, 415],
  },
  {
    method: 'get', path: `${API_PREFIX}/datasets/{datasetId}`, operationId: 'getDataset', tag: 'datasets', summary: 'A dataset',
    pathParams: DatasetPathParams, responses: { 200: json('DatasetInfo', 'The dataset') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/me`, operationId: 'whoAmI', tag: 'tokens', summary: "The caller's token (null when authentication is off) and whether it is a server admin",
    responses: { 200: json('WhoAmI', 'The caller') }, errors: COMMON_ERRORS,
  },
  {
    method: 'get', path: `${API_PREFIX}/tokens`, operationId: 'listTokens', tag: 'tokens', summary: 'API tokens (prefixes only)',
    responses: { 200: json('ApiTokenList', 'The tokens') }, errors: COMMON_ERRORS,
  },
  {
    method: 'post', path: `${API_PREFIX}/tokens`, operationId: 'createToken', tag: 'tokens', summary: 'Create a token; the secret is shown once',
    body: json('CreateApiTokenRequest', 'Its name, roles in projects, expiry'), responses: { 201: json('ApiTokenCreated', 'The token, with its secret') }, errors: [...COMMON_ERRORS, 403, 404],
  },
  {
    method: 'delete', path: `${API_PREFIX}/tokens/{tokenId}`, operationId: 'revokeToken', tag: 'tokens', summary: 'Revoke a token',
    pathParams: TokenPathParams, responses: { 204: { description: 'Revoked' } }, errors: [...COMMON_ERRORS, 403, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/projects`, operationId: 'listProjects', tag: 'projects', summary: "The token's projects, with quotas and usage",
    responses: { 200: json('ProjectList', 'The projects') }, errors: COMMON_ERRORS,
  },
  {
    method: 'post', path: `${API_PREFIX}/projects`, operationId: 'createProject', tag: 'projects', summary: 'Create a project (server admin)',
    body: json('CreateProjectRequest', 'Its name and quotas'), responses: { 201: json('ProjectInfo', 'The project') }, errors: [...COMMON_ERRORS, 403, 409],
  },
  {
    method: 'get', path: `${API_PREFIX}/projects/{project}`, operationId: 'getProject', tag: 'projects', summary: 'A project, with quotas and usage',
    pathParams: ProjectPathParams, responses: { 200: json('ProjectInfo', 'The project') }, errors: [...COMMON_ERRORS, 404],
  },
  {
    method: 'patch', path: `${API_PREFIX}/projects/{project}`, operationId: 'updateProject', tag: 'projects', summary: "Set a project's quotas (server admin); null lifts one",
    pathParams: ProjectPathParams, body: json('UpdateProjectRequest', 'The quotas to set'), responses: { 200: json('ProjectInfo', 'The project') }, errors: [...COMMON_ERRORS, 403, 404],
  },
  {
    method: 'get', path: `${API_PREFIX}/workers`, operationId: 'getCluster', tag: 'cluster', summary: 'Workers from their heartbeats',
    responses: { 200: json('ClusterView', 'The cluster') }, errors: COMMON_ERRORS,
  },
  {
    method: 'get', path: `${API_PREFIX}/openapi.json`, operationId: 'getOpenApiDocument', tag: 'meta', summary: 'This document',
    responses: { 200: { schema: z.record(z.string(), z.unknown()), description: 'OpenAPI 3.1' } }, errors: [401, 429],
  },
  {
    method: 'get', path: '/healthz', operationId: 'health', tag: 'meta', summary: 'Liveness', public: true,
    responses: { 200: json('HealthResponse', 'Alive') }, errors: [],
  },
  {
    method: 'get', path: '/readyz', operationId: 'ready', tag: 'meta', summary: 'Readiness (Postgres, Redis)', public: true,
    responses: { 200: json('ReadyResponse', 'Ready'), 503: json('ReadyResponse', 'Not ready') }, errors: [],
  },
  {
    method: 'get', path: '/metrics', operationId: 'prometheusMetrics', tag: 'meta', summary: 'Prometheus metrics', public: true,
    responses: { 200: { schema: z.string(), contentType: 'text/plain; version=0.0.4', description: 'Prometheus text format' } }, errors: [],
  },
];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (details name each problem)',
  401: 'Missing or invalid bearer token',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body over the size limit',
  415: 'Unsupported content type',
  422: 'Idempotency-Key reused with a different body',
  429: 'Rate limited',
  431: 'Request headers over the server\'s limit (16 KiB)',
};

const COMPONENT_URI = (id: string) => `#/components/schemas/${id}`;

/** The components of one registry, without the per-schema $schema/$id zod adds. */
function componentsOf(schemas: Record<string, z.ZodType>, io: Io): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, { io, target: 'draft-2020-12', uri: COMPONENT_URI, unrepresentable: 'any' }).schemas;
  return Object.fromEntries(
    Object.entries(out).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      return [id, rest];
    }),
  );
}

function inline(schema: z.ZodType, io: Io): Json {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  return rest;
}

function content(body: Body, io: Io): Json | undefined {
  if (!body.ref && !body.schema) return undefined;
  const schema = body.ref ? { $ref: COMPONENT_URI(body.ref) } : inline(body.schema!, io);
  return { [body.contentType ?? 'application/json']: { schema } };
}

/** Query or path parameters from an object schema: one OpenAPI parameter per property. */
function parametersOf(schema: z.ZodType, where: 'query' | 'path'): Json[] {
  const s = inline(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return {
      name,
      in: where,
      required: where === 'path' || (s.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

export interface OpenApiOptions {
  readonly title?: string;
  readonly version?: string;
  /** Server URLs; default: relative to the document's own origin. */
  readonly servers?: readonly string[];
}

/** The OpenAPI 3.1 document of the API (served at /api/v1/openapi.json). */
export function buildOpenApiDocument(options: OpenApiOptions = {}): Json {
  const requestComponents = componentsOf(REQUEST_COMPONENTS, 'input');
  const responseComponents = componentsOf(RESPONSE_COMPONENTS, 'output');
  for (const id of Object.keys(requestComponents)) {
    if (id in responseComponents) throw new Error(`OpenAPI component ${id} is both a request and a response schema`);
  }

  const paths: Record<string, Record<string, Json>> = {};
  for (const route of API_ROUTES) {
    const parameters = [
      ...(route.pathParams ? parametersOf(route.pathParams, 'path') : []),
      ...(route.query ? parametersOf(route.query, 'query') : []),
      ...(route.headers ?? []).map((h) => ({ name: h.name, in: 'header', required: h.required, description: h.description, schema: inline(h.schema, 'input') })),
    ];
    const responses: Record<string, Json> = {};
    for (const [status, body] of Object.entries(route.responses)) {
      const c = content(body, 'output');
      responses[status] = { description: body.description, ...(c ? { content: c } : {}) };
    }
    for (const status of route.errors) {
      responses[String(status)] = { description: ERROR_DESCRIPTIONS[status] ?? 'Error', content: content(json('ApiError', ''), 'output') };
    }
    const requestBody = route.body ? { required: true, description: route.body.description, content: content(route.body, 'input') } : undefined;
    (paths[route.path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
      ...(route.public ? { security: [] } : {}),
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Hypersweep API',
      version: options.version ?? '0.1.0',
      description: 'Distributed hyperparameter sweeps. Errors are {error: {code, message, details}}.',
    },
    servers: (options.servers ?? ['/']).map((url) => ({ url })),
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: { ...requestComponents, ...responseComponents },
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (hs_…); create one with `hypersweep token create`' } },
    },
  };
}
