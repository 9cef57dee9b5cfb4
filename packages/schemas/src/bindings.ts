// How a trial's sampled parameters become its training config. Parameter names are conventions:
// each names one training setting (BINDINGS), so a space reads as what it tunes and needs no
// separate mapping. Checked once per sweep against the space, applied per trial.
import {
  ACTIVATIONS,
  type Activation,
  ModelSpecSchema,
  LEARNING_RATE_RANGE,
  NnError,
  defaultMicrobatches,
  OptimizerSpecSchema,
  parseModelSpec,
  type LayerSpec,
  type ModelSpec,
  type OptimizerSpec,
  type ScheduleSpec,
} from '@hypersweep/nn';
import type { ParamSpec, ParamValue, Params, SearchSpace } from '@hypersweep/search';
import { z } from 'zod';
import { zodIssuesToDetails, type ErrorDetail } from './common.ts';
import { SchemaError } from './errors.ts';
import { instantiateRequest, referencedNames } from './corners.ts';
import { parseSearchSpace, type CreateSweepRequest, type DatasetRef, type EarlyStoppingSpec, type ObjectiveSpec } from './sweep.ts';

export const OPTIMIZER_TYPES = ['sgd', 'adam', 'adamw', 'rmsprop'] as const;
type OptimizerType = (typeof OPTIMIZER_TYPES)[number];
/** Optimizers with a momentum term. */
const WITH_MOMENTUM: readonly OptimizerType[] = ['sgd', 'rmsprop'];

interface Binding {
  /** What the parameter sets, for documentation and messages. */
  readonly target: string;
  /** Why `value` cannot be used, or undefined. */
  check(value: ParamValue): string | undefined;
  /** Whether every value is an integer (so float-valued parameter types are refused). */
  readonly integer?: boolean;
}

