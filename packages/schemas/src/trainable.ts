// Whether a sweep's trials can train at all, checked once at submission rather than failing one
// trial at a time on the workers: the model against its dataset's shape and classes (nn's own
// rule, checkDatasetFits), and the memory plan of the largest trial the space can draw (nn's own
// layout, planBytes) against a limit.
import { NnError, checkDatasetFits, reportsTopK, compileModel, planBytes, type DataSplit, type Dataset, type LayerSpec, type PlanBytes } from '@hypersweep/nn';
import { SearchError, gridCells, type ParamDef, type ParamValue, type Params, type SearchSpace } from '@hypersweep/search';
import { microbatchesOf, paramCandidates, resolveTrialConfig, type TrialConfig } from './bindings.ts';
import type { ErrorDetail } from './common.ts';
import { SchemaError } from './errors.ts';
import { cornersOf } from './corners.ts';
import { parseSearchSpace, type CreateSweepRequest } from './sweep.ts';

/** What submission knows of a dataset before loading it: a built-in's registry entry, an upload's stored row. */
export interface DatasetFacts {
  /** For messages: "mnist", or the upload's name. */
  readonly name: string;
  readonly task: 'classification' | 'regression';
  readonly featureShape: readonly number[];
  /** Classification only. */
  readonly numClasses: number | null;
  /** Regression only: outputs per example (default 1). */
  readonly targetDim?: number;
  /** Bytes per stored feature value: 1 for uint8 images (MNIST), 4 for float32. */
  readonly featureBytes: 1 | 4;
  /** Examples: the training set (its validation hold-out included) and the test set. */
  readonly sizes: { readonly train: number; readonly test: number };
  /**
   * An IDX upload's training examples per class before the validation hold-out, from its stored
   * row (a built-in's follow from its options): submission checks the stratified hold-out can be
   * drawn. Absent where unknown.
   */
  readonly poolClassCounts?: readonly number[];
  /** A CSV upload's validation hold-out (fixed when it was uploaded); absent for the others. */
  readonly validationExamples?: number;
}

export interface TrainableLimits {
  /** The most bytes one trial's memory plan may need. */
  readonly maxPlanBytes: number;
  /** Replica threads the plan is sized for (each holds its own activations). */
  readonly threads: number;
}

const MiB = 1024 * 1024;
function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "more than WebAssembly's 4 GiB";
  return n >= 1024 * MiB ? `${(n / (1024 * MiB)).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`;
}

/** Index of the output layer (the last dense one), the layer whose units must match the dataset. */
function outputLayer(layers: readonly LayerSpec[]): number {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i]!.type === 'dense') return i;
  return layers.length - 1;
}

/** nn's checkDatasetFits on a dataset with this shape and no rows; its fields as request paths. */
function fitProblems(request: Pick<CreateSweepRequest, 'model'>, ds: DatasetFacts): ErrorDetail[] {
  const empty = (): DataSplit => ({ count: 0, features: new Float32Array(0), labels: new Int32Array(0) });
  const shaped: Dataset = {
    name: ds.name,
    task: ds.task,
    featureShape: ds.featureShape,
    numClasses: ds.numClasses ?? undefined,
    targetDim: ds.targetDim,
    normalization: { kind: 'affine', scale: 1, shift: 0 },
    train: empty(),
    validation: empty(),
    test: empty(),
  };
  try {
    checkDatasetFits(compileModel(request.model), shaped);
    return [];
  } catch (err) {
    if (!(err instanceof NnError) || err.code !== 'SHAPE_MISMATCH') throw err;
    const problems = (err.details as { problems?: { field: string; message: string }[] } | undefined)?.problems ?? [];
    const paths: Record<string, string> = {
      inputShape: 'model.inputShape',
      loss: 'model.loss',
      layers: `model.layers[${outputLayer(request.model.layers)}].units`,
    };
    // The dataset.* problems are about rows, and this dataset has none on purpose.
    return problems.filter((p) => Object.hasOwn(paths, p.field)).map((p) => ({ path: paths[p.field]!, message: p.message }));
  }
}

