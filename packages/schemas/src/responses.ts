// What the API returns: sweeps, trials, pages, metric curves, the cluster view, tokens,
// datasets, model exports and predictions, health. Responses are built by the API and parsed in
// tests and by clients (CLI, dashboard), so they are strict too.
import { z } from 'zod';
import { Id, MetricName, ProjectName, Timestamp, TrialParams, finite, int, text } from './common.ts';
import { ModelSpecSchema, OptimizerSpecSchema, ScheduleSpecSchema } from '@hypersweep/nn';
import { DatasetRef, EarlyStoppingSpec, ObjectiveSpec } from './sweep.ts';
import { SweepRequest } from './kinds.ts';

export const SWEEP_STATUSES = ['pending', 'running', 'paused', 'completed', 'cancelled', 'failed'] as const;
export const SweepStatus = z.enum(SWEEP_STATUSES);
export type SweepStatus = z.infer<typeof SweepStatus>;

/** Trial states; `stopped` means stopped early by the scheduler, never "completed". */
export const TRIAL_STATUSES = ['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'] as const;
export const TrialStatus = z.enum(TRIAL_STATUSES);
export type TrialStatus = z.infer<typeof TrialStatus>;

/** Sweep statuses that never change again: the API ends such a sweep's event stream once caught up. */
export const FINISHED_SWEEP_STATUSES: ReadonlySet<SweepStatus> = new Set<SweepStatus>(['completed', 'cancelled', 'failed']);
/** Trial statuses that never change again (the ones `SweepProgress.trialsFinished` counts). */
export const FINISHED_TRIAL_STATUSES: ReadonlySet<TrialStatus> = new Set<TrialStatus>(['completed', 'stopped', 'failed', 'cancelled']);

const count = () => int(0, Number.MAX_SAFE_INTEGER);

export const TrialCounts = z.strictObject({
  queued: count(),
  running: count(),
  completed: count(),
  stopped: count(),
  failed: count(),
  cancelled: count(),
  total: count(),
});
export type TrialCounts = z.infer<typeof TrialCounts>;

export const SweepProgress = z.strictObject({
  /** Trials in a final state (completed, stopped, failed, cancelled). */
  trialsFinished: count(),
  maxTrials: count(),
  epochsDone: count(),
  /** null without an epoch budget. */
  maxTotalEpochs: count().nullable(),
  /** 0..1: the larger of the trial and epoch fractions used; 1 once the sweep is finished. */
  fraction: finite().min(0).max(1),
});
export type SweepProgress = z.infer<typeof SweepProgress>;

export const BestTrial = z.strictObject({
  trialId: Id,
  number: count(),
  /** The objective value that made it best. */
  value: finite(),
  params: TrialParams,
});

export const TestResult = z.strictObject({
  trialId: Id,
  /** Test-set metrics of the best trial, e.g. {test_loss, test_accuracy}. */
  metrics: z.record(MetricName, finite()),
  /** Classification: counts by true class (rows) and predicted class (columns). */
  confusionMatrix: z.array(z.array(count())).optional(),
  /** Names of the matrix's classes, in order. */
  classNames: z.array(z.string()).optional(),
  evaluatedAt: Timestamp,
});

export const Sweep = z.strictObject({
  id: Id,
  name: z.string(),
  /** The project the sweep belongs to (absent from servers that predate projects). */
  project: ProjectName.optional(),
  description: z.string().nullable(),
  status: SweepStatus,
  objective: ObjectiveSpec,
  seed: count(),
  /** The submitted request with defaults applied. */
  spec: SweepRequest,
  counts: TrialCounts,
  progress: SweepProgress,
  best: BestTrial.nullable(),
  testResult: TestResult.nullable(),
  /** Why the sweep failed, when it did. */
  error: z.string().nullable(),
  /** The last event of the sweep when this was read: stream its events from here (Last-Event-ID). */
  lastEventId: count().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Timestamp.nullable(),
});
export type Sweep = z.infer<typeof Sweep>;

/** A sweep in lists: no spec, to keep pages small. */
export const SweepSummary = Sweep.omit({ spec: true });
export type SweepSummary = z.infer<typeof SweepSummary>;

export const Trial = z.strictObject({
  id: Id,
  sweepId: Id,
  number: count(),
  params: TrialParams,
  status: TrialStatus,
  /** Deliveries so far: above 1 when a worker died and another resumed the trial from its checkpoint. */
  attempt: count(),
  workerId: z.string().nullable(),
  epochsDone: count(),
  bestValue: finite().nullable(),
  finalValue: finite().nullable(),
  /** Latest value of every metric (val_loss, train_accuracy, …). */
  lastMetrics: z.record(MetricName, finite()),
  /** Why it stopped early (scheduler verdict) or failed. */
  reason: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
});
export type Trial = z.infer<typeof Trial>;

