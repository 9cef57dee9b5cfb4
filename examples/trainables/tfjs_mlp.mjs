#!/usr/bin/env node
// A tfjs Layers MLP on two interleaved spirals, as a Hypersweep trainable: one step is one epoch.
//
// Parameters: lr (Adam, default 0.01), hidden (units of the two hidden layers, default 32),
// batch_size (default 32). Each epoch reports loss, val_loss and val_accuracy with
// checkpoint: true after saving the weights and the optimizer's state in the checkpoint dir; a
// resumed trial loads them and goes on from the next epoch. SIGTERM or a stop answer ends it with
// exit code 0. Plain JavaScript (ES modules) using @hypersweep/client's trainable helpers: run it
// inside the repository (after `npm run build`, which builds packages/client/dist) so that
// @tensorflow/tfjs and @hypersweep/client resolve. Run by a worker, or by hand with the worker's
// environment variables (see examples/README.md).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkpointDir, maxSteps, params, report, shouldStop, startStep } from '@hypersweep/client/trainable';

// --- The data: two spirals, drawn from a seeded generator -----------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function spirals(count, seed) {
  const rand = mulberry32(seed);
  const xs = new Float32Array(count * 2);
  const ys = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    const r = rand();
    const angle = 2 * Math.PI * r + label * Math.PI;
    xs[2 * i] = r * Math.cos(angle) + (rand() - 0.5) * 0.08;
    xs[2 * i + 1] = r * Math.sin(angle) + (rand() - 0.5) * 0.08;
    ys[2 * i + label] = 1;
  }
  return { x: tf.tensor2d(xs, [count, 2]), y: tf.tensor2d(ys, [count, 2]), count };
}

// --- Checkpoints: the model's weights and Adam's state as JSON -------------------------------
async function saveCheckpoint(path, step, model, optimizer) {
  const weights = await Promise.all(model.getWeights().map(async (w) => ({ shape: w.shape, values: Array.from(await w.data()) })));
  const state = await Promise.all((await optimizer.getWeights()).map(async (w) => ({ name: w.name, shape: w.tensor.shape, values: Array.from(await w.tensor.data()) })));
  writeFileSync(`${path}.tmp`, JSON.stringify({ step, weights, optimizer: state }));
  renameSync(`${path}.tmp`, path); // atomic: a kill never leaves half a file
}

async function loadCheckpoint(path, model, optimizer) {
  const saved = JSON.parse(readFileSync(path, 'utf8'));
  model.setWeights(saved.weights.map((w) => tf.tensor(w.values, w.shape)));
  await optimizer.setWeights(saved.optimizer.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape) })));
  return saved.step;
}

// --- Training ---------------------------------------------------------------------------------
shouldStop(); // from here on SIGTERM sets shouldStop() instead of ending the process
const p = { lr: 0.01, hidden: 32, batch_size: 32, ...params() };
const lr = Number(p.lr);
const hidden = Math.round(Number(p.hidden));
const batchSize = Math.round(Number(p.batch_size));
const train = spirals(1000, 1);
const val = spirals(400, 2);

const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [2], units: hidden, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.dense({ units: hidden, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
  ],
});
const optimizer = tf.train.adam(lr);
model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

mkdirSync(checkpointDir(), { recursive: true });
const checkpoint = join(checkpointDir(), 'model.json');
const start = startStep();
if (start > 0) {
  if (!existsSync(checkpoint)) throw new Error(`resuming at step ${start}, but ${checkpoint} is missing`);
  const step = await loadCheckpoint(checkpoint, model, optimizer);
  if (step !== start) throw new Error(`${checkpoint} holds step ${step}, not ${start}`);
}
const epochs = maxSteps();
console.error(`lr=${lr} hidden=${hidden} batch_size=${batchSize}: epochs ${start + 1}..${epochs}`);

training: for (let epoch = start + 1; epoch <= epochs; epoch++) {
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  const rand = mulberry32(1000 + epoch); // the epoch's shuffle: the same after a resume
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  let total = 0;
  let batches = 0;
  for (let i = 0; i < train.count; i += batchSize) {
    if (shouldStop()) break training;
    const idx = tf.tensor1d(Array.from(order.slice(i, i + batchSize)), 'int32');
    const [xb, yb] = [train.x.gather(idx), train.y.gather(idx)];
    const [loss] = await model.trainOnBatch(xb, yb);
    tf.dispose([idx, xb, yb]);
    total += loss;
    batches++;
  }
  const [valLoss, valAccuracy] = tf.tidy(() => model.evaluate(val.x, val.y, { batchSize: 400 }).map((t) => t.dataSync()[0]));
  await saveCheckpoint(checkpoint, epoch, model, optimizer);
  console.error(`epoch ${epoch}: loss ${(total / batches).toFixed(4)} val_loss ${valLoss.toFixed(4)} val_accuracy ${valAccuracy.toFixed(4)}`);
  const answer = await report(epoch, { loss: total / batches, val_loss: valLoss, val_accuracy: valAccuracy }, { checkpoint: true });
  if (answer === 'stop' || shouldStop()) break;
}