interface Candidate {
  readonly value: number | string;
  /** Where the value comes from, as a request path. */
  readonly path: string;
}

function candidatesOf(def: ParamDef | undefined): Candidate[] {
  if (!def) return [];
  return paramCandidates(def.spec)
    .filter((c): c is { field: string; value: number | string } => typeof c.value === 'number' || typeof c.value === 'string')
    .map((c) => ({ value: c.value, path: `search.space.${def.path}.${c.field}` }));
}

/**
 * Batch sizes worth planning: memory grows with the batch for a fixed number of microbatches, but
 * the default microbatches grow with it too (1, 2 from 32, 4 from 64), shrinking each microbatch:
 * so the largest value per microbatch count, a range's values below 32 and 64 included.
 */
function batchCorners(request: CreateSweepRequest, def: ParamDef | undefined): (Candidate | null)[] {
  if (!def) return [null];
  const values: Candidate[] = candidatesOf(def).filter((c) => typeof c.value === 'number');
  const spec = def.spec;
  if (spec.type === 'int' || spec.type === 'intlog' || spec.type === 'quniform') {
    const step = spec.type === 'int' ? spec.step : spec.type === 'quniform' ? spec.q : 1;
    for (const below of [31, 63]) {
      const v = spec.low + Math.floor((below - spec.low) / step) * step;
      if (v > spec.low && v < spec.high) values.push({ value: v, path: `search.space.${def.path}.high` });
    }
  }
  const best = new Map<number, Candidate>();
  for (const c of values) {
    const m = microbatchesOf(request.training, c.value as number);
    const held = best.get(m);
    if (!held || (c.value as number) > (held.value as number)) best.set(m, c);
  }
  return [...best.values()];
}

const maxOf = (cs: Candidate[]): Candidate | null =>
  cs.filter((c) => typeof c.value === 'number').reduce<Candidate | null>((a, c) => (a === null || (c.value as number) > (a.value as number) ? c : a), null);

/** Past 4 GiB every plan is Infinity: their parts still tell which is larger. */
const larger = (a: PlanBytes, b: PlanBytes) =>
  a.bytes !== b.bytes ? a.bytes > b.bytes : a.parameters + a.activations + a.dataset > b.parameters + b.activations + b.dataset;

interface Corner {
  readonly params: Record<string, ParamValue>;
  readonly config: TrialConfig;
  readonly plan: PlanBytes;
  readonly hidden: Candidate | null;
  readonly batch: Candidate | null;
}

/**
 * Problems that would make every trial (or the largest ones) fail on a worker, as details naming
 * the field to change: a model that does not fit the dataset's shape or classes, and a memory
 * plan past `limits.maxPlanBytes` for the largest trial the space can draw. Memory grows with the
 * hidden units (the largest value is planned), with the batch size (the largest per microbatch
 * count) and with the optimizer's state (every optimizer the space can pick). Pure: the caller
 * supplies the dataset's facts.
 */
/**
 * Top-k accuracy is reported only with more than k classes (nn's reportsTopK): with fewer it is 1
 * for every trial. The dataset's class count decides, so models built from parameters are covered.
 */
function objectiveProblems(request: CreateSweepRequest, ds: DatasetFacts): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const watched: [string, string | undefined][] = [
    ['objective.metric', request.objective.metric],
    ['training.earlyStopping.monitor', request.training.earlyStopping?.monitor],
  ];
  for (const [path, metric] of watched) {
    const topK = metric === undefined ? null : /^(?:train|val)_top(\d+)_accuracy$/.exec(metric);
    if (!topK || ds.task !== 'classification' || ds.numClasses === null) continue;
    const k = Number(topK[1]);
    if (!reportsTopK(ds.numClasses, k)) out.push({ path, message: `top-${k} accuracy needs more than ${k} classes; dataset ${ds.name} has ${ds.numClasses}` });
  }
  return out;
}

