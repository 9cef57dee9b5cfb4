// The new-sweep form for the common case (an MLP on a dataset, a search over learning rate, batch
// size, dropout, activation and optimizer) and its mapping to and from CreateSweepRequest. Every
// form field is named by the request path it fills ("search.budget.maxTrials"), so the API's
// error details (and the client-side zod check) land at the field they name.
import { OPTIMIZER_TYPES, type CreateSweepRequestInput, type ErrorDetail, type ObjectiveMetric } from '@hypersweep/schemas';

export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
export const SEARCHABLE_ACTIVATIONS = ['relu', 'tanh', 'gelu', 'elu', 'leaky_relu', 'sigmoid'] as const;
export type HiddenActivation = (typeof SEARCHABLE_ACTIVATIONS)[number] | 'linear';
export const SAMPLER_TYPES = ['random', 'quasi-random', 'grid', 'tpe'] as const;
export const SCHEDULER_TYPES = ['fifo', 'median', 'asha', 'hyperband'] as const;

export interface SweepForm {
  name: string;
  description: string;
  /** "mnist", "spirals" or the UUID of an uploaded CSV dataset. */
  dataset: string;
  limitTrain: string;
  limitTest: string;
  validationFraction: string;
  /** Units of the hidden dense layers, comma-separated: "128, 64". */
  hidden: string;
  activation: HiddenActivation;
  dropoutLayer: boolean;
  dropoutRate: string;
  epochs: string;
  batchSize: string;
  microbatches: string;
  optimizer: OptimizerType;
  learningRate: string;
  space: {
    learningRate: { enabled: boolean; low: string; high: string; log: boolean };
    batchSize: { enabled: boolean; choices: string };
    dropout: { enabled: boolean; low: string; high: string };
    activation: { enabled: boolean; choices: HiddenActivation[] };
    optimizer: { enabled: boolean; choices: OptimizerType[]; momentum: { enabled: boolean; low: string; high: string } };
  };
  sampler: (typeof SAMPLER_TYPES)[number];
  tpeStartupTrials: string;
  gridPointsPerParam: string;
  scheduler: (typeof SCHEDULER_TYPES)[number];
  reductionFactor: string;
  minResource: string;
  gracePeriod: string;
  maxTrials: string;
  maxConcurrentTrials: string;
  maxTotalEpochs: string;
  seed: string;
  objective: ObjectiveMetric;
}

/** What the form needs to know about a dataset to build the input and output layers. */
export interface DatasetShape {
  readonly id: string;
  readonly kind: 'mnist' | 'spirals' | 'csv';
  readonly featureShape: readonly number[];
  /** null for regression. */
  readonly numClasses: number | null;
}

export const BUILTIN_DATASETS: readonly DatasetShape[] = [
  { id: 'mnist', kind: 'mnist', featureShape: [28, 28], numClasses: 10 },
  { id: 'spirals', kind: 'spirals', featureShape: [2], numClasses: 2 },
];

/** The request paths that have a form field (used to place error details). */
export const FORM_FIELDS = [
  'name', 'description', 'dataset', 'dataset.limitTrain', 'dataset.limitTest', 'dataset.validationFraction',
  'model.hidden', 'model.activation', 'model.dropout',
  'training.epochs', 'training.batchSize', 'training.microbatches', 'training.optimizer.type', 'training.optimizer.learningRate',
  'search.space', 'search.space.learningRate', 'search.space.learningRate.low', 'search.space.learningRate.high',
  'search.space.batchSize', 'search.space.dropout', 'search.space.dropout.low', 'search.space.dropout.high',
  'search.space.activation', 'search.space.optimizer', 'search.space.momentum', 'search.space.momentum.low', 'search.space.momentum.high',
  'search.sampler', 'search.sampler.nStartupTrials', 'search.sampler.pointsPerParam',
  'search.scheduler', 'search.scheduler.reductionFactor', 'search.scheduler.minResource', 'search.scheduler.gracePeriod', 'search.scheduler.maxResource',
  'search.budget.maxTrials', 'search.budget.maxConcurrentTrials', 'search.budget.maxTotalEpochs', 'search.seed',
  'objective', 'objective.metric',
] as const;
export type FormField = (typeof FORM_FIELDS)[number];

