// TensorFlow.js Layers format (model.json + weights.bin): export a trained model, and read back
// the Sequential models we export so the inference API can run them.
//
// An export takes raw features (pixels 0–255, CSV values as in the file): the dataset's input
// normalisation is inside the model, folded into the first dense layer's weights, or — when an
// activation sees the inputs before any dense layer — kept as an input layer (Rescaling for one
// scalar pair, BatchNormalization for per-feature statistics).
import type { FeatureNormalization } from './data.ts';
import { NnError } from './errors.ts';
import type { WindowGeometry } from './geometry.ts';
import { compileModel, defaultAlpha, type CompiledModel, type ParamTensor } from './model.ts';
import { parseModelSpec, type Activation, type LayerSpec, type ModelSpec } from './spec.ts';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** The parts of a tfjs model.json this module writes and reads. */
export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: {
    class_name: 'Sequential';
    config: { name: string; layers: { class_name: string; config: Record<string, unknown> }[] };
    keras_version: string;
    backend: string;
  };
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
  userDefinedMetadata?: { hypersweep?: HypersweepMetadata };
}

export interface HypersweepMetadata {
  /** The spec as trained: its first layer took normalised features. */
  modelSpec: ModelSpec;
  /**
   * 'raw': the model takes raw features and carries the dataset's scaling itself. Absent in
   * exports made before this field existed: their model takes normalised features.
   */
  input?: 'raw';
  /**
   * Scaling a reader must still apply to raw features: null whenever `input` is 'raw' (so a
   * reader that predates `input` does not scale twice). Older exports hold the dataset's
   * normalisation here.
   */
  normalization: FeatureNormalization | null;
  /** For information: the dataset's normalisation inside the model, folded into the first dense layer or as an input layer. */
  inputScaling?: { normalization: FeatureNormalization; method: 'folded' | 'layer' } | null;
  classNames: string[] | null;
  /** 'probabilities' when a softmax was appended to a cross-entropy model's logits. */
  output: 'probabilities' | 'values';
}

export interface TfjsExport {
  modelJson: TfjsModelJson;
  /** Contents of weights.bin (little-endian float32, in manifest order). */
  weights: Uint8Array;
}

const KERAS_ACTIVATION: Partial<Record<Activation, string>> = {
  linear: 'linear',
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  softmax: 'softmax',
  gelu: 'gelu', // the exact x·Φ(x) form, as ours; elu goes through pushActivation (alpha 1 only)
};

/** Layer names of the input scaling when it cannot be folded. */
/** Initializers, regularizers and constraints of Dense and Conv2D: the weights file sets the values. */
const WEIGHT_LAYER_DEFAULTS = {
  kernel_initializer: { class_name: 'Zeros', config: {} },
  bias_initializer: { class_name: 'Zeros', config: {} },
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
};

const RESCALING_NAME = 'input_rescaling';
const STANDARDIZATION_NAME = 'input_standardization';

/**
 * Checks a normalisation against the model's input size: an affine pair of finite numbers with a
 * non-zero scale, or one finite mean and one finite positive std per feature.
 */
export function checkNormalization(norm: unknown, inputSize: number, where = 'normalization'): FeatureNormalization {
  const bad = (msg: string): never => {
    throw new NnError('INVALID_EXPORT', `${where}${msg}`);
  };
  const n = norm as Partial<Record<string, unknown>> | null;
  if (!n || typeof n !== 'object') return bad(' must be an object');
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (n.kind === 'affine') {
    if (!finite(n.scale) || n.scale === 0) bad(`.scale must be a finite non-zero number, got ${String(n.scale)}`);
    if (!finite(n.shift)) bad(`.shift must be a finite number, got ${String(n.shift)}`);
    return { kind: 'affine', scale: n.scale as number, shift: n.shift as number };
  }
  if (n.kind === 'standardized') {
    const list = (key: 'mean' | 'std', ok: (v: number) => boolean, what: string): number[] => {
      const v = n[key];
      if (!Array.isArray(v)) return bad(`.${key} must be an array`);
      if (v.length !== inputSize) bad(`.${key} has ${v.length} values; the model takes ${inputSize} features`);
      const i = v.findIndex((x) => !finite(x) || !ok(x));
      if (i >= 0) bad(`.${key}[${i}] must be ${what}, got ${String(v[i])}`);
      return [...(v as number[])];
    };
    return { kind: 'standardized', mean: list('mean', () => true, 'a finite number'), std: list('std', (x) => x > 0, 'a finite number > 0') };
  }
  return bad(`.kind must be "affine" or "standardized", got ${JSON.stringify(n.kind)}`);
}

