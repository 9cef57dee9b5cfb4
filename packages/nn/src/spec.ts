// A model and its training recipe are data: zod schemas, validated with errors that name the
// layer index and field ("layers[2].units: ..."), because the API must never run user code.
import { z } from 'zod';
import { NnError } from './errors.ts';
import { pair, windowGeometry } from './geometry.ts';

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

// Spatial layers take channels-last [height, width, channels] inputs, as tfjs does.
const windowSize = z.union([z.int().min(1).max(64), z.tuple([z.int().min(1).max(64), z.int().min(1).max(64)])]);
const stepSize = z.union([z.int().min(1).max(64), z.tuple([z.int().min(1).max(64), z.int().min(1).max(64)])]);
const Padding = z.enum(['valid', 'same']);

export const Conv2dLayer = z.strictObject({
  type: z.literal('conv2d'),
  filters: z.int().min(1).max(4096),
  kernelSize: windowSize,
  strides: stepSize.default(1),
  padding: Padding.default('valid'),
  dilation: stepSize.default(1),
  activation: Activation.default('linear'),
  alpha,
  useBias: z.boolean().default(true),
  /** Defaults as for dense: he_uniform for the relu family, glorot_uniform otherwise. */
  kernelInitializer: Initializer.optional(),
});
const poolFields = {
  poolSize: windowSize.default(2),
  /** Defaults to poolSize, as tfjs. */
  strides: stepSize.optional(),
  padding: Padding.default('valid'),
};
export const MaxPool2dLayer = z.strictObject({ type: z.literal('max_pool2d'), ...poolFields });
export const AvgPool2dLayer = z.strictObject({ type: z.literal('avg_pool2d'), ...poolFields });
export const GlobalAvgPool2dLayer = z.strictObject({ type: z.literal('global_avg_pool2d') });
export const ReshapeLayer = z.strictObject({
  type: z.literal('reshape'),
  targetShape: z.array(z.int().min(1).max(1 << 20)).min(1).max(4),
});

/**
 * Batch normalisation over the last axis (features of a flat input, channels of an NHWC one), as
 * tf.layers.batchNormalization with Keras' defaults. In training each microbatch is normalised by
 * its own statistics (ghost batch norm); evaluation, prediction and export use the moving ones.
 */
export const BatchNormLayer = z.strictObject({
  type: z.literal('batch_norm'),
  /** moving = momentum·moving + (1 − momentum)·batch, once per microbatch in microbatch order. */
  momentum: finite().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)').default(0.99),
  /** Added to the variance under the square root. */
  epsilon: finite().refine((v) => v >= 1e-9 && v <= 1, 'must be in [1e-9, 1]').default(1e-3),
  /** Learn an offset beta. */
  center: z.boolean().default(true),
  /** Learn a scale gamma. */
  scale: z.boolean().default(true),
});

