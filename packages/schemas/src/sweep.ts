// The sweep submission (POST /api/v1/sweeps): dataset, model, training recipe, search and
// objective, validated as a whole so every error names its field ("model.layers[2].units").
import { ModelSpecSchema, NnError, OptimizerSpecSchema, ScheduleSpecSchema, parseModelSpec } from '@hypersweep/nn';
import {
  SearchError,
  createSampler,
  createScheduler,
  parseSpace,
  type SamplerConfig,
  type SchedulerConfig,
  type SearchSpace,
} from '@hypersweep/search';
import { z } from 'zod';
import type { ParamValue, Params } from '@hypersweep/search';
import { BOUND_PARAMS, checkSpaceBindings, paramCandidates, resolveTrialConfig } from './bindings.ts';
import { baseAssignment, checkCorners, cornersOf, firstValue, referencedNames, sectionSchema } from './corners.ts';
import { SchemaError } from './errors.ts';
import { PARAM, TEMPLATE_SECTIONS, checkTemplate, hasDirectives, instantiate, type TemplateSection } from './template.ts';
import { MAX_SEED, MetricName, type ErrorDetail, finite, int, parsePath, refuseReservedKeys, text, unstorableStrings } from './common.ts';

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

const validationFraction = finite().min(0, 'must be in [0, 0.9]').max(0.9, 'must be in [0, 0.9]');
const oneHoldout = (v: { validationFraction?: number | undefined; validationCount?: number | undefined }) =>
  v.validationFraction === undefined || v.validationCount === undefined;
const oneHoldoutError = { message: 'give validationFraction or validationCount, not both', path: ['validationCount'] };

/** MNIST from the bundled IDX files. `dataDir` of the loader is deliberately absent: no paths from users. */
export const MnistDatasetRef = z
  .strictObject({
    type: z.literal('mnist'),
    /** A class-balanced subset of the official training file (before the validation hold-out). */
    limitTrain: int(10, 60_000).optional(),
    limitTest: int(10, 10_000).optional(),
    /** Input scaling: standardize (the training split's mean/std, default), unit (x/255, as Keras' recipes) or none (raw 0–255). */
    scaling: z.enum(['standardize', 'unit', 'none']).optional(),
    validationFraction: validationFraction.optional(),
    validationCount: int(0, 59_999).optional(),
    seed: int(0, MAX_SEED).optional(),
  })
  .refine(oneHoldout, oneHoldoutError);

export const SpiralsDatasetRef = z
  .strictObject({
    type: z.literal('spirals'),
    count: int(10, 1_000_000).optional(),
    testCount: int(1, 1_000_000).optional(),
    noise: finite().min(0, 'must be in [0, 10]').max(10, 'must be in [0, 10]').optional(),
    turns: finite().gt(0, 'must be > 0').max(100, 'must be ≤ 100').optional(),
    seed: int(0, MAX_SEED).optional(),
    validationFraction: validationFraction.optional(),
    validationCount: int(0, 999_999).optional(),
  })
  .refine(oneHoldout, oneHoldoutError);

/** A CSV dataset uploaded before (POST /api/v1/datasets), by id. */
export const CsvDatasetRef = z.strictObject({
  type: z.literal('csv'),
  id: z.uuid({ error: 'must be a UUID' }),
  /** Feature scaling: standardize (the training split's mean/std, default) or none (values as uploaded). */
  scaling: z.enum(['standardize', 'none']).optional(),
});

/**
 * Images uploaded in IDX format before (POST /api/v1/datasets/idx), by id: used like MNIST, with
 * a seeded validation hold-out from the uploaded training set and the scaling of one's choice.
 */
export const IdxDatasetRef = z
  .strictObject({
    type: z.literal('idx'),
    id: z.uuid({ error: 'must be a UUID' }),
    /** standardize (the training split's mean/std, default), unit (x/255) or none (raw 0–255). */
    scaling: z.enum(['standardize', 'unit', 'none']).optional(),
    validationFraction: validationFraction.optional(),
    validationCount: int(0, 10_000_000).optional(),
    seed: int(0, MAX_SEED).optional(),
  })
  .refine(oneHoldout, oneHoldoutError);

