// MNIST accuracy: MLP 784-512-512-10 (relu, dropout 0.2, Adam 1e-3 with cosine decay, batch 128),
// 20 epochs; the weights of the best validation-accuracy epoch are kept, then one test-set evaluation.
import { loadDataset } from '@hypersweep/datasets';
import { TrainingSession } from '@hypersweep/nn';
import { MNIST_MLP } from './lib/models.ts';

export async function run(args: string[]) {
  const maxEpochs = Number(args[0] ?? 20);
  const ds = await loadDataset('mnist', { seed: 1 });
  const session = await TrainingSession.create({
    model: MNIST_MLP,
    optimizer: { type: 'adam', learningRate: 1e-3 },
    // A constant 1e-3 plateaus near 0.978 as the validation loss starts rising after ~9 epochs.
    schedule: { type: 'cosine' },
    dataset: ds,
    epochs: maxEpochs,
    batchSize: 128,
    seed: 1,
    // Patience as long as the run: never stops, only keeps the best epoch's weights.
    earlyStopping: { patience: maxEpochs, monitor: 'val_accuracy', restoreBestWeights: true },
    onEpoch: (m) =>
      console.error(
        `epoch ${m.epoch}: loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy?.toFixed(4)} val_loss ${m.valLoss?.toFixed(4)} val_acc ${m.valAccuracy?.toFixed(4)} ${Math.round(m.samplesPerSec)} samples/s`,
      ),
  });
  const started = performance.now();
  const result = await session.fit();
  const test = session.evaluate('test');
  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  return {
    metrics: {
      test_accuracy: test.accuracy ?? 0,
      test_loss: test.loss,
      epochs_run: result.epochsRun,
      best_epoch: result.bestEpoch ?? result.epochsRun,
      best_val_accuracy: best?.valAccuracy ?? 0,
      train_samples: ds.train.count,
      samples_per_sec_median: median(result.history.map((h) => h.samplesPerSec)),
      seconds: (performance.now() - started) / 1000,
    },
    details: { history: result.history, stoppedBy: result.stoppedBy },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
}
