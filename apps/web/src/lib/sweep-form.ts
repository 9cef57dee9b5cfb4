// The new-sweep form for the common case (an MLP on a dataset, a search over learning rate, batch
// size, dropout, activation and optimizer, and any field "tuned" into a parameter reference) and
// its mapping to and from CreateSweepRequest. Every form field is named by the request path it
// fills ("search.budget.maxTrials"), so the API's error details (and the client-side zod check)
// land at the field they name.
import { OPTIMIZER_TYPES, type CreateSweepRequestInput, type ErrorDetail, type ObjectiveMetric, type ObjectiveMode } from '@hypersweep/schemas';

export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
export const SEARCHABLE_ACTIVATIONS = ['relu', 'tanh', 'gelu', 'elu', 'leaky_relu', 'sigmoid'] as const;
export type HiddenActivation = (typeof SEARCHABLE_ACTIVATIONS)[number] | 'linear';
export const SAMPLER_TYPES = ['random', 'quasi-random', 'grid', 'tpe'] as const;
export const SCHEDULER_TYPES = ['fifo', 'median', 'asha', 'hyperband'] as const;
/** Learning-rate schedules the form writes (blank: none, the trainer's constant rate). */
export const SCHEDULE_TYPES = ['constant', 'cosine'] as const;
export const SCALINGS = ['standardize', 'unit', 'none'] as const;

/**
 * A form field that "tune this" can turn into a parameter reference: per hidden layer (1-based)
 * its units, activation and dropout rate, and the training and dataset settings the form has.
 */
export type TuneTarget =
  | `units:${number}`
  | `activation:${number}`
  | `dropout:${number}`
  | 'learningRate'
  | 'batchSize'
  | 'epochs'
  | 'optimizer'
  | 'warmupEpochs'
  | 'scaling';
export const TUNE_TYPES = ['uniform', 'loguniform', 'int', 'intlog', 'categorical'] as const;
export type TuneType = (typeof TUNE_TYPES)[number];

/** A tuned field: the reference `{ $param: name }` in its place, and the parameter's definition. */
export interface TunedParam {
  readonly target: TuneTarget;
  readonly name: string;
  readonly type: TuneType;
  readonly low: string;
  readonly high: string;
  /** Comma-separated (categorical). */
  readonly choices: string;
}

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
  /** Blank: no schedule written. */
  schedule: '' | (typeof SCHEDULE_TYPES)[number];
  warmupEpochs: string;
  /** Input scaling (MNIST and CSV); blank: the dataset's default. */
  scaling: '' | (typeof SCALINGS)[number];
  /** Fields turned into parameters ("tune this"), in the order they were tuned. */
  tuned: TunedParam[];
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
  /** Blank: the metric's natural direction (required for metrics whose name does not tell). */
  objectiveMode: '' | ObjectiveMode;
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
  'dataset.scaling', 'training.epochs', 'training.batchSize', 'training.microbatches', 'training.optimizer.type', 'training.optimizer.learningRate',
  'training.schedule', 'training.schedule.warmupEpochs',
  'search.space', 'search.space.learningRate', 'search.space.learningRate.low', 'search.space.learningRate.high',
  'search.space.batchSize', 'search.space.dropout', 'search.space.dropout.low', 'search.space.dropout.high',
  'search.space.activation', 'search.space.optimizer', 'search.space.momentum', 'search.space.momentum.low', 'search.space.momentum.high',
  'search.sampler', 'search.sampler.nStartupTrials', 'search.sampler.pointsPerParam',
  'search.scheduler', 'search.scheduler.reductionFactor', 'search.scheduler.minResource', 'search.scheduler.gracePeriod', 'search.scheduler.maxResource',
  'search.budget.maxTrials', 'search.budget.maxConcurrentTrials', 'search.budget.maxTotalEpochs', 'search.seed',
  'objective', 'objective.metric', 'objective.mode',
] as const;
/** A fixed field of the form, or a tuned parameter's definition (`search.space.<name>`). */
export type FormField = (typeof FORM_FIELDS)[number] | `search.space.${string}`;

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
  list(form.hidden).forEach((units, i) => {
    const layer = i + 1;
    layers.push({ type: 'dense', units: refOr(form, `units:${layer}`, units), activation: refOr(form, `activation:${layer}`, form.activation) });
    layerFields.push('model.hidden');
    if (form.dropoutLayer) {
      layers.push({ type: 'dropout', rate: refOr(form, `dropout:${layer}`, num(form.dropoutRate) ?? 0) });
      layerFields.push('model.dropout');
    }
  });
  layers.push({ type: 'dense', units: shape.numClasses ?? 1 });
  layerFields.push('dataset');
  return {
    model: { inputShape: [...shape.featureShape], layers, loss: shape.numClasses === null ? 'mse' : 'softmax_cross_entropy' },
    layerFields,
  };
}