export const BUILTIN_DATASET_IDS = ['mnist', 'spirals'] as const;
export const DatasetRef = z.discriminatedUnion('type', [MnistDatasetRef, SpiralsDatasetRef, CsvDatasetRef, IdxDatasetRef]);
export type DatasetRef = z.infer<typeof DatasetRef>;

// ---------------------------------------------------------------------------------------------
// Model and training
// ---------------------------------------------------------------------------------------------

/** nn's model schema plus its shape rules between layers (parseModelSpec), as zod issues with paths. */
export const ModelSpec = ModelSpecSchema.superRefine((spec, ctx) => {
  try {
    parseModelSpec(spec);
  } catch (err) {
    if (!(err instanceof NnError)) throw err;
    const issues = (err.details as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? [];
    if (issues.length === 0) ctx.addIssue({ code: 'custom', message: err.message, path: [] });
    for (const i of issues) ctx.addIssue({ code: 'custom', message: i.message, path: parsePath(i.path) });
  }
});

export const MAX_EPOCHS = 1000;
export const MAX_BATCH_SIZE = 65_536;
export const MAX_MICROBATCHES = 64;

/** Early stopping of each trial on a validation metric (Keras' EarlyStopping). */
export const EarlyStoppingSpec = z.strictObject({
  /** Any metric the built-in trainer reports for the model (checked with the request): accuracies must rise, the rest fall. */
  monitor: MetricName.default('val_loss'),
  /** Epochs without improvement before the trial stops. */
  patience: int(1, MAX_EPOCHS),
  /** An improvement smaller than this does not count. */
  minDelta: finite().min(0, 'must be in [0, 1e6]').max(1e6, 'must be in [0, 1e6]').default(0),
  /** The trial ends with the weights of its best epoch (and reports that epoch's objective). */
  restoreBestWeights: z.boolean({ error: 'must be true or false' }).default(true),
});
export type EarlyStoppingSpec = z.infer<typeof EarlyStoppingSpec>;

export const TrainingSpec = z.strictObject({
  epochs: int(1, MAX_EPOCHS),
  batchSize: int(1, MAX_BATCH_SIZE).default(32),
  /**
   * Each batch is split into this many microbatches, which a worker's replica threads share. Part
   * of the arithmetic: fixed per trial, never by the worker. Absent: 4 for batches of 64 or
   * more, 2 from 32, else 1 (nn's defaultMicrobatches).
   */
  microbatches: int(1, MAX_MICROBATCHES).optional(),
  earlyStopping: EarlyStoppingSpec.optional(),
  /** The base optimizer; the search space may override its type and fields (see bindings.ts). */
  optimizer: OptimizerSpecSchema.prefault({ type: 'adam' }),
  schedule: ScheduleSpecSchema,
});
export type TrainingSpec = z.infer<typeof TrainingSpec>;

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

export const MAX_SPACE_PARAMS = 64;
/**
 * Categorical choices in a whole space, at most: each is checked and, on a grid, becomes cells.
 * Generous (a grid has at most 100 000 cells), and it bounds the work of validating a space.
 */
export const MAX_SPACE_CHOICES = 20_000;

/** Choices of every categorical in a raw space, sub-spaces included, counted up to `stop`. */
function countChoices(node: unknown, stop: number, depth = 0): number {
  if (node === null || typeof node !== 'object' || Array.isArray(node) || depth > 32) return 0;
  let n = 0;
  for (const def of Object.values(node)) {
    const choices = def !== null && typeof def === 'object' ? (def as { choices?: unknown }).choices : undefined;
    if (!Array.isArray(choices)) continue;
    n += choices.length;
    for (const c of choices) {
      if (n > stop) return n;
      if (c !== null && typeof c === 'object') n += countChoices((c as { params?: unknown }).params, stop - n, depth + 1);
    }
  }
  return n;
}

/**
 * @hypersweep/search's parseSpace, remembered per space object: SearchSpaceSpec, the request's own
 * checks and checkTrainable all need the parsed space of one request, and a space of thousands of
 * choices is worth parsing once. Throws SearchError like parseSpace.
 */
const parsedSpaces = new WeakMap<object, SearchSpace>();
export function parseSearchSpace(input: Record<string, unknown>): SearchSpace {
  const cached = parsedSpaces.get(input);
  if (cached) return cached;
  const space = parseSpace(input);
  parsedSpaces.set(input, space);
  return space;
}

/**
 * A search space as @hypersweep/search reads it (parameter name → definition; see its README).
 * Validated by its own parser; the first problem is reported with its path inside the space.
 * Reserved names (`__proto__`, `constructor`, `prototype`) are refused at any depth, before a
 * record could drop them.
 */
export const SearchSpaceSpec = refuseReservedKeys(
  z.record(z.string().max(64, 'a parameter name has at most 64 characters'), z.unknown()).superRefine((input, ctx) => {
    const choices = countChoices(input, MAX_SPACE_CHOICES);
    if (choices > MAX_SPACE_CHOICES) {
      ctx.addIssue({ code: 'custom', message: `has more than ${MAX_SPACE_CHOICES} categorical choices`, path: [] });
      return;
    }
    let space: SearchSpace;
    try {
      space = parseSearchSpace(input);
    } catch (err) {
      if (!(err instanceof SearchError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message.slice(err.path ? err.path.length + 2 : 0), path: parsePath(err.path) });
      return;
    }
    if (space.params.length > MAX_SPACE_PARAMS) {
      ctx.addIssue({ code: 'custom', message: `has ${space.params.length} parameters; at most ${MAX_SPACE_PARAMS}`, path: [] });
    }
  }),
).meta({
  description:
    'Parameter name → {type: uniform|loguniform|int|intlog|quniform|categorical|fixed, ...}; categorical choices may be {value, params} with a conditional sub-space. Names bind to training settings (learningRate, batchSize, dropout, activation, optimizer, momentum, weightDecay, hidden).',
});

const bool = () => z.boolean({ error: 'must be true or false' });

/** Samplers as a sweep names them; seed and direction come from search.seed and objective.mode. */
export const SamplerSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('random') }),
  z.strictObject({ type: z.literal('quasi-random') }),
  z.strictObject({
    type: z.literal('grid'),
    pointsPerParam: refuseReservedKeys(z.union([int(1, 100), z.record(z.string().max(64), int(1, 100))])).optional(),
    shuffle: bool().optional(),
    maxCells: int(1, 100_000).optional(),
  }),
  z.strictObject({
    type: z.literal('tpe'),
    nStartupTrials: int(0, 10_000).optional(),
    nEiCandidates: int(1, 1000).optional(),
    priorWeight: finite().gt(0, 'must be > 0').max(1000, 'must be ≤ 1000').optional(),
    considerPrior: bool().optional(),
    considerMagicClip: bool().optional(),
    considerEndpoints: bool().optional(),
    multivariate: bool().optional(),
    constantLiar: bool().optional(),
  }),
]);
export type SamplerSpec = z.infer<typeof SamplerSpec>;

