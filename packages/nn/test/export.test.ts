// The TensorFlow.js export loads in TensorFlow.js, takes raw features (the dataset's scaling is
// inside the model) and predicts what our engine predicts; the Predictor reads it and the
// exports made before it.
import { describe, expect, it } from 'vitest';
import type { FeatureNormalization } from '../src/data.ts';
import { NnError } from '../src/errors.ts';
import { Predictor } from '../src/inference.ts';
import { initializeParams } from '../src/init.ts';
import { compileModel, type CompiledModel } from '../src/model.ts';
import { Rng } from '../src/rng.ts';
import { exportTfjs, importTfjs, type HypersweepMetadata, type TfjsExport, type TfjsModelJson } from '../src/tfjs.ts';
import { fit } from '../src/train.ts';
import { quadrants, randomFill, relError } from './harness.ts';
import { tfjsPredict } from './tfjs-harness.ts';

function metadata(exported: TfjsExport): HypersweepMetadata {
  return exported.modelJson.userDefinedMetadata!.hypersweep!;
}

const classNames = (exported: TfjsExport) => exported.modelJson.modelTopology.config.layers.map((l) => l.class_name);

/** A model with random weights and biases (so a folded bias is exercised). */
function randomModel(spec: unknown, seed: number): { model: CompiledModel; params: Float32Array } {
  const model = compileModel(spec);
  const params = new Float32Array(model.paramCount);
  initializeParams(model, Rng.fromSeed(seed), params);
  for (const p of model.params) if (p.role === 'bias') randomFill(params.subarray(p.offset, p.offset + p.size), Rng.fromSeed(seed + p.offset), 0.5);
  return { model, params };
}

/** Raw features around each feature's mean, `rows` × mean.length. */
function rawAround(norm: { mean: number[]; std: number[] }, rows: number, seed: number): Float32Array {
  const rng = Rng.fromSeed(seed);
  const n = norm.mean.length;
  return Float32Array.from({ length: rows * n }, (_, i) => norm.mean[i % n]! + norm.std[i % n]! * rng.normal() * 1.5);
}

const pixels = (count: number, seed: number) => {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: count }, () => rng.int(256));
};