// ---------------------------------------------------------------------------------------------
// "Tune this": fields as parameter references
// ---------------------------------------------------------------------------------------------

/** `{ $param: name }`: a reference to a search-space parameter, in place of a value. */
export function paramRef(name: string): { $param: string } {
  return { $param: name };
}

function isRef(v: unknown): v is { $param: string } {
  return isObj(v) && Object.keys(v).length === 1 && typeof v['$param'] === 'string';
}

export function tuneOf(form: SweepForm, target: TuneTarget): TunedParam | undefined {
  return form.tuned.find((t) => t.target === target);
}

/** The reference when the field is tuned, else its value. */
function refOr(form: SweepForm, target: TuneTarget, value: unknown): unknown {
  const t = tuneOf(form, target);
  return t ? paramRef(t.name) : value;
}

/** The shorthand row of the search space that sets the same field (tuning the field replaces it). */
function shorthandRowOf(target: TuneTarget): keyof SweepForm['space'] | undefined {
  const kind = target.split(':')[0];
  return kind === 'learningRate' || kind === 'batchSize' || kind === 'optimizer' || kind === 'dropout' || kind === 'activation' ? kind : undefined;
}

/** Whether a tuned field is on the form as it is now (its layer exists, its schedule is set, ...). */
export function tuneApplies(form: SweepForm, target: TuneTarget, datasets: readonly DatasetShape[] = BUILTIN_DATASETS): boolean {
  const [kind, n] = target.split(':');
  const layer = Number(n);
  if (kind === 'units' || kind === 'activation' || kind === 'dropout') {
    return layer >= 1 && layer <= list(form.hidden).length && (kind !== 'dropout' || form.dropoutLayer);
  }
  if (kind === 'warmupEpochs') return form.schedule !== '';
  if (kind === 'scaling') return datasetShape(form, datasets).kind !== 'spirals';
  return true;
}

/** The tuned fields that apply now: the ones written into the request. */
export function activeTunes(form: SweepForm, datasets: readonly DatasetShape[] = BUILTIN_DATASETS): TunedParam[] {
  return form.tuned.filter((t) => tuneApplies(form, t.target, datasets));
}

/** Whether a shorthand row is replaced by tuned fields that set the same thing. */
export function shorthandReplaced(form: SweepForm, row: keyof SweepForm['space'], datasets: readonly DatasetShape[] = BUILTIN_DATASETS): boolean {
  return activeTunes(form, datasets).some((t) => shorthandRowOf(t.target) === row);
}