/** What a trial trains: the sweep's spec with the trial's parameters applied. */
export const TrialResolved = z.strictObject({
  model: ModelSpecSchema,
  optimizer: OptimizerSpecSchema,
  schedule: ScheduleSpecSchema,
  batchSize: count(),
  microbatches: count(),
  epochs: count(),
  earlyStopping: EarlyStoppingSpec.nullable(),
  dataset: DatasetRef,
});
export type TrialResolved = z.infer<typeof TrialResolved>;

/** One trial (GET of a trial): a listed trial plus the spec it trains (null for trials from before it was kept). */
export const TrialDetail = Trial.extend({ resolved: TrialResolved.nullable() });
export type TrialDetail = z.infer<typeof TrialDetail>;

/** A page of a keyset-paginated list; `nextCursor` is null on the last page. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.strictObject({ items: z.array(item), nextCursor: z.string().nullable() });
}
export const SweepPage = pageOf(SweepSummary);
export type SweepPage = z.infer<typeof SweepPage>;
export const TrialPage = pageOf(Trial);
export type TrialPage = z.infer<typeof TrialPage>;

export const MetricPoint = z.strictObject({
  step: count(),
  /** null where the stored value is not finite (a diverged loss); JSON has no NaN. */
  value: finite().nullable(),
});
export const MetricSeriesItem = z.strictObject({
  name: MetricName,
  points: z.array(MetricPoint),
  /** Points stored; more than `points.length` when downsampled. */
  totalPoints: count(),
  downsampled: z.boolean(),
});
export const MetricSeries = z.strictObject({
  trialId: Id,
  series: z.array(MetricSeriesItem),
});
export type MetricSeries = z.infer<typeof MetricSeries>;

/** Curves of every trial of a sweep at once, for a first render; events after `lastEventId` bring it up to date. */
export const SweepCurves = z.strictObject({
  sweepId: Id,
  /** Every metric row written before this event is included; follow the event stream from here. */
  lastEventId: count(),
  trials: z.array(
    z.strictObject({
      trialId: Id,
      number: count(),
      series: z.array(MetricSeriesItem),
    }),
  ),
});
export type SweepCurves = z.infer<typeof SweepCurves>;

// ---------------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------------

export const WorkerTrialRef = z.strictObject({ sweepId: Id, trialId: Id, attempt: count(), epoch: count() });

/** What a worker publishes every few seconds (Redis, with a TTL). */
export const WorkerHeartbeat = z.strictObject({
  workerId: text(128),
  host: text(255),
  pid: int(1, 4_194_304),
  /** Replica threads per trial. */
  threads: int(1, 1024),
  currentTrial: WorkerTrialRef.nullable(),
  samplesPerSecond: finite().min(0),
  /** The process's memory at the beat (absent from workers that predate it). */
  memory: z.strictObject({ rssBytes: count(), heapUsedBytes: count() }).optional(),
  /** Names of the trainables it runs (docs/trainables.md; absent from workers that predate them). */
  trainables: z.array(z.string().max(64)).max(256).optional(),
  startedAt: Timestamp,
  at: Timestamp,
});
export type WorkerHeartbeat = z.infer<typeof WorkerHeartbeat>;

export const WorkerStatus = WorkerHeartbeat.extend({
  /** Its last heartbeat is recent enough. */
  alive: z.boolean(),
});

export const ClusterView = z.strictObject({
  workers: z.array(WorkerStatus),
  totals: z.strictObject({
    workers: count(),
    alive: count(),
    busy: count(),
    threads: count(),
    samplesPerSecond: finite().min(0),
  }),
});
export type ClusterView = z.infer<typeof ClusterView>;

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

export const ProjectRole = z.enum(['read', 'submit', 'admin']);
export type ProjectRole = z.infer<typeof ProjectRole>;

/** A role in one project, by the project's name. */
export const TokenGrant = z.strictObject({ project: ProjectName, role: ProjectRole });
export type TokenGrant = z.infer<typeof TokenGrant>;

/** The first instant of the year 10000: four-digit years only. */
const LAST_INSTANT = Date.UTC(10_000, 0, 1);