/** A number from a text field; text that is not one is passed on as is so validation names its field. */
function num(s: string): number | string | undefined {
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

function list(s: string): (number | string)[] {
  return s
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((v) => num(v)!);
}

function datasetShape(form: SweepForm, datasets: readonly DatasetShape[]): DatasetShape {
  return (
    datasets.find((d) => d.id === form.dataset) ??
    BUILTIN_DATASETS.find((d) => d.id === form.dataset) ?? { id: form.dataset, kind: 'csv', featureShape: [1], numClasses: null }
  );
}

/** The layers of the model and, per layer index, the form field that made it. */
export function modelOf(form: SweepForm, datasets: readonly DatasetShape[] = BUILTIN_DATASETS) {
  const shape = datasetShape(form, datasets);
  const layers: Record<string, unknown>[] = [];
  const layerFields: FormField[] = [];
  if (shape.featureShape.length > 1) {
    layers.push({ type: 'flatten' });
    layerFields.push('dataset');
  }
  for (const units of list(form.hidden)) {
    layers.push({ type: 'dense', units, activation: form.activation });
    layerFields.push('model.hidden');
    if (form.dropoutLayer) {
      layers.push({ type: 'dropout', rate: num(form.dropoutRate) ?? 0 });
      layerFields.push('model.dropout');
    }
  }
  layers.push({ type: 'dense', units: shape.numClasses ?? 1 });
  layerFields.push('dataset');
  return {
    model: { inputShape: [...shape.featureShape], layers, loss: shape.numClasses === null ? 'mse' : 'softmax_cross_entropy' },
    layerFields,
  };
}

/** Optimizer choices in a fixed order, sgd first, so the momentum sub-space has a stable path. */
function orderedOptimizers(choices: readonly OptimizerType[]): OptimizerType[] {
  return OPTIMIZER_TYPES.filter((t) => choices.includes(t));
}

function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The request the form describes. Invalid text stays in place, for validation to report at its path. */
export function formToRequest(form: SweepForm, datasets: readonly DatasetShape[] = BUILTIN_DATASETS): CreateSweepRequestInput {
  const shape = datasetShape(form, datasets);
  const dataset =
    shape.kind === 'csv'
      ? { type: 'csv', id: form.dataset }
      : defined({
          type: shape.kind,
          ...(shape.kind === 'mnist' ? { limitTrain: num(form.limitTrain), limitTest: num(form.limitTest) } : {}),
          validationFraction: num(form.validationFraction),
        });

  const space: Record<string, unknown> = {};
  const s = form.space;
  if (s.learningRate.enabled) space['learningRate'] = { type: s.learningRate.log ? 'loguniform' : 'uniform', low: num(s.learningRate.low), high: num(s.learningRate.high) };
  if (s.batchSize.enabled) space['batchSize'] = { type: 'categorical', choices: list(s.batchSize.choices) };
  if (s.dropout.enabled) space['dropout'] = { type: 'uniform', low: num(s.dropout.low), high: num(s.dropout.high) };
  if (s.activation.enabled) space['activation'] = { type: 'categorical', choices: [...s.activation.choices] };
  if (s.optimizer.enabled) {
    space['optimizer'] = {
      type: 'categorical',
      choices: orderedOptimizers(s.optimizer.choices).map((t) =>
        t === 'sgd' && s.optimizer.momentum.enabled
          ? { value: 'sgd', params: { momentum: { type: 'uniform', low: num(s.optimizer.momentum.low), high: num(s.optimizer.momentum.high) } } }
          : t,
      ),
    };
  }

  const sampler =
    form.sampler === 'tpe'
      ? defined({ type: 'tpe' as const, nStartupTrials: num(form.tpeStartupTrials) })
      : form.sampler === 'grid'
        ? defined({ type: 'grid' as const, pointsPerParam: num(form.gridPointsPerParam) })
        : { type: form.sampler };
  const scheduler =
    form.scheduler === 'asha' || form.scheduler === 'hyperband'
      ? defined({ type: form.scheduler, reductionFactor: num(form.reductionFactor), minResource: num(form.minResource) })
      : form.scheduler === 'median'
        ? defined({ type: 'median' as const, gracePeriod: num(form.gracePeriod) })
        : { type: 'fifo' as const };

  const request = {
    name: form.name,
    ...(form.description.trim() ? { description: form.description } : {}),
    dataset,
    model: modelOf(form, datasets).model,
    training: defined({
      epochs: num(form.epochs),
      batchSize: num(form.batchSize),
      microbatches: num(form.microbatches),
      optimizer: defined({ type: form.optimizer, learningRate: num(form.learningRate) }),
    }),
    search: {
      space,
      sampler,
      scheduler,
      budget: defined({ maxTrials: num(form.maxTrials), maxConcurrentTrials: num(form.maxConcurrentTrials), maxTotalEpochs: num(form.maxTotalEpochs) }),
      seed: num(form.seed),
    },
    objective: { metric: form.objective },
  };
  // Text in numeric fields makes this not a valid input type; validation reports it at its path.
  return request as unknown as CreateSweepRequestInput;
}

// ---------------------------------------------------------------------------------------------
// Request → form (the JSON tab back to the form)
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/**
 * The form for a request, or the reason the form cannot show it (layers or parameters the form
 * does not have): the JSON tab then stays the editor.
 */
export function requestToForm(input: unknown): { form: SweepForm } | { reason: string } {
  if (!isObj(input)) return { reason: 'the request is not an object' };
  const base = emptyForm();
  const { dataset, model, training, search, objective } = input;
  if (!isObj(dataset) || !isObj(model) || !isObj(training) || !isObj(search) || !isObj(objective)) {
    return { reason: 'dataset, model, training, search and objective must all be objects' };
  }
  const form: SweepForm = { ...base, name: str(input['name']), description: str(input['description']) };

  if (dataset['type'] === 'csv') form.dataset = str(dataset['id']);
  else if (dataset['type'] === 'mnist' || dataset['type'] === 'spirals') form.dataset = dataset['type'];
  else return { reason: `dataset type ${JSON.stringify(dataset['type'])} is not in the form` };
  const datasetKeys = new Set(['type', 'id', 'limitTrain', 'limitTest', 'validationFraction']);
  const extra = Object.keys(dataset).find((k) => !datasetKeys.has(k));
  if (extra) return { reason: `dataset.${extra} is not in the form` };
  form.limitTrain = str(dataset['limitTrain']);
  form.limitTest = str(dataset['limitTest']);
  form.validationFraction = str(dataset['validationFraction']);

  // Model: [flatten], (dense [dropout])*, dense output.
  const layers = Array.isArray(model['layers']) ? (model['layers'] as unknown[]) : [];
  const hidden: string[] = [];
  let activation: HiddenActivation | undefined;
  let dropout: string | undefined;
  let sawDropoutEverywhere = true;
  const body = layers.filter((l, i) => !(i === 0 && isObj(l) && l['type'] === 'flatten'));
  const output = body[body.length - 1];
  if (!isObj(output) || output['type'] !== 'dense' || (output['activation'] !== undefined && output['activation'] !== 'linear')) {
    return { reason: 'the last layer must be a dense output layer without activation' };
  }
  for (let i = 0; i < body.length - 1; i++) {
    const l = body[i];
    if (!isObj(l)) return { reason: `model.layers[${i}] is not an object` };
    if (l['type'] === 'dense') {
      const a = (l['activation'] ?? 'linear') as HiddenActivation;
      if (activation !== undefined && a !== activation) return { reason: 'hidden layers with different activations are not in the form' };
      if (Object.keys(l).some((k) => !['type', 'units', 'activation'].includes(k))) return { reason: 'dense layer options beyond units and activation are not in the form' };
      activation = a;
      hidden.push(str(l['units']));
      const next = body[i + 1];
      if (isObj(next) && next['type'] === 'dropout') {
        if (dropout !== undefined && str(next['rate']) !== dropout) return { reason: 'dropout layers with different rates are not in the form' };
        dropout = str(next['rate']);
        i++;
      } else {
        sawDropoutEverywhere = false;
      }
    } else {
      return { reason: `a ${str(l['type'])} layer there is not in the form` };
    }
  }
  if (dropout !== undefined && !sawDropoutEverywhere) return { reason: 'dropout after only some hidden layers is not in the form' };
  form.hidden = hidden.join(', ');
  form.activation = activation ?? base.activation;
  form.dropoutLayer = dropout !== undefined;
  form.dropoutRate = dropout ?? base.dropoutRate;

  form.epochs = str(training['epochs']);
  form.batchSize = str(training['batchSize']);
  form.microbatches = str(training['microbatches']);
  const opt = isObj(training['optimizer']) ? training['optimizer'] : {};
  if (Object.keys(opt).some((k) => k !== 'type' && k !== 'learningRate')) return { reason: 'optimizer options beyond type and learningRate are not in the form' };
  if (training['schedule'] !== undefined) return { reason: 'training.schedule is not in the form' };
  form.optimizer = (opt['type'] as OptimizerType | undefined) ?? 'adam';
  form.learningRate = str(opt['learningRate']);

  const space = isObj(search['space']) ? search['space'] : {};
  for (const [name, def] of Object.entries(space)) {
    if (!isObj(def)) return { reason: `search.space.${name} is not an object` };
    if (name === 'learningRate' && (def['type'] === 'loguniform' || def['type'] === 'uniform')) {
      form.space.learningRate = { enabled: true, low: str(def['low']), high: str(def['high']), log: def['type'] === 'loguniform' };
    } else if (name === 'batchSize' && def['type'] === 'categorical' && Array.isArray(def['choices'])) {
      form.space.batchSize = { enabled: true, choices: (def['choices'] as unknown[]).map(str).join(', ') };
    } else if (name === 'dropout' && def['type'] === 'uniform') {
      form.space.dropout = { enabled: true, low: str(def['low']), high: str(def['high']) };
    } else if (name === 'activation' && def['type'] === 'categorical' && Array.isArray(def['choices']) && (def['choices'] as unknown[]).every((c) => typeof c === 'string')) {
      form.space.activation = { enabled: true, choices: def['choices'] as HiddenActivation[] };
    } else if (name === 'optimizer' && def['type'] === 'categorical' && Array.isArray(def['choices'])) {
      const choices: OptimizerType[] = [];
      const momentum = { ...base.space.optimizer.momentum };
      for (const c of def['choices'] as unknown[]) {
        if (typeof c === 'string') choices.push(c as OptimizerType);
        else if (isObj(c) && c['value'] === 'sgd' && isObj(c['params']) && isObj(c['params']['momentum']) && c['params']['momentum']['type'] === 'uniform' && Object.keys(c['params']).length === 1) {
          choices.push('sgd');
          momentum.enabled = true;
          momentum.low = str(c['params']['momentum']['low']);
          momentum.high = str(c['params']['momentum']['high']);
        } else return { reason: 'optimizer choices with sub-spaces other than sgd momentum are not in the form' };
      }
      form.space.optimizer = { enabled: true, choices, momentum };
    } else {
      return { reason: `search.space.${name} (${str(def['type'])}) is not in the form` };
    }
  }
  for (const key of ['learningRate', 'batchSize', 'dropout', 'activation', 'optimizer'] as const) {
    if (!(key in space)) form.space[key].enabled = false;
  }

  const sampler = isObj(search['sampler']) ? search['sampler'] : { type: 'random' };
  if (!SAMPLER_TYPES.includes(sampler['type'] as SweepForm['sampler'])) return { reason: `sampler ${str(sampler['type'])} is not in the form` };
  if (Object.keys(sampler).some((k) => !['type', 'nStartupTrials', 'pointsPerParam'].includes(k))) return { reason: 'sampler options beyond nStartupTrials and pointsPerParam are not in the form' };
  form.sampler = sampler['type'] as SweepForm['sampler'];
  form.tpeStartupTrials = str(sampler['nStartupTrials']);
  form.gridPointsPerParam = typeof sampler['pointsPerParam'] === 'object' ? '' : str(sampler['pointsPerParam']);
  if (typeof sampler['pointsPerParam'] === 'object') return { reason: 'per-parameter grid points are not in the form' };

  const scheduler = isObj(search['scheduler']) ? search['scheduler'] : { type: 'fifo' };
  if (!SCHEDULER_TYPES.includes(scheduler['type'] as SweepForm['scheduler'])) return { reason: `scheduler ${str(scheduler['type'])} is not in the form` };
  if (Object.keys(scheduler).some((k) => !['type', 'reductionFactor', 'minResource', 'gracePeriod'].includes(k))) return { reason: 'scheduler options beyond reductionFactor, minResource and gracePeriod are not in the form' };
  form.scheduler = scheduler['type'] as SweepForm['scheduler'];
  form.reductionFactor = str(scheduler['reductionFactor']);
  form.minResource = str(scheduler['minResource']);
  form.gracePeriod = str(scheduler['gracePeriod']);

  const budget = isObj(search['budget']) ? search['budget'] : {};
  if (Object.keys(budget).some((k) => !['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs'].includes(k))) return { reason: 'budget options beyond maxTrials, maxConcurrentTrials and maxTotalEpochs are not in the form' };
  form.maxTrials = str(budget['maxTrials']);
  form.maxConcurrentTrials = str(budget['maxConcurrentTrials']);
  form.maxTotalEpochs = str(budget['maxTotalEpochs']);
  form.seed = str(search['seed']);
  form.objective = objective['metric'] as ObjectiveMetric;
  return { form };
}

// ---------------------------------------------------------------------------------------------
// Errors at fields
// ---------------------------------------------------------------------------------------------

export interface PlacedErrors {
  /** Messages per form field. */
  readonly fields: Partial<Record<FormField, string[]>>;
  /** Details no field owns, with their paths, for a summary above the form. */
  readonly general: ErrorDetail[];
}

/** The field a request path belongs to: model layers by the field that made them, else the longest field prefix. */
export function fieldForPath(path: string, layerFields: readonly FormField[] = []): FormField | undefined {
  const layer = /^model\.layers\[(\d+)\](?:\.(\w+))?/.exec(path);
  if (layer) {
    const field = layerFields[Number(layer[1])];
    if (field === 'model.hidden' && layer[2] === 'activation') return 'model.activation';
    return field ?? 'model.hidden';
  }
  if (path === 'model.layers' || path.startsWith('model')) return 'model.hidden';
  // The sgd momentum sub-space sits under the optimizer choice; the form shows it as one field.
  const momentum = /^search\.space\.optimizer\.choices\[\d+\]\.params\.momentum(\.low|\.high)?/.exec(path);
  if (momentum) return `search.space.momentum${momentum[1] ?? ''}` as FormField;
  if (/^search\.space\.optimizer\.choices/.test(path)) return 'search.space.optimizer';
  if (path.startsWith('search.space.batchSize')) return 'search.space.batchSize';
  if (path.startsWith('search.space.activation')) return 'search.space.activation';
  if (path.startsWith('dataset.type') || path === 'dataset.id') return 'dataset';
  let best: FormField | undefined;
  for (const f of FORM_FIELDS) {
    if (path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`)) {
      if (!best || f.length > best.length) best = f;
    }
  }
  return best === 'search.space' && path !== 'search.space' ? undefined : best;
}

export function placeErrors(details: readonly ErrorDetail[], layerFields: readonly FormField[] = []): PlacedErrors {
  const fields: Partial<Record<FormField, string[]>> = {};
  const general: ErrorDetail[] = [];
  for (const d of details) {
    const f = d.path ? fieldForPath(d.path, layerFields) : undefined;
    if (f) (fields[f] ??= []).push(d.message);
    else general.push(d);
  }
  return { fields, general };
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

export function emptyForm(): SweepForm {
  return {
    name: '',
    description: '',
    dataset: 'mnist',
    limitTrain: '',
    limitTest: '',
    validationFraction: '',
    hidden: '128',
    activation: 'relu',
    dropoutLayer: false,
    dropoutRate: '0.2',
    epochs: '10',
    batchSize: '64',
    // Blank: the trial's default for its batch size (4 from 64 rows), the same on every worker.
    microbatches: '',
    optimizer: 'adam',
    learningRate: '0.001',
    space: {
      learningRate: { enabled: true, low: '0.0001', high: '0.1', log: true },
      batchSize: { enabled: false, choices: '32, 64, 128' },
      dropout: { enabled: false, low: '0', high: '0.5' },
      activation: { enabled: false, choices: ['relu', 'tanh', 'gelu'] },
      optimizer: { enabled: false, choices: ['sgd', 'adam'], momentum: { enabled: true, low: '0', high: '0.95' } },
    },
    sampler: 'random',
    tpeStartupTrials: '',
    gridPointsPerParam: '',
    scheduler: 'fifo',
    reductionFactor: '',
    minResource: '',
    gracePeriod: '',
    maxTrials: '20',
    maxConcurrentTrials: '2',
    maxTotalEpochs: '',
    seed: '0',
    objective: 'val_accuracy',
  };
}

export interface SweepTemplate {
  readonly id: string;
  readonly title: string;
  readonly form: () => SweepForm;
}

export const TEMPLATES: readonly SweepTemplate[] = [
  {
    id: 'mnist-mlp',
    title: 'MNIST MLP: learning rate × batch size × dropout × activation',
    form: () => {
      const f = emptyForm();
      return {
        ...f,
        name: 'mnist mlp: lr × batch × dropout × activation',
        limitTrain: '5000',
        limitTest: '1000',
        hidden: '128',
        dropoutLayer: true,
        dropoutRate: '0.2',
        epochs: '10',
        space: {
          ...f.space,
          learningRate: { enabled: true, low: '0.0001', high: '0.1', log: true },
          batchSize: { enabled: true, choices: '32, 64, 128' },
          dropout: { enabled: true, low: '0', high: '0.5' },
          activation: { enabled: true, choices: ['relu', 'tanh', 'gelu'] },
        },
        sampler: 'tpe',
        tpeStartupTrials: '8',
        scheduler: 'asha',
        reductionFactor: '3',
        minResource: '1',
        maxTrials: '30',
        maxConcurrentTrials: '4',
        seed: '42',
        objective: 'val_accuracy',
      };
    },
  },
  {
    id: 'mnist-optimizers',
    title: 'MNIST: SGD with momentum vs Adam × learning rate (TPE + ASHA)',
    form: () => {
      const f = emptyForm();
      return {
        ...f,
        name: 'mnist tpe+asha: optimizer × lr',
        limitTrain: '2000',
        limitTest: '500',
        hidden: '64',
        dropoutLayer: true,
        dropoutRate: '0.1',
        epochs: '9',
        space: {
          ...f.space,
          learningRate: { enabled: true, low: '0.0001', high: '0.1', log: true },
          optimizer: { enabled: true, choices: ['sgd', 'adam'], momentum: { enabled: true, low: '0', high: '0.95' } },
        },
        sampler: 'tpe',
        tpeStartupTrials: '4',
        scheduler: 'asha',
        reductionFactor: '3',
        minResource: '1',
        maxTrials: '12',
        maxConcurrentTrials: '4',
        seed: '42',
        objective: 'val_accuracy',
      };
    },
  },
  {
    id: 'spirals-quick',
    title: 'Two spirals (quick): learning rate × activation, median stopping',
    form: () => {
      const f = emptyForm();
      return {
        ...f,
        name: 'spirals: lr × activation',
        dataset: 'spirals',
        hidden: '32, 32',
        activation: 'tanh',
        epochs: '20',
        batchSize: '32',
        space: {
          ...f.space,
          learningRate: { enabled: true, low: '0.001', high: '0.3', log: true },
          activation: { enabled: true, choices: ['relu', 'tanh', 'gelu'] },
        },
        sampler: 'random',
        scheduler: 'median',
        gracePeriod: '5',
        maxTrials: '12',
        maxConcurrentTrials: '3',
        seed: '7',
        objective: 'val_loss',
      };
    },
  },
];
