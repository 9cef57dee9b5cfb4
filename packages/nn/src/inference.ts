// Inference on non-shared memory (works in a browser page without cross-origin isolation):
// load an exported model, feed rows, read outputs.
import { createKernels, type KernelOptions } from './backend.ts';
import type { FeatureNormalization } from './data.ts';
import { NnError } from './errors.ts';
import type { Kernels } from './kernels/types.ts';
import { Arena, createMemory, planActivations, type ActivationPlan } from './memory.ts';
import type { CompiledModel } from './model.ts';
import { Replica } from './replica.ts';
import { importTfjs, type HypersweepMetadata, type TfjsModelJson } from './tfjs.ts';

export class Predictor {
  private readonly replica: Replica;
  /** Cross-entropy models output logits; a predictor returns probabilities. */
  private readonly softmaxOut: boolean;

  private constructor(
    readonly model: CompiledModel,
    private readonly memory: WebAssembly.Memory,
    private readonly acts: ActivationPlan,
    kernels: Kernels,
    params: number,
    /** How raw features are normalised before the model sees them (from the export's metadata). */
    readonly normalization: FeatureNormalization | null,
    readonly classNames: readonly string[] | null,
  ) {
    this.replica = new Replica(kernels, model, acts, params);
    this.kernels = kernels;
    this.softmaxOut = model.spec.loss === 'softmax_cross_entropy';
  }
  private readonly kernels: Kernels;

  /** A predictor for a compiled model and its flat parameter block. */
  static async create(
    model: CompiledModel,
    params: Float32Array,
    options: { rows?: number; kernels?: KernelOptions; normalization?: FeatureNormalization | null; classNames?: readonly string[] | null } = {},
  ): Promise<Predictor> {
    if (params.length !== model.paramCount) throw new NnError('INVALID_EXPORT', `expected ${model.paramCount} parameters, got ${params.length}`);
    const arena = new Arena();
    const paramsPtr = arena.allocF32(model.paramCount);
    const acts = planActivations(arena, model, options.rows ?? 64);
    const memory = createMemory(arena.size, false);
    new Float32Array(memory.buffer, paramsPtr, model.paramCount).set(params);
    const kernels = await createKernels(memory, options.kernels ?? {});
    return new Predictor(model, memory, acts, kernels, paramsPtr, options.normalization ?? null, options.classNames ?? null);
  }

  /** Loads model.json + weights.bin as written by exportTfjs. */
  static async fromTfjs(modelJson: unknown, weights: Uint8Array, options: { kernels?: KernelOptions } = {}): Promise<Predictor> {
    const { model, params } = importTfjs(modelJson, weights);
    const meta: HypersweepMetadata | undefined = (modelJson as TfjsModelJson).userDefinedMetadata?.hypersweep;
    return Predictor.create(model, params, {
      kernels: options.kernels ?? {},
      normalization: meta?.normalization ?? null,
      classNames: meta?.classNames ?? null,
    });
  }

  get inputSize(): number {
    return this.model.inputSize;
  }
  get outputSize(): number {
    return this.model.outputSize;
  }

  /** Outputs for `rows` model-ready (already normalised) input rows; class probabilities for a cross-entropy model. */
  predict(inputs: Float32Array, rows = inputs.length / this.model.inputSize): Float32Array {
    const n = this.model.inputSize;
    const m = this.model.outputSize;
    if (!Number.isInteger(rows) || rows < 1 || inputs.length !== rows * n) {
      throw new NnError('SHAPE_MISMATCH', `predict needs rows × ${n} inputs, got ${inputs.length} values for ${rows} rows`);
    }
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

  /** Applies the export's normalisation to raw features (e.g. 0–255 pixels), then predicts. */
  predictRaw(raw: ArrayLike<number>, rows = raw.length / this.model.inputSize): Float32Array {
    const n = this.model.inputSize;
    const x = new Float32Array(raw.length);
    const norm = this.normalization;
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i]!;
      if (!norm) x[i] = v;
      else if (norm.kind === 'affine') x[i] = v * norm.scale + norm.shift;
      else x[i] = (v - norm.mean[i % n]!) / norm.std[i % n]!;
    }
    return this.predict(x, rows);
  }
}
