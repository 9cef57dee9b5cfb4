// Whole training runs the way users run them: Keras' `mnist_mlp` recipe (784-512-512-10 ReLU,
// glorot_uniform, dropout 0.2, batch 128, x/255 inputs, 20 epochs on all 60,000 training images,
// tested on the 10,000 test images) with RMSprop (Keras 3's form) and with Adam, on 2 threads with
// the default microbatches, 3 seeds each (`longrun accuracy <optimizer>`: 10 seeds, accuracy only). Records samples/s and step time of every epoch: a run
// that slows down as it goes (subnormal floats, growing state) shows as last_to_first_ratio < 1
// (the worst of the runs is reported). The peer, in the same run: the recipe in PyTorch, when
// Debian's python3-torch is installed.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadDataset, mnistDataDir } from '@hypersweep/datasets';
import { defaultMicrobatches } from '@hypersweep/nn';
import { ReplicaPool, type ParallelEpochMetrics } from '@hypersweep/trainer';

const EPOCHS = 20;
const BATCH = 128;
const THREADS = 2;

/** Keras' mnist_mlp, as the CLI's example file (Dense layers default to glorot_uniform in Keras). */
const KERAS_MNIST_MLP = JSON.parse(readFileSync(fileURLToPath(new URL('../apps/cli/examples/keras-mnist-mlp.json', import.meta.url)), 'utf8')) as unknown;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The sample standard deviation (0 for one value). */
const sd = (xs: number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** An SVG of samples/s per epoch, one line per optimizer. */
function plot(runs: { name: string; color: string; epochs: ParallelEpochMetrics[] }[]): string {
  const W = 640, H = 300, L = 64, R = 110, T = 30, B = 44;
  const max = Math.max(...runs.flatMap((r) => r.epochs.map((e) => e.samplesPerSec))) * 1.1;
  const x = (e: number) => L + ((e - 1) / (EPOCHS - 1)) * (W - L - R);
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">Keras mnist_mlp, ${THREADS} threads: samples/s per epoch</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max / 4) * k;
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v / 1000)}k</text>`);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
  }
  for (let e = 1; e <= EPOCHS; e += 3) parts.push(`<text x="${x(e)}" y="${H - B + 16}" text-anchor="middle">${e}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">epoch</text>`);
  runs.forEach((r, i) => {
    const pts = r.epochs.map((m) => `${x(m.epoch).toFixed(1)},${y(m.samplesPerSec).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${r.color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - R + 8}" y="${T + 16 + 18 * i}" fill="${r.color}">${r.name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * The same recipe in PyTorch (Debian's python3-torch, with OpenBLAS when installed) on one thread,
 * its fastest setting on 2 cores; null when Debian's python3 cannot import torch.
 */
function torchPeer(optimizer: string, seed: number, epochs: number): { samplesPerSec: number[]; testAccuracy: number } | null {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return null;
  const script = fileURLToPath(new URL('./lib/torch_mnist_mlp.py', import.meta.url));
  const r = spawnSync(python, [script, mnistDataDir(), optimizer, String(seed), String(epochs), '1'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the PyTorch peer failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { samples_per_sec?: number; test_accuracy?: number });
  const samplesPerSec = lines.flatMap((l) => (l.samples_per_sec === undefined ? [] : [l.samples_per_sec]));
  const testAccuracy = lines.find((l) => l.test_accuracy !== undefined)?.test_accuracy;
  if (testAccuracy === undefined) throw new Error('the PyTorch peer printed no test accuracy');
  return { samplesPerSec, testAccuracy };
}

/** One run of the recipe; its per-epoch metrics and test accuracy. */
interface RecipeRun {
  readonly seed: number;
  readonly epochs: ParallelEpochMetrics[];
  readonly testAccuracy: number;
  readonly seconds: number;
}

/**
 * `longrun accuracy <rmsprop|adam> [seeds=a-b] [peer]`: the recipe's test accuracy over many seeds
 * (the speed figures need only a few), in `sections.accuracy-<optimizer>-seeds<a>-<b>`; with `peer`,
 * PyTorch's over the same seeds. Accuracy does not depend on the machine's load: runs are bit-exact.
 */
async function accuracySeeds(args: string[]) {
  const key = args[0];
  const optimizer = key === 'rmsprop' || key === 'adam' ? { type: key, learningRate: 1e-3 } : null;
  if (!optimizer) throw new Error('usage: longrun accuracy <rmsprop|adam> [seeds=1-10] [peer]');
  const range = /^seeds=(\d+)-(\d+)$/.exec(args.find((a) => a.startsWith('seeds=')) ?? 'seeds=1-10');
  if (!range) throw new Error('seeds=<first>-<last>');
  const [first, last] = [Number(range[1]), Number(range[2])];
  const seeds = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const dataset = await loadDataset('mnist', { seed: 1, validationFraction: 0, scaling: 'unit' });
  const pool = await ReplicaPool.create({ threads: THREADS });
  const ours: { seed: number; test_accuracy: number; final_train_loss: number }[] = [];
  try {
    for (const seed of seeds) {
      const result = await pool.train({ model: KERAS_MNIST_MLP, optimizer, dataset, epochs: EPOCHS, batchSize: BATCH, seed, evaluateTest: true });
      ours.push({ seed, test_accuracy: result.test!.accuracy!, final_train_loss: +result.history.at(-1)!.trainLoss.toFixed(5) });
      console.error(`${key} seed ${seed}: test accuracy ${result.test!.accuracy}`);
    }
  } finally {
    await pool.close();
  }
  const peer: { seed: number; test_accuracy: number }[] = [];
  if (args.includes('peer')) {
    for (const seed of seeds) {
      const p = torchPeer(optimizer.type, seed, EPOCHS);
      if (!p) break;
      peer.push({ seed, test_accuracy: p.testAccuracy });
      console.error(`pytorch ${key} seed ${seed}: test accuracy ${p.testAccuracy}`);
    }
  }
  const acc = ours.map((r) => r.test_accuracy);
  const target = key === 'adam' ? 0.983 : 0.982;
  const metrics: Record<string, number> = {
    epochs: EPOCHS,
    seeds: seeds.length,
    test_accuracy_mean: mean(acc),
    test_accuracy_sd: sd(acc),
    test_accuracy_min: Math.min(...acc),
    test_accuracy_max: Math.max(...acc),
    target_test_accuracy: target,
    accuracy_target_met: mean(acc) >= target ? 1 : 0,
  };
  if (peer.length > 0) {
    const peerAcc = peer.map((r) => r.test_accuracy);
    Object.assign(metrics, { pytorch_test_accuracy_mean: mean(peerAcc), pytorch_test_accuracy_sd: sd(peerAcc), pytorch_test_accuracy_min: Math.min(...peerAcc), pytorch_test_accuracy_max: Math.max(...peerAcc) });
  }
  return {
    section: `accuracy-${key}-seeds${first}-${last}`,
    metrics,
    details: {
      recipe: "Keras' mnist_mlp: 784-512-512-10 ReLU, glorot_uniform, dropout 0.2, x/255, batch 128, 20 epochs on all 60,000 training images, tested on the 10,000 test images, 2 threads, default microbatches",
      optimizer,
      ours,
      pytorch: peer.length > 0 ? peer : 'not run (add `peer`; needs Debian python3-torch)',
    },
  };
}

export async function run(args: string[]) {
  if (args[0] === 'accuracy') return accuracySeeds(args.slice(1));
  const epochs = Number(args[0] ?? EPOCHS);
  // Test accuracy moves by ~0.1% (one standard deviation) with the seed, in PyTorch as here: each
  // recipe runs with 3 seeds, and the figures are their mean, worst and standard deviation (the
  // speed ratio is taken on every run); `longrun accuracy <optimizer>` runs 10 seeds for accuracy.
  const seeds = (args[1] ?? '1,2,3').split(',').map(Number);
  const dataset = await loadDataset('mnist', { seed: 1, validationFraction: 0, scaling: 'unit' });
  const pool = await ReplicaPool.create({ threads: THREADS });
  const recipes = [
    { key: 'rmsprop', name: 'RMSprop', color: '#0072B2', optimizer: { type: 'rmsprop', learningRate: 1e-3 }, runs: [] as RecipeRun[] },
    { key: 'adam', name: 'Adam', color: '#D55E00', optimizer: { type: 'adam', learningRate: 1e-3 }, runs: [] as RecipeRun[] },
  ];
  try {
    for (const seed of seeds) {
      for (const r of recipes) {
        const started = performance.now();
        const result = await pool.train({
          model: KERAS_MNIST_MLP,
          optimizer: r.optimizer,
          dataset,
          epochs,
          batchSize: BATCH,
          seed,
          evaluateTest: true,
          onEpoch: (m) => {
            const t = m.stepTiming;
            console.error(`${r.key} seed ${seed} epoch ${m.epoch}: ${Math.round(m.samplesPerSec)} samples/s, step ${t.computeMs.toFixed(1)}/${t.reduceMs.toFixed(1)}/${t.waitMs.toFixed(1)} ms, loss ${m.trainLoss.toFixed(4)}`);
          },
        });
        r.runs.push({ seed, epochs: [...result.history], testAccuracy: result.test!.accuracy!, seconds: (performance.now() - started) / 1000 });
        console.error(`${r.key} seed ${seed}: test accuracy ${result.test!.accuracy}`);
      }
    }
  } finally {
    await pool.close();
  }
  // The peer, after ours so the two never share the cores.
  const peers: Record<string, { seed: number; samplesPerSec: number[]; testAccuracy: number }[]> = {};
  for (const r of recipes) {
    for (const seed of seeds) {
      const p = torchPeer(r.key, seed, epochs);
      if (!p) break;
      console.error(`pytorch ${r.key} seed ${seed}: ${Math.round(median(p.samplesPerSec))} samples/s, test accuracy ${p.testAccuracy}`);
      (peers[r.key] ??= []).push({ seed, ...p });
    }
  }
  if (epochs === EPOCHS) writeFileSync(new URL('./results/longrun.svg', import.meta.url), plot(recipes.map((r) => ({ name: r.name, color: r.color, epochs: r.runs[0]!.epochs }))));
  const metrics: Record<string, number> = { epochs, batch_size: BATCH, threads: THREADS, microbatches: defaultMicrobatches(BATCH), train_examples: dataset.train.count, seeds: seeds.length };
  const details: Record<string, unknown> = {};
  for (const r of recipes) {
    const ratios = r.runs.map((run) => {
      const sps = run.epochs.map((m) => m.samplesPerSec);
      return { first: median(sps.slice(1, 4)), last: median(sps.slice(-3)) };
    });
    const acc = r.runs.map((run) => run.testAccuracy);
    metrics[`${r.key}_samples_per_sec_epochs_2_4`] = median(ratios.map((x) => x.first));
    metrics[`${r.key}_samples_per_sec_last_3`] = median(ratios.map((x) => x.last));
    metrics[`${r.key}_last_to_first_ratio`] = Math.min(...ratios.map((x) => x.last / x.first));
    metrics[`${r.key}_test_accuracy`] = mean(acc);
    metrics[`${r.key}_test_accuracy_min`] = Math.min(...acc);
    metrics[`${r.key}_test_accuracy_sd`] = sd(acc);
    metrics[`${r.key}_seconds_per_run`] = median(r.runs.map((run) => run.seconds));
    const peer = peers[r.key];
    if (peer && peer.length > 0) {
      const peerAcc = peer.map((p) => p.testAccuracy);
      metrics[`pytorch_${r.key}_test_accuracy`] = mean(peerAcc);
      metrics[`pytorch_${r.key}_test_accuracy_min`] = Math.min(...peerAcc);
      metrics[`pytorch_${r.key}_test_accuracy_sd`] = sd(peerAcc);
      metrics[`pytorch_${r.key}_samples_per_sec`] = median(peer.flatMap((p) => p.samplesPerSec.slice(1)));
      metrics[`pytorch_${r.key}_last_to_first_ratio`] = Math.min(...peer.map((p) => median(p.samplesPerSec.slice(-3)) / median(p.samplesPerSec.slice(1, 4))));
    }
    details[r.key] = r.runs.map((run) => ({
      seed: run.seed,
      test_accuracy: run.testAccuracy,
      epochs: run.epochs.map((m) => ({
        epoch: m.epoch,
        samples_per_sec: Math.round(m.samplesPerSec),
        step_ms: +(m.stepTiming.computeMs + m.stepTiming.reduceMs + m.stepTiming.waitMs).toFixed(2),
        compute_ms: +m.stepTiming.computeMs.toFixed(2),
        reduce_ms: +m.stepTiming.reduceMs.toFixed(2),
        wait_ms: +m.stepTiming.waitMs.toFixed(2),
        train_loss: +m.trainLoss.toFixed(5),
        train_accuracy: m.trainAccuracy,
      })),
    }));
  }
  details.pytorch = Object.keys(peers).length > 0 ? peers : 'not run: Debian python3 cannot import torch (apt-get install python3-torch libopenblas0-pthread)';
  return { metrics, details };
}
