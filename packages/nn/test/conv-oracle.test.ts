// Oracle: conv2d and pooling against TensorFlow.js 4.22 (tf.layers.conv2d and pooling layers,
// tf.variableGrads / tf.grads) — forward outputs, loss, every weight gradient and the input
// gradients — on shapes the other tests do not use.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKernels } from '../src/backend.ts';
import { convScratchFloats, windowGeometry, type WindowGeometry } from '../src/geometry.ts';
import { Arena, createMemory, f32View } from '../src/memory.ts';
import { Rng } from '../src/rng.ts';
import { harness, relError, randomFill, trainingPass } from './harness.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TOL = 1e-5;

type Layer = Record<string, unknown> & { type: string };

/** The tfjs layer of one of our spec layers (weights set later, in our parameter order). */
function tfLayer(l: Layer): tf.layers.Layer {
  switch (l.type) {
    case 'conv2d':
      return tf.layers.conv2d({ filters: l.filters as number, kernelSize: l.kernelSize as number | number[], strides: (l.strides ?? 1) as number | number[], padding: (l.padding ?? 'valid') as 'valid' | 'same', dilationRate: (l.dilation ?? 1) as number | [number, number], activation: (l.activation ?? 'linear') as 'linear', useBias: l.useBias !== false });
    case 'max_pool2d':
      return tf.layers.maxPooling2d({ poolSize: l.poolSize as number | [number, number], strides: l.strides as number | [number, number] | undefined, padding: (l.padding ?? 'valid') as 'valid' | 'same' });
    case 'avg_pool2d':
      return tf.layers.averagePooling2d({ poolSize: l.poolSize as number | [number, number], strides: l.strides as number | [number, number] | undefined, padding: (l.padding ?? 'valid') as 'valid' | 'same' });
    case 'global_avg_pool2d':
      return tf.layers.globalAveragePooling2d({});
    case 'flatten':
      return tf.layers.flatten();
    case 'dense':
      return tf.layers.dense({ units: l.units as number, activation: (l.activation ?? 'linear') as 'linear' });
    case 'batch_norm':
      return tf.layers.batchNormalization({ axis: -1, momentum: (l.momentum ?? 0.99) as number, epsilon: (l.epsilon ?? 1e-3) as number, center: l.center !== false, scale: l.scale !== false });
    default:
      throw new Error(`no tfjs layer for ${l.type}`);
  }
}