export const CreateApiTokenRequest = z
  .strictObject({
    // Listed and logged as one line: blank or multi-line names are refused.
    name: text(100)
      // An empty name is text()'s to refuse, with its own one message.
      .refine((v) => v === '' || v.trim() !== '', 'must not be blank')
      .refine((v) => !/[\r\n]/.test(v), 'must be one line'),
    /** Roles in projects; none only for a server admin token. */
    grants: z.array(TokenGrant).max(100, 'at most 100 grants').default([]),
    /** Sees and manages every project, token and quota (only a server admin may create one). */
    serverAdmin: z.boolean().default(false),
    /** After this instant the token is refused; absent: it never expires. */
    expiresAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z' }).optional(),
  })
  .superRefine((r, ctx) => {
    if (!r.serverAdmin && r.grants.length === 0) ctx.addIssue({ code: 'custom', path: ['grants'], message: 'a token needs a role in at least one project (or serverAdmin)' });
    const seen = new Set<string>();
    r.grants.forEach((g, i) => {
      if (seen.has(g.project)) ctx.addIssue({ code: 'custom', path: ['grants', i, 'project'], message: 'named twice' });
      seen.add(g.project);
    });
    if (r.expiresAt !== undefined && Date.parse(r.expiresAt) <= Date.now()) ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be in the future' });
    // An offset can take 9999-12-31 into the year 10000, which PostgreSQL stores but no client reads back.
    if (r.expiresAt !== undefined && Date.parse(r.expiresAt) >= LAST_INSTANT) ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be before 10000-01-01T00:00:00Z' });
  });
export type CreateApiTokenRequest = z.infer<typeof CreateApiTokenRequest>;