const numberIn = (low: number, high: number, lowOpen: boolean, highOpen: boolean, integer = false) => (v: ParamValue) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `must be a number, got ${JSON.stringify(v)}`;
  if (integer && !Number.isInteger(v)) return `must be an integer, got ${v}`;
  const below = lowOpen ? v <= low : v < low;
  const above = highOpen ? v >= high : v > high;
  if (below || above) return `must be in ${lowOpen ? '(' : '['}${low}, ${high}${highOpen ? ')' : ']'}, got ${v}`;
  return undefined;
};
const oneOf = (values: readonly string[]) => (v: ParamValue) =>
  typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`;

/** The parameter names a search space may use, and what each one sets. */
export const BINDINGS = {
  learningRate: { target: 'training.optimizer.learningRate', check: numberIn(LEARNING_RATE_RANGE.min, LEARNING_RATE_RANGE.max, false, false) },
  optimizer: { target: 'training.optimizer.type (that optimizer\'s defaults apply when it differs from the base)', check: oneOf(OPTIMIZER_TYPES) },
  momentum: { target: 'training.optimizer.momentum (sgd and rmsprop only)', check: numberIn(0, 1, false, true) },
  weightDecay: { target: 'training.optimizer.weightDecay', check: numberIn(0, 1, false, false) },
  batchSize: { target: 'training.batchSize', check: numberIn(1, 65_536, false, false, true), integer: true },
  dropout: { target: 'model: rate of every dropout layer', check: numberIn(0, 1, false, true) },
  activation: { target: 'model: activation of every hidden dense layer (all but the last)', check: oneOf(ACTIVATIONS.filter((a) => a !== 'softmax')) },
  hidden: { target: 'model: units of every hidden dense layer (all but the last)', check: numberIn(1, 16_384, false, false, true), integer: true },
} as const satisfies Record<string, Binding>;
export type BoundParam = keyof typeof BINDINGS;
export const BOUND_PARAMS = Object.keys(BINDINGS) as BoundParam[];

function isBound(name: string): name is BoundParam {
  return Object.hasOwn(BINDINGS, name);
}

/** Indices of the dense layers before the output layer (the last dense one). */
function hiddenDenseIndices(layers: readonly LayerSpec[]): number[] {
  const dense = layers.flatMap((l, i) => (l.type === 'dense' ? [i] : []));
  return dense.slice(0, -1);
}

/** Candidate values of a parameter with the field of the space they come from (a range: its ends). */
export function paramCandidates(spec: ParamSpec): { field: string; value: ParamValue }[] {
  switch (spec.type) {
    case 'fixed':
      return [{ field: 'value', value: spec.value }];
    case 'categorical':
      return spec.choices.map((c, i) => ({ field: c.params ? `choices[${i}].value` : `choices[${i}]`, value: c.value }));
    default:
      return [
        { field: 'low', value: spec.low },
        { field: 'high', value: spec.high },
      ];
  }
}

/**
 * Problems of a space against the request it belongs to, with paths inside the space: unknown
 * names, values a setting cannot take, float types for integer settings, momentum reachable with
 * an optimizer that has none, model settings with no layer to apply to.
 */
export function checkSpaceBindings(
  space: SearchSpace,
  request: { model: ModelSpec; training: { optimizer: OptimizerSpec; microbatches?: number | undefined } },
  referenced: ReadonlySet<string> = new Set(),
): ErrorDetail[] {
  const issues: ErrorDetail[] = [];
  const hidden = hiddenDenseIndices(request.model.layers);
  const hasDropout = request.model.layers.some((l) => l.type === 'dropout');
  const optimizerDef = space.byName.get('optimizer');
  for (const def of space.params) {
    const name = def.name;
    // A referenced parameter is checked where it lands, at the corners of the space.
    if (referenced.has(name)) continue;
    if (!isBound(name)) {
      issues.push({
        path: def.path,
        message: `is never used: refer to it from model, training or dataset ({ "$param": "${name}" }), or use a shorthand name (${BOUND_PARAMS.join(', ')})`,
      });
      continue;
    }
    const binding: Binding = BINDINGS[name];
    const spec = def.spec;
    if (binding.integer && (spec.type === 'uniform' || spec.type === 'loguniform')) {
      issues.push({ path: `${def.path}.type`, message: `${name} takes integers; use int, intlog, quniform or categorical` });
    }
    if (binding.integer && spec.type === 'quniform') {
      // Its values are low + k·q: whole numbers only when both are.
      if (!Number.isInteger(spec.q)) issues.push({ path: `${def.path}.q`, message: `${name} takes integers; q must be a whole number, got ${spec.q}` });
      else if (!Number.isInteger(spec.low)) issues.push({ path: `${def.path}.low`, message: `${name} takes integers; low must be a whole number, got ${spec.low}` });
    }
    for (const c of paramCandidates(spec)) {
      let problem = binding.check(c.value);
      const fixed = request.training.microbatches;
      if (!problem && name === 'batchSize' && typeof c.value === 'number' && fixed !== undefined && c.value < fixed) {
        problem = `must be ≥ training.microbatches (${request.training.microbatches}), got ${c.value}`;
      }
      if (problem) issues.push({ path: `${def.path}.${c.field}`, message: problem });
    }
    if (name === 'dropout' && !hasDropout) issues.push({ path: def.path, message: 'the model has no dropout layer to apply it to' });
    if ((name === 'activation' || name === 'hidden') && hidden.length === 0) {
      issues.push({ path: def.path, message: 'the model has no hidden dense layer (only the output layer) to apply it to' });
    }
    if (name === 'momentum') {
      // The optimizers this parameter can meet: its branch's, else every optimizer the space or base can pick.
      const cond = def.conditions.find((c) => c.param === 'optimizer');
      const types = cond ? [cond.value] : optimizerDef ? paramCandidates(optimizerDef.spec).map((c) => c.value) : [request.training.optimizer.type];
      const without = types.filter((t) => !WITH_MOMENTUM.includes(t as OptimizerType));
      if (without.length > 0) {
        issues.push({
          path: def.path,
          message: `momentum applies to sgd and rmsprop only, but can be drawn with ${without.map((t) => JSON.stringify(t)).join(', ')}; define it under the sgd choice of optimizer`,
        });
      }
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Per trial
// ---------------------------------------------------------------------------------------------

/** Everything a worker needs to train one trial. */
export interface TrialConfig {
  readonly model: ModelSpec;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly batchSize: number;
  readonly microbatches: number;
  readonly epochs: number;
  readonly earlyStopping: EarlyStoppingSpec | null;
  readonly dataset: DatasetRef;
  readonly objective: ObjectiveSpec;
}

/** A trial's microbatches: the spec's, or nn's machine-independent default for its batch size. */
export function microbatchesOf(training: { microbatches?: number | undefined }, batchSize: number): number {
  return training.microbatches ?? defaultMicrobatches(batchSize);
}

function fail(details: ErrorDetail[]): never {
  throw new SchemaError('INVALID_TRIAL_PARAMS', details);
}

/**
 * The training config of one trial: the request's model and training recipe with the trial's
 * parameters applied (see BINDINGS). The optimizer keeps the base's fields when the type is
 * unchanged, and starts from the new type's defaults otherwise. Throws SchemaError
 * INVALID_TRIAL_PARAMS (paths "params.<name>", or the field a template set) for unknown names,
 * illegal values, or a result nn refuses.
 */
export function resolveTrialConfig(templated: CreateSweepRequest, all: Params): TrialConfig {
  const issues: ErrorDetail[] = [];
  let request = templated;
  let params = all;
  if (templated.template) {
    // References first: the sections with this trial's values, then the shorthands on the rest.
    const referenced = referencedNames(templated.template, parseSearchSpace(templated.search.space));
    const inst = instantiateRequest(templated, all);
    for (const m of inst.missing) issues.push({ path: m.path, message: `refers to parameter "${m.name}", which this trial does not have` });
    issues.push(...inst.issues);
    if (issues.length > 0) fail(issues);
    request = { ...templated, ...inst.sections };
    params = Object.fromEntries(Object.entries(all).filter(([name]) => !referenced.has(name)));
  }
  for (const [name, value] of Object.entries(params)) {
    if (!isBound(name)) {
      issues.push({ path: `params.${name}`, message: `is not a tunable setting; use one of ${BOUND_PARAMS.join(', ')}` });
      continue;
    }
    const problem = (BINDINGS[name] as Binding).check(value);
    if (problem) issues.push({ path: `params.${name}`, message: problem });
  }
  if (issues.length > 0) fail(issues);
  const p = params as Partial<Record<BoundParam, ParamValue>>;

  // Optimizer: base fields when the type stays, that type's defaults when it changes.
  const base = request.training.optimizer;
  const type = (p.optimizer as OptimizerType | undefined) ?? base.type;
  const optimizerInput: Record<string, unknown> = type === base.type ? { ...base } : { type };
  for (const field of ['learningRate', 'momentum', 'weightDecay'] as const) {
    if (p[field] !== undefined) optimizerInput[field] = p[field];
  }
  const optimizer = OptimizerSpecSchema.safeParse(optimizerInput);
  if (!optimizer.success) fail(zodIssuesToDetails(optimizer.error).map((d) => ({ path: `params.${d.path.split(/[.[]/)[0] || 'optimizer'}`, message: `${d.message} (for optimizer ${type})` })));

  // Model: hidden dense layers take activation and units; every dropout layer takes the rate.
  const hidden = new Set(hiddenDenseIndices(request.model.layers));
  const layers = request.model.layers.map((layer, i): LayerSpec => {
    if (layer.type === 'dropout' && p.dropout !== undefined) return { ...layer, rate: p.dropout as number };
    if (layer.type === 'dense' && hidden.has(i)) {
      const next = { ...layer };
      if (p.hidden !== undefined) next.units = p.hidden as number;
      if (p.activation !== undefined) {
        next.activation = p.activation as Activation;
        // alpha belongs to leaky_relu and elu; it would make the model invalid under another activation.
        if (next.activation !== 'leaky_relu' && next.activation !== 'elu') delete next.alpha;
      }
      return next;
    }
    return layer;
  });
  let model: ModelSpec;
  try {
    model = parseModelSpec(ModelSpecSchema.parse({ ...request.model, layers }));
  } catch (err) {
    if (!(err instanceof NnError || err instanceof z.ZodError)) throw err;
    fail([{ path: 'params', message: `the model with these parameters is invalid: ${err.message}` }]);
  }

  const batchSize = (p.batchSize as number | undefined) ?? request.training.batchSize;
  const microbatches = microbatchesOf(request.training, batchSize);
  if (batchSize < microbatches) {
    // Named by the parameter that set the batch size, else by the field (a template set both).
    fail([
      p.batchSize !== undefined
        ? { path: 'params.batchSize', message: `must be ≥ training.microbatches (${microbatches}), got ${batchSize}` }
        : { path: 'training.microbatches', message: `must be ≤ batchSize (${batchSize}), got ${microbatches}` },
    ]);
  }
  return {
    model,
    optimizer: optimizer.data,
    schedule: request.training.schedule,
    batchSize,
    microbatches,
    epochs: request.training.epochs,
    earlyStopping: request.training.earlyStopping ?? null,
    dataset: request.dataset,
    objective: request.objective,
  };
}

/**
 * The spec a trial will train (its parameters applied, without the objective), kept with the trial
 * for its page; null when the parameters do not resolve (the worker then fails the trial with the
 * reason).
 */
export function resolvedTrialSpec(templated: CreateSweepRequest, params: Params): Omit<TrialConfig, 'objective'> | null {
  const r = tryResolvedTrialSpec(templated, params);
  return r instanceof SchemaError ? null : r;
}

/** resolvedTrialSpec, or the SchemaError naming why the parameters do not resolve. */
export function tryResolvedTrialSpec(templated: CreateSweepRequest, params: Params): Omit<TrialConfig, 'objective'> | SchemaError {
  try {
    const { objective: _objective, ...resolved } = resolveTrialConfig(templated, params);
    return resolved;
  } catch (error) {
    if (error instanceof SchemaError) return error;
    throw error;
  }
}
