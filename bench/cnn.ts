// CNN training speed on MNIST against the peers, one run: the CNN of apps/cli/examples/mnist-cnn.json
// (reshape → conv 3×3×16 same relu → maxpool 2 → dropout 0.1 → conv 3×3×32 same relu → maxpool 2 →
// dropout 0.2 → flatten → dense 64 relu → dense 10; softmax cross-entropy), Adam 1e-3, batch 128,
// inputs x/255, a fixed number of steps after a warm-up, for: our engine on 1 and 2 threads
// (@hypersweep/trainer's pool, default microbatches), @tensorflow/tfjs 4.22 on its cpu and wasm
// backends (the same layers with tf.layers, trainOnBatch on the same batches) and PyTorch's CPU
// backend on 1 and 2 threads when Debian's python3 can import torch. Then each conv layer on one
// microbatch, timed through the kernels API as the replica calls them: the forward sequence
// (convForward, bias, activation), the backward one (activation gradient, convFilterGrad, bias
// gradient, convInputGrad), and each conv kernel alone, in GFLOP/s against the f32x4
// multiply-add ceiling measured in the same run.
//
// Usage: npm run bench -- cnn              (the speed run, a few minutes; --quick: a smoke test)
//        npm run bench -- cnn accuracy     (12 epochs on all 60k images, 2 threads, test accuracy;
//                                           ~20 minutes; `accuracy keras` trains Keras' mnist_cnn,
//                                           `accuracy deep` examples/mnist-cnn-deep.json; `cosine`
//                                           decays the learning rate to 0 over the 12 epochs)
//        npm run bench -- cnn batchnorm    (Keras' mnist_convnet with and without batch norm after
//                                           its convs, 2 epochs on all 60k images, 2 threads, against
//                                           PyTorch with the same ghost batches: the cost of batch
//                                           norm and the test accuracy; a few minutes)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadDataset, mnistDataDir } from '@hypersweep/datasets';
import {
  compileKernelModuleSync,
  compileModel,
  createMemory,
  defaultMicrobatches,
  convScratchFloats,
  Rng,
  WasmKernels,
  type CompiledModel,
  type Dataset,
  type LayerPlan,
} from '@hypersweep/nn';
import { ReplicaPool, type ParallelEpochMetrics } from '@hypersweep/trainer';
import { maddCeilingGflops } from './lib/ceiling.ts';
import { measure } from './lib/measure.ts';

const BATCH = 128;
/** Training examples of the speed run: 40 steps of 128 per epoch. */
const BATCHES = 40;
/** Our engine: 1 warm-up epoch, then this many measured epochs (120 steps). */
let MEASURED_EPOCHS = 3;
/** Interleaved rounds of T=1 then T=2 (ours). */
let ROUNDS = 3;
/** `--quick`: a smoke test of every part with a few steps (its figures mean nothing). */
let QUICK = false;
const LEARNING_RATE = 1e-3;

const MODEL_FILE = fileURLToPath(new URL('../apps/cli/examples/mnist-cnn.json', import.meta.url));
/** The spec as JSON (our model format); `compileModel` validates it. */
interface SpecLayer {
  readonly type: string;
  readonly [field: string]: unknown;
}
interface Spec {
  readonly inputShape: readonly number[];
  readonly layers: readonly SpecLayer[];
  readonly loss: string;
}
const EXAMPLE_CNN = JSON.parse(readFileSync(MODEL_FILE, 'utf8')) as Spec;

/** Two conv blocks of two 3×3 convolutions (32, then 64 filters), dense 256, dropout: `accuracy deep`. */
const DEEP_CNN_FILE = 'apps/cli/examples/mnist-cnn-deep.json';
const DEEP_CNN = JSON.parse(readFileSync(fileURLToPath(new URL(`../${DEEP_CNN_FILE}`, import.meta.url)), 'utf8')) as Spec;

/** Keras' mnist_cnn example (conv 32, conv 64, maxpool, dropout 0.25, dense 128, dropout 0.5), for `accuracy keras`. */
const KERAS_MNIST_CNN: Spec = {
  inputShape: [28, 28],
  layers: [
    { type: 'reshape', targetShape: [28, 28, 1] },
    { type: 'conv2d', filters: 32, kernelSize: 3, activation: 'relu' },
    { type: 'conv2d', filters: 64, kernelSize: 3, activation: 'relu' },
    { type: 'max_pool2d', poolSize: 2 },
    { type: 'dropout', rate: 0.25 },
    { type: 'flatten' },
    { type: 'dense', units: 128, activation: 'relu' },
    { type: 'dropout', rate: 0.5 },
    { type: 'dense', units: 10 },
  ],
  loss: 'softmax_cross_entropy',
};