/** A token as listed: never the secret, only the prefix that identifies it. */
export const ApiTokenInfo = z.strictObject({
  id: Id,
  name: z.string(),
  prefix: z.string(),
  grants: z.array(TokenGrant),
  serverAdmin: z.boolean(),
  expiresAt: Timestamp.nullable(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
});
export type ApiTokenInfo = z.infer<typeof ApiTokenInfo>;

/** The response to creating a token: the only time `token` is shown; only its hash is stored. */
export const ApiTokenCreated = z.strictObject({
  id: Id,
  name: z.string(),
  prefix: z.string(),
  token: z.string(),
  grants: z.array(TokenGrant),
  serverAdmin: z.boolean(),
  expiresAt: Timestamp.nullable(),
  createdAt: Timestamp,
});
export type ApiTokenCreated = z.infer<typeof ApiTokenCreated>;

// ---------------------------------------------------------------------------------------------
// Control of a running sweep
// ---------------------------------------------------------------------------------------------

/** PATCH /sweeps/{id}: budget fields to set (at least one); checked against what the sweep has. */
export const UpdateSweepRequest = z.strictObject({
  budget: z
    .strictObject({
      maxTrials: int(1, 100_000).optional(),
      maxConcurrentTrials: int(1, 1024).optional(),
      maxTotalEpochs: int(1, 100_000_000).nullable().optional(),
    })
    .refine((b) => Object.keys(b).length > 0, 'name at least one of maxTrials, maxConcurrentTrials, maxTotalEpochs'),
});
export type UpdateSweepRequest = z.infer<typeof UpdateSweepRequest>;

/** POST /sweeps/{id}/trials: configurations to train, each checked against the search space. */
export const EnqueueTrialsRequest = z.strictObject({
  params: z.array(TrialParams).min(1, 'give at least one configuration').max(100, 'at most 100 configurations at once'),
});
export type EnqueueTrialsRequest = z.infer<typeof EnqueueTrialsRequest>;

export const EnqueuedTrials = z.strictObject({ items: z.array(Trial) });

/** What a sweep stores (an ended trial keeps its latest and its best checkpoint only). */
export const SweepStorage = z.strictObject({
  checkpoints: z.number().int().min(0),
  checkpointBytes: z.number().int().min(0),
  metrics: z.number().int().min(0),
  events: z.number().int().min(0),
});
export type SweepStorage = z.infer<typeof SweepStorage>;

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

/** A quota up to `max`: counts are stored as PostgreSQL integers, byte sizes as bigints. */
const quota = (max: number) =>
  z.number().int('must be an integer').min(0, 'must be ≥ 0').max(max, `must be ≤ ${max}`).nullable();
const INT4_MAX = 2_147_483_647;
/** Quotas of a project; null lifts one. */
export const ProjectQuotas = z.strictObject({
  maxRunningTrials: quota(INT4_MAX).optional(),
  maxQueuedTrials: quota(INT4_MAX).optional(),
  maxActiveSweeps: quota(INT4_MAX).optional(),
  maxEpochsPerDay: quota(INT4_MAX).optional(),
  maxDatasetBytes: quota(Number.MAX_SAFE_INTEGER).optional(),
});
export type ProjectQuotas = z.infer<typeof ProjectQuotas>;

export const CreateProjectRequest = z.strictObject({ name: ProjectName, quotas: ProjectQuotas.default({}) });
export type CreateProjectRequest = z.infer<typeof CreateProjectRequest>;

export const UpdateProjectRequest = z.strictObject({ quotas: ProjectQuotas });
export type UpdateProjectRequest = z.infer<typeof UpdateProjectRequest>;

export const ProjectPathParams = z.strictObject({ project: ProjectName });

export const ProjectInfo = z.strictObject({
  id: Id,
  name: z.string(),
  createdAt: Timestamp,
  /** The token's role in the project ("admin" for a server admin). */
  role: ProjectRole,
  quotas: z.strictObject({
    maxRunningTrials: z.number().nullable(),
    maxQueuedTrials: z.number().nullable(),
    maxActiveSweeps: z.number().nullable(),
    maxEpochsPerDay: z.number().nullable(),
    maxDatasetBytes: z.number().nullable(),
  }),
  usage: z.strictObject({ runningTrials: z.number(), queuedTrials: z.number(), activeSweeps: z.number(), epochsToday: z.number(), datasetBytes: z.number() }),
});
export type ProjectInfo = z.infer<typeof ProjectInfo>;

export const ProjectList = z.strictObject({ items: z.array(ProjectInfo) });

export const ApiTokenList = z.strictObject({ items: z.array(ApiTokenInfo) });

/**
 * Who the caller is: its token (null when authentication is off) and whether it is a server admin,
 * so a client shows only the controls the token may use.
 */
export const WhoAmI = z.strictObject({ serverAdmin: z.boolean(), token: ApiTokenInfo.nullable() });
export type WhoAmI = z.infer<typeof WhoAmI>;

// ---------------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------------

export const DatasetInfo = z.strictObject({
  /** A built-in id ("mnist") or the UUID of an uploaded CSV or IDX dataset. */
  id: z.string(),
  name: z.string(),
  kind: z.enum(['builtin', 'csv', 'idx']),
  description: z.string().nullable(),
  task: z.enum(['classification', 'regression']),
  featureShape: z.array(count()),
  numClasses: count().nullable(),
  /** Examples with default options (train before the validation hold-out, and test). */
  sizes: z.strictObject({ train: count(), test: count() }),
  createdAt: Timestamp.nullable(),
});
export type DatasetInfo = z.infer<typeof DatasetInfo>;
export const DatasetList = z.strictObject({ items: z.array(DatasetInfo) });

// ---------------------------------------------------------------------------------------------
// Model export and prediction
// ---------------------------------------------------------------------------------------------

/** A trial's model in the TensorFlow.js Layers format: model.json and weights.bin (base64). */
export const TrialModelExport = z.strictObject({
  modelJson: z.looseObject({
    format: z.literal('layers-model'),
    modelTopology: z.record(z.string(), z.unknown()),
    weightsManifest: z.array(z.unknown()),
  }),
  weightsBase64: z.string(),
});

export const MAX_PREDICT_ROWS = 1024;
export const MAX_PREDICT_VALUES = 1 << 20;

export const PredictRequest = z.strictObject({
  /**
   * One row of raw features per example, flattened, as the user has them: a 28×28 image is 784
   * pixels 0–255, a CSV row its feature values as in the file. The model carries the scaling.
   */
  inputs: z
    .array(z.array(finite()).min(1, 'a row needs at least one feature').max(MAX_PREDICT_VALUES))
    .min(1, 'needs at least one row')
    .max(MAX_PREDICT_ROWS, `at most ${MAX_PREDICT_ROWS} rows per request`)
    .refine((rows) => rows.reduce((n, r) => n + r.length, 0) <= MAX_PREDICT_VALUES, `at most ${MAX_PREDICT_VALUES} values in total`)
    .refine((rows) => rows.every((r) => r.length === rows[0]!.length), 'every row must have the same length')
    .superRefine((rows, ctx) => {
      // The model computes in float32, where these would be ±∞. The first few only, so a body
      // full of them does not make an error body as large.
      let reported = 0;
      for (let i = 0; i < rows.length && reported < 10; i++) {
        for (let j = 0; j < rows[i]!.length && reported < 10; j++) {
          const v = rows[i]![j]!;
          if (Number.isFinite(Math.fround(v))) continue;
          reported++;
          ctx.addIssue({ code: 'custom', path: [i, j], message: `must be within the float32 range (±3.4e38), got ${v}` });
        }
      }
    }),
});
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictResponse = z.strictObject({
  /** Probabilities (classification) or values (regression), one row per input. */
  outputs: z.array(z.array(finite())),
  /** The most probable class per input; null for regression models. */
  classes: z.array(count()).nullable(),
});
export type PredictResponse = z.infer<typeof PredictResponse>;

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

export const HealthResponse = z.strictObject({ status: z.literal('ok') });
export const ReadyResponse = z.strictObject({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.strictObject({ ok: z.boolean(), latencyMs: finite().min(0).nullable(), error: z.string().nullable() })),
});
export type ReadyResponse = z.infer<typeof ReadyResponse>;