describe('CNNs against TensorFlow.js', () => {
  it.each([
    ['same padding, strides [2, 1], dilation 2, max and average pooling, global average; cross-entropy', [11, 9, 3], 5, 'softmax_cross_entropy', [
      { type: 'conv2d', filters: 5, kernelSize: [3, 4], strides: [2, 1], padding: 'same', activation: 'relu' },
      { type: 'max_pool2d', poolSize: [3, 2], strides: 2, padding: 'same' },
      { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' },
      // Valid: tfjs 4.22's AvgPool gradient divides by the whole window even where its forward pass
      // (and ours) averages fewer elements, so with same padding it is not this layer's gradient.
      // The same-padding gradient is checked below against an exact formulation.
      { type: 'avg_pool2d', poolSize: 2, strides: 1 },
      { type: 'global_avg_pool2d' },
      { type: 'dense', units: 6 },
    ]],
    ['valid padding, stride 2, one channel, no bias, flatten; mse', [10, 7, 1], 3, 'mse', [
      { type: 'conv2d', filters: 4, kernelSize: [2, 3], strides: 2, activation: 'sigmoid' },
      { type: 'avg_pool2d', poolSize: 2, strides: 1 },
      { type: 'conv2d', filters: 3, kernelSize: 2, padding: 'same', useBias: false },
      { type: 'max_pool2d', poolSize: 2, padding: 'same' },
      { type: 'flatten' },
      { type: 'dense', units: 4 },
    ]],
    // tfjs 4.22 has no conv2d gradient for dilations above 1: the forward pass only.
    ['dilation [2, 3], same and valid; forward only', [12, 10, 2], 2, 'mse', [
      { type: 'conv2d', filters: 3, kernelSize: [2, 3], dilation: [2, 3], padding: 'same', activation: 'relu' },
      { type: 'conv2d', filters: 2, kernelSize: 3, dilation: 2, activation: 'tanh' },
      { type: 'flatten' },
      { type: 'dense', units: 3 },
    ]],
  ] as const)('%s: forward, loss and weight gradients within 1e-5', async (name, inputShape, rows, loss, layers) => {
    const spec = { inputShape: [...inputShape], layers, loss };
    const h = await harness(spec, rows, {}, 9);
    const rng = Rng.fromSeed(21);
    randomFill(h.input(), rng, 1.5);
    const outputs = h.model.outputSize;
    const { labels, targets, outputs: ours, lossSum, grads } = trainingPass(h, rows, loss, rng);
    const params = h.params().slice();

    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: [...inputShape] }));
    for (const l of layers) model.add(tfLayer(l as Layer));
    // tfjs lists kernel then bias per layer, our parameter order too.
    const weights = model.weights;
    expect(weights.length).toBe(h.model.params.length);
    model.setWeights(h.model.params.map((p) => tf.tensor(params.subarray(p.offset, p.offset + p.size), [...p.shape])));
    const x = tf.tensor(h.input().slice(), [rows, ...inputShape]);
    const forward = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    expect(relError(ours, forward), 'forward').toBeLessThan(TOL);
    if (name.includes('forward only')) {
      tf.dispose(x);
      model.dispose();
      return;
    }

    const vars = weights.map((w) => w.read() as tf.Variable);
    const f = () => {
      const y = model.apply(x, { training: true }) as tf.Tensor;
      if (loss === 'mse') return tf.mean(tf.square(tf.sub(y, tf.tensor2d(targets, [rows, outputs])))) as tf.Scalar;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), outputs), y) as tf.Scalar;
    };
    const { value, grads: tg } = tf.variableGrads(f, vars);
    const tfLoss = (await value.data())[0]!;
    expect(Math.abs(lossSum / rows - tfLoss) / Math.abs(tfLoss)).toBeLessThan(TOL);
    for (let i = 0; i < h.model.params.length; i++) {
      const p = h.model.params[i]!;
      const expected = await tg[vars[i]!.name]!.data();
      expect(relError(grads.subarray(p.offset, p.offset + p.size), expected), `${p.name} gradient`).toBeLessThan(TOL);
    }
    tf.dispose([x, value, ...Object.values(tg)]);
    model.dispose();
  });

  // Input gradients, one kernel path at a time on the WASM kernels: d/dx Σ dy ⊙ layer(x).
  const cases: [string, WindowGeometry, number][] = [
    ['conv 3×2 same, strides [1, 2]', windowGeometry([7, 8, 3], [3, 2], [1, 2], [1, 1], 'same'), 4],
    ['conv 2×3 valid, dilation 2', windowGeometry([9, 6, 2], [2, 3], [1, 1], [2, 2], 'valid'), 3],
    ['pool 3×3 same, stride 2', windowGeometry([7, 9, 3], [3, 3], [2, 2], [1, 1], 'same'), 0],
    ['pool 2×3 valid, strides [1, 2]', windowGeometry([6, 7, 2], [2, 3], [1, 2], [1, 1], 'valid'), 0],
  ];
  it.each(cases)('input gradient of %s within 1e-5', async (name, g, filters) => {
    const rows = 2;
    const inputs = rows * g.inH * g.inW * g.channels;
    const isConv = filters > 0;
    const depth = g.kh * g.kw * g.channels;
    const positions = g.outH * g.outW;
    const outputs = rows * positions * (isConv ? filters : g.channels);
    const arena = new Arena();
    const xp = arena.allocF32(inputs);
    const wp = arena.allocF32(depth * Math.max(1, filters));
    const dyp = arena.allocF32(outputs);
    const dxp = arena.allocF32(inputs);
    const scratch = arena.allocF32(isConv ? convScratchFloats(g, filters) : 1);
    const argmax = arena.allocF32(outputs);
    const yp = arena.allocF32(outputs);
    const memory = createMemory(arena.size, false);
    const k = await createKernels(memory);
    const rng = Rng.fromSeed(33);
    randomFill(f32View(memory, xp, inputs), rng, 2);
    randomFill(f32View(memory, wp, depth * Math.max(1, filters)), rng);
    randomFill(f32View(memory, dyp, outputs), rng);
    const x = tf.tensor4d(f32View(memory, xp, inputs).slice(), [rows, g.inH, g.inW, g.channels]);
    const dy = tf.tensor(f32View(memory, dyp, outputs).slice());
    const strides: [number, number] = [g.strideH, g.strideW];
    const padding = name.includes('same') ? 'same' : 'valid';
    for (const kind of isConv ? ['conv'] : ['max', 'avg']) {
      let layer: (t: tf.Tensor4D) => tf.Tensor;
      if (kind === 'conv') {
        const w = tf.tensor4d(f32View(memory, wp, depth * filters).slice(), [g.kh, g.kw, g.channels, filters]);
        layer = (t) => tf.conv2d(t, w, strides, padding, 'NHWC', [g.dilationH, g.dilationW]);
        k.convForward(xp, wp, 0, yp, rows, g, filters, scratch);
        expect(relError(f32View(memory, yp, outputs).slice(), layer(x).dataSync()), `${name} conv forward`).toBeLessThan(TOL);
        if (g.dilationH > 1 || g.dilationW > 1) continue; // tfjs 4.22 has no gradient for dilated conv2d
        k.convInputGrad(dyp, wp, dxp, rows, g, filters, scratch);
      } else if (kind === 'max') {
        layer = (t) => tf.maxPool(t, [g.kh, g.kw], strides, padding);
        k.maxPool(xp, yp, argmax, rows, g);
        expect(relError(f32View(memory, yp, outputs).slice(), layer(x).dataSync()), `${name} max forward`).toBeLessThan(TOL);
        k.maxPoolGrad(dyp, argmax, dxp, rows, g);
      } else {
        k.avgPool(xp, yp, rows, g);
        expect(relError(f32View(memory, yp, outputs).slice(), tf.avgPool(x, [g.kh, g.kw], strides, padding).dataSync()), `${name} avg forward`).toBeLessThan(TOL);
        // The same average as a window sum over a count of the elements inside the input, so tf.grads
        // differentiates it exactly (tfjs 4.22's AvgPool gradient divides by the whole window).
        const ones = tf.ones([g.kh, g.kw, g.channels, 1]) as tf.Tensor4D;
        const count = tf.depthwiseConv2d(tf.onesLike(x), ones, strides, padding);
        layer = (t) => tf.div(tf.depthwiseConv2d(t, ones, strides, padding), count);
        k.avgPoolGrad(dyp, dxp, rows, g);
      }
      const [expected] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(layer(t as tf.Tensor4D).reshape([-1]), dy)))([x]);
      expect(relError(f32View(memory, dxp, inputs).slice(), expected!.dataSync()), `${name} ${kind} input gradient`).toBeLessThan(TOL);
    }
  });

  // Batch norm in training mode: tfjs's layer called with training: true inside tf.variableGrads
  // (it differentiates through tf.moments), its moving-statistics update after that one call, and
  // inference with given moving statistics through model.predict.
  it.each([
    ['after conv2d (NHWC channels, 9×6×2 images, 3 rows); cross-entropy', [9, 6, 2], 3, 'softmax_cross_entropy', [
      // No bias: one right before batch norm has a zero gradient (rounding noise in both engines).
      { type: 'conv2d', filters: 5, kernelSize: [2, 3], padding: 'same', useBias: false },
      { type: 'batch_norm', momentum: 0.8 },
      { type: 'max_pool2d', poolSize: 2 },
      { type: 'conv2d', filters: 3, kernelSize: 2, activation: 'relu' },
      { type: 'batch_norm', epsilon: 0.01 },
      { type: 'flatten' },
      { type: 'dense', units: 5 },
    ]],
    ['after dense (13 features, 6 rows); mse', [13], 6, 'mse', [
      { type: 'dense', units: 7, activation: 'tanh' },
      { type: 'batch_norm', momentum: 0.95 },
      { type: 'dense', units: 4, activation: 'sigmoid' },
      { type: 'batch_norm' },
      { type: 'dense', units: 3 },
    ]],
    // tfjs 4.22's layer reads gamma and beta in training mode whether it has them or not (a
    // TypeError without them): without center or scale, inference only (the float64 gradchecks
    // cover their training).
    ['without scale, then without center (8×5×3 images, 2 rows); inference only', [8, 5, 3], 2, 'mse', [
      { type: 'conv2d', filters: 4, kernelSize: 3 },
      { type: 'batch_norm', scale: false },
      { type: 'flatten' },
      { type: 'dense', units: 6 },
      { type: 'batch_norm', center: false, epsilon: 0.1 },
      { type: 'dense', units: 3 },
    ]],
  ] as const)('batch_norm %s: forward (training and inference), loss, gradients and the moving-statistics update within 1e-5', async (name, inputShape, rows, loss, layers) => {
    const spec = { inputShape: [...inputShape], layers, loss };
    const h = await harness(spec, rows, {}, 5);
    const rng = Rng.fromSeed(31);
    randomFill(h.input(), rng, 2);
    // Weights away from their initial values: gamma around 1, beta and the moving statistics random.
    for (const p of h.model.params) {
      const v = h.params().subarray(p.offset, p.offset + p.size);
      if (p.role === 'gamma') v.forEach((_, i) => (v[i] = 1 + (rng.float() - 0.5)));
      if (p.role === 'beta' || p.role === 'moving_mean') randomFill(v, rng, 0.5);
      if (p.role === 'moving_variance') v.forEach((_, i) => (v[i] = 0.3 + rng.float()));
    }
    const outputs = h.model.outputSize;
    const { labels, targets, outputs: trainOut, lossSum, grads } = trainingPass(h, rows, loss, rng);
    const params = h.params().slice();
    const evalOut = f32View(h.memory, h.replica.forward(rows, { training: false }), rows * outputs).slice();

    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: [...inputShape] }));
    for (const l of layers) model.add(tfLayer(l as Layer));
    // tfjs lists the trainable weights (kernel, bias / gamma, beta) layer by layer, then the
    // moving statistics; per layer our order (and the export's) is kernel, bias / gamma, beta,
    // moving_mean, moving_variance.
    const ordered = [...h.model.params.filter((p) => p.trainable), ...h.model.params.filter((p) => !p.trainable)];
    const weights = model.weights;
    expect(weights.map((w) => w.originalName.replace(/^.*\//, ''))).toEqual(ordered.map((p) => p.name.replace(/^.*\//, '')));
    const setWeights = () => model.setWeights(ordered.map((p) => tf.tensor(params.subarray(p.offset, p.offset + p.size), [...p.shape])));
    setWeights();
    const x = tf.tensor(h.input().slice(), [rows, ...inputShape]);

    if (name.includes('inference only')) {
      const predicted = model.predict(x) as tf.Tensor;
      expect(relError(evalOut, await predicted.data()), 'inference forward').toBeLessThan(TOL);
      tf.dispose([x, predicted]);
      model.dispose();
      return;
    }
    const vars = weights.map((w) => w.read() as tf.Variable);
    let yTrain: tf.Tensor | undefined;
    const f = () => {
      const y = model.apply(x, { training: true }) as tf.Tensor;
      yTrain = tf.keep(y.clone());
      if (loss === 'mse') return tf.mean(tf.square(tf.sub(y, tf.tensor2d(targets, [rows, outputs])))) as tf.Scalar;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), outputs), y) as tf.Scalar;
    };
    const { value, grads: tg } = tf.variableGrads(f, vars);
    expect(relError(trainOut, await yTrain!.data()), 'training forward').toBeLessThan(TOL);
    const tfLoss = (await value.data())[0]!;
    expect(Math.abs(lossSum / rows - tfLoss) / Math.abs(tfLoss)).toBeLessThan(TOL);
    for (let i = 0; i < ordered.length; i++) {
      const p = ordered[i]!;
      const ours = grads.subarray(p.offset, p.offset + p.size);
      if (p.trainable) {
        expect(relError(ours, await tg[vars[i]!.name]!.data()), `${p.name} gradient`).toBeLessThan(TOL);
        continue;
      }
      // Our gradient block holds the batch statistic; folded as the run folds it, it is tfjs's
      // moving statistic after one training call (the biased variance, as tf.moments).
      const layer = h.model.layers[p.layerIndex];
      const decay = Math.fround(1 - (layer?.type === 'batch_norm' ? layer.momentum : NaN));
      const folded = Float32Array.from(params.subarray(p.offset, p.offset + p.size), (m, j) => Math.fround(m - Math.fround(Math.fround(m - ours[j]!) * decay)));
      expect(relError(folded, await weights[i]!.read().data()), `${p.name} after one step`).toBeLessThan(TOL);
    }
    // Inference with the given moving statistics.
    setWeights();
    const predicted = model.predict(x) as tf.Tensor;
    expect(relError(evalOut, await predicted.data()), 'inference forward').toBeLessThan(TOL);
    expect(relError(evalOut, trainOut)).toBeGreaterThan(1e-2);
    tf.dispose([x, value, predicted, yTrain!, ...Object.values(tg)]);
    model.dispose();
  });
});