/** x' = x·scale_i + shift_i for feature i, in float64. */
function featureMap(norm: FeatureNormalization, n: number): { scale: Float64Array; shift: Float64Array } {
  if (norm.kind === 'affine') return { scale: new Float64Array(n).fill(norm.scale), shift: new Float64Array(n).fill(norm.shift) };
  return { scale: Float64Array.from(norm.std, (s) => 1 / s), shift: Float64Array.from(norm.mean, (m, i) => -m / norm.std[i]!) };
}

/**
 * Folds x' = x·s + t into a dense layer [inDim, outDim]: W'_ij = W_ij·s_i and
 * b'_j = b_j + Σ_i t_i·W_ij, in float64, each rounded once to float32. A layer without a bias
 * gets one unless every t_i·W_ij sums to zero.
 */
function foldDense(
  kernel: Float32Array,
  bias: Float32Array | undefined,
  map: { scale: Float64Array; shift: Float64Array },
  outDim: number,
): { kernel: Float32Array; bias: Float32Array | undefined } {
  const folded = new Float32Array(kernel.length);
  const acc = new Float64Array(outDim);
  if (bias) for (let j = 0; j < outDim; j++) acc[j] = bias[j]!;
  for (let i = 0; i < map.scale.length; i++) {
    const s = map.scale[i]!;
    const t = map.shift[i]!;
    const row = i * outDim;
    for (let j = 0; j < outDim; j++) {
      const w = kernel[row + j]!;
      folded[row + j] = w * s;
      acc[j] = acc[j]! + t * w;
    }
  }
  const newBias = bias || acc.some((v) => v !== 0) ? Float32Array.from(acc) : undefined;
  if (folded.some((v) => !Number.isFinite(v)) || newBias?.some((v) => !Number.isFinite(v))) {
    throw new NnError('INVALID_EXPORT', 'folding the input normalisation into the first dense layer overflows float32');
  }
  return { kernel: folded, bias: newBias };
}

/**
 * Exports parameters of `model` (the flat block, with padding) to the tfjs Layers format. The
 * exported model takes raw features: `meta.normalization` (how the dataset turned raw features
 * into the model's inputs) is folded into the first dense layer when only flatten / dropout
 * layers come before it, and is an input layer otherwise. A cross-entropy model gets a softmax
 * on its output, so the exported model predicts probabilities.
 */
