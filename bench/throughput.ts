// Single-thread training throughput of MLP 784-512-512-10 (relu, dropout 0.2, Adam, batch 128) on
// MNIST, against @tensorflow/tfjs (cpu and wasm backends) on the same model and batch, same run.
import { setFlagsFromString } from 'node:v8';
import { loadDataset } from '@hypersweep/datasets';
import { TrainingSession, type Dataset } from '@hypersweep/nn';
import { maddCeilingGflops } from './lib/ceiling.ts';
import { tfjsThroughput } from './lib/tfjs-peer.ts';
import { MNIST_MLP } from './lib/models.ts';

// Relaxed SIMD must be enabled before the first module compiles; the plain path stays the default.
setFlagsFromString('--experimental-wasm-relaxed-simd');


/** Trains whole epochs until at least `seconds` of training (after one warm-up epoch) are measured. */
async function ours(ds: Dataset, relaxed: boolean, seconds: number) {
  const session = await TrainingSession.create({
    model: MNIST_MLP,
    optimizer: { type: 'adam', learningRate: 1e-3 },
    dataset: ds,
    epochs: 1000,
    batchSize: 128,
    seed: 1,
    kernels: { relaxedSimd: relaxed },
  });
  await session.runEpoch(); // warm-up: WASM tier-up
  let samples = 0;
  let time = 0;
  while (time < seconds) {
    const m = await session.runEpoch();
    samples += ds.train.count;
    time += m.seconds;
  }
  return { samplesPerSec: samples / time, seconds: time, flopsPerSample: session.model.gemmFlopsPerSample };
}

export async function run(args: string[]) {
  const seconds = Number(args[0] ?? 20);
  // A 20,000-example training split keeps epochs short; the validation split is small on purpose.
  const ds = await loadDataset('mnist', { seed: 1, limitTrain: 21000, validationCount: 1000 });
  const ceiling = maddCeilingGflops(false);
  const ceilingRelaxed = maddCeilingGflops(true);
  const plain = await ours(ds, false, seconds);
  const relaxed = await ours(ds, true, seconds);
  const cpu = await tfjsThroughput('cpu', ds, { hidden: [512, 512], dropout: 0.2, batchSize: 128, seconds, learningRate: 1e-3 });
  const wasm = await tfjsThroughput('wasm', ds, { hidden: [512, 512], dropout: 0.2, batchSize: 128, seconds, learningRate: 1e-3 });
  const gemmGflops = (plain.samplesPerSec * plain.flopsPerSample) / 1e9;
  const gemmGflopsRelaxed = (relaxed.samplesPerSec * relaxed.flopsPerSample) / 1e9;
  return {
    metrics: {
      samples_per_sec: plain.samplesPerSec,
      samples_per_sec_tfjs_cpu: cpu.samplesPerSec,
      samples_per_sec_tfjs_wasm: wasm.samplesPerSec,
      ratio_tfjs_cpu: plain.samplesPerSec / cpu.samplesPerSec,
      ratio_tfjs_wasm: plain.samplesPerSec / wasm.samplesPerSec,
      gemm_gflops: gemmGflops,
      ceiling_gflops: ceiling,
      ceiling_fraction: gemmGflops / ceiling,
      samples_per_sec_relaxed: relaxed.samplesPerSec,
      ceiling_gflops_relaxed: ceilingRelaxed,
      ceiling_fraction_relaxed: gemmGflopsRelaxed / ceilingRelaxed,
      gemm_flops_per_sample: plain.flopsPerSample,
      measured_seconds_ours: plain.seconds,
      measured_seconds_tfjs_cpu: cpu.seconds,
      measured_seconds_tfjs_wasm: wasm.seconds,
    },
  };
}