export const LayerSpec = z.discriminatedUnion('type', [
  DenseLayer,
  DropoutLayer,
  FlattenLayer,
  ActivationLayer,
  Conv2dLayer,
  MaxPool2dLayer,
  AvgPool2dLayer,
  GlobalAvgPool2dLayer,
  ReshapeLayer,
  BatchNormLayer,
]);
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
/** The learning rates an optimizer takes (a search space's learningRate is held to them too). */
export const LEARNING_RATE_RANGE = { min: 1e-12, max: 100 } as const;
const learningRate = () =>
  finite().refine((v) => v >= LEARNING_RATE_RANGE.min && v <= LEARNING_RATE_RANGE.max, `must be in [${LEARNING_RATE_RANGE.min}, ${LEARNING_RATE_RANGE.max}]`);
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
  // The shape of one example after each layer; null once a layer is refused (later checks would
  // only repeat the same problem).
  let shape: number[] | null = [...spec.inputShape];
  spec.layers.forEach((layer, i) => {
    if (shape === null) return;
    const at = `layers[${i}]`;
    switch (layer.type) {
      case 'flatten':
        shape = [size(shape)];
        break;
      case 'dense':
        if (shape.length !== 1) {
          issues.push({ path: at, message: `dense expects a flat input but receives shape [${shape.join(', ')}]; add {"type":"flatten"} before it` });
        }
        shape = [layer.units];
        break;
      case 'conv2d':
      case 'max_pool2d':
      case 'avg_pool2d': {
        if (shape.length !== 3) {
          issues.push({ path: at, message: spatialInputMessage(layer.type, shape) });
          shape = null;
          break;
        }
        const conv = layer.type === 'conv2d';
        const window = pair(conv ? layer.kernelSize : layer.poolSize);
        const strides = pair(layer.strides ?? window);
        const dilation = conv ? pair(layer.dilation) : ([1, 1] as const);
        const windowField = conv ? 'kernelSize' : 'poolSize';
        if (conv && Math.max(...strides) > 1 && Math.max(...dilation) > 1) {
          // tfjs (and so the export) refuses the pair: "Either strides or dilations must be 1".
          issues.push({ path: `${at}.dilation`, message: 'strides and dilation cannot both exceed 1 (tfjs refuses the pair)' });
        }
        const [h, w, c] = shape as [number, number, number];
        const g = windowGeometry([h, w, c], window, strides, dilation, layer.padding);
        const spanH = (g.kh - 1) * g.dilationH + 1;
        const spanW = (g.kw - 1) * g.dilationW + 1;
        if (layer.padding === 'valid' && (spanH > h || spanW > w)) {
          const dilated = conv && Math.max(...dilation) > 1 ? ` (dilated to ${spanH}×${spanW})` : '';
          issues.push({ path: `${at}.${windowField}`, message: `the ${conv ? 'kernel' : 'pool'} ${g.kh}×${g.kw}${dilated} is larger than the input ${h}×${w} with padding "valid"` });
          shape = null;
        } else if (g.outH < 1 || g.outW < 1) {
          issues.push({ path: at, message: `the output would be ${g.outH}×${g.outW}; it must be at least 1×1` });
          shape = null;
        } else {
          shape = [g.outH, g.outW, conv ? layer.filters : c];
        }
        break;
      }
      case 'global_avg_pool2d':
        if (shape.length !== 3) {
          issues.push({ path: at, message: spatialInputMessage(layer.type, shape) });
          shape = null;
        } else {
          shape = [shape[2] as number];
        }
        break;
      case 'reshape':
        if (size(layer.targetShape) !== size(shape)) {
          issues.push({ path: `${at}.targetShape`, message: `[${layer.targetShape.join(', ')}] holds ${size(layer.targetShape)} values but the input [${shape.join(', ')}] has ${size(shape)}` });
          shape = null;
        } else {
          shape = [...layer.targetShape];
        }
        break;
      case 'batch_norm':
        if (shape.length !== 1 && shape.length !== 3) {
          issues.push({ path: at, message: `batch_norm normalises the features of a flat input or the channels of an [height, width, channels] input, not shape [${shape.join(', ')}]; add a flatten or reshape before it` });
          shape = null;
        }
        break;
      case 'activation':
        if (layer.activation === 'softmax' && shape.length !== 1) {
          // tfjs normalises over the last axis only; ours is over the whole example.
          issues.push({ path: `${at}.activation`, message: 'a softmax activation layer needs a flat input; add a flatten before it' });
        }
        break;
      case 'dropout':
        break;
    }
    if ((layer.type === 'dense' || layer.type === 'activation' || layer.type === 'conv2d') && layer.alpha !== undefined) {
      if (layer.activation !== 'leaky_relu' && layer.activation !== 'elu') {
        issues.push({ path: `${at}.alpha`, message: `alpha applies to leaky_relu and elu only, not ${layer.activation}` });
      }
    }
  });
  const lastDense = spec.layers.findLastIndex((l) => l.type === 'dense');
  if (lastDense < 0) issues.push({ path: 'layers', message: 'needs at least one dense layer' });
  if (shape !== null && (shape as number[]).length !== 1) issues.push({ path: 'layers', message: 'the output must be flat; add a flatten or dense layer' });
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

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function spatialInputMessage(type: string, shape: readonly number[]): string {
  if (shape.length === 1) return `${type} expects an [height, width, channels] input but receives the flat shape [${shape.join(', ')}] (a dense or flattened output)`;
  return `${type} expects an [height, width, channels] input but receives shape [${shape.join(', ')}]; add {"type":"reshape","targetShape":[height, width, channels]} before it`;
}

function finalActivation(spec: ModelSpec): { activation: Activation; path: string } {
  for (let i = spec.layers.length - 1; i >= 0; i--) {
    const l = spec.layers[i]!;
    if (l.type === 'activation') return { activation: l.activation, path: `layers[${i}].activation` };
    if (l.type === 'dense') return { activation: l.activation, path: `layers[${i}].activation` };
    if (l.type === 'conv2d') return { activation: l.activation, path: `layers[${i}].activation` };
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
