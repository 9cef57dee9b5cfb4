// Inference on non-shared memory (works in a browser page without cross-origin isolation):
// load an exported model, feed rows, read outputs.
//
// Every method says which features it takes, and the predictor applies (or undoes) the scaling
// itself, so a caller can neither forget it nor apply it twice: `predictRaw` takes the features
// a user has (pixels 0–255, CSV values as in the file) whether the scaling is in the weights (an
// export) or beside them (a model as trained).
import { createKernels, type KernelOptions } from './backend.ts';
import type { FeatureNormalization } from './data.ts';
import { NnError } from './errors.ts';
import type { Kernels } from './kernels/types.ts';
import { Arena, createMemory, planActivations, type ActivationPlan } from './memory.ts';
import type { CompiledModel } from './model.ts';
import { Replica } from './replica.ts';
import { checkNormalization, importTfjs } from './tfjs.ts';

export interface PredictorOptions {
  /** Rows per forward pass (the activation plan); longer inputs run in chunks. Default 64. */
  rows?: number;
  kernels?: KernelOptions;
}

export class Predictor {
  private readonly replica: Replica;
  private readonly kernels: Kernels;
  /** Cross-entropy models output logits; a predictor returns probabilities. */
  private readonly softmaxOut: boolean;

  private constructor(
    /** The layers the engine runs: with an export's scaling folded in, they take raw features. */
    readonly model: CompiledModel,
    private readonly memory: WebAssembly.Memory,
    private readonly acts: ActivationPlan,
    kernels: Kernels,
    params: number,
    /** How raw features become the features the model was trained on; null when they are the same. */
    readonly normalization: FeatureNormalization | null,
    /** What `model` takes: raw features (scaling in the weights) or normalised ones. */
    private readonly takes: 'raw' | 'normalized',
    readonly classNames: readonly string[] | null,
  ) {
    this.replica = new Replica(kernels, model, acts, params);
    this.kernels = kernels;
    this.softmaxOut = model.spec.loss === 'softmax_cross_entropy';
  }

  /**
   * A predictor for a model as trained (its first layer takes normalised features) and its flat
   * parameter block; `normalization` is how the dataset turned raw features into those.
   */
  static async create(
    model: CompiledModel,
    params: Float32Array,
    options: PredictorOptions & { normalization?: FeatureNormalization | null; classNames?: readonly string[] | null } = {},
  ): Promise<Predictor> {
    const norm = options.normalization ? checkNormalization(options.normalization, model.inputSize) : null;
    return Predictor.build(model, params, options, norm, 'normalized', options.classNames ?? null);
  }

  /**
   * Loads model.json + weights.bin as written by exportTfjs: current exports (raw inputs, the
   * scaling inside) and older ones (normalised inputs, the scaling in the metadata) alike.
   */
  static async fromTfjs(modelJson: unknown, weights: Uint8Array, options: PredictorOptions = {}): Promise<Predictor> {
    const imported = importTfjs(modelJson, weights);
    return Predictor.build(imported.model, imported.params, options, imported.normalization, imported.input, imported.classNames);
  }

  private static async build(
    model: CompiledModel,
    params: Float32Array,
    options: PredictorOptions,
    normalization: FeatureNormalization | null,
    takes: 'raw' | 'normalized',
    classNames: readonly string[] | null,
  ): Promise<Predictor> {
    if (params.length !== model.paramCount) throw new NnError('INVALID_EXPORT', `expected ${model.paramCount} parameters, got ${params.length}`);
    const arena = new Arena();
    const paramsPtr = arena.allocF32(model.paramCount);
    const acts = planActivations(arena, model, options.rows ?? 64);
    const memory = createMemory(arena.size, false);
    new Float32Array(memory.buffer, paramsPtr, model.paramCount).set(params);
    const kernels = await createKernels(memory, options.kernels ?? {});
    return new Predictor(model, memory, acts, kernels, paramsPtr, normalization, takes, classNames);
  }

