// The peer for throughput: the same MLP trained by @tensorflow/tfjs on the same batches.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { Dataset } from '@hypersweep/nn';

export interface PeerResult {
  samplesPerSec: number;
  steps: number;
  seconds: number;
}

/** Trains MLP 784-hidden…-10 (relu, dropout, Adam) with trainOnBatch for at least `seconds`. */
export async function tfjsThroughput(
  backend: 'cpu' | 'wasm',
  ds: Dataset,
  opts: { hidden: number[]; dropout: number; batchSize: number; seconds: number; learningRate: number },
): Promise<PeerResult> {
  await tf.setBackend(backend);
  await tf.ready();
  const inputSize = ds.featureShape.reduce((a, b) => a * b, 1);
  const model = tf.sequential();
  opts.hidden.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [inputSize] } : {}) }));
    if (opts.dropout > 0) model.add(tf.layers.dropout({ rate: opts.dropout }));
  });
  model.add(tf.layers.dense({ units: ds.numClasses ?? 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(opts.learningRate), loss: 'sparseCategoricalCrossentropy' });

  const B = opts.batchSize;
  const nBatches = Math.min(64, Math.floor(ds.train.count / B));
  const { scale, shift } = ds.normalization.kind === 'affine' ? ds.normalization : { scale: 1, shift: 0 };
  const batches = Array.from({ length: nBatches }, (_, b) => {
    const x = new Float32Array(B * inputSize);
    const y = new Float32Array(B);
    for (let r = 0; r < B; r++) {
      const row = b * B + r;
      for (let j = 0; j < inputSize; j++) x[r * inputSize + j] = ds.train.features[row * inputSize + j]! * scale + shift;
      y[r] = ds.train.labels[row]!;
    }
    return { x: tf.tensor2d(x, [B, inputSize]), y: tf.tensor1d(y) };
  });
  // Warm-up: kernels compile and weight buffers settle.
  for (let i = 0; i < 3; i++) await model.trainOnBatch(batches[i % nBatches]!.x, batches[i % nBatches]!.y);
  const started = performance.now();
  let steps = 0;
  while (performance.now() - started < opts.seconds * 1000) {
    const b = batches[steps % nBatches]!;
    await model.trainOnBatch(b.x, b.y);
    steps++;
  }
  const seconds = (performance.now() - started) / 1000;
  for (const b of batches) tf.dispose([b.x, b.y]);
  model.dispose();
  return { samplesPerSec: (steps * B) / seconds, steps, seconds };
}
