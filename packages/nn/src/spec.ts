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

// Bounds keep every hyperparameter a normal float32 well inside the range where an update can
// neither overflow nor vanish (a learning rate or ε of 1e−40 is 0 in float32; a weight decay of
// 1e39 is ∞), so a spec that would make NaN or ∞ by its numbers alone is refused at submission.
const learningRate = () => finite().refine((v) => v >= 1e-12 && v <= 100, 'must be in [1e-12, 100]');
const epsilon = () => finite().refine((v) => v >= 1e-12 && v <= 10, 'must be in [1e-12, 10]');
const decayRate = () => finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)');
const weightDecay = () => finite().refine((v) => v >= 0 && v <= 10, 'must be in [0, 10]');
/**
 * Whether weight decay also applies to biases. Off by default, as Keras applies its regularizers to
 * kernels only; PyTorch's optimizers decay every parameter of a group unless told otherwise.
 */
const decayBiases = () => z.boolean().default(false);

/** Adam's and AdamW's fields (Keras' defaults); they differ in how the decay applies, and its default. */
const adamFields = (weightDecayDefault: number) => ({
  learningRate: learningRate().default(1e-3),
  beta1: decayRate().default(0.9),
  beta2: decayRate().default(0.999),
  epsilon: epsilon().default(1e-7),
  weightDecay: weightDecay().default(weightDecayDefault),
  decayBiases: decayBiases(),
});

export const OptimizerSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('sgd'),
    learningRate: learningRate().default(0.01),
    momentum: decayRate().default(0),
    nesterov: z.boolean().default(false),
    weightDecay: weightDecay().default(0),
    decayBiases: decayBiases(),
  }),
  z.strictObject({ type: z.literal('adam'), ...adamFields(0) }),
  z.strictObject({ type: z.literal('adamw'), ...adamFields(0.01) }),
  z.strictObject({
    type: z.literal('rmsprop'),
    learningRate: learningRate().default(1e-3),
    rho: decayRate().default(0.9),
    epsilon: epsilon().default(1e-7),
    /**
     * 'inside_sqrt' (default): lr·g/√(v + ε), the learning rate inside the momentum buffer, as
     * tfjs and Keras 3. 'outside_sqrt': g/(√v + ε), lr applied after the buffer, as PyTorch and
     * Keras ≤ 2.3. The two agree when ε ≪ √v and the learning rate is constant.
     */
    epsilonPlacement: z.enum(['inside_sqrt', 'outside_sqrt']).default('inside_sqrt'),
    /** Normalise by the gradient's variance estimate E[g²] − E[g]² instead of E[g²]. */
    centered: z.boolean().default(false),
    momentum: decayRate().default(0),
    weightDecay: weightDecay().default(0),
    decayBiases: decayBiases(),
  }),
]);
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;
export type OptimizerSpecInput = z.input<typeof OptimizerSpecSchema>;

const warmupEpochs = () => finite().refine((v) => v >= 0 && v <= 100000, 'must be in [0, 100000]').default(0);

/** Learning-rate schedules over fractional epochs; warm-up composes with any of them. */
export const ScheduleSpecSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('constant'), warmupEpochs: warmupEpochs() }),
    z.strictObject({
      type: z.literal('step'),
      stepEpochs: z.int().min(1).max(100000),
      gamma: finite().refine((v) => v >= 1e-6 && v <= 1, 'must be in [1e-6, 1]').default(0.1),
      warmupEpochs: warmupEpochs(),
    }),
    z.strictObject({
      type: z.literal('exponential'),
      gamma: finite().refine((v) => v >= 1e-6 && v <= 1, 'must be in [1e-6, 1]').describe('multiplier per epoch'),
      warmupEpochs: warmupEpochs(),
    }),
    z.strictObject({
      type: z.literal('cosine'),
      minLearningRate: finite().refine((v) => v >= 0 && v <= 100, 'must be in [0, 100]').default(0),
      warmupEpochs: warmupEpochs(),
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
