// TensorFlow.js Layers format (model.json + weights.bin): export a trained model, and read back
// the Sequential models we export so the inference API can run them.
import type { FeatureNormalization } from './data.ts';
import { NnError } from './errors.ts';
import { compileModel, defaultAlpha, type CompiledModel } from './model.ts';
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
  modelSpec: ModelSpec;
  normalization: FeatureNormalization | null;
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

/**
 * Exports parameters of `model` (the flat block, with padding) to the tfjs Layers format. A
 * cross-entropy model gets a softmax on its output, so the exported model predicts probabilities.
 */
export function exportTfjs(
  model: CompiledModel,
  params: Float32Array,
  meta: { normalization?: FeatureNormalization | null; classNames?: readonly string[] | null } = {},
): TfjsExport {
  if (params.length !== model.paramCount) {
    throw new NnError('INVALID_EXPORT', `expected ${model.paramCount} parameters, got ${params.length}`);
  }
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
  model.layers.forEach((layer, i) => {
    switch (layer.type) {
      case 'dense': {
        const appendSoftmax = softmaxOut && i === lastDense && layer.activation === 'linear';
        const inline = appendSoftmax ? 'softmax' : KERAS_ACTIVATION[layer.activation];
        const fused = inline !== undefined;
        push('Dense', {
          name: layer.name,
          units: layer.outDim,
          activation: fused ? inline : 'linear',
          use_bias: layer.bias !== undefined,
          kernel_initializer: { class_name: 'Zeros', config: {} },
          bias_initializer: { class_name: 'Zeros', config: {} },
          kernel_regularizer: null,
          bias_regularizer: null,
          activity_regularizer: null,
          kernel_constraint: null,
          bias_constraint: null,
        });
        if (!fused) pushActivation(layer.activation, layer.alpha);
        weights.push({ name: layer.kernel.name, shape: [...layer.kernel.shape], dtype: 'float32' });
        chunks.push(params.subarray(layer.kernel.offset, layer.kernel.offset + layer.kernel.size));
        if (layer.bias) {
          weights.push({ name: layer.bias.name, shape: [...layer.bias.shape], dtype: 'float32' });
          chunks.push(params.subarray(layer.bias.offset, layer.bias.offset + layer.bias.size));
        }
        break;
      }
      case 'dropout':
        push('Dropout', { name: uniqueName('dropout'), rate: layer.rate, noise_shape: null, seed: null });
        break;
      case 'flatten':
        push('Flatten', { name: uniqueName('flatten') });
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
          normalization: meta.normalization ?? null,
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

/**
 * Reads a Sequential tfjs model made of Dense / Dropout / Flatten / Activation / LeakyReLU / ELU
 * layers into an inference spec (loss 'mse': the outputs are returned as the model computes them)
 * and the flat parameter block.
 */
export function importTfjs(json: unknown, weights: Uint8Array): { model: CompiledModel; params: Float32Array } {
  const bad = (msg: string): never => {
    throw new NnError('INVALID_EXPORT', `model.json: ${msg}`);
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
  klayers.forEach((l, i) => {
    const c = l.config;
    const act = (name: unknown): Activation => {
      const a = typeof name === 'string' ? FROM_KERAS[name] : undefined;
      return a ?? bad(`layers[${i}].activation ${JSON.stringify(name)} is not supported`);
    };
    switch (l.class_name) {
      case 'Dense':
        layers.push({ type: 'dense', units: Number(c.units), activation: act(c.activation ?? 'linear'), useBias: c.use_bias !== false });
        break;
      case 'Dropout':
        layers.push({ type: 'dropout', rate: Number(c.rate) });
        break;
      case 'Flatten':
        layers.push({ type: 'flatten' });
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
      default:
        bad(`layers[${i}] has unsupported class ${l.class_name}`);
    }
  });
  const spec = parseModelSpec({ inputShape, layers, loss: 'mse' });
  const model = compileModel(spec);
  const manifest = (mj!.weightsManifest ?? []).flatMap((g) => g.weights);
  const expected = model.params.length;
  if (manifest.length !== expected) bad(`weightsManifest lists ${manifest.length} tensors; the topology needs ${expected}`);
  const params = new Float32Array(model.paramCount);
  const dv = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  let off = 0;
  model.params.forEach((p, i) => {
    const w = manifest[i]!;
    if (w.dtype !== undefined && w.dtype !== 'float32') bad(`weight ${w.name} has dtype ${w.dtype}; only float32 is supported`);
    if (w.shape.join(',') !== p.shape.join(',')) bad(`weight ${w.name} has shape [${w.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    if (off + p.size * 4 > weights.byteLength) bad(`weights.bin has ${weights.byteLength} bytes, too few for ${w.name}`);
    for (let j = 0; j < p.size; j++, off += 4) params[p.offset + j] = dv.getFloat32(off, true);
  });
  if (off !== weights.byteLength) bad(`weights.bin has ${weights.byteLength} bytes; the manifest uses ${off}`);
  return { model, params };
}