const resource = () => finite().gt(0, 'must be > 0').max(MAX_EPOCHS, `must be ≤ ${MAX_EPOCHS}`);
const ashaFields = {
  reductionFactor: finite().gt(1, 'must be > 1').max(100, 'must be ≤ 100').optional(),
  minResource: resource().optional(),
  /** Defaults to training.epochs. */
  maxResource: resource().optional(),
  gracePeriod: finite().min(0, 'must be ≥ 0').max(MAX_EPOCHS, `must be ≤ ${MAX_EPOCHS}`).optional(),
};

/** Schedulers (early stopping) as a sweep names them; direction comes from objective.mode, epochs are the resource. */
export const SchedulerSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('fifo') }),
  z.strictObject({
    type: z.literal('median'),
    gracePeriod: finite().min(0, 'must be ≥ 0').max(MAX_EPOCHS, `must be ≤ ${MAX_EPOCHS}`).optional(),
    minSamplesRequired: int(1, 10_000).optional(),
    interval: resource().optional(),
  }),
  z.strictObject({ type: z.literal('asha'), ...ashaFields }),
  z.strictObject({
    type: z.literal('hyperband'),
    ...ashaFields,
    brackets: int(1, 64).optional(),
    bracketAssignment: z.enum(['proportional', 'roundRobin']).optional(),
  }),
]);
export type SchedulerSpec = z.infer<typeof SchedulerSpec>;