/** Three significant digits, as text: suggested bounds read like typed ones. */
function short(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** The parameter a field becomes when tuned: a name after the field and a range around its value. */
export function suggestTune(form: SweepForm, target: TuneTarget, datasets: readonly DatasetShape[] = BUILTIN_DATASETS): TunedParam {
  const [kind, n] = target.split(':');
  // The shorthand row this field replaces is turned off: its name is free.
  const replaced = shorthandRowOf(target);
  const taken = new Set([...form.tuned.map((t) => t.name), ...Object.entries(form.space).filter(([k, row]) => row.enabled && k !== replaced).map(([k]) => k)]);
  let name = n === undefined ? (kind ?? 'param') : `${kind}_${n}`;
  for (let i = 2; taken.has(name); i++) name = `${n === undefined ? kind : `${kind}_${n}`}_${i}`;
  const numeric = (text: string, fallback: number) => {
    const v = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(v) && v > 0 ? v : fallback;
  };
  const row = replaced;
  const base = { target, name, low: '', high: '', choices: '' };
  switch (kind) {
    case 'units': {
      const units = Math.round(numeric(String(list(form.hidden)[Number(n) - 1] ?? ''), 64));
      const low = Math.max(1, Math.round(units / 4));
      return { ...base, type: 'intlog', low: String(low), high: String(Math.max(low + 1, Math.min(4096, units * 4))) };
    }
    case 'activation': {
      const current = form.activation === 'linear' ? [] : [form.activation];
      const choices = form.space.activation.enabled && row ? form.space.activation.choices : [...new Set([...current, 'relu', 'tanh', 'gelu'])];
      return { ...base, type: 'categorical', choices: choices.join(', ') };
    }
    case 'dropout':
      return form.space.dropout.enabled ? { ...base, type: 'uniform', low: form.space.dropout.low, high: form.space.dropout.high } : { ...base, type: 'uniform', low: '0', high: '0.5' };
    case 'learningRate': {
      const r = form.space.learningRate;
      if (r.enabled) return { ...base, type: r.log ? 'loguniform' : 'uniform', low: r.low, high: r.high };
      const lr = numeric(form.learningRate, 0.001);
      return { ...base, type: 'loguniform', low: short(lr / 10), high: short(Math.min(1, lr * 10)) };
    }
    case 'batchSize': {
      if (form.space.batchSize.enabled) return { ...base, type: 'categorical', choices: form.space.batchSize.choices };
      const b = Math.round(numeric(form.batchSize, 32));
      return { ...base, type: 'categorical', choices: [...new Set([Math.max(1, Math.round(b / 2)), b, b * 2])].join(', ') };
    }
    case 'epochs': {
      const e = Math.round(numeric(form.epochs, 10));
      return { ...base, type: 'int', low: String(Math.max(1, Math.round(e / 2))), high: String(Math.min(1000, Math.max(2, e * 2))) };
    }
    case 'optimizer': {
      const choices = form.space.optimizer.enabled ? orderedOptimizers(form.space.optimizer.choices) : [...new Set([form.optimizer, 'adam', 'sgd'])];
      return { ...base, type: 'categorical', choices: choices.join(', ') };
    }
    case 'warmupEpochs': {
      const e = Math.round(numeric(form.epochs, 10));
      return { ...base, type: 'int', low: '0', high: String(Math.max(1, Math.min(5, Math.floor(e / 2)))) };
    }
    default: {
      const csv = datasetShape(form, datasets).kind === 'csv';
      return { ...base, type: 'categorical', choices: (csv ? ['standardize', 'none'] : SCALINGS).join(', ') };
    }
  }
}

/**
 * Tunes a field, or stops tuning it. Tuning a field that a shorthand row of the space sets
 * (learning rate, batch size, optimizer, dropout, activation) takes over that row's range and
 * turns the row off: both would set the same field.
 */
export function toggleTune(form: SweepForm, target: TuneTarget, datasets: readonly DatasetShape[] = BUILTIN_DATASETS): SweepForm {
  if (tuneOf(form, target)) return { ...form, tuned: form.tuned.filter((t) => t.target !== target) };
  const tuned = suggestTune(form, target, datasets);
  const row = shorthandRowOf(target);
  const space = row && form.space[row].enabled ? { ...form.space, [row]: { ...form.space[row], enabled: false } } : form.space;
  return { ...form, space, tuned: [...form.tuned, tuned] };
}

function tuneDefinition(t: TunedParam): Record<string, unknown> {
  return t.type === 'categorical' ? { type: 'categorical', choices: list(t.choices) } : { type: t.type, low: num(t.low), high: num(t.high) };
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
  if (shape.kind !== 'spirals') {
    const scaling = refOr(form, 'scaling', form.scaling || undefined);
    if (scaling !== undefined) (dataset as Record<string, unknown>)['scaling'] = scaling;
  }

  const space: Record<string, unknown> = {};
  // A row replaced by tuned fields is not written, whatever its checkbox says.
  const s = Object.fromEntries(
    Object.entries(form.space).map(([k, row]) => [k, { ...row, enabled: row.enabled && !shorthandReplaced(form, k as keyof SweepForm['space'], datasets) }]),
  ) as SweepForm['space'];
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
  // A name shared by several tuned fields is one parameter: the first definition stands.
  for (const t of activeTunes(form, datasets)) space[t.name] ??= tuneDefinition(t);

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
      epochs: refOr(form, 'epochs', num(form.epochs)),
      batchSize: refOr(form, 'batchSize', num(form.batchSize)),
      microbatches: num(form.microbatches),
      optimizer: defined({ type: refOr(form, 'optimizer', form.optimizer), learningRate: refOr(form, 'learningRate', num(form.learningRate)) }),
      schedule: form.schedule ? defined({ type: form.schedule, warmupEpochs: refOr(form, 'warmupEpochs', num(form.warmupEpochs)) }) : undefined,
    }),
    search: {
      space,
      sampler,
      scheduler,
      budget: defined({ maxTrials: num(form.maxTrials), maxConcurrentTrials: num(form.maxConcurrentTrials), maxTotalEpochs: num(form.maxTotalEpochs) }),
      seed: num(form.seed),
    },
    objective: { metric: form.objective, ...(form.objectiveMode ? { mode: form.objectiveMode } : {}) },
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