/** Keras' mnist_convnet example (conv 32, pool, conv 64, pool, dropout 0.5, dense 10), as the CLI's example file. */
const KERAS_CONVNET_FILE = 'apps/cli/examples/keras-mnist-convnet.json';
const KERAS_CONVNET = JSON.parse(readFileSync(fileURLToPath(new URL(`../${KERAS_CONVNET_FILE}`, import.meta.url)), 'utf8')) as Spec;

/** Keras' mnist_convnet; with batchNorm, each conv's activation moves behind a batch_norm after it. */
function kerasConvnet(batchNorm: boolean): Spec {
  if (!batchNorm) return KERAS_CONVNET;
  const layers = KERAS_CONVNET.layers.flatMap((l): SpecLayer[] =>
    l.type === 'conv2d' ? [{ ...l, activation: 'linear' }, { type: 'batch_norm' }, { type: 'activation', activation: l['activation'] }] : [l],
  );
  return { ...KERAS_CONVNET, layers };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Our engine

/** Trains 1 + MEASURED_EPOCHS epochs on `threads`; samples/s of each measured epoch (training time only). */
interface OursRun {
  /** samples/s of each measured epoch (warm-up left out). */
  readonly epochRates: number[];
  readonly epochs: ParallelEpochMetrics[];
}

async function oursRun(ds: Dataset, threads: number): Promise<OursRun> {
  const pool = await ReplicaPool.create({ threads });
  try {
    const measured: ParallelEpochMetrics[] = [];
    await pool.train({
      model: EXAMPLE_CNN,
      optimizer: { type: 'adam', learningRate: LEARNING_RATE },
      dataset: ds,
      epochs: 1 + MEASURED_EPOCHS,
      batchSize: BATCH,
      seed: 1,
      onEpoch: (m) => {
        console.error(`ours T=${threads} epoch ${m.epoch}: ${Math.round(m.samplesPerSec)} samples/s, step compute ${m.stepTiming.computeMs.toFixed(2)} reduce ${m.stepTiming.reduceMs.toFixed(2)} wait ${m.stepTiming.waitMs.toFixed(2)} ms`);
        if (m.epoch > 1) measured.push(m); // epoch 1: warm-up (WASM tier-up, first touches)
      },
    });
    return { epochRates: measured.map((m) => ds.train.count / m.seconds), epochs: measured };
  } finally {
    await pool.close();
  }
}

/**
 * Our engine on 1 and 2 threads, interleaved (T=1, T=2, T=1, T=2, …) so a noisy stretch of the
 * machine touches both; each figure is the median over all measured epochs of its thread count.
 */
async function ours(ds: Dataset): Promise<[OursFigures, OursFigures]> {
  const runs: [OursRun[], OursRun[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    runs[0].push(await oursRun(ds, 1));
    runs[1].push(await oursRun(ds, 2));
  }
  const figures = (rs: OursRun[]): OursFigures => {
    const epochs = rs.flatMap((r) => r.epochs);
    const med = (k: 'computeMs' | 'reduceMs' | 'waitMs') => median(epochs.map((m) => m.stepTiming[k]));
    const rates = rs.flatMap((r) => r.epochRates);
    return { samplesPerSec: median(rates), epochRates: rates.map((r) => Math.round(r)), steps: epochs.length * Math.ceil(ds.train.count / BATCH), computeMs: med('computeMs'), reduceMs: med('reduceMs'), waitMs: med('waitMs') };
  };
  return [figures(runs[0]), figures(runs[1])];
}

interface OursFigures {
  readonly samplesPerSec: number;
  readonly epochRates: number[];
  readonly steps: number;
  readonly computeMs: number;
  readonly reduceMs: number;
  readonly waitMs: number;
}

// ---------------------------------------------------------------------------------------------
// TensorFlow.js

/** The spec's layers as tf.layers (channels-last, as ours); the last dense gets a softmax. */
function tfjsModel(spec: Spec): tf.Sequential {
  const model = tf.sequential();
  const flat = spec.inputShape.reduce((a, b) => a * b, 1);
  model.add(tf.layers.reshape({ targetShape: [...spec.inputShape], inputShape: [flat] }));
  spec.layers.forEach((l, i) => {
    const last = i === spec.layers.length - 1;
    switch (l.type) {
      case 'reshape':
        model.add(tf.layers.reshape({ targetShape: l.targetShape as number[] }));
        break;
      case 'conv2d':
        model.add(
          tf.layers.conv2d({
            filters: l.filters as number,
            kernelSize: l.kernelSize as number | [number, number],
            strides: (l.strides as number | [number, number] | undefined) ?? 1,
            padding: (l.padding as 'same' | 'valid' | undefined) ?? 'valid',
            dilationRate: (l.dilation as number | [number, number] | undefined) ?? 1,
            activation: (l.activation as 'relu' | 'linear' | undefined) ?? 'linear',
            useBias: (l.useBias as boolean | undefined) ?? true,
          }),
        );
        break;
      case 'max_pool2d':
      case 'avg_pool2d': {
        const args = {
          poolSize: (l.poolSize as number | [number, number] | undefined) ?? 2,
          strides: (l.strides as number | [number, number] | undefined) ?? ((l.poolSize as number | [number, number] | undefined) ?? 2),
          padding: (l.padding as 'same' | 'valid' | undefined) ?? 'valid',
        };
        model.add(l.type === 'max_pool2d' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args));
        break;
      }
      case 'dropout':
        model.add(tf.layers.dropout({ rate: l.rate as number }));
        break;
      case 'flatten':
        model.add(tf.layers.flatten());
        break;
      case 'dense':
        model.add(tf.layers.dense({ units: l.units as number, activation: last ? 'softmax' : ((l.activation as 'relu' | 'linear' | undefined) ?? 'linear') }));
        break;
      default:
        throw new Error(`layer type ${l.type}: not in the tfjs peer`);
    }
  });
  return model;
}

/** The first `BATCHES` batches of the training split, as x/255 float tensors (our gather does the same). */
function tfjsBatches(ds: Dataset): { x: tf.Tensor2D; y: tf.Tensor1D }[] {
  const inputSize = ds.featureShape.reduce((a, b) => a * b, 1);
  const { scale, shift } = ds.normalization.kind === 'affine' ? ds.normalization : { scale: 1, shift: 0 };
  return Array.from({ length: BATCHES }, (_, b) => {
    const x = new Float32Array(BATCH * inputSize);
    const y = new Float32Array(BATCH);
    for (let r = 0; r < BATCH; r++) {
      const row = b * BATCH + r;
      for (let j = 0; j < inputSize; j++) x[r * inputSize + j] = ds.train.features[row * inputSize + j]! * scale + shift;
      y[r] = ds.train.labels[row]!;
    }
    return { x: tf.tensor2d(x, [BATCH, inputSize]), y: tf.tensor1d(y) };
  });
}

type TfjsResult = { supported: true; samplesPerSec: number; steps: number; seconds: number } | { supported: false; error: string };

async function tfjsPeer(backend: 'cpu' | 'wasm', ds: Dataset, warmup: number, steps: number): Promise<TfjsResult> {
  await tf.setBackend(backend);
  await tf.ready();
  const model = tfjsModel(EXAMPLE_CNN);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'sparseCategoricalCrossentropy' });
  const batches = tfjsBatches(ds);
  try {
    for (let i = 0; i < warmup; i++) await model.trainOnBatch(batches[i % BATCHES]!.x, batches[i % BATCHES]!.y);
    const started = performance.now();
    for (let i = 0; i < steps; i++) {
      const b = batches[(warmup + i) % BATCHES]!;
      await model.trainOnBatch(b.x, b.y);
    }
    const seconds = (performance.now() - started) / 1000;
    console.error(`tfjs-${backend}: ${((steps * BATCH) / seconds).toFixed(1)} samples/s (${steps} steps, ${seconds.toFixed(1)} s)`);
    return { supported: true, samplesPerSec: (steps * BATCH) / seconds, steps, seconds };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    console.error(`tfjs-${backend}: training failed: ${error}`);
    return { supported: false, error };
  } finally {
    for (const b of batches) tf.dispose([b.x, b.y]);
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// PyTorch (Debian's python3-torch), a native peer

const PYTHON = '/usr/bin/python3';
const torchAvailable = (): boolean => spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

function torchPeer(threads: number, warmup: number, steps: number): { samplesPerSec: number; seconds: number; torch: string } {
  const script = fileURLToPath(new URL('./lib/torch_mnist_cnn.py', import.meta.url));
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(PYTHON, [script, mnistDataDir(), MODEL_FILE, String(threads), String(warmup), String(steps), String(BATCH), String(BATCHES)], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the PyTorch peer failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samples_per_sec: number; seconds: number; torch: string };
  console.error(`pytorch T=${threads}: ${out.samples_per_sec.toFixed(0)} samples/s`);
  return { samplesPerSec: out.samples_per_sec, seconds: out.seconds, torch: out.torch };
}

// ---------------------------------------------------------------------------------------------
// Per-layer kernel timing

type ConvPlan = Extract<LayerPlan, { type: 'conv2d' }>;
type PoolPlan = Extract<LayerPlan, { type: 'max_pool2d' | 'avg_pool2d' }>;

interface ConvTiming {
  readonly layer: string;
  readonly shape: string;
  readonly fwdFlops: number;
  readonly bwdFlops: number;
  readonly fwdMs: number;
  readonly bwdMs: number;
  /** The conv kernels alone: convForward, convFilterGrad, convInputGrad (0: not run, first layer). */
  readonly fwdKernelMs: number;
  readonly dwKernelMs: number;
  readonly dxKernelMs: number;
}

/**
 * Each conv layer's forward and backward on one microbatch (rows = batch / microbatches), the
 * kernel calls of replica.ts in its order, on shared memory (as the pool's replicas), plain SIMD.
 * Also each conv kernel alone, without the elementwise kernels around it.
 */
function timeLayers(model: CompiledModel, rows: number): { conv: ConvTiming[]; pools: { layer: string; fwdMs: number; bwdMs: number }[] } {
  const kernels = new WasmKernels(compileKernelModuleSync({ shared: true, relaxed: false }), createMemory(64 << 20, true));
  const opts = QUICK ? { warmupSeconds: 0.02, runSeconds: 0.01, runs: 1 } : { warmupSeconds: 0.3, runSeconds: 0.08, runs: 7 };
  let next = 64;
  const alloc = (floats: number): number => {
    const p = next;
    next += Math.ceil((floats * 4) / 64) * 64 + 64;
    return p;
  };
  const conv: ConvTiming[] = [];
  const pools: { layer: string; fwdMs: number; bwdMs: number }[] = [];
  for (const layer of model.layers) {
    next = 64;
    if (layer.type === 'conv2d') {
      const l: ConvPlan = layer;
      const g = l.geometry;
      const positions = g.outH * g.outW;
      const depth = g.kh * g.kw * g.channels;
      const f = l.filters;
      const x = alloc(rows * l.inDim);
      const scratch = alloc(convScratchFloats(g, f));
      const w = alloc(depth * f);
      const bias = alloc(f);
      const z = alloc(rows * l.outDim);
      const y = alloc(rows * l.outDim);
      const dy = alloc(rows * l.outDim);
      const dx = alloc(rows * l.inDim);
      const gw = alloc(depth * f);
      const gb = alloc(f);
      fill(kernels, x, rows * l.inDim, 1);
      fill(kernels, w, depth * f, 2);
      fill(kernels, bias, f, 3);
      fill(kernels, dy, rows * l.outDim, 4);
      const convForward = () => kernels.convForward(x, w, l.bias ? bias : 0, z, rows, g, f, scratch);
      const convFilterGrad = () => kernels.convFilterGrad(x, dy, gw, rows, g, f, scratch, false);
      const convInputGrad = () => kernels.convInputGrad(dy, w, dx, rows, g, f, scratch);
      const forward = () => {
        convForward();
        if (l.activation !== 'linear') kernels.activation('relu', z, y, rows * l.outDim, 0);
      };
      const backward = () => {
        // dy is not overwritten by activationGrad here (dx ≠ dy) so every call sees the same data.
        if (l.activation !== 'linear') kernels.activationGrad('relu', z, y, dy, y, rows * l.outDim, 0);
        convFilterGrad();
        if (l.bias) kernels.biasGrad(dy, gb, rows * positions, f, false);
        if (l.needsInputGrad) convInputGrad();
      };
      forward(); // z, y for activationGrad
      const fwdFlops = 2 * positions * depth * f * rows;
      const timing: ConvTiming = {
        layer: l.name,
        shape: `${g.inH}x${g.inW}x${g.channels} -> ${g.outH}x${g.outW}x${f}, ${g.kh}x${g.kw}, ${rows} rows`,
        fwdFlops,
        bwdFlops: l.flopsPerSample * rows - fwdFlops,
        fwdMs: measure(forward, opts).seconds * 1e3,
        bwdMs: measure(backward, opts).seconds * 1e3,
        fwdKernelMs: measure(convForward, opts).seconds * 1e3,
        dwKernelMs: measure(convFilterGrad, opts).seconds * 1e3,
        dxKernelMs: l.needsInputGrad ? measure(convInputGrad, opts).seconds * 1e3 : 0,
      };
      conv.push(timing);
    } else if (layer.type === 'max_pool2d' || layer.type === 'avg_pool2d') {
      const l: PoolPlan = layer;
      const x = alloc(rows * l.inDim);
      const y = alloc(rows * l.outDim);
      const arg = alloc(rows * l.outDim);
      const dx = alloc(rows * l.inDim);
      fill(kernels, x, rows * l.inDim, 5);
      const fwd = () => (l.type === 'max_pool2d' ? kernels.maxPool(x, y, arg, rows, l.geometry) : kernels.avgPool(x, y, rows, l.geometry));
      fwd();
      const bwd = () => (l.type === 'max_pool2d' ? kernels.maxPoolGrad(y, arg, dx, rows, l.geometry) : kernels.avgPoolGrad(y, dx, rows, l.geometry));
      pools.push({ layer: `${l.type}@${l.index}`, fwdMs: measure(fwd, opts).seconds * 1e3, bwdMs: l.needsInputGrad ? measure(bwd, opts).seconds * 1e3 : 0 });
    }
  }
  return { conv, pools };
}

/** Uniform [-1, 1) floats from nn's seeded Rng, the same on every run. */
function fill(k: WasmKernels, ptr: number, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed).split('cnn-operands');
  const view = new Float32Array(k.memory.buffer, ptr, n);
  for (let i = 0; i < n; i++) view[i] = rng.float() * 2 - 1;
}