export const BudgetSpec = z.strictObject({
  maxTrials: int(1, 100_000),
  maxConcurrentTrials: int(1, 1024).default(1),
  /** Epochs over all trials; null or absent: no limit. */
  maxTotalEpochs: int(1, 100_000_000).nullable().default(null),
  failedCountTowardsBudget: bool().default(true),
  maxFailedTrials: int(1, 100_000).nullable().default(null),
});
export type BudgetSpec = z.infer<typeof BudgetSpec>;

export const SearchSpec = z.strictObject({
  space: SearchSpaceSpec,
  sampler: SamplerSpec.default({ type: 'random' }),
  scheduler: SchedulerSpec.default({ type: 'fifo' }),
  budget: BudgetSpec,
  seed: int(0, MAX_SEED).default(0),
});
export type SearchSpec = z.infer<typeof SearchSpec>;

// ---------------------------------------------------------------------------------------------
// Objective
// ---------------------------------------------------------------------------------------------

/** Metrics the built-in trainer reports each epoch, without their train_/val_ prefix, by task. */
export const BUILTIN_METRICS = {
  classification: ['loss', 'accuracy', 'top3_accuracy', 'top5_accuracy'],
  regression: ['loss', 'mae', 'rmse'],
} as const;
/** Every metric name the built-in trainer can report (train_ and val_ of each task's metrics). */
export const OBJECTIVE_METRICS = [
  ...new Set(Object.values(BUILTIN_METRICS).flatMap((names) => names.flatMap((n) => [`val_${n}`, `train_${n}`]))),
] as readonly string[];
/** The built-in metrics a model with this loss reports. */
export function builtinMetricsFor(loss: string): string[] {
  const names = loss === 'softmax_cross_entropy' ? BUILTIN_METRICS.classification : BUILTIN_METRICS.regression;
  return names.flatMap((n) => [`val_${n}`, `train_${n}`]);
}
export const ObjectiveMetric = MetricName;
export type ObjectiveMetric = string;
export const ObjectiveMode = z.enum(['minimize', 'maximize']);
export type ObjectiveMode = z.infer<typeof ObjectiveMode>;

/** The direction that makes sense for a metric, when its name tells: losses and errors go down, accuracies up. */
export function naturalMode(metric: string): ObjectiveMode | undefined {
  if (/(^|_)(accuracy|auc|precision|recall|f1)$/.test(metric)) return 'maximize';
  if (/(^|_)(loss|mae|mse|rmse|error)$/.test(metric)) return 'minimize';
  return undefined;
}

export const ObjectiveSpec = z
  .strictObject({
    /** Any metric the trials report; the built-in trainer's are checked against the model at submission. */
    metric: ObjectiveMetric,
    /** Required unless the metric's name tells its direction; the opposite of that one is refused (it would prune the best trials). */
    mode: ObjectiveMode.optional(),
  })
  .superRefine((o, ctx) => {
    const natural = naturalMode(o.metric);
    if (o.mode === undefined && natural === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: `is required: the direction of ${o.metric} is not known (minimize or maximize)` });
    } else if (o.mode !== undefined && natural !== undefined && o.mode !== natural) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: `contradicts the metric: ${o.metric} is ${natural === 'minimize' ? 'minimized' : 'maximized'}` });
    }
  })
  .transform((o) => ({ metric: o.metric, mode: (o.mode ?? naturalMode(o.metric)) as ObjectiveMode }));
export type ObjectiveSpec = z.infer<typeof ObjectiveSpec>;

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

export const SWEEP_NAME_MAX = 200;

const CreateSweepShape = z.strictObject({
  name: text(SWEEP_NAME_MAX),
  description: text(2000, 0).optional(),
  dataset: DatasetRef,
  model: ModelSpec,
  training: TrainingSpec,
  search: SearchSpec,
  objective: ObjectiveSpec,
  /**
   * The sections that refer to search-space parameters, as written (set by the server: submit
   * references in place, e.g. `"units": { "$param": "units_1" }`); model, training and dataset
   * then hold the space's base corner.
   */
  template: z
    .strictObject({ dataset: z.unknown().optional(), model: z.unknown().optional(), training: z.unknown().optional() })
    .optional(),
});