/** The dataset's sizes as nn's planBytes takes them. */
function planSizes(dataset: DatasetFacts) {
  return {
    featureShape: dataset.featureShape,
    featureBytes: dataset.featureBytes,
    labelValues: dataset.task === 'regression' ? (dataset.targetDim ?? 1) : 1,
    train: dataset.sizes.train,
    validation: 0,
    test: dataset.sizes.test,
  };
}

/** A space's every combination of range ends and choices, when it has at most this many. */
export const MAX_END_COMBINATIONS = 256;

/**
 * Every combination of the space's range ends and choices (a grid of 2 points per range), or
 * none when there are more than MAX_END_COMBINATIONS: the corners move one parameter at a time,
 * so a failure of three together (two kernel sizes and a padding) shows only here.
 */
function endCombinations(space: SearchSpace): { params: Params; describe: string }[] {
  try {
    return gridCells(space, { pointsPerParam: 2, maxCells: MAX_END_COMBINATIONS }).map(({ params }) => ({
      params,
      describe: `when ${Object.entries(params)
        .map(([name, value]) => `${name} = ${JSON.stringify(value)}`)
        .join(', ')}`,
    }));
  } catch (err) {
    if (err instanceof SearchError) return [];
    throw err;
  }
}

/**
 * checkTrainable for a templated sweep: the model must fit the dataset at every corner of the
 * space (depth, widths and the output layer may all vary), and the largest plan among the corners
 * must fit the limit; a small space's every combination of ends must also resolve and fit.
 */
function checkTemplatedTrainable(request: CreateSweepRequest, space: SearchSpace, dataset: DatasetFacts, limits: TrainableLimits): ErrorDetail[] {
  let worst: { plan: PlanBytes; describe: string } | null = null;
  const corners = cornersOf(space);
  if (!corners) return []; // refused by the request's own corner check
  // At submission only: a stored sweep is parsed again with the request's own (corner) checks.
  const ends = endCombinations(space);
  const checked = [...corners.map((c) => ({ ...c, corner: true })), ...ends.map((e) => ({ ...e, corner: false }))];
  for (const corner of checked) {
    let config: TrialConfig;
    try {
      config = resolveTrialConfig(request, corner.params);
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      if (corner.corner) continue; // submission's own corner checks report it
      return err.details.map((d) => ({ path: d.path, message: `${d.message} (${corner.describe}): a trial drawn there could not train` }));
    }
    const fit = fitProblems(config, dataset);
    if (fit.length > 0) return fit.map((d) => ({ path: d.path.startsWith('model.layers[') ? 'model.layers' : d.path, message: `${d.message} (${corner.describe})` }));
    let plan: PlanBytes;
    try {
      plan = planBytes({ model: config.model, optimizer: config.optimizer, batchSize: config.batchSize, microbatches: config.microbatches, threads: limits.threads, dataset: planSizes(dataset) });
    } catch (err) {
      if (!(err instanceof NnError)) throw err;
      return [{ path: 'model', message: `a trial cannot train ${corner.describe}: ${err.message}` }];
    }
    if (!worst || larger(plan, worst.plan)) worst = { plan, describe: corner.describe };
  }
  if (!worst || worst.plan.bytes <= limits.maxPlanBytes) return [];
  const { plan } = worst;
  return [
    {
      path: plan.activations >= plan.parameters && plan.activations >= plan.dataset ? 'training.batchSize' : plan.parameters >= plan.dataset ? 'model.layers' : 'dataset',
      message:
        `the largest trial (${worst.describe}) needs ${formatBytes(plan.bytes)} of memory on ${limits.threads} replica threads ` +
        `(parameters, gradients and optimizer state ${formatBytes(plan.parameters)}, activations ${formatBytes(plan.activations)}, dataset ${formatBytes(plan.dataset)}); ` +
        `a trial may use at most ${formatBytes(limits.maxPlanBytes)}`,
    },
  ];
}