export function exportTfjs(
  model: CompiledModel,
  params: Float32Array,
  meta: { normalization?: FeatureNormalization | null; classNames?: readonly string[] | null } = {},
): TfjsExport {
  if (params.length !== model.paramCount) {
    throw new NnError('INVALID_EXPORT', `expected ${model.paramCount} parameters, got ${params.length}`);
  }
  const spatial = model.layers.some((l) => l.type === 'conv2d' || l.type === 'max_pool2d' || l.type === 'avg_pool2d' || l.type === 'global_avg_pool2d' || l.type === 'reshape');
  const norm = meta.normalization ? checkNormalization(meta.normalization, model.inputSize) : null;
  const firstDense = model.layers.findIndex((l) => l.type === 'dense');
  // Flatten and dropout are identities at inference; anything else between the inputs and the
  // first dense layer (an activation) needs the scaled inputs themselves.
  const foldable = model.layers.slice(0, firstDense).every((l) => l.type === 'flatten' || l.type === 'dropout');
  const fold = norm && foldable ? featureMap(norm, model.inputSize) : null;

  const layers: { class_name: string; config: Record<string, unknown> }[] = [];
  const softmaxOut = model.spec.loss === 'softmax_cross_entropy';
  const lastDense = model.layers.findLastIndex((l) => l.type === 'dense');
  const names = new Map<string, number>();
  const uniqueName = (base: string) => {
    const n = (names.get(base) ?? 0) + 1;
    names.set(base, n);
    return `${base}_${n}`;
  };
  const push = (class_name: string, config: Record<string, unknown>) => {
    if (layers.length === 0) config.batch_input_shape = [null, ...model.spec.inputShape];
    layers.push({ class_name, config: { trainable: true, dtype: 'float32', ...config } });
  };
  const pushActivation = (act: Activation, alpha: number) => {
    if (act === 'linear') return;
    if (act === 'leaky_relu') push('LeakyReLU', { name: uniqueName('leaky_re_lu'), alpha });
    else if (act === 'elu') {
      // tfjs-layers 4.x refuses an ELU layer whose alpha is not 1.
      if (alpha !== 1) throw new NnError('INVALID_EXPORT', `elu with alpha ${alpha} cannot be loaded by TensorFlow.js (only alpha 1)`);
      push('Activation', { name: uniqueName('activation'), activation: 'elu' });
    }
    else push('Activation', { name: uniqueName('activation'), activation: KERAS_ACTIVATION[act] });
  };
  const weights: TfjsWeightSpec[] = [];
  const chunks: Float32Array[] = [];
  const addWeight = (name: string, shape: readonly number[], data: Float32Array) => {
    weights.push({ name, shape: [...shape], dtype: 'float32' });
    chunks.push(data);
  };

  // tfjs refuses a Flatten of flat inputs; for our engine it is the identity.
  let rank = model.spec.inputShape.length;
  if (norm && !foldable) {
    if (norm.kind === 'affine') {
      push('Rescaling', { name: RESCALING_NAME, scale: norm.scale, offset: norm.shift, trainable: false });
    } else {
      // BatchNormalization scales along its last axis; per-feature statistics of a shaped input need it flat.
      if (rank > 1) push('Flatten', { name: uniqueName('flatten') });
      rank = 1;
      const variance = Float32Array.from(norm.std, (s) => s * s);
      const tiny = variance.findIndex((v) => !(v >= 1.1754943508222875e-38 && Number.isFinite(v)));
      if (tiny >= 0) throw new NnError('INVALID_EXPORT', `normalization.std[${tiny}] = ${norm.std[tiny]} cannot be stored as a float32 variance`);
      // Inference form (x − moving_mean) / √(moving_variance + ε) with ε = 0: exactly (x − mean) / std.
      push('BatchNormalization', {
        name: STANDARDIZATION_NAME,
        axis: -1,
        momentum: 0.99,
        epsilon: 0,
        center: false,
        scale: false,
        moving_mean_initializer: { class_name: 'Zeros', config: {} },
        moving_variance_initializer: { class_name: 'Ones', config: {} },
        trainable: false,
      });
      addWeight(`${STANDARDIZATION_NAME}/moving_mean`, [model.inputSize], Float32Array.from(norm.mean));
      addWeight(`${STANDARDIZATION_NAME}/moving_variance`, [model.inputSize], variance);
      if (spatial && model.spec.inputShape.length > 1) {
        // Spatial layers need the inputs' shape back.
        push('Reshape', { name: uniqueName('reshape'), target_shape: [...model.spec.inputShape] });
        rank = model.spec.inputShape.length;
      }
    }
  }
  /** The pooling window of a spec layer, as tfjs-layers takes it. */
  const windowConfig = (l: { readonly geometry: WindowGeometry; readonly index: number }) => {
    const spec = model.spec.layers[l.index];
    const padding = spec && 'padding' in spec ? spec.padding : 'valid';
    return { strides: [l.geometry.strideH, l.geometry.strideW], padding, data_format: 'channels_last' };
  };

  model.layers.forEach((layer, i) => {
    switch (layer.type) {
      case 'dense': {
        const appendSoftmax = softmaxOut && i === lastDense && layer.activation === 'linear';
        const inline = appendSoftmax ? 'softmax' : KERAS_ACTIVATION[layer.activation];
        const fused = inline !== undefined;
        const view = (p: ParamTensor) => params.subarray(p.offset, p.offset + p.size);
        let kernel = view(layer.kernel);
        let bias = layer.bias ? view(layer.bias) : undefined;
        if (fold && i === firstDense) ({ kernel, bias } = foldDense(kernel, bias, fold, layer.outDim));
        push('Dense', {
          name: layer.name,
          units: layer.outDim,
          activation: fused ? inline : 'linear',
          use_bias: bias !== undefined,
          ...WEIGHT_LAYER_DEFAULTS,
        });
        if (!fused) pushActivation(layer.activation, layer.alpha);
        addWeight(layer.kernel.name, layer.kernel.shape, kernel);
        if (bias) addWeight(layer.bias?.name ?? `${layer.name}/bias`, [layer.outDim], bias);
        break;
      }
      case 'conv2d': {
        const g = layer.geometry;
        const inline = KERAS_ACTIVATION[layer.activation];
        push('Conv2D', {
          name: layer.name,
          filters: layer.filters,
          kernel_size: [g.kh, g.kw],
          ...windowConfig(layer),
          dilation_rate: [g.dilationH, g.dilationW],
          activation: inline ?? 'linear',
          use_bias: layer.bias !== undefined,
          ...WEIGHT_LAYER_DEFAULTS,
        });
        if (inline === undefined) pushActivation(layer.activation, layer.alpha);
        // Our kernel is stored [kh, kw, cin, cout], tfjs's layout: copied as it is.
        addWeight(layer.kernel.name, layer.kernel.shape, params.subarray(layer.kernel.offset, layer.kernel.offset + layer.kernel.size));
        if (layer.bias) addWeight(layer.bias.name, layer.bias.shape, params.subarray(layer.bias.offset, layer.bias.offset + layer.bias.size));
        rank = 3;
        break;
      }
      case 'max_pool2d':
      case 'avg_pool2d': {
        const max = layer.type === 'max_pool2d';
        push(max ? 'MaxPooling2D' : 'AveragePooling2D', { name: uniqueName(max ? 'max_pooling2d' : 'average_pooling2d'), pool_size: [layer.geometry.kh, layer.geometry.kw], ...windowConfig(layer) });
        break;
      }
      case 'global_avg_pool2d':
        push('GlobalAveragePooling2D', { name: uniqueName('global_average_pooling2d'), data_format: 'channels_last' });
        rank = 1;
        break;
      case 'reshape': {
        const spec = model.spec.layers[layer.index];
        const target = spec?.type === 'reshape' ? spec.targetShape : [layer.dim];
        push('Reshape', { name: uniqueName('reshape'), target_shape: [...target] });
        rank = target.length;
        break;
      }
      case 'batch_norm': {
        push('BatchNormalization', {
          name: layer.name,
          axis: -1,
          momentum: layer.momentum,
          epsilon: layer.epsilon,
          center: layer.beta !== undefined,
          scale: layer.gamma !== undefined,
          beta_initializer: { class_name: 'Zeros', config: {} },
          gamma_initializer: { class_name: 'Ones', config: {} },
          moving_mean_initializer: { class_name: 'Zeros', config: {} },
          moving_variance_initializer: { class_name: 'Ones', config: {} },
          beta_regularizer: null,
          gamma_regularizer: null,
          beta_constraint: null,
          gamma_constraint: null,
        });
        // tfjs' weight order and names: gamma, beta, moving_mean, moving_variance.
        for (const t of [layer.gamma, layer.beta, layer.movingMean, layer.movingVariance]) {
          if (t) addWeight(t.name, t.shape, params.subarray(t.offset, t.offset + t.size));
        }
        break;
      }
      case 'dropout':
        push('Dropout', { name: uniqueName('dropout'), rate: layer.rate, noise_shape: null, seed: null });
        break;
      case 'flatten':
        if (rank > 1) push('Flatten', { name: uniqueName('flatten') });
        rank = 1;
        break;
      case 'activation':
        pushActivation(layer.activation, layer.alpha);
        break;
    }
  });
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const bytes = new Uint8Array(total * 4);
  const dv = new DataView(bytes.buffer);
  let off = 0;
  for (const c of chunks) for (let i = 0; i < c.length; i++, off += 4) dv.setFloat32(off, c[i]!, true);
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'hypersweep',
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'sequential', layers },
        keras_version: 'tfjs-layers 4.22.0',
        backend: 'tensor_flow.js',
      },
      weightsManifest: [{ paths: ['weights.bin'], weights }],
      userDefinedMetadata: {
        hypersweep: {
          modelSpec: model.spec,
          input: 'raw',
          normalization: null,
          inputScaling: norm ? { normalization: norm, method: fold ? 'folded' : 'layer' } : null,
          classNames: meta.classNames ? [...meta.classNames] : null,
          output: softmaxOut ? 'probabilities' : 'values',
        },
      },
    },
    weights: bytes,
  };
}