/** The sampler config @hypersweep/search's createSampler takes: the sweep's seed and direction added. */
export function samplerConfigFor(request: Pick<CreateSweepRequest, 'search' | 'objective'>): SamplerConfig {
  const s = request.search.sampler;
  const seed = request.search.seed;
  switch (s.type) {
    case 'tpe':
      return { ...s, seed, direction: request.objective.mode };
    case 'grid':
      return { ...s, seed };
    default:
      return { type: s.type, seed };
  }
}

/** The scheduler config createScheduler takes: direction from the objective, maxResource defaulting to the epochs. */
export function schedulerConfigFor(request: Pick<CreateSweepRequest, 'search' | 'objective' | 'training' | 'template'>): SchedulerConfig {
  return schedulerConfigWith(request, maxEpochsOf(request));
}

/** schedulerConfigFor with the most epochs (steps) a trial can run given. */
export function schedulerConfigWith(request: Pick<CreateSweepRequest, 'search' | 'objective'>, maxSteps: number): SchedulerConfig {
  const s = request.search.scheduler;
  const direction = request.objective.mode;
  switch (s.type) {
    case 'fifo':
      return { type: 'fifo' };
    case 'median':
      return { ...s, direction };
    case 'asha':
    case 'hyperband':
      return { ...s, direction, maxResource: s.maxResource ?? maxSteps };
  }
}

function searchIssue(ctx: z.RefinementCtx, at: PropertyKey[], err: unknown): void {
  if (!(err instanceof SearchError)) throw err;
  const message = err.path ? err.message.slice(err.path.length + 2) : err.message;
  ctx.addIssue({ code: 'custom', message, path: [...at, ...parsePath(err.path)] });
}

/** The request's rules between fields that a template's corners can break (paths in the request). */
function fieldRules(req: Pick<CreateSweepRequest, 'dataset' | 'model' | 'training' | 'objective' | 'search'>): ErrorDetail[] {
  const { training, objective, model } = req;
  const out: ErrorDetail[] = [];
  const reported = builtinMetricsFor(model.loss);
  if (objective.metric.endsWith('accuracy') && model.loss !== 'softmax_cross_entropy') {
    out.push({ path: 'objective.metric', message: `accuracy needs a classification model (loss softmax_cross_entropy), not ${model.loss}` });
  } else if (!reported.includes(objective.metric)) {
    out.push({ path: 'objective.metric', message: `the built-in trainer does not report ${objective.metric} for this model; it reports ${reported.join(', ')}` });
  }
  if (training.microbatches !== undefined && training.microbatches > training.batchSize) {
    out.push({ path: 'training.microbatches', message: `must be ≤ batchSize (${training.batchSize})` });
  }
  const ds = req.dataset;
  const noValidation = ds.type !== 'csv' && (ds.validationFraction === 0 || ds.validationCount === 0);
  if (noValidation && objective.metric.startsWith('val_')) {
    out.push({ path: 'objective.metric', message: `${objective.metric} needs a validation split; the dataset holds none out (use train_loss or train_accuracy, or keep a validationFraction)` });
  }
  const es = training.earlyStopping;
  if (es) {
    if (noValidation && es.monitor.startsWith('val_')) out.push({ path: 'training.earlyStopping.monitor', message: `${es.monitor} needs a validation split; the dataset holds none out` });
    if (es.monitor.endsWith('accuracy') && model.loss !== 'softmax_cross_entropy') {
      out.push({ path: 'training.earlyStopping.monitor', message: `${es.monitor} needs a classification model (loss softmax_cross_entropy)` });
    } else if (!reported.includes(es.monitor)) {
      out.push({ path: 'training.earlyStopping.monitor', message: `the built-in trainer does not report ${es.monitor} for this model; it reports ${reported.join(', ')}` });
    }
  }
  const { maxTotalEpochs } = req.search.budget;
  if (maxTotalEpochs !== null && maxTotalEpochs < training.epochs) {
    out.push({ path: 'search.budget.maxTotalEpochs', message: `must be ≥ training.epochs (${training.epochs}), or no trial could train to the end` });
  }
  return out;
}