describe('TensorFlow.js export', () => {
  it.each([
    ['relu + dropout', [{ type: 'dense', units: 20, activation: 'relu' }, { type: 'dropout', rate: 0.2 }]],
    ['gelu, leaky_relu, elu, sigmoid, tanh', [
      { type: 'dense', units: 12, activation: 'gelu' },
      { type: 'dense', units: 12, activation: 'leaky_relu', alpha: 0.2 },
      { type: 'dense', units: 12, activation: 'elu' },
      { type: 'dense', units: 12, activation: 'sigmoid' },
      { type: 'activation', activation: 'tanh' },
    ]],
  ])('a trained model (%s) takes raw pixels in tfjs and predicts what our Predictor predicts, within 1e-5', async (_n, hidden) => {
    const ds = quadrants({ count: 200, side: 6, seed: 4 });
    const r = await fit({
      model: { inputShape: [6, 6], layers: [{ type: 'flatten' }, ...hidden, { type: 'dense', units: 4 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: ds,
      epochs: 2,
      batchSize: 20,
      seed: 1,
    });
    const params = r.session.paramsView().slice();
    const out = exportTfjs(r.session.model, params, { normalization: ds.normalization });
    // The scaling is folded into the first dense layer; the metadata says the inputs are raw.
    expect(classNames(out)[0]).toBe('Flatten');
    expect(classNames(out)).not.toContain('Rescaling');
    expect(metadata(out)).toMatchObject({ input: 'raw', normalization: null, inputScaling: { method: 'folded', normalization: ds.normalization } });

    const rows = 17;
    const raw = pixels(rows * 36, 3);
    const expected = await tfjsPredict(out, raw, [6, 6]);
    const reference = await Predictor.create(r.session.model, params, { normalization: ds.normalization });
    const fromExport = await Predictor.fromTfjs(JSON.parse(JSON.stringify(out.modelJson)), out.weights);
    const ours = reference.predictRaw(raw);
    expect(ours.length).toBe(rows * 4);
    expect(relError(ours, expected)).toBeLessThan(1e-5);
    expect(relError(fromExport.predictRaw(raw), expected)).toBeLessThan(1e-5);
    // Probabilities: every row sums to 1.
    for (let i = 0; i < rows; i++) expect(ours.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Fed pixels/255 (what a tfjs user might try), the export answers something else.
    expect(relError(await tfjsPredict(out, raw.map((v) => v / 255), [6, 6]), expected)).toBeGreaterThan(1e-2);
  });

  it.each<[string, unknown, FeatureNormalization, string[]]>([
    [
      'affine on a [6, 6] image: Rescaling',
      { inputShape: [6, 6], layers: [{ type: 'activation', activation: 'tanh' }, { type: 'flatten' }, { type: 'dense', units: 5, activation: 'relu' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' },
      { kind: 'affine', scale: 1 / 80, shift: -1 },
      ['Rescaling', 'Activation', 'Flatten', 'Dense', 'Dense'],
    ],
    [
      'standardized on 4 features: BatchNormalization',
      { inputShape: [4], layers: [{ type: 'activation', activation: 'sigmoid' }, { type: 'dense', units: 5, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'mse' },
      { kind: 'standardized', mean: [1000, -3, 0.01, 5], std: [200, 0.5, 0.002, 1] },
      ['BatchNormalization', 'Activation', 'Dense', 'Dense'],
    ],
    [
      'standardized on a [2, 3] input: Flatten, then BatchNormalization',
      { inputShape: [2, 3], layers: [{ type: 'activation', activation: 'tanh' }, { type: 'flatten' }, { type: 'dense', units: 4, activation: 'relu' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      { kind: 'standardized', mean: [1e3, 2e3, -5, 0.02, 0, 7], std: [50, 300, 2, 0.01, 1, 0.5] },
      ['Flatten', 'BatchNormalization', 'Activation', 'Dense', 'Dense'],
    ],
  ])('where an activation sees the inputs first, the scaling is an input layer (%s)', async (_n, spec, norm, layers) => {
    const { model, params } = randomModel(spec, 7);
    const out = exportTfjs(model, params, { normalization: norm });
    expect(classNames(out)).toEqual(layers);
    expect(metadata(out)).toMatchObject({ input: 'raw', normalization: null, inputScaling: { method: 'layer' } });
    const rows = 25;
    const raw = norm.kind === 'affine' ? pixels(rows * model.inputSize, 5) : rawAround(norm, rows, 5);
    const expected = await tfjsPredict(out, raw, model.spec.inputShape);
    const reference = await Predictor.create(model, params, { normalization: norm });
    expect(relError(reference.predictRaw(raw), expected)).toBeLessThan(1e-5);
    const fromExport = await Predictor.fromTfjs(out.modelJson, out.weights);
    expect(relError(fromExport.predictRaw(raw), expected)).toBeLessThan(1e-5);
    expect(fromExport.normalization?.kind).toBe(norm.kind);
    // Without the scaling the model answers something else: the layer matters.
    const unscaled = exportTfjs(model, params);
    expect(relError(await tfjsPredict(unscaled, raw, model.spec.inputShape), expected)).toBeGreaterThan(1e-2);
  });

  it('folds per-feature statistics into a dense layer without a bias by giving it one', async () => {
    const norm: FeatureNormalization = { kind: 'standardized', mean: [1500, -0.03, 40], std: [300, 0.01, 8] };
    const { model, params } = randomModel({ inputShape: [3], layers: [{ type: 'dense', units: 6, activation: 'relu', useBias: false }, { type: 'dense', units: 1 }], loss: 'mse' }, 11);
    const out = exportTfjs(model, params, { normalization: norm });
    expect(out.modelJson.modelTopology.config.layers[0]!.config.use_bias).toBe(true);
    expect(out.modelJson.weightsManifest[0]!.weights.map((w) => w.name)).toEqual(['dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias']);
    const raw = rawAround(norm, 40, 2);
    const expected = await tfjsPredict(out, raw, [3]);
    const reference = await Predictor.create(model, params, { normalization: norm });
    expect(relError(reference.predictRaw(raw), expected)).toBeLessThan(1e-5);
    expect(relError((await Predictor.fromTfjs(out.modelJson, out.weights)).predictRaw(raw), expected)).toBeLessThan(1e-5);
  });

  it('reads exports made before inputs were raw (scaling in the metadata) and predicts the same from raw features', async () => {
    const norm: FeatureNormalization = { kind: 'standardized', mean: [1000, 0.05], std: [250, 0.02] };
    const { model, params } = randomModel({ inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }, 3);
    // The old format: unfolded weights, the normalisation for the reader to apply, no `input`.
    const old = exportTfjs(model, params);
    const oldMeta: Partial<HypersweepMetadata> = { ...metadata(old), normalization: norm };
    delete oldMeta.input;
    delete oldMeta.inputScaling;
    const oldJson: TfjsModelJson = { ...old.modelJson, userDefinedMetadata: { hypersweep: oldMeta as HypersweepMetadata } };
    expect(importTfjs(oldJson, old.weights)).toMatchObject({ input: 'normalized', normalization: norm });

    const raw = rawAround(norm, 30, 8);
    const reference = await Predictor.create(model, params, { normalization: norm });
    const legacy = await Predictor.fromTfjs(oldJson, old.weights);
    // The same weights and the same scaling: the same bits.
    expect(Array.from(legacy.predictRaw(raw))).toEqual(Array.from(reference.predictRaw(raw)));
    const current = exportTfjs(model, params, { normalization: norm });
    expect(importTfjs(current.modelJson, current.weights)).toMatchObject({ input: 'raw', normalization: norm });
    const fromCurrent = await Predictor.fromTfjs(current.modelJson, current.weights);
    expect(relError(fromCurrent.predictRaw(raw), reference.predictRaw(raw))).toBeLessThan(1e-5);
    // A reader that predates `input` applies `normalization`, which a current export leaves null.
    expect(metadata(current).normalization).toBeNull();
  });

  it('says which features each predict method takes, whatever the predictor was made from', async () => {
    const ds = quadrants({ count: 40, side: 4, seed: 2 });
    const { model, params } = randomModel({ inputShape: [4, 4], layers: [{ type: 'flatten' }, { type: 'dense', units: 6, activation: 'relu' }, { type: 'dense', units: 4 }], loss: 'softmax_cross_entropy' }, 5);
    const reference = await Predictor.create(model, params, { normalization: ds.normalization, rows: 8 });
    const exported = exportTfjs(model, params, { normalization: ds.normalization });
    const fromExport = await Predictor.fromTfjs(exported.modelJson, exported.weights, { rows: 8 });
    const u8 = ds.test.features as Uint8Array;
    const rows = ds.test.count;
    const normalised = Float32Array.from(u8, (v) => v * (1 / 80) - 1);
    const expected = reference.predictRaw(u8, rows);
    // A Dataset's uint8 features are raw; normalised rows give the same outputs.
    expect(Array.from(reference.predictStored(u8, rows))).toEqual(Array.from(expected));
    expect(relError(reference.predictNormalized(normalised, rows), expected)).toBeLessThan(1e-6);
    // The export's weights carry the scaling; its predictor undoes it for normalised rows.
    expect(relError(fromExport.predictRaw(u8, rows), expected)).toBeLessThan(1e-5);
    expect(relError(fromExport.predictStored(u8, rows), expected)).toBeLessThan(1e-5);
    expect(relError(fromExport.predictNormalized(normalised, rows), expected)).toBeLessThan(1e-5);
    // The deprecated predict is predictNormalized.
    expect(Array.from(reference.predict(normalised, rows))).toEqual(Array.from(reference.predictNormalized(normalised, rows)));
    // A standardized Dataset stores float32 features already standardised.
    const norm: FeatureNormalization = { kind: 'standardized', mean: [10, 20], std: [2, 4] };
    const small = randomModel({ inputShape: [2], layers: [{ type: 'dense', units: 3 }], loss: 'mse' }, 1);
    const p = await Predictor.create(small.model, small.params, { normalization: norm });
    const stored = Float32Array.of(0.5, -1, 1, 2);
    expect(Array.from(p.predictStored(stored))).toEqual(Array.from(p.predictNormalized(stored)));
    expect(relError(p.predictRaw([11, 16, 12, 28]), p.predictNormalized(stored))).toBeLessThan(1e-6);
    expect(() => p.predictRaw([1, 2, 3])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });

  it('reads a BatchNormalization input layer with gamma and beta', async () => {
    const norm: FeatureNormalization = { kind: 'standardized', mean: [100, -2, 0.5], std: [20, 0.5, 0.1] };
    const { model, params } = randomModel({ inputShape: [3], layers: [{ type: 'activation', activation: 'tanh' }, { type: 'dense', units: 4 }], loss: 'mse' }, 9);
    const out = exportTfjs(model, params, { normalization: norm });
    const layers = structuredClone(out.modelJson.modelTopology.config.layers);
    Object.assign(layers[0]!.config, { center: true, scale: true, epsilon: 1e-3 });
    const gamma = Float32Array.of(2, 0.5, 1.5);
    const beta = Float32Array.of(0.1, -0.2, 0.3);
    const json: TfjsModelJson = {
      ...out.modelJson,
      modelTopology: { ...out.modelJson.modelTopology, config: { ...out.modelJson.modelTopology.config, layers } },
      weightsManifest: [{
        paths: ['weights.bin'],
        weights: [
          { name: 'input_standardization/gamma', shape: [3], dtype: 'float32' },
          { name: 'input_standardization/beta', shape: [3], dtype: 'float32' },
          ...out.modelJson.weightsManifest[0]!.weights,
        ],
      }],
    };
    const bytes = new Uint8Array(24 + out.weights.length);
    bytes.set(new Uint8Array(gamma.buffer), 0);
    bytes.set(new Uint8Array(beta.buffer), 12);
    bytes.set(out.weights, 24);
    const edited: TfjsExport = { modelJson: json, weights: bytes };
    const raw = rawAround(norm, 20, 4);
    const expected = await tfjsPredict(edited, raw, [3]);
    expect(relError(expected, await tfjsPredict(out, raw, [3]))).toBeGreaterThan(1e-2);
    expect(relError((await Predictor.fromTfjs(json, bytes)).predictRaw(raw), expected)).toBeLessThan(1e-5);
  });

  it('refuses a model TensorFlow.js cannot load', () => {
    const model = compileModel({ inputShape: [2], layers: [{ type: 'dense', units: 3, activation: 'elu', alpha: 0.5 }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' });
    expect(() => exportTfjs(model, new Float32Array(model.paramCount))).toThrow(/alpha 0.5 cannot be loaded by TensorFlow.js/);
  });

  it('refuses a normalisation that does not fit the model', () => {
    const model = compileModel({ inputShape: [4], layers: [{ type: 'dense', units: 2 }], loss: 'mse' });
    const params = new Float32Array(model.paramCount);
    const refuse = (normalization: unknown, message: RegExp) => {
      expect(() => exportTfjs(model, params, { normalization: normalization as FeatureNormalization })).toThrow(message);
      expect(() => exportTfjs(model, params, { normalization: normalization as FeatureNormalization })).toThrow(NnError);
    };
    refuse({ kind: 'standardized', mean: [0, 0, 0], std: [1, 1, 1, 1] }, /normalization\.mean has 3 values; the model takes 4 features/);
    refuse({ kind: 'standardized', mean: [0, 0, 0, 0], std: [1, 0, 1, 1] }, /normalization\.std\[1\] must be a finite number > 0, got 0/);
    refuse({ kind: 'affine', scale: 0, shift: 0 }, /normalization\.scale must be a finite non-zero number/);
    refuse({ kind: 'affine', scale: 1, shift: Number.NaN }, /normalization\.shift must be a finite number/);
    refuse({ kind: 'minmax' }, /normalization\.kind must be "affine" or "standardized"/);
    // Folding that overflows float32 is refused rather than exported as ∞.
    const ones = new Float32Array(model.paramCount).fill(1);
    expect(() => exportTfjs(model, ones, { normalization: { kind: 'standardized', mean: [0, 0, 0, 0], std: [1e-40, 1, 1, 1] } })).toThrow(/overflows float32/);
  });

  it('refuses malformed exports with a clear error', () => {
    const model = { format: 'layers-model', modelTopology: { class_name: 'Functional', config: { layers: [] } } };
    expect(() => importTfjs(model, new Uint8Array())).toThrow(/only Sequential/);
    expect(() => importTfjs(null, new Uint8Array())).toThrow(NnError);
    const ok = {
      format: 'layers-model',
      modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 3] } as Record<string, unknown> }] } },
      weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'k', shape: [3, 2], dtype: 'float32' }, { name: 'b', shape: [2], dtype: 'float32' }] }],
      userDefinedMetadata: {} as Record<string, unknown>,
    };
    expect(() => importTfjs(ok, new Uint8Array(8))).toThrow(/too few/);
    expect(importTfjs(ok, new Uint8Array(32)).params.length).toBeGreaterThanOrEqual(8);
    const conv = structuredClone(ok);
    conv.modelTopology.config.layers[0]!.class_name = 'Conv3D';
    expect(() => importTfjs(conv, new Uint8Array(32))).toThrow(/unsupported class Conv3D/);
    const noKernel = structuredClone(ok);
    noKernel.modelTopology.config.layers[0]!.class_name = 'Conv2D';
    expect(() => importTfjs(noKernel, new Uint8Array(32))).toThrow(/layers\[0\]\.kernel_size must be a number or a pair/);
    // Raw inputs and a normalisation for the reader contradict each other.
    const both = structuredClone(ok);
    both.userDefinedMetadata.hypersweep = { input: 'raw', normalization: { kind: 'affine', scale: 2, shift: 0 } };
    expect(() => importTfjs(both, new Uint8Array(32))).toThrow(/normalization must be null when input is "raw"/);
    const wrongLength = structuredClone(ok);
    wrongLength.userDefinedMetadata.hypersweep = { normalization: { kind: 'standardized', mean: [0], std: [1] } };
    expect(() => importTfjs(wrongLength, new Uint8Array(32))).toThrow(/hypersweep\.normalization\.mean has 1 values; the model takes 3 features/);
    // A scaling layer is read only in front of the model.
    const late = structuredClone(ok);
    late.modelTopology.config.layers.push({ class_name: 'Rescaling', config: { units: 0, scale: 2, offset: 0 } });
    expect(() => importTfjs(late, new Uint8Array(32))).toThrow(/layers\[1\] Rescaling is supported only as the input scaling/);
  });
});

describe('export of spatial layers', () => {
  it('GlobalAveragePooling2D, and per-feature standardisation of an image (Flatten, BatchNormalization, Reshape back), agree with tfjs', async () => {
    const spec = { inputShape: [5, 4, 2], layers: [{ type: 'conv2d', filters: 3, kernelSize: 2, padding: 'same', activation: 'tanh' }, { type: 'max_pool2d', poolSize: [2, 3], strides: 1, padding: 'same' }, { type: 'global_avg_pool2d' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' };
    const model = compileModel(spec);
    const params = new Float32Array(model.paramCount);
    initializeParams(model, Rng.fromSeed(3), params);
    const rng = Rng.fromSeed(4);
    const normalization: FeatureNormalization = { kind: 'standardized', mean: Array.from({ length: 40 }, () => rng.normal() * 3), std: Array.from({ length: 40 }, () => 0.5 + rng.float() * 2) };
    const exported = exportTfjs(model, params, { normalization });
    expect(exported.modelJson.modelTopology.config.layers.map((l) => l.class_name)).toEqual(['Flatten', 'BatchNormalization', 'Reshape', 'Conv2D', 'MaxPooling2D', 'GlobalAveragePooling2D', 'Dense']);
    const x = Float32Array.from({ length: 7 * 40 }, (_, i) => normalization.mean[i % 40]! + rng.normal() * 2);
    const ours = (await Predictor.create(model, params, { normalization })).predictRaw(x);
    const theirs = await tfjsPredict(exported, x, [5, 4, 2]);
    let diff = 0;
    for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - theirs[i]!));
    expect(diff).toBeLessThan(1e-5);
    // And it reads back: the layers in, the scaling as the predictor's.
    const back = (await Predictor.fromTfjs(exported.modelJson, exported.weights)).predictRaw(x);
    for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - back[i]!));
    expect(diff).toBeLessThan(1e-5);
  });
});