export function checkTrainable(request: CreateSweepRequest, dataset: DatasetFacts, limits: TrainableLimits): ErrorDetail[] {
  const fit = fitProblems(request, dataset);
  if (fit.length > 0) return fit;
  const objective = objectiveProblems(request, dataset);
  if (objective.length > 0) return objective;

  let space: SearchSpace;
  try {
    space = parseSearchSpace(request.search.space);
  } catch {
    return []; // a request that parsed has a valid space; nothing to add
  }
  if (request.template) return checkTemplatedTrainable(request, space, dataset, limits);
  const hidden = maxOf(candidatesOf(space.byName.get('hidden')));
  const batches = batchCorners(request, space.byName.get('batchSize'));
  const optimizers = candidatesOf(space.byName.get('optimizer')).map((c) => c.value);
  const momentum = maxOf(candidatesOf(space.byName.get('momentum')));
  const sizes = {
    featureShape: dataset.featureShape,
    featureBytes: dataset.featureBytes,
    labelValues: dataset.task === 'regression' ? (dataset.targetDim ?? 1) : 1,
    train: dataset.sizes.train,
    validation: 0,
    test: dataset.sizes.test,
  };

  let worst: Corner | null = null;
  for (const optimizer of optimizers.length > 0 ? optimizers : [undefined]) {
    for (const batch of batches) {
      const params: Record<string, ParamValue> = {};
      if (hidden) params['hidden'] = hidden.value;
      if (batch) params['batchSize'] = batch.value;
      if (optimizer !== undefined) params['optimizer'] = optimizer;
      const type = optimizer ?? request.training.optimizer.type;
      if (momentum && (type === 'sgd' || type === 'rmsprop')) params['momentum'] = momentum.value;
      let config: TrialConfig;
      let plan: PlanBytes;
      try {
        config = resolveTrialConfig(request, params);
        plan = planBytes({ model: config.model, optimizer: config.optimizer, batchSize: config.batchSize, microbatches: config.microbatches, threads: limits.threads, dataset: sizes });
      } catch (err) {
        if (!(err instanceof SchemaError || err instanceof NnError)) throw err;
        return [{ path: 'search.space', message: `the trial with ${JSON.stringify(params)} cannot train: ${err.message}` }];
      }
      if (!worst || larger(plan, worst.plan)) worst = { params, config, plan, hidden, batch };
    }
  }
  if (!worst || worst.plan.bytes <= limits.maxPlanBytes) return [];

  const { plan, config } = worst;
  const drawn = Object.keys(worst.params).length > 0 ? ` (${Object.entries(worst.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : '';
  const message =
    `the largest trial${drawn} needs ${formatBytes(plan.bytes)} of memory on ${limits.threads} replica threads ` +
    `(parameters, gradients and optimizer state ${formatBytes(plan.parameters)}, activations ${formatBytes(plan.activations)}, dataset ${formatBytes(plan.dataset)}); ` +
    `a trial may use at most ${formatBytes(limits.maxPlanBytes)}`;
  // Name what to make smaller: the batch when activations dominate, else the widest dense layer.
  if (plan.activations >= plan.parameters && plan.activations >= plan.dataset) {
    return [{ path: worst.batch?.path ?? 'training.batchSize', message }];
  }
  if (plan.parameters >= plan.dataset) {
    const layers = config.model.layers;
    let widest = -1;
    let widestParams = -1;
    let inputs = config.model.inputShape.reduce((a, b) => a * b, 1);
    layers.forEach((layer, i) => {
      if (layer.type !== 'dense') return;
      if (inputs * layer.units > widestParams) [widest, widestParams] = [i, inputs * layer.units];
      inputs = layer.units;
    });
    const isHidden = widest !== outputLayer(layers);
    return [{ path: isHidden && worst.hidden ? worst.hidden.path : `model.layers[${widest}].units`, message }];
  }
  return [{ path: 'dataset', message }];
}