/**
 * The most epochs a trial can train: training.epochs, or the highest value of the parameter it
 * refers to. The resource of ASHA and Hyperband.
 */
export function maxEpochsOf(request: Pick<CreateSweepRequest, 'training' | 'template' | 'search'>): number {
  const ref = request.template?.training;
  const epochs = ref !== null && typeof ref === 'object' ? (ref as { epochs?: unknown }).epochs : undefined;
  const name = epochs !== null && typeof epochs === 'object' ? (epochs as Record<string, unknown>)[PARAM] : undefined;
  if (typeof name !== 'string') return request.training.epochs;
  try {
    const def = parseSearchSpace(request.search.space).byName.get(name);
    const values = def ? paramCandidates(def.spec).map((c) => c.value).filter((v): v is number => typeof v === 'number') : [];
    return values.length > 0 ? Math.max(...values) : request.training.epochs;
  } catch {
    return request.training.epochs;
  }
}

/**
 * Lifts references out of model, training and dataset before the request is parsed: the sections
 * that hold them move to `template` (a stored request already has it: it wins), and the sections
 * become the space's base corner (every parameter at its first value), so everything downstream
 * reads a plain spec. Problems of the template's shape are reported here, with their paths.
 */
function liftTemplate(input: unknown, ctx: z.RefinementCtx): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const body = input as Record<string, unknown>;
  const stored = body['template'] !== null && typeof body['template'] === 'object' && !Array.isArray(body['template']) ? (body['template'] as Record<string, unknown>) : null;
  for (const key of Object.keys(body)) {
    if (key === 'template' || (TEMPLATE_SECTIONS as readonly string[]).includes(key)) continue;
    const at = firstDirective(body[key], [key]);
    if (!at) continue;
    const inSpace = at[0] === 'search' && at[1] === 'space';
    const message = inSpace
      ? 'a search space holds values, not references: parameters cannot depend on each other'
      : `references and repeats are allowed only in ${TEMPLATE_SECTIONS.join(', ')}`;
    ctx.addIssue({ code: 'custom', path: at, message });
  }
  const template: Partial<Record<TemplateSection, unknown>> = {};
  for (const s of TEMPLATE_SECTIONS) {
    const raw = stored && Object.hasOwn(stored, s) ? stored[s] : body[s];
    if (hasDirectives(raw)) template[s] = raw;
  }
  const out: Record<string, unknown> = { ...body };
  delete out['template'];
  if (Object.keys(template).length === 0) return out;
  let space: SearchSpace | null = null;
  try {
    const raw = (body['search'] as { space?: unknown } | undefined)?.space;
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) space = parseSearchSpace(raw as Record<string, unknown>);
  } catch {
    space = null; // reported by SearchSpaceSpec
  }
  // Candidate assignments for the plain sections: the base corner, then the others, each with a
  // value for every parameter so names inactive there still resolve (the corners report them).
  const filler: Record<string, ParamValue> = {};
  if (space) for (const def of space.params) filler[def.name] = firstValue(def);
  const assignments = function* (): Generator<Params> {
    if (!space) return;
    yield { ...filler, ...baseAssignment(space) };
    for (const c of cornersOf(space) ?? []) yield { ...filler, ...c.params };
  };
  for (const s of TEMPLATE_SECTIONS) {
    if (template[s] === undefined) continue;
    const { issues } = checkTemplate(template[s], [s]);
    for (const i of issues) ctx.addIssue({ code: 'custom', path: parsePath(i.path), message: i.message });
    if (issues.length > 0 || !space) {
      // The request is refused already (here, or by SearchSpaceSpec): a placeholder that validates
      // keeps the template's unreadable fields from adding errors of their own.
      out[s] = PLACEHOLDERS[s];
      continue;
    }
    // The first assignment whose section validates stands for the section. When none does, a
    // placeholder stands in and the corner check (CreateSweepChecked) reports the section's
    // problems with the template's paths.
    let chosen: unknown = PLACEHOLDERS[s];
    for (const params of assignments()) {
      const value = instantiate(template[s], [s], params).value;
      if (sectionSchema(s).safeParse(value).success) {
        chosen = value;
        break;
      }
    }
    out[s] = chosen;
  }
  out['template'] = template;
  return out;
}

