// A model and its training recipe are data: zod schemas, validated with errors that name the
// layer index and field ("layers[2].units: ..."), because the API must never run user code.
import { z } from 'zod';
import { NnError } from './errors.ts';

export const ACTIVATIONS = ['linear', 'relu', 'leaky_relu', 'elu', 'gelu', 'sigmoid', 'tanh', 'softmax'] as const;
export const Activation = z.enum(ACTIVATIONS);
export type Activation = z.infer<typeof Activation>;

export const INITIALIZERS = ['he_uniform', 'he_normal', 'glorot_uniform', 'glorot_normal', 'zeros'] as const;
export const Initializer = z.enum(INITIALIZERS);
export type Initializer = z.infer<typeof Initializer>;

const finite = () => z.number().refine(Number.isFinite, 'must be a finite number');
const positive = () => finite().refine((v) => v > 0, 'must be > 0');
/** Slope of leaky_relu (default 0.01, as PyTorch) or alpha of elu (default 1). */
const alpha = finite().refine((v) => v >= 0 && v <= 10, 'must be in [0, 10]').optional();

export const DenseLayer = z.strictObject({
  type: z.literal('dense'),
  units: z.int().min(1).max(16384),
  activation: Activation.default('linear'),
  alpha,
  useBias: z.boolean().default(true),
  /** Defaults to he_uniform for the relu family and glorot_uniform otherwise. */
  kernelInitializer: Initializer.optional(),
});
export const DropoutLayer = z.strictObject({
  type: z.literal('dropout'),
  rate: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)'),
});
export const FlattenLayer = z.strictObject({ type: z.literal('flatten') });
export const ActivationLayer = z.strictObject({
  type: z.literal('activation'),
  activation: Activation,
  alpha,
});
export const LayerSpec = z.discriminatedUnion('type', [DenseLayer, DropoutLayer, FlattenLayer, ActivationLayer]);
export type LayerSpec = z.infer<typeof LayerSpec>;

export const LOSSES = ['softmax_cross_entropy', 'mse'] as const;
export const Loss = z.enum(LOSSES);
export type Loss = z.infer<typeof Loss>;

export const ModelSpecSchema = z.strictObject({
  inputShape: z.array(z.int().min(1).max(1 << 20)).min(1).max(4),
  layers: z.array(LayerSpec).min(1).max(64),
  loss: Loss,
});
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type ModelSpecInput = z.input<typeof ModelSpecSchema>;

export const OptimizerSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('sgd'),
    learningRate: positive().default(0.01),
    momentum: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0),
    nesterov: z.boolean().default(false),
    weightDecay: finite().refine((v) => v >= 0, 'must be ≥ 0').default(0),
  }),
  z.strictObject({
    type: z.literal('adam'),
    learningRate: positive().default(1e-3),
    beta1: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.9),
    beta2: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.999),
    epsilon: positive().default(1e-7),
    weightDecay: finite().refine((v) => v >= 0, 'must be ≥ 0').default(0),
  }),
  z.strictObject({
    type: z.literal('adamw'),
    learningRate: positive().default(1e-3),
    beta1: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.9),
    beta2: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.999),
    epsilon: positive().default(1e-7),
    weightDecay: finite().refine((v) => v >= 0, 'must be ≥ 0').default(0.01),
  }),
  z.strictObject({
    type: z.literal('rmsprop'),
    learningRate: positive().default(1e-3),
    rho: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.9),
    epsilon: positive().default(1e-7),
    momentum: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0),
    weightDecay: finite().refine((v) => v >= 0, 'must be ≥ 0').default(0),
  }),
]);
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;
export type OptimizerSpecInput = z.input<typeof OptimizerSpecSchema>;