// ---------------------------------------------------------------------------------------------
// Accuracy mode (not part of the speed run)

async function accuracy(args: string[]) {
  const keras = args.includes('keras');
  const deep = args.includes('deep');
  const cosine = args.includes('cosine');
  const seedArg = args.find((a) => /^seed=\d+$/.test(a));
  const seed = seedArg ? Number(seedArg.slice(5)) : 1;
  const spec = keras ? KERAS_MNIST_CNN : deep ? DEEP_CNN : EXAMPLE_CNN;
  const schedule = cosine ? { type: 'cosine' as const, minLearningRate: 0, warmupEpochs: 0 } : { type: 'constant' as const, warmupEpochs: 0 };
  const epochs = 12;
  const threads = 2;
  const dataset = await loadDataset('mnist', { seed: 1, validationFraction: 0, scaling: 'unit' });
  const pool = await ReplicaPool.create({ threads });
  const started = performance.now();
  try {
    const result = await pool.train({
      model: spec,
      optimizer: { type: 'adam', learningRate: LEARNING_RATE },
      schedule,
      dataset,
      epochs,
      batchSize: BATCH,
      seed,
      evaluateTest: true,
      onEpoch: (m) => console.error(`epoch ${m.epoch}: loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy?.toFixed(4)} ${Math.round(m.samplesPerSec)} samples/s`),
    });
    const test = result.test;
    if (!test || test.accuracy === null || test.accuracy === undefined) throw new Error('no test accuracy');
    const modelArg = keras ? '<the keras_mnist_cnn spec in details.architecture, saved as a .json>' : deep ? DEEP_CNN_FILE : 'apps/cli/examples/mnist-cnn.json';
    return {
      // One section per recipe and seed, so several runs stand side by side.
      section: `accuracy-${keras ? 'keras' : deep ? 'deep' : 'example'}${cosine ? '-cosine' : ''}-seed${seed}`,
      metrics: {
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        target_test_accuracy: 0.992,
        accuracy_target_met: test.accuracy >= 0.992 ? 1 : 0,
        epochs,
        seed,
        threads,
        batch_size: BATCH,
        microbatches: defaultMicrobatches(BATCH),
        train_examples: dataset.train.count,
        samples_per_sec_median: median(result.history.map((h) => h.samplesPerSec)),
        seconds: (performance.now() - started) / 1000,
      },
      details: {
        mode: 'accuracy',
        model: keras ? "Keras' mnist_cnn (conv 32, conv 64, maxpool, dropout 0.25, dense 128, dropout 0.5), Adam instead of Adadelta" : deep ? DEEP_CNN_FILE : 'apps/cli/examples/mnist-cnn.json',
        architecture: spec,
        optimizer: { type: 'adam', learningRate: LEARNING_RATE },
        schedule,
        data: 'MNIST, all 60,000 training images (validation split 0), x/255; tested on the 10,000 test images',
        command: `hypersweep train --model ${modelArg} --dataset mnist --validation-split 0 --scaling unit --optimizer adam --lr 0.001${cosine ? ' --schedule cosine' : ''} --batch-size ${BATCH} --epochs ${epochs} --threads ${threads} --seed ${seed}`,
        reference: "Keras' mnist_cnn example: 99.25% test accuracy after 12 epochs",
        history: result.history.map((h) => ({ epoch: h.epoch, train_loss: round(h.trainLoss, 5), train_accuracy: h.trainAccuracy, samples_per_sec: Math.round(h.samplesPerSec) })),
      },
    };
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Batch norm mode (not part of the speed run)

interface BnRun {
  samplesPerSec: number[];
  trainLoss: number[];
  trainAccuracy: number[];
  testAccuracy: number;
}

async function oursBn(batchNorm: boolean, epochs: number, threads: number): Promise<BnRun> {
  const dataset = await loadDataset('mnist', { seed: 1, validationFraction: 0, scaling: 'unit' });
  const pool = await ReplicaPool.create({ threads });
  try {
    const result = await pool.train({ model: kerasConvnet(batchNorm), optimizer: { type: 'adam', learningRate: LEARNING_RATE }, dataset, epochs, batchSize: BATCH, seed: 1, evaluateTest: true });
    const accuracy = result.test?.accuracy;
    if (accuracy === null || accuracy === undefined) throw new Error('no test accuracy');
    console.error(`ours ${batchNorm ? 'bn' : 'no bn'}: ${result.history.map((h) => Math.round(h.samplesPerSec)).join(', ')} samples/s, test ${accuracy}`);
    return { samplesPerSec: result.history.map((h) => h.samplesPerSec), trainLoss: result.history.map((h) => h.trainLoss), trainAccuracy: result.history.map((h) => h.trainAccuracy ?? NaN), testAccuracy: accuracy };
  } finally {
    await pool.close();
  }
}

function torchBn(batchNorm: boolean, epochs: number, threads: number, ghost: number): BnRun & { torch: string } {
  const script = fileURLToPath(new URL('./lib/torch_mnist_bn.py', import.meta.url));
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(PYTHON, [script, mnistDataDir(), batchNorm ? 'bn' : 'nobn', String(ghost), String(threads), String(epochs), '1'], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the PyTorch peer failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { samples_per_sec: number; train_loss: number; train_accuracy: number; test_accuracy: number; torch: string });
  const last = lines.at(-1)!;
  console.error(`pytorch ${batchNorm ? 'bn' : 'no bn'}: ${lines.map((l) => Math.round(l.samples_per_sec)).join(', ')} samples/s, test ${last.test_accuracy}`);
  return { samplesPerSec: lines.map((l) => l.samples_per_sec), trainLoss: lines.map((l) => l.train_loss), trainAccuracy: lines.map((l) => l.train_accuracy), testAccuracy: last.test_accuracy, torch: last.torch };
}

async function batchNormMode(args: string[]) {
  const epochsArg = args.find((a) => /^epochs=\d+$/.test(a));
  const epochs = epochsArg ? Number(epochsArg.slice(7)) : 2;
  const threads = 2;
  const ghost = BATCH / defaultMicrobatches(BATCH);
  const ours = { bn: await oursBn(true, epochs, threads), plain: await oursBn(false, epochs, threads) };
  const torch = torchAvailable() ? { bn: torchBn(true, epochs, threads, ghost), plain: torchBn(false, epochs, threads, ghost) } : null;
  const sps = (r: BnRun) => median(r.samplesPerSec);
  const metrics: Record<string, number> = {
    epochs,
    threads,
    ghost_batch_rows: ghost,
    samples_per_sec_bn: sps(ours.bn),
    samples_per_sec_no_bn: sps(ours.plain),
    bn_speed_ratio: sps(ours.bn) / sps(ours.plain),
    test_accuracy_bn: ours.bn.testAccuracy,
    test_accuracy_no_bn: ours.plain.testAccuracy,
    train_loss_bn: ours.bn.trainLoss.at(-1)!,
    pytorch_available: torch ? 1 : 0,
  };
  if (torch) {
    metrics.pytorch_samples_per_sec_bn = sps(torch.bn);
    metrics.pytorch_samples_per_sec_no_bn = sps(torch.plain);
    metrics.pytorch_bn_speed_ratio = sps(torch.bn) / sps(torch.plain);
    metrics.ratio_vs_pytorch_bn = sps(ours.bn) / sps(torch.bn);
    metrics.pytorch_test_accuracy_bn = torch.bn.testAccuracy;
    metrics.pytorch_test_accuracy_no_bn = torch.plain.testAccuracy;
    metrics.pytorch_train_loss_bn = torch.bn.trainLoss.at(-1)!;
  }
  const curve = (r: BnRun) => r.samplesPerSec.map((v, i) => ({ epoch: i + 1, samples_per_sec: Math.round(v), train_loss: round(r.trainLoss[i]!, 5), train_accuracy: r.trainAccuracy[i] }));
  return {
    section: 'batchnorm',
    metrics,
    details: {
      mode: 'batchnorm',
      model: "Keras' mnist_convnet (conv 3x3x32, pool, conv 3x3x64, pool, dropout 0.5, dense 10) with batch_norm between each conv and its relu, and without",
      architecture_bn: kerasConvnet(true),
      optimizer: { type: 'adam', learningRate: LEARNING_RATE },
      data: 'MNIST, all 60,000 training images, x/255, batch 128 in 4 microbatches of 32 (ghost batch norm); tested on the 10,000 test images under the moving statistics',
      peer: torch ? `PyTorch ${torch.bn.torch} on ${threads} threads, the same layers and init, each batch's forward in ${ghost}-row chunks (bench/lib/torch_mnist_bn.py)` : 'PyTorch not importable by /usr/bin/python3',
      ours: { bn: curve(ours.bn), no_bn: curve(ours.plain) },
      ...(torch ? { pytorch: { bn: curve(torch.bn), no_bn: curve(torch.plain) } } : {}),
    },
  };
}

export async function run(args: string[]) {
  if (args[0] === 'accuracy') return accuracy(args.slice(1));
  if (args[0] === 'batchnorm') return batchNormMode(args.slice(1));
  QUICK = args.includes('--quick');
  if (QUICK) {
    MEASURED_EPOCHS = 1;
    ROUNDS = 1;
  }
  const model = compileModel(EXAMPLE_CNN);
  const microbatches = defaultMicrobatches(BATCH);
  const rows = BATCH / microbatches;
  const ds = await loadDataset('mnist', { seed: 1, limitTrain: BATCH * BATCHES, validationFraction: 0, scaling: 'unit' });
  if (ds.train.count !== BATCH * BATCHES) throw new Error(`expected ${BATCH * BATCHES} training examples, got ${ds.train.count}`);

  // The ceiling first and last: the figures below are taken between the two.
  const ceilingBefore = maddCeilingGflops(false, QUICK ? 0.1 : 1);
  const [t1, t2] = await ours(ds);
  const layers = timeLayers(model, rows);
  // [warm-up, measured] steps of each peer.
  const cpuSteps = QUICK ? [1, 1] : [2, 8];
  const wasmSteps = QUICK ? [1, 1] : [3, 24];
  const torchSteps = QUICK ? [1, 3] : [10, 120];
  const cpu = await tfjsPeer('cpu', ds, cpuSteps[0]!, cpuSteps[1]!);
  const wasm = await tfjsPeer('wasm', ds, wasmSteps[0]!, wasmSteps[1]!);
  const torch = torchAvailable();
  const torch1 = torch ? torchPeer(1, torchSteps[0]!, torchSteps[1]!) : null;
  const torch2 = torch ? torchPeer(2, torchSteps[0]!, torchSteps[1]!) : null;
  const ceilingAfter = maddCeilingGflops(false, QUICK ? 0.1 : 1);
  const ceiling = Math.max(ceilingBefore, ceilingAfter);

  const metrics: Record<string, number> = {
    batch_size: BATCH,
    microbatches,
    steps_measured_ours: t1.steps,
    samples_per_sec_t1: t1.samplesPerSec,
    samples_per_sec_t2: t2.samplesPerSec,
    speedup_t2_vs_t1: t2.samplesPerSec / t1.samplesPerSec,
    step_compute_ms_t1: t1.computeMs,
    step_compute_ms_t2: t2.computeMs,
    step_reduce_ms_t2: t2.reduceMs,
    step_wait_ms_t2: t2.waitMs,
    gemm_flops_per_sample: model.gemmFlopsPerSample,
    engine_gflops_t1: (t1.samplesPerSec * model.gemmFlopsPerSample) / 1e9,
    samples_per_sec_tfjs_cpu: cpu.supported ? cpu.samplesPerSec : 0,
    speedup_vs_tfjs_cpu: cpu.supported ? t1.samplesPerSec / cpu.samplesPerSec : 0,
    speedup_t2_vs_tfjs_cpu: cpu.supported ? t2.samplesPerSec / cpu.samplesPerSec : 0,
    tfjs_wasm_supported: wasm.supported ? 1 : 0,
    pytorch_available: torch ? 1 : 0,
    ceiling_gflops: ceiling,
    ceiling_gflops_before: ceilingBefore,
    ceiling_gflops_after: ceilingAfter,
  };
  if (wasm.supported) {
    metrics.samples_per_sec_tfjs_wasm = wasm.samplesPerSec;
    metrics.speedup_vs_tfjs_wasm = t1.samplesPerSec / wasm.samplesPerSec;
  }
  if (torch1 && torch2) {
    metrics.samples_per_sec_pytorch_t1 = torch1.samplesPerSec;
    metrics.samples_per_sec_pytorch_t2 = torch2.samplesPerSec;
    metrics.ratio_vs_pytorch_t1 = t1.samplesPerSec / torch1.samplesPerSec;
    metrics.ratio_vs_pytorch_t2 = t2.samplesPerSec / torch2.samplesPerSec;
  }
  let effMin = Infinity;
  let kernelEffMin = Infinity;
  let convMsPerMicrobatch = 0;
  const gflops = (flops: number, ms: number): number => flops / (ms / 1e3) / 1e9;
  layers.conv.forEach((c, i) => {
    const p = `conv${i + 1}`;
    const fwd = gflops(c.fwdFlops, c.fwdMs);
    const bwd = gflops(c.bwdFlops, c.bwdMs);
    metrics[`${p}_fwd_gflops`] = round(fwd);
    metrics[`${p}_bwd_gflops`] = round(bwd);
    metrics[`${p}_fwd_efficiency`] = round(fwd / ceiling, 3);
    metrics[`${p}_bwd_efficiency`] = round(bwd / ceiling, 3);
    metrics[`${p}_fwd_ms_per_microbatch`] = round(c.fwdMs, 3);
    metrics[`${p}_bwd_ms_per_microbatch`] = round(c.bwdMs, 3);
    // Each kernel does the forward's FLOPs (the same P·K·F multiply-adds).
    const kernelsOf: [string, number][] = [['forward', c.fwdKernelMs], ['filter_grad', c.dwKernelMs], ...(c.dxKernelMs > 0 ? [['input_grad', c.dxKernelMs] as [string, number]] : [])];
    for (const [name, ms] of kernelsOf) {
      const rate = gflops(c.fwdFlops, ms);
      metrics[`${p}_${name}_kernel_gflops`] = round(rate);
      metrics[`${p}_${name}_kernel_efficiency`] = round(rate / ceiling, 3);
      kernelEffMin = Math.min(kernelEffMin, rate / ceiling);
    }
    convMsPerMicrobatch += c.fwdMs + c.bwdMs;
    effMin = Math.min(effMin, fwd / ceiling, bwd / ceiling);
  });
  metrics.conv_efficiency_min = round(effMin, 3);
  metrics.conv_kernel_efficiency_min = round(kernelEffMin, 3);
  const poolMs = layers.pools.reduce((a, p) => a + p.fwdMs + p.bwdMs, 0);
  metrics.pool_ms_per_microbatch = round(poolMs, 3);
  // Share of the 1-thread step spent in conv layers (kernel-timed × microbatches ÷ measured compute).
  metrics.conv_share_of_step_t1 = round((convMsPerMicrobatch * microbatches) / t1.computeMs, 3);
  metrics.pool_share_of_step_t1 = round((poolMs * microbatches) / t1.computeMs, 3);
  metrics.target_speedup_vs_tfjs_cpu_met = metrics.speedup_vs_tfjs_cpu! >= 20 ? 1 : 0;
  metrics.target_speedup_t2_met = metrics.speedup_t2_vs_t1! >= 1.8 ? 1 : 0;
  metrics.target_conv_efficiency_met = kernelEffMin >= 0.6 ? 1 : 0;

  const details = {
    mode: QUICK ? 'speed --quick (smoke test; figures not meaningful)' : 'speed',
    cpu: cpus()[0]?.model ?? 'unknown',
    model: 'apps/cli/examples/mnist-cnn.json',
    architecture: EXAMPLE_CNN,
    optimizer: { type: 'adam', learningRate: LEARNING_RATE },
    data: `MNIST, ${BATCH * BATCHES} class-balanced training images (seed 1), x/255; the peers train on the same ${BATCHES} batches of ${BATCH}`,
    protocol: {
      ours: `ReplicaPool, default microbatches (${microbatches}), ${ROUNDS} interleaved rounds of threads 1 then 2, each 1 warm-up epoch then ${MEASURED_EPOCHS} epochs of ${BATCHES} steps; samples/s = median over the measured epochs of a thread count; training time only`,
      tfjs_cpu: `${cpuSteps[0]} warm-up steps, ${cpuSteps[1]} measured (model.trainOnBatch)`,
      tfjs_wasm: `${wasmSteps[0]} warm-up steps, ${wasmSteps[1]} measured (model.trainOnBatch); SIMD on, threads off in Node`,
      pytorch: `Debian python3-torch (with libopenblas0-pthread), CPU, ${torchSteps[0]} warm-up steps, ${torchSteps[1]} measured, torch.set_num_threads(T), OMP/OpenBLAS threads = T`,
      kernels: `each layer's kernel calls of one microbatch (${rows} rows), as replica.ts runs them, shared memory, plain SIMD, median of ${QUICK ? 1 : 7} runs; GFLOP/s = the layer's multiply-adds ×2 ÷ time: *_fwd / *_bwd for the whole sequence (bias, activation and their gradients included), *_kernel for each conv kernel alone (each does the forward's multiply-adds); the target is on the kernels`,
      ceiling: `12 independent f32x4 mul+add chains (bench/lib/ceiling.ts, as bench/gemm.ts), best of ${QUICK ? 0.1 : 1} s, measured before and after the peers; the higher is used`,
    },
    tfjs_wasm: wasm.supported ? { samplesPerSec: wasm.samplesPerSec } : { supported: false, error: wasm.error },
    tfjs_cpu: cpu.supported ? { samplesPerSec: cpu.samplesPerSec } : { supported: false, error: cpu.error },
    pytorch: torch ? { t1: torch1, t2: torch2 } : 'not run: Debian python3 cannot import torch (apt-get install python3-torch libopenblas0-pthread)',
    conv_layers: layers.conv.map((c) => ({
      ...c,
      fwdMs: round(c.fwdMs, 4),
      bwdMs: round(c.bwdMs, 4),
      fwdKernelMs: round(c.fwdKernelMs, 4),
      dwKernelMs: round(c.dwKernelMs, 4),
      dxKernelMs: round(c.dxKernelMs, 4),
    })),
    pool_layers: layers.pools.map((p) => ({ ...p, fwdMs: round(p.fwdMs, 4), bwdMs: round(p.bwdMs, 4) })),
    epoch_samples_per_sec: { t1: t1.epochRates, t2: t2.epochRates },
    step_ms: { t1: { compute: t1.computeMs, reduce: t1.reduceMs, wait: t1.waitMs }, t2: { compute: t2.computeMs, reduce: t2.reduceMs, wait: t2.waitMs } },
  };
  return { metrics, details };
}
