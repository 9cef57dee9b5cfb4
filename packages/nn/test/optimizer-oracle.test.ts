// Oracle: 25 updates of every optimizer form on the same gradient sequence match TensorFlow.js —
// its own optimizers where it has the form (SGD, momentum, Nesterov, Adam, RMSprop as tfjs and
// Keras 3 define it), and the formula written in tfjs ops where it does not (RMSprop with ε outside
// the root as PyTorch, centred RMSprop as Keras 3: tfjs subtracts ε there instead of adding it).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate, optimizerStateSlots } from '../src/optimizer.ts';
import { Rng } from '../src/rng.ts';
import { parseOptimizerSpec, type OptimizerSpecInput } from '../src/spec.ts';
import { harness, relError } from './harness.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const STEPS = 25;
/** tfjs variable names are global: each case gets its own. */
let caseId = 0;
const SPEC = { inputShape: [7], layers: [{ type: 'dense', units: 5 }], loss: 'mse' };

/** One tfjs update of variable `p` by gradient `g`, with state kept between calls (the formula oracles). */
type ManualStep = (p: tf.Variable, g: tf.Tensor, state: Map<string, tf.Tensor>, name: string) => void;

/** RMSprop by its formula, in tfjs ops: ε inside (lr inside the buffer) or outside, centred or not. */
function rmspropFormula(o: { lr: number; rho: number; eps: number; momentum: number; inside: boolean; centered: boolean }): ManualStep {
  return (p, g, state, name) => {
    const get = (k: string) => state.get(`${name}/${k}`) ?? tf.zerosLike(g);
    const sq = tf.add(tf.mul(get('sq'), o.rho), tf.mul(tf.square(g), 1 - o.rho));
    let variance: tf.Tensor = sq;
    if (o.centered) {
      const mg = tf.add(tf.mul(get('mg'), o.rho), tf.mul(g, 1 - o.rho));
      state.set(`${name}/mg`, mg);
      variance = tf.relu(tf.sub(sq, tf.square(mg)));
    }
    state.set(`${name}/sq`, sq);
    const step = o.inside ? tf.div(tf.mul(g, o.lr), tf.sqrt(tf.add(variance, o.eps))) : tf.div(g, tf.add(tf.sqrt(variance), o.eps));
    const buffered = o.momentum > 0 ? tf.add(tf.mul(get('mom'), o.momentum), step) : step;
    if (o.momentum > 0) state.set(`${name}/mom`, buffered);
    p.assign(tf.sub(p, o.inside ? buffered : tf.mul(buffered, o.lr)));
  };
}

const CASES: { name: string; spec: OptimizerSpecInput; oracle: tf.Optimizer | ManualStep }[] = [
  { name: 'sgd', spec: { type: 'sgd', learningRate: 0.05 }, oracle: tf.train.sgd(0.05) },
  { name: 'sgd momentum', spec: { type: 'sgd', learningRate: 0.05, momentum: 0.9 }, oracle: tf.train.momentum(0.05, 0.9) },
  { name: 'sgd nesterov', spec: { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true }, oracle: tf.train.momentum(0.05, 0.9, true) },
  { name: 'adam', spec: { type: 'adam', learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 }, oracle: tf.train.adam(0.01, 0.8, 0.99, 1e-6) },
  // ε = 0.01 is large beside √v so its placement shows in the result.
  { name: 'rmsprop (tfjs / Keras 3 form, the default)', spec: { type: 'rmsprop', learningRate: 0.01, epsilon: 0.01 }, oracle: tf.train.rmsprop(0.01, 0.9, 0, 0.01) },
  {
    name: 'rmsprop momentum (tfjs form)',
    spec: { type: 'rmsprop', learningRate: 0.01, epsilon: 0.01, momentum: 0.8, rho: 0.95 },
    oracle: tf.train.rmsprop(0.01, 0.95, 0.8, 0.01),
  },
  {
    name: 'rmsprop ε outside the root (PyTorch form)',
    spec: { type: 'rmsprop', learningRate: 0.01, epsilon: 0.01, momentum: 0.8, epsilonPlacement: 'outside_sqrt' },
    oracle: rmspropFormula({ lr: 0.01, rho: 0.9, eps: 0.01, momentum: 0.8, inside: false, centered: false }),
  },
  {
    name: 'rmsprop centred (Keras 3 form)',
    spec: { type: 'rmsprop', learningRate: 0.01, epsilon: 0.01, momentum: 0.8, centered: true },
    oracle: rmspropFormula({ lr: 0.01, rho: 0.9, eps: 0.01, momentum: 0.8, inside: true, centered: true }),
  },
  {
    name: 'rmsprop centred, ε outside (PyTorch form)',
    spec: { type: 'rmsprop', learningRate: 0.01, epsilon: 0.01, centered: true, epsilonPlacement: 'outside_sqrt' },
    oracle: rmspropFormula({ lr: 0.01, rho: 0.9, eps: 0.01, momentum: 0, inside: false, centered: true }),
  },
];

