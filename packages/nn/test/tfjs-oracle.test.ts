// Oracle: loss and every parameter gradient of a random 3-layer MLP match TensorFlow.js.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { harness, relError, randomFill } from './harness.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TF_ACT: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  elu: (x) => tf.elu(x),
  leaky_relu: (x) => tf.leakyRelu(x, 0.01),
  gelu: (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  linear: (x) => x,
};

describe.each([
  ['relu', 'tanh'],
  ['sigmoid', 'elu'],
  ['gelu', 'leaky_relu'],
] as const)('3-layer MLP (%s, %s) against TensorFlow.js', (act1, act2) => {
  it.each(['softmax_cross_entropy', 'mse'] as const)('%s: loss and gradients within 1e-4', async (loss) => {
    const rows = 13;
    const dims = [37, 29, 19, 7];
    const spec = {
      inputShape: [dims[0]],
      layers: [
        { type: 'dense', units: dims[1], activation: act1 },
        { type: 'dense', units: dims[2], activation: act2 },
        { type: 'dense', units: dims[3] },
      ],
      loss,
    };
    const h = await harness(spec, rows, {}, 5);
    const rng = Rng.fromSeed(11);
    randomFill(h.input(), rng, 2);
    const labels = new Int32Array(rows).map(() => rng.int(dims[3]!));
    const targets = new Float32Array(rows * dims[3]!);
    randomFill(targets, rng);
    if (loss === 'mse') h.targets().set(targets);
    else h.labels().set(labels);

    h.replica.forward(rows, { training: true });
    const ours = h.replica.loss(1 / rows);
    h.replica.backward(h.plan.grads, false);
    const grads = h.grads().slice();
    const params = h.params().slice();

    const vars = h.model.params.map((p) => tf.variable(tf.tensor(params.subarray(p.offset, p.offset + p.size), [...p.shape])));
    const x = tf.tensor2d(h.input().slice(), [rows, dims[0]!]);
    const f = () => {
      let a: tf.Tensor = x;
      const acts = [act1, act2, 'linear'];
      for (let l = 0; l < 3; l++) a = TF_ACT[acts[l]!]!(tf.add(tf.matMul(a as tf.Tensor2D, vars[2 * l]! as tf.Tensor2D), vars[2 * l + 1]!));
      if (loss === 'mse') return tf.mean(tf.square(tf.sub(a, tf.tensor2d(targets, [rows, dims[3]!])))) as tf.Scalar;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), dims[3]!), a) as tf.Scalar;
    };
    const { value, grads: tg } = tf.variableGrads(f, vars);
    const tfLoss = (await value.data())[0]!;
    expect(Math.abs(ours.lossSum / rows - tfLoss) / Math.abs(tfLoss)).toBeLessThan(1e-4);
    for (let i = 0; i < h.model.params.length; i++) {
      const p = h.model.params[i]!;
      const expected = await tg[vars[i]!.name]!.data();
      const err = relError(grads.subarray(p.offset, p.offset + p.size), expected);
      expect(err, `${p.name} gradient`).toBeLessThan(1e-4);
    }
    tf.dispose([x, value, ...vars, ...Object.values(tg)]);
  });
});