const FROM_KERAS: Record<string, Activation> = {
  linear: 'linear',
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  softmax: 'softmax',
  gelu: 'gelu',
  elu: 'elu',
};

/** A model read from the tfjs Layers format. */
export interface ImportedModel {
  /** The layers our engine runs (an input scaling layer of the file becomes `normalization`). */
  model: CompiledModel;
  params: Float32Array;
  /** What `model` takes: raw features, or features already mapped by `normalization`. */
  input: 'raw' | 'normalized';
  /**
   * How raw features become the features the model was trained on. With `input` 'raw' it is
   * already inside the weights (folded), given for information; null when there is none.
   */
  normalization: FeatureNormalization | null;
  classNames: string[] | null;
}

type InputScalingLayer =
  | { kind: 'rescaling'; index: number; scale: number; offset: number }
  | { kind: 'batchnorm'; index: number; center: boolean; scale: boolean; epsilon: number };

/**
 * Reads a Sequential tfjs model made of Dense / Dropout / Flatten / Activation / LeakyReLU / ELU
 * layers, with at most one input scaling layer (Rescaling or BatchNormalization, preceded only
 * by Flatten), into an inference spec (loss 'mse': the outputs are returned as the model
 * computes them) and the flat parameter block. Reads exports of either kind: raw inputs with the
 * scaling inside (`input: 'raw'`), or, made before that, normalised inputs with the scaling in
 * `userDefinedMetadata.hypersweep.normalization`.
 */