/** Learning-rate schedules over fractional epochs; warm-up composes with any of them. */
export const ScheduleSpecSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('constant'), warmupEpochs: finite().min(0).default(0) }),
    z.strictObject({
      type: z.literal('step'),
      stepEpochs: z.int().min(1),
      gamma: positive().default(0.1),
      warmupEpochs: finite().min(0).default(0),
    }),
    z.strictObject({
      type: z.literal('exponential'),
      gamma: positive().max(1).describe('multiplier per epoch'),
      warmupEpochs: finite().min(0).default(0),
    }),
    z.strictObject({
      type: z.literal('cosine'),
      minLearningRate: finite().min(0).default(0),
      warmupEpochs: finite().min(0).default(0),
    }),
  ])
  .default({ type: 'constant', warmupEpochs: 0 });
export type ScheduleSpec = z.infer<typeof ScheduleSpecSchema>;
export type ScheduleSpecInput = z.input<typeof ScheduleSpecSchema>;

/** "layers[2].units" from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

export interface SpecIssue {
  path: string;
  message: string;
}

function fail(what: string, issues: SpecIssue[]): never {
  const text = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  throw new NnError('INVALID_SPEC', `invalid ${what}: ${text}`, { issues });
}

function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string, prefix: PropertyKey[] = []): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    fail(
      what,
      r.error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message })),
    );
  }
  return r.data;
}

/** Validates a model spec: the schema first, then the shape rules between layers. */
export function parseModelSpec(input: unknown): ModelSpec {
  const spec = parseWith(ModelSpecSchema, input, 'model spec');
  const issues: SpecIssue[] = [];
  let rank = spec.inputShape.length;
  spec.layers.forEach((layer, i) => {
    if (layer.type === 'flatten') rank = 1;
    if (layer.type === 'dense' && rank !== 1) {
      issues.push({
        path: `layers[${i}]`,
        message: `dense expects a flat input but receives shape [${spec.inputShape.join(', ')}]; add {"type":"flatten"} before it`,
      });
      rank = 1;
    }
    if ((layer.type === 'dense' || layer.type === 'activation') && layer.alpha !== undefined) {
      if (layer.activation !== 'leaky_relu' && layer.activation !== 'elu') {
        issues.push({ path: `layers[${i}].alpha`, message: `alpha applies to leaky_relu and elu only, not ${layer.activation}` });
      }
    }
  });
  const lastDense = spec.layers.findLastIndex((l) => l.type === 'dense');
  if (lastDense < 0) issues.push({ path: 'layers', message: 'needs at least one dense layer' });
  if (rank !== 1) issues.push({ path: 'layers', message: 'the output must be flat; add a flatten or dense layer' });
  if (spec.loss === 'softmax_cross_entropy') {
    const lastAct = finalActivation(spec);
    if (lastAct.activation === 'softmax') {
      issues.push({
        path: `${lastAct.path}`,
        message: 'softmax_cross_entropy takes logits and applies softmax itself; use activation "linear" for the output layer',
      });
    }
    const units = outputUnits(spec);
    if (units !== undefined && units < 2) {
      issues.push({ path: `layers[${lastDense}].units`, message: 'softmax_cross_entropy needs at least 2 output units' });
    }
  }
  if (issues.length > 0) fail('model spec', issues);
  return spec;
}

function finalActivation(spec: ModelSpec): { activation: Activation; path: string } {
  for (let i = spec.layers.length - 1; i >= 0; i--) {
    const l = spec.layers[i]!;
    if (l.type === 'activation') return { activation: l.activation, path: `layers[${i}].activation` };
    if (l.type === 'dense') return { activation: l.activation, path: `layers[${i}].activation` };
  }
  return { activation: 'linear', path: 'layers' };
}

export function outputUnits(spec: ModelSpec): number | undefined {
  const last = spec.layers.findLast((l) => l.type === 'dense');
  return last?.type === 'dense' ? last.units : undefined;
}

export function parseOptimizerSpec(input: unknown): OptimizerSpec {
  return parseWith(OptimizerSpecSchema, input, 'optimizer spec');
}

export function parseScheduleSpec(input: unknown): ScheduleSpec {
  return parseWith(ScheduleSpecSchema, input, 'schedule spec');
}

export { parseWith as parseSpecWith };