describe('optimizers against TensorFlow.js', () => {
  it.each(CASES)('$name: 25 updates within 1e-5', async ({ spec: input, oracle }) => {
    const spec = parseOptimizerSpec(input);
    const h = await harness(SPEC, 1, {}, 3, optimizerStateSlots(spec));
    const start = h.params().slice();
    const id = caseId++;
    const vars = h.model.params.map((p) => tf.variable(tf.tensor(start.subarray(p.offset, p.offset + p.size), [...p.shape]), true, `case${id}/${p.name}`));
    const state = new Map<string, tf.Tensor>();
    const rng = Rng.fromSeed(9);
    for (let t = 1; t <= STEPS; t++) {
      const grads = h.grads();
      for (let i = 0; i < grads.length; i++) grads[i] = rng.uniform(-1, 1) * (1 + (i % 3));
      applyUpdate(h.kernels, h.model, spec, { params: h.plan.params, grads: h.plan.grads, state: h.plan.state, t, learningRate: spec.learningRate, gradScale: 1 });
      const named: Record<string, tf.Tensor> = {};
      h.model.params.forEach((p, i) => (named[vars[i]!.name] = tf.tensor(h.grads().slice(p.offset, p.offset + p.size), [...p.shape])));
      if (typeof oracle === 'function') vars.forEach((v) => oracle(v, named[v.name]!, state, v.name));
      else oracle.applyGradients(named);
    }
    const ours = h.params();
    for (let i = 0; i < h.model.params.length; i++) {
      const p = h.model.params[i]!;
      const moved = relError(ours.subarray(p.offset, p.offset + p.size), start.subarray(p.offset, p.offset + p.size));
      expect(moved, `${p.name} moved`).toBeGreaterThan(1e-3);
      const err = relError(ours.subarray(p.offset, p.offset + p.size), await vars[i]!.data());
      expect(err, `${p.name}`).toBeLessThan(1e-5);
    }
  });

  it('the RMSprop forms differ from each other (the oracle comparison can fail)', async () => {
    const finals: Float32Array[] = [];
    for (const placement of ['inside_sqrt', 'outside_sqrt'] as const) {
      const spec = parseOptimizerSpec({ type: 'rmsprop', learningRate: 0.01, epsilon: 0.01, epsilonPlacement: placement });
      const h = await harness(SPEC, 1, {}, 3, optimizerStateSlots(spec));
      h.grads().fill(0.05);
      for (let t = 1; t <= 3; t++) applyUpdate(h.kernels, h.model, spec, { params: h.plan.params, grads: h.plan.grads, state: h.plan.state, t, learningRate: spec.learningRate, gradScale: 1 });
      finals.push(h.params().slice());
    }
    expect(relError(finals[0]!, finals[1]!)).toBeGreaterThan(1e-3);
  });

  it('weight decay spares biases unless decayBiases is set', async () => {
    const moved = async (decayBiases: boolean) => {
      const spec = parseOptimizerSpec({ type: 'sgd', learningRate: 0.1, weightDecay: 0.5, decayBiases });
      const h = await harness(SPEC, 1, {}, 3, optimizerStateSlots(spec));
      const bias = h.model.params.find((p) => p.role === 'bias')!;
      h.params().fill(1, bias.offset, bias.offset + bias.size);
      h.grads().fill(0);
      applyUpdate(h.kernels, h.model, spec, { params: h.plan.params, grads: h.plan.grads, state: h.plan.state, t: 1, learningRate: spec.learningRate, gradScale: 1 });
      return h.params()[bias.offset]!;
    };
    expect(await moved(false)).toBe(1);
    expect(await moved(true)).toBeCloseTo(1 - 0.1 * 0.5, 6);
  });
});