export function importTfjs(json: unknown, weights: Uint8Array): ImportedModel {
  const bad = (msg: string): never => {
    throw new NnError('INVALID_EXPORT', `model.json: ${msg}`);
  };
  const pairOf = (v: unknown, i: number, key: string): [number, number] => {
    if (typeof v === 'number') return [v, v];
    if (Array.isArray(v) && v.length === 2 && v.every((d) => typeof d === 'number')) return [v[0] as number, v[1] as number];
    return bad(`layers[${i}].${key} must be a number or a pair of numbers`);
  };
  const paddingOf = (v: unknown, i: number): 'valid' | 'same' => (v === undefined || v === 'valid' ? 'valid' : v === 'same' ? 'same' : bad(`layers[${i}].padding must be "valid" or "same"`));
  const channelsLast = (c: Record<string, unknown>, i: number): void => {
    if (c.data_format !== undefined && c.data_format !== 'channels_last') bad(`layers[${i}].data_format must be "channels_last"`);
  };
  const mj = json as Partial<TfjsModelJson> | null;
  if (!mj || typeof mj !== 'object' || mj.format !== 'layers-model') bad('format must be "layers-model"');
  const topo = mj!.modelTopology;
  if (!topo || topo.class_name !== 'Sequential' || !Array.isArray(topo.config?.layers)) bad('only Sequential models are supported');
  const klayers = topo!.config.layers;
  const first = klayers[0]?.config;
  const bis = (first?.batch_input_shape ?? first?.batchInputShape) as unknown;
  if (!Array.isArray(bis) || bis.length < 2) bad('the first layer needs batch_input_shape');
  const inputShape = (bis as (number | null)[]).slice(1).map((d) => (typeof d === 'number' ? d : bad('input dimensions must be numbers')));
  const layers: LayerSpec[] = [];
  /** klayers[i] → index into `layers`, or -1 for the input scaling layer. */
  const specIndex: number[] = [];
  // Assigned in the callback below: typed by a cast so the checker does not narrow it to null.
  let scaling = null as InputScalingLayer | null;
  let flat = inputShape.length === 1;
  klayers.forEach((l, i) => {
    const c = l.config ?? {};
    const act = (name: unknown): Activation => {
      const a = typeof name === 'string' ? FROM_KERAS[name] : undefined;
      return a ?? bad(`layers[${i}].activation ${JSON.stringify(name)} is not supported`);
    };
    const num = (key: string, fallback?: number): number => {
      const v = c[key] ?? fallback;
      return typeof v === 'number' && Number.isFinite(v) ? v : bad(`layers[${i}].${key} must be a finite number`);
    };
    // A BatchNormalization of the model itself (named as we export it, or after another layer)
    // is a batch_norm layer; one before everything else is an older export's input scaling.
    const modelBatchNorm =
      l.class_name === 'BatchNormalization' && (String(c.name ?? '').startsWith('batch_normalization') || layers.some((s) => s.type !== 'flatten'));
    if (modelBatchNorm) {
      const axis = num('axis', -1);
      if (axis !== -1) bad(`layers[${i}].axis must be -1 (the last axis), got ${axis}`);
      specIndex.push(layers.length);
      layers.push({ type: 'batch_norm', momentum: num('momentum', 0.99), epsilon: num('epsilon', 1e-3), center: c.center !== false, scale: c.scale !== false });
      return;
    }
    if (l.class_name === 'Rescaling' || l.class_name === 'BatchNormalization') {
      // Only as the inputs' scaling, which our engine applies before its first layer.
      if (scaling || layers.some((s) => s.type !== 'flatten')) bad(`layers[${i}] ${l.class_name} is supported only as the input scaling, after nothing but Flatten`);
      if (l.class_name === 'Rescaling') scaling = { kind: 'rescaling', index: i, scale: num('scale'), offset: num('offset', 0) };
      else {
        if (!flat) bad(`layers[${i}] BatchNormalization needs flat inputs; add a Flatten before it`);
        const axis = num('axis', -1);
        if (axis !== -1 && axis !== 1) bad(`layers[${i}].axis must be -1 (the features), got ${axis}`);
        scaling = { kind: 'batchnorm', index: i, center: c.center !== false, scale: c.scale !== false, epsilon: num('epsilon', 1e-3) };
      }
      specIndex.push(-1);
      return;
    }
    specIndex.push(layers.length);
    switch (l.class_name) {
      case 'Dense':
        layers.push({ type: 'dense', units: Number(c.units), activation: act(c.activation ?? 'linear'), useBias: c.use_bias !== false });
        break;
      case 'Dropout':
        layers.push({ type: 'dropout', rate: Number(c.rate) });
        break;
      case 'Flatten':
        layers.push({ type: 'flatten' });
        flat = true;
        break;
      case 'Activation':
        layers.push({ type: 'activation', activation: act(c.activation) });
        break;
      case 'LeakyReLU':
        layers.push({ type: 'activation', activation: 'leaky_relu', alpha: Number(c.alpha ?? 0.3) });
        break;
      case 'ELU':
        layers.push({ type: 'activation', activation: 'elu', alpha: Number(c.alpha ?? defaultAlpha('elu')) });
        break;
      case 'Conv2D':
        channelsLast(c, i);
        layers.push({
          type: 'conv2d',
          filters: Number(c.filters),
          kernelSize: pairOf(c.kernel_size, i, 'kernel_size'),
          strides: pairOf(c.strides ?? 1, i, 'strides'),
          padding: paddingOf(c.padding, i),
          dilation: pairOf(c.dilation_rate ?? 1, i, 'dilation_rate'),
          activation: act(c.activation ?? 'linear'),
          useBias: c.use_bias !== false,
        });
        flat = false;
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast(c, i);
        const poolSize = pairOf(c.pool_size ?? 2, i, 'pool_size');
        const pool = { poolSize, strides: pairOf(c.strides ?? poolSize, i, 'strides'), padding: paddingOf(c.padding, i) };
        layers.push(l.class_name === 'MaxPooling2D' ? { type: 'max_pool2d', ...pool } : { type: 'avg_pool2d', ...pool });
        break;
      }
      case 'GlobalAveragePooling2D':
        channelsLast(c, i);
        layers.push({ type: 'global_avg_pool2d' });
        flat = true;
        break;
      case 'Reshape': {
        const target = c.target_shape;
        if (!Array.isArray(target) || !target.every((d) => typeof d === 'number')) bad(`layers[${i}].target_shape must be a list of numbers`);
        layers.push({ type: 'reshape', targetShape: [...(target as number[])] });
        flat = (target as number[]).length === 1;
        break;
      }
      default:
        bad(`layers[${i}] has unsupported class ${l.class_name}`);
    }
  });
  const spec = parseModelSpec({ inputShape, layers, loss: 'mse' });
  const model = compileModel(spec);

  // Weights in manifest order, which is the layers' order.
  const manifest = (mj!.weightsManifest ?? []).flatMap((g) => g.weights);
  const scalingTensors = scaling === null ? 0 : scaling.kind === 'rescaling' ? 0 : 2 + Number(scaling.center) + Number(scaling.scale);
  const expected = model.params.length + scalingTensors;
  if (manifest.length !== expected) bad(`weightsManifest lists ${manifest.length} tensors; the topology needs ${expected}`);
  const dv = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  let cursor = 0;
  let off = 0;
  const read = (shape: readonly number[], into: Float32Array, at: number) => {
    const w = manifest[cursor++]!;
    if (w.dtype !== undefined && w.dtype !== 'float32') bad(`weight ${w.name} has dtype ${w.dtype}; only float32 is supported`);
    if (w.shape.join(',') !== shape.join(',')) bad(`weight ${w.name} has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (off + size * 4 > weights.byteLength) bad(`weights.bin has ${weights.byteLength} bytes, too few for ${w.name}`);
    for (let j = 0; j < size; j++, off += 4) into[at + j] = dv.getFloat32(off, true);
  };
  const params = new Float32Array(model.paramCount);
  let layerNorm: FeatureNormalization | null = null;
  for (const s of specIndex) {
    if (s < 0) {
      layerNorm = scalingOf(scaling!, model.inputSize, read, bad);
      continue;
    }
    const plan = model.layers[s]!;
    if (plan.type === 'batch_norm') {
      for (const t of [plan.gamma, plan.beta, plan.movingMean, plan.movingVariance]) if (t) read(t.shape, params, t.offset);
      continue;
    }
    if (plan.type !== 'dense' && plan.type !== 'conv2d') continue;
    read(plan.kernel.shape, params, plan.kernel.offset);
    if (plan.bias) read(plan.bias.shape, params, plan.bias.offset);
  }
  if (off !== weights.byteLength) bad(`weights.bin has ${weights.byteLength} bytes; the manifest uses ${off}`);

  const meta = readMetadata(mj!.userDefinedMetadata, model, bad);
  const legacy = meta !== null && meta.input === undefined;
  if (layerNorm) {
    if (legacy && meta.normalization) bad('an input scaling layer and userDefinedMetadata.hypersweep.normalization cannot both apply');
    return { model, params, input: 'normalized', normalization: layerNorm, classNames: meta?.classNames ?? null };
  }
  if (legacy) {
    // Made before exports took raw inputs: the reader applies the normalisation.
    return { model, params, input: meta.normalization ? 'normalized' : 'raw', normalization: meta.normalization, classNames: meta.classNames };
  }
  return { model, params, input: 'raw', normalization: meta?.inputScaling?.normalization ?? null, classNames: meta?.classNames ?? null };
}

/** The per-feature map of an input scaling layer, its tensors read from the manifest. */
function scalingOf(
  layer: InputScalingLayer,
  n: number,
  read: (shape: readonly number[], into: Float32Array, at: number) => void,
  bad: (msg: string) => never,
): FeatureNormalization {
  if (layer.kind === 'rescaling') {
    if (layer.scale === 0) bad(`layers[${layer.index}].scale must not be 0`);
    return { kind: 'affine', scale: layer.scale, shift: layer.offset };
  }
  // Keras order: gamma, beta, moving_mean, moving_variance.
  const gamma = new Float32Array(n).fill(1);
  const beta = new Float32Array(n);
  const mean = new Float32Array(n);
  const variance = new Float32Array(n);
  if (layer.scale) read([n], gamma, 0);
  if (layer.center) read([n], beta, 0);
  read([n], mean, 0);
  read([n], variance, 0);
  // γ·(x − m)/√(v + ε) + β = (x − m′)/σ′ with σ′ = √(v + ε)/γ and m′ = m − β·σ′.
  const std: number[] = [];
  const means: number[] = [];
  for (let i = 0; i < n; i++) {
    const sd = Math.sqrt(variance[i]! + layer.epsilon) / gamma[i]!;
    if (!(sd > 0 && Number.isFinite(sd))) bad(`layers[${layer.index}] feature ${i}: √(moving_variance + epsilon) / gamma is ${sd}, not a positive number`);
    std.push(sd);
    means.push(mean[i]! - beta[i]! * sd);
  }
  return { kind: 'standardized', mean: means, std };
}

interface ReadMetadata {
  input: 'raw' | undefined;
  normalization: FeatureNormalization | null;
  inputScaling: { normalization: FeatureNormalization } | null;
  classNames: string[] | null;
}

/** userDefinedMetadata.hypersweep, checked; null when the file has none (a model from elsewhere). */
function readMetadata(raw: unknown, model: CompiledModel, bad: (msg: string) => never): ReadMetadata | null {
  const hs = (raw as { hypersweep?: unknown } | null | undefined)?.hypersweep;
  if (hs === undefined || hs === null) return null;
  if (typeof hs !== 'object') return bad('userDefinedMetadata.hypersweep must be an object');
  const m = hs as Partial<Record<keyof HypersweepMetadata, unknown>>;
  const where = 'model.json: userDefinedMetadata.hypersweep';
  if (m.input !== undefined && m.input !== 'raw') bad(`userDefinedMetadata.hypersweep.input must be "raw", got ${JSON.stringify(m.input)}`);
  const normalization = m.normalization == null ? null : checkNormalization(m.normalization, model.inputSize, `${where}.normalization`);
  if (m.input === 'raw' && normalization) bad('userDefinedMetadata.hypersweep.normalization must be null when input is "raw" (the scaling is inside the model)');
  const scaling = m.inputScaling as { normalization?: unknown } | null | undefined;
  const inputScaling = scaling == null ? null : { normalization: checkNormalization(scaling.normalization, model.inputSize, `${where}.inputScaling.normalization`) };
  const names = m.classNames;
  if (names != null && !(Array.isArray(names) && names.every((s) => typeof s === 'string'))) bad('userDefinedMetadata.hypersweep.classNames must be an array of strings');
  return { input: m.input as 'raw' | undefined, normalization, inputScaling, classNames: names == null ? null : [...(names as string[])] };
}