  get inputSize(): number {
    return this.model.inputSize;
  }
  get outputSize(): number {
    return this.model.outputSize;
  }

  /**
   * Outputs for `rows` rows of raw features (pixels 0–255, CSV values as in the file): class
   * probabilities for a classifier, values for a regression model. What users, the API and the
   * playground call.
   */
  predictRaw(raw: ArrayLike<number>, rows = raw.length / this.model.inputSize): Float32Array {
    this.checkShape(raw.length, rows);
    if (this.takes === 'raw' || !this.normalization) return this.forward(toFloat32(raw), rows);
    return this.forward(normalize(raw, this.normalization, this.model.inputSize), rows);
  }

  /** Outputs for rows already normalised as in training (e.g. the float32 features a standardized Dataset stores). */
  predictNormalized(x: ArrayLike<number>, rows = x.length / this.model.inputSize): Float32Array {
    this.checkShape(x.length, rows);
    if (this.takes === 'normalized' || !this.normalization) return this.forward(toFloat32(x), rows);
    return this.forward(denormalize(x, this.normalization, this.model.inputSize), rows);
  }

  /**
   * Outputs for a DataSplit's features as the Dataset contract stores them (data.ts), fed the way
   * training feeds them: uint8 features are raw (scaled by an affine normalisation), float32
   * features are already normalised.
   */
  predictStored(features: Uint8Array | Float32Array, rows = features.length / this.model.inputSize): Float32Array {
    if (features instanceof Float32Array) return this.predictNormalized(features, rows);
    return this.normalization?.kind === 'affine' ? this.predictRaw(features, rows) : this.predictNormalized(features, rows);
  }

  /**
   * Outputs for model-ready (already normalised) rows.
   * @deprecated Say which features you have: `predictRaw` (what users have), `predictStored`
   * (a Dataset's features) or `predictNormalized`. This is `predictNormalized`.
   */
  predict(inputs: Float32Array, rows = inputs.length / this.model.inputSize): Float32Array {
    return this.predictNormalized(inputs, rows);
  }

  private checkShape(length: number, rows: number): void {
    const n = this.model.inputSize;
    if (!Number.isInteger(rows) || rows < 1 || length !== rows * n) {
      throw new NnError('SHAPE_MISMATCH', `a prediction needs rows × ${n} inputs, got ${length} values for ${rows} rows`);
    }
  }

  /** Runs the engine's model on `rows` rows of what it takes. */
  private forward(inputs: Float32Array, rows: number): Float32Array {
    const n = this.model.inputSize;
    const m = this.model.outputSize;
    const out = new Float32Array(rows * m);
    for (let start = 0; start < rows; start += this.acts.rows) {
      const r = Math.min(this.acts.rows, rows - start);
      new Float32Array(this.memory.buffer, this.acts.input, r * n).set(inputs.subarray(start * n, (start + r) * n));
      let ptr = this.replica.forward(r, { training: false });
      if (this.softmaxOut) {
        this.kernels.softmax(ptr, this.acts.gradA, r, m);
        ptr = this.acts.gradA;
      }
      out.set(new Float32Array(this.memory.buffer, ptr, r * m), start * m);
    }
    return out;
  }
}

function toFloat32(x: ArrayLike<number>): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

/** Raw → normalised, as the dataset pipeline computes it (float64, rounded once). */
function normalize(raw: ArrayLike<number>, norm: FeatureNormalization, n: number): Float32Array {
  const x = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    x[i] = norm.kind === 'affine' ? v * norm.scale + norm.shift : (v - norm.mean[i % n]!) / norm.std[i % n]!;
  }
  return x;
}

/** Normalised → raw: the inverse of `normalize`, for a model whose weights carry the scaling. */
function denormalize(x: ArrayLike<number>, norm: FeatureNormalization, n: number): Float32Array {
  const raw = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    raw[i] = norm.kind === 'affine' ? (v - norm.shift) / norm.scale : v * norm.std[i % n]! + norm.mean[i % n]!;
  }
  return raw;
}