/** The path of the first `$` key in a value, if any. */
function firstDirective(v: unknown, path: PropertyKey[], depth = 0): PropertyKey[] | null {
  if (depth > 64 || v === null || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    const at = [...path, Array.isArray(v) ? Number(k) : k];
    if (!Array.isArray(v) && k.startsWith('$')) return at;
    const inner = firstDirective(x, at, depth + 1);
    if (inner) return inner;
  }
  return null;
}

/** Valid sections standing for a template that cannot be read (its request is refused). */
const PLACEHOLDERS: Record<TemplateSection, unknown> = {
  dataset: { type: 'spirals' },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
  training: { epochs: MAX_EPOCHS, schedule: { type: 'constant' } },
};

const CreateSweepChecked = CreateSweepShape.superRefine((req, ctx) => {
  const { search } = req;
  const add = (d: ErrorDetail) => ctx.addIssue({ code: 'custom', message: d.message, path: parsePath(d.path) });
  // A templated request's rules are checked at every corner of its space, below.
  if (!req.template) fieldRules(req).forEach(add);
  const { maxTrials, maxConcurrentTrials } = search.budget;
  if (maxConcurrentTrials > maxTrials) {
    ctx.addIssue({ code: 'custom', path: ['search', 'budget', 'maxConcurrentTrials'], message: `must be ≤ maxTrials (${maxTrials})` });
  }

  const sched = search.scheduler;
  const maxEpochs = maxEpochsOf(req);
  if ((sched.type === 'asha' || sched.type === 'hyperband') && sched.maxResource !== undefined && sched.maxResource > maxEpochs) {
    ctx.addIssue({ code: 'custom', path: ['search', 'scheduler', 'maxResource'], message: `must be ≤ training.epochs (${maxEpochs})` });
  } else {
    try {
      createScheduler(schedulerConfigFor(req));
    } catch (err) {
      searchIssue(ctx, ['search', 'scheduler'], err);
    }
  }

  // Everything of the request is stored (jsonb): a string PostgreSQL cannot hold is refused here,
  // wherever it is, even in a field whose own schema would take it.
  for (const d of unstorableStrings(req)) ctx.addIssue({ code: 'custom', message: d.message, path: parsePath(d.path) });

  let space: SearchSpace;
  try {
    // Past the choice limit (or invalid) the space was reported by SearchSpaceSpec; not parsed again.
    if (countChoices(search.space, MAX_SPACE_CHOICES) > MAX_SPACE_CHOICES) return;
    space = parseSearchSpace(search.space);
  } catch {
    return;
  }
  try {
    createSampler(space, samplerConfigFor(req));
  } catch (err) {
    searchIssue(ctx, ['search', 'sampler'], err);
  }
  const referenced = req.template ? referencedNames(req.template, space) : new Set<string>();
  for (const issue of checkSpaceBindings(space, req, referenced)) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: ['search', 'space', ...parsePath(issue.path)] });
  }
  if (req.template) {
    const rules = (sections: Pick<CreateSweepRequest, TemplateSection>, params: Params): ErrorDetail[] => {
      const out = fieldRules({ ...req, ...sections });
      try {
        const shorthands = Object.entries(params).filter(([n]) => !referenced.has(n) && (BOUND_PARAMS as readonly string[]).includes(n));
        // The sections validated already; only shorthands can still break them.
        if (shorthands.length > 0) resolveTrialConfig({ ...req, ...sections, template: undefined }, Object.fromEntries(shorthands));
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        for (const d of err.details) {
          const name = d.path.startsWith('params.') ? d.path.slice('params.'.length) : undefined;
          const def = name !== undefined ? space.byName.get(name) : undefined;
          out.push({ path: def ? `search.space.${def.path}` : d.path, message: d.message });
        }
      }
      return out;
    };
    checkCorners(req, space, rules).forEach(add);
  }
});

export const CreateSweepRequest = z.preprocess(liftTemplate, CreateSweepChecked);
export type CreateSweepRequest = z.infer<typeof CreateSweepRequest>;
export type CreateSweepRequestInput = z.input<typeof CreateSweepChecked>;