/** Every `$param` reference in a value, with its request path; `$repeat` and other `$` keys as a reason. */
function referencesIn(v: unknown, path: string, out: { path: string; name: string }[]): string | undefined {
  if (isRef(v)) {
    out.push({ path, name: v.$param });
    return undefined;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = referencesIn(v[i], `${path}[${i}]`, out);
      if (r) return r;
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('$')) return `${k} at ${path} is not in the form`;
      const r = referencesIn(x, `${path}.${k}`, out);
      if (r) return r;
    }
  }
  return undefined;
}

/**
 * The form for a request, or the reason the form cannot show it (layers or parameters the form
 * does not have): the JSON tab then stays the editor. A stored request's `template` (its sections
 * as written, with references) is read in place of its plain sections.
 */
export function requestToForm(input: unknown): { form: SweepForm } | { reason: string } {
  if (!isObj(input)) return { reason: 'the request is not an object' };
  const base = emptyForm();
  const template = isObj(input['template']) ? input['template'] : {};
  const dataset = template['dataset'] ?? input['dataset'];
  const model = template['model'] ?? input['model'];
  const training = template['training'] ?? input['training'];
  const { search, objective } = input;
  if (!isObj(dataset) || !isObj(model) || !isObj(training) || !isObj(search) || !isObj(objective)) {
    return { reason: 'dataset, model, training, search and objective must all be objects' };
  }
  const form: SweepForm = { ...base, name: str(input['name']), description: str(input['description']), tuned: [] };

  // References: each must sit in a field the form can tune; `used` collects the ones read.
  const references: { path: string; name: string }[] = [];
  for (const [section, value] of [['dataset', dataset], ['model', model], ['training', training]] as const) {
    const reason = referencesIn(value, section, references);
    if (reason) return { reason };
  }
  const refAt = new Map(references.map((r) => [r.path, r.name]));
  const tunedAt = new Map<TuneTarget, string>();
  /** The field's text, or '' after recording the tuned field when it holds a reference. */
  const read = (path: string, value: unknown, target: TuneTarget): string => {
    const name = refAt.get(path);
    if (name === undefined) return str(value);
    tunedAt.set(target, name);
    refAt.delete(path);
    return '';
  };

  if (dataset['type'] === 'csv') form.dataset = str(dataset['id']);
  else if (dataset['type'] === 'mnist' || dataset['type'] === 'spirals') form.dataset = dataset['type'];
  else return { reason: `dataset type ${JSON.stringify(dataset['type'])} is not in the form` };
  const datasetKeys = new Set(['type', 'id', 'limitTrain', 'limitTest', 'validationFraction', 'scaling']);
  const extra = Object.keys(dataset).find((k) => !datasetKeys.has(k));
  if (extra) return { reason: `dataset.${extra} is not in the form` };
  form.limitTrain = str(dataset['limitTrain']);
  form.limitTest = str(dataset['limitTest']);
  form.validationFraction = str(dataset['validationFraction']);
  form.scaling = read('dataset.scaling', dataset['scaling'], 'scaling') as SweepForm['scaling'];

  // Model: [flatten], (dense [dropout])*, dense output.
  const layers = Array.isArray(model['layers']) ? (model['layers'] as unknown[]) : [];
  const hidden: string[] = [];
  let activation: HiddenActivation | undefined;
  let dropout: string | undefined;
  let sawDropoutEverywhere = true;
  let sawDropout = false;
  const offset = isObj(layers[0]) && layers[0]['type'] === 'flatten' ? 1 : 0;
  const body = layers.slice(offset);
  const output = body[body.length - 1];
  if (!isObj(output) || output['type'] !== 'dense' || (output['activation'] !== undefined && output['activation'] !== 'linear')) {
    return { reason: 'the last layer must be a dense output layer without activation' };
  }
  for (let i = 0; i < body.length - 1; i++) {
    const l = body[i];
    const at = `model.layers[${i + offset}]`;
    if (!isObj(l)) return { reason: `model.layers[${i}] is not an object` };
    if (l['type'] === 'dense') {
      const layer = hidden.length + 1;
      if (Object.keys(l).some((k) => !['type', 'units', 'activation'].includes(k))) return { reason: 'dense layer options beyond units and activation are not in the form' };
      const a = read(`${at}.activation`, l['activation'] ?? 'linear', `activation:${layer}`) as HiddenActivation | '';
      if (a !== '') {
        if (activation !== undefined && a !== activation) return { reason: 'hidden layers with different activations are not in the form' };
        activation = a;
      }
      hidden.push(read(`${at}.units`, l['units'], `units:${layer}`));
      const next = body[i + 1];
      if (isObj(next) && next['type'] === 'dropout' && i + 1 < body.length - 1) {
        const rate = read(`model.layers[${i + 1 + offset}].rate`, next['rate'], `dropout:${layer}`);
        if (rate !== '') {
          if (dropout !== undefined && rate !== dropout) return { reason: 'dropout layers with different rates are not in the form' };
          dropout = rate;
        }
        sawDropout = true;
        i++;
      } else {
        sawDropoutEverywhere = false;
      }
    } else {
      return { reason: `a ${str(l['type'])} layer there is not in the form` };
    }
  }
  if (sawDropout && !sawDropoutEverywhere) return { reason: 'dropout after only some hidden layers is not in the form' };
  form.hidden = hidden.join(', ');
  form.activation = activation ?? base.activation;
  form.dropoutLayer = sawDropout;
  form.dropoutRate = dropout ?? base.dropoutRate;

  form.epochs = read('training.epochs', training['epochs'], 'epochs');
  form.batchSize = read('training.batchSize', training['batchSize'], 'batchSize');
  form.microbatches = str(training['microbatches']);
  const opt = isObj(training['optimizer']) ? training['optimizer'] : {};
  if (Object.keys(opt).some((k) => k !== 'type' && k !== 'learningRate')) return { reason: 'optimizer options beyond type and learningRate are not in the form' };
  const trainingKeys = new Set(['epochs', 'batchSize', 'microbatches', 'optimizer', 'schedule']);
  const extraTraining = Object.keys(training).find((k) => !trainingKeys.has(k));
  if (extraTraining) return { reason: `training.${extraTraining} is not in the form` };
  form.optimizer = (read('training.optimizer.type', opt['type'], 'optimizer') || 'adam') as OptimizerType;
  form.learningRate = read('training.optimizer.learningRate', opt['learningRate'], 'learningRate');
  const schedule = training['schedule'];
  if (schedule !== undefined) {
    const type = isObj(schedule) ? schedule['type'] : undefined;
    if (!isObj(schedule) || !SCHEDULE_TYPES.includes(type as (typeof SCHEDULE_TYPES)[number]) || Object.keys(schedule).some((k) => k !== 'type' && k !== 'warmupEpochs')) {
      return { reason: `training.schedule (${str(type)}) is not in the form` };
    }
    form.schedule = type as SweepForm['schedule'];
    form.warmupEpochs = read('training.schedule.warmupEpochs', schedule['warmupEpochs'], 'warmupEpochs');
  }
  const [unread] = refAt.keys();
  if (unread !== undefined) return { reason: `the reference at ${unread} is not in the form` };

  const space = isObj(search['space']) ? search['space'] : {};
  const referenced = new Set(tunedAt.values());
  if (referenced.size < tunedAt.size) return { reason: 'a parameter used by several fields is not in the form' };
  for (const [target, name] of tunedAt) {
    const def = space[name];
    if (!isObj(def) || !TUNE_TYPES.includes(def['type'] as TuneType)) return { reason: `search.space.${name} (${str(isObj(def) ? def['type'] : def)}) is not in the form` };
    const choices = def['choices'];
    if (def['type'] === 'categorical' && !(Array.isArray(choices) && choices.every((c) => typeof c === 'string' || typeof c === 'number'))) {
      return { reason: `search.space.${name}: choices with sub-spaces are not in the form` };
    }
    form.tuned.push({ target, name, type: def['type'] as TuneType, low: str(def['low']), high: str(def['high']), choices: Array.isArray(choices) ? choices.map(str).join(', ') : '' });
  }
  // A tuned layer still needs units in the list of hidden layers: its range's low end.
  form.hidden = hidden.map((u, i) => (u === '' ? str(form.tuned.find((t) => t.target === `units:${i + 1}`)?.low) || '64' : u)).join(', ');

  for (const [name, def] of Object.entries(space)) {
    if (referenced.has(name)) continue;
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
    if (!(key in space) || referenced.has(key)) form.space[key].enabled = false;
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
  form.objective = str(objective['metric']);
  form.objectiveMode = objective['mode'] === 'minimize' || objective['mode'] === 'maximize' ? objective['mode'] : '';
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

/**
 * The field a request path belongs to: a tuned parameter's definition by its name, model layers by
 * the field that made them, else the longest field prefix.
 */
export function fieldForPath(path: string, layerFields: readonly FormField[] = [], tunedNames: readonly string[] = []): FormField | undefined {
  const tuned = /^search\.space\.([^.[]+)/.exec(path);
  if (tuned && tunedNames.includes(tuned[1]!)) return `search.space.${tuned[1]!}`;
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

export function placeErrors(details: readonly ErrorDetail[], layerFields: readonly FormField[] = [], tunedNames: readonly string[] = []): PlacedErrors {
  const fields: Partial<Record<FormField, string[]>> = {};
  const general: ErrorDetail[] = [];
  for (const d of details) {
    const f = d.path ? fieldForPath(d.path, layerFields, tunedNames) : undefined;
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
    schedule: '',
    warmupEpochs: '0',
    scaling: '',
    tuned: [],
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
    objectiveMode: '',
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
