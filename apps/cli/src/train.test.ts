// The README's run command, shortened: `hypersweep train` on an MNIST subset reaches ≥ 90% test accuracy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { runTrain } from './train.ts';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const main = new URL('./main.ts', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [tsx, main, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('hypersweep train', () => {
  it('trains an MNIST subset to ≥ 90% test accuracy, printing every epoch, and exports the model', () => {
    const out = join(work, 'export');
    const ckpt = join(work, 'ckpt');
    const r = cli(['train', '--dataset', 'mnist', '--limit', '4000', '--epochs', '3', '--hidden', '128', '--export', out, '--checkpoint', ckpt]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const epochs = r.out.split('\n').filter((l) => /^epoch \d\/3 /.test(l));
    expect(epochs).toHaveLength(3);
    // Loss, accuracy, top-3 and top-5 accuracy of the training passes, then of the validation split.
    const pct = String.raw`(\d+\.\d\d)%`;
    const epochLine = new RegExp(String.raw`loss \d+\.\d{4} ${pct} top3 ${pct} top5 ${pct} {2}val_loss \d+\.\d{4} ${pct} top3 ${pct} top5 ${pct} {2}lr 0\.00100 {2}[\d,]+ samples\/s`);
    for (const l of epochs) {
      const m = epochLine.exec(l);
      expect(m, l).not.toBeNull();
      const [acc, top3, top5, vAcc, vTop3, vTop5] = m!.slice(1).map(Number) as [number, number, number, number, number, number];
      expect(acc).toBeLessThanOrEqual(top3);
      expect(top3).toBeLessThanOrEqual(top5);
      expect(vAcc).toBeLessThanOrEqual(vTop3);
      expect(vTop3).toBeLessThanOrEqual(vTop5);
    }
    const test = new RegExp(String.raw`test: loss [\d.]+ {2}accuracy ${pct} {2}top3 ${pct} {2}top5 ${pct} on 10000 examples`).exec(r.out);
    expect(test, r.out).not.toBeNull();
    expect(Number(test![1])).toBeGreaterThanOrEqual(90);
    expect(Number(test![2])).toBeGreaterThan(Number(test![1]));
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { format: string };
    expect(model.format).toBe('layers-model');
    expect(readFileSync(join(out, 'weights.bin')).byteLength).toBe(4 * (784 * 128 + 128 + 128 * 10 + 10));
    expect(existsSync(join(ckpt, 'manifest.json'))).toBe(true);

    // Resume from the checkpoint for one more epoch.
    const more = cli(['train', '--dataset', 'mnist', '--limit', '4000', '--epochs', '4', '--hidden', '128', '--resume', ckpt]);
    expect(more.code, more.err).toBe(0);
    expect(more.out).toContain('resumed after epoch 3');
    expect(more.out.split('\n').filter((l) => l.startsWith('epoch '))).toEqual([expect.stringMatching(/^epoch 4\/4 /)]);
  });

  it('trains data-parallel: 2 threads print exactly what 1 thread prints for the same microbatches', () => {
    const args = ['train', '--dataset', 'mnist', '--limit', '2000', '--epochs', '2', '--hidden', '64', '--microbatches', '2'];
    const one = cli([...args, '--threads', '1']);
    const two = cli([...args, '--threads', '2']);
    expect(two.code, two.err).toBe(0);
    expect(two.out).toContain('2 replica threads, 2 microbatches per step');
    expect(two.out).toMatch(/step [\d.]+\/[\d.]+\/[\d.]+ ms compute\/reduce\/wait/);
    // Loss and accuracy columns (everything before the timing) are identical, bit for bit.
    const metrics = (out: string) => out.split('\n').filter((l) => l.startsWith('epoch ') || l.startsWith('test:')).map((l) => l.split('  lr ')[0]);
    expect(metrics(two.out)).toHaveLength(3);
    expect(metrics(two.out)).toEqual(metrics(one.out));
  });

  it('runs a standard recipe: the full training set, x/255, glorot_uniform, RMSprop, early stopping on any thread count', () => {
    const r = cli([
      'train', '--dataset', 'mnist', '--limit', '1000', '--validation-split', '0', '--scaling', 'unit', '--init', 'glorot_uniform',
      '--hidden', '32', '--optimizer', 'rmsprop', '--epochs', '2', '--threads', '2',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/dataset mnist: 1000 train, 0 validation, 10000 test/);
    // No validation split: no validation columns.
    const epochs = r.out.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochs).toHaveLength(2);
    for (const l of epochs) expect(l).not.toContain('val_loss');
    // The initializer reaches the model: glorot_uniform and he_uniform give different first epochs.
    const he = cli(['train', '--dataset', 'mnist', '--limit', '1000', '--validation-split', '0', '--scaling', 'unit', '--hidden', '32', '--optimizer', 'rmsprop', '--schedule', 'cosine', '--epochs', '1', '--threads', '2']);
    expect(he.code, he.err).toBe(0);
    expect(he.out.split('\n').find((l) => l.startsWith('epoch '))!.split('  lr ')[0]).not.toBe(epochs[0]!.split('  lr ')[0]);
    // Early stopping runs data-parallel too.
    const es = cli(['train', '--dataset', 'spirals', '--epochs', '60', '--lr', '0.3', '--hidden', '16', '--patience', '2', '--threads', '2']);
    expect(es.code, es.err).toBe(0);
    expect(es.out).toMatch(/early stopping after epoch \d+; best epoch \d+/);
    // Two classes: accuracy, and no top-k columns.
    for (const l of es.out.split('\n').filter((x) => x.startsWith('epoch '))) expect(l).toMatch(/loss [\d.]+ [\d.]+% {2}val_loss [\d.]+ [\d.]+% {2}lr /);
  });

  it('prints MAE and RMSE for a regression CSV, per epoch and on the test set', () => {
    const csv = join(work, 'regression.csv');
    const rows = ['a,b,y'];
    // A fixed smooth function of two inputs, on a grid: no randomness needed.
    for (let i = 0; i < 300; i++) {
      const a = ((i * 37) % 101) / 50 - 1;
      const b = ((i * 53) % 97) / 48 - 1;
      rows.push(`${a},${b},${(2 * a - b + a * b).toFixed(5)}`);
    }
    writeFileSync(csv, rows.join('\n'));
    const r = cli(['train', '--dataset', csv, '--task', 'regression', '--hidden', '16', '--epochs', '2', '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    const epochs = r.out.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochs).toHaveLength(2);
    for (const l of epochs) {
      const m = /loss (\d+\.\d{4}) mae (\d+\.\d{4}) rmse (\d+\.\d{4}) {2}val_loss (\d+\.\d{4}) mae (\d+\.\d{4}) rmse (\d+\.\d{4}) {2}lr /.exec(l);
      expect(m, l).not.toBeNull();
      const [loss, , rmse, vLoss, vMae, vRmse] = m!.slice(1).map(Number) as [number, number, number, number, number, number];
      // RMSE is the root of the mse loss (to the printed digits); MAE never exceeds it.
      expect(rmse).toBeCloseTo(Math.sqrt(loss), 2);
      expect(vRmse).toBeCloseTo(Math.sqrt(vLoss), 2);
      expect(vMae).toBeLessThanOrEqual(vRmse);
      expect(l).not.toContain('%');
    }
    expect(r.out).toMatch(/test: loss \d+\.\d{4} {2}mae \d+\.\d{4} {2}rmse \d+\.\d{4} on \d+ examples/);
    const zero = cli(['train', '--dataset', csv, '--task', 'regression', '--label', '0']);
    expect(zero.code).not.toBe(0);
    expect(zero.err).toContain('--label: columns count from 1 (-1 is the last)');
  });

  it.each([
    [['train', '--dataset', 'imagenet'], 'neither a built-in dataset'],
    [['train', '--epochs', 'many'], '--epochs: "many" is not a number'],
    [['train', '--lr', '1e400'], '--lr: "1e400" is not a finite number'],
    [['train', '--model', '/nonexistent/model.json'], '--model: cannot read /nonexistent/model.json: '],
    [['train', '--model', new URL('../README.md', import.meta.url).pathname], 'is not valid JSON: '],
    [['train', '--dataset', 'spirals', '--optimizer', 'lamb'], "--optimizer: Invalid discriminator value. Expected 'sgd' | 'adam' | 'adamw' | 'rmsprop'"],
    [['train', '--bogus'], "Unknown option '--bogus'"],
    [['train', '--scaling', 'minmax'], '--scaling: "minmax" is not one of standardize, unit, none'],
    [['train', '--schedule', 'linear'], '--schedule: "linear" is not one of constant, cosine'],
    [['train', '--init', 'orthogonal'], '--init: "orthogonal" is not one of'],
    [['train', '--dataset', 'spirals', '--scaling', 'unit'], 'unit (x/255) is for images'],
    [['train', '--dataset', 'spirals', '--lr', '1e-40'], '--lr: must be in [1e-12, 100]'],
    [['fly'], 'unknown command "fly"'],
  ])('fails clearly on bad input %j', (args, text) => {
    const r = cli(args);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(text);
  });

  // The CSV does not exist: each error names its flag before any dataset is read.
  it.each([
    [['--microbatches', '0'], '--microbatches: must be an integer in [1, 64], got 0'],
    [['--batch-size', '8', '--microbatches', '16'], '--microbatches: must be an integer in [1, 8], got 16'],
    [['--threads', '1000'], '--threads: must be an integer in [1, 256], got 1000'],
    [['--threads', '1.5'], '--threads: must be an integer in [1, 256], got 1.5'],
    [['--epochs', '0'], '--epochs: must be an integer in [1, 100000], got 0'],
    [['--batch-size', '100000'], '--batch-size: must be an integer in [1, 65536], got 100000'],
    [['--patience', '0'], '--patience: must be an integer in [1, 100000], got 0'],
    [['--clip-norm', '0'], '--clip-norm: must be a number in [1e-6, 1e9], got 0'],
    [['--optimizer', 'rmsprop', '--epsilon', '0'], '--epsilon: must be in [1e-12, 10]'],
    [['--seed', '1e300'], '--seed: must be a safe integer'],
    [['--activation', 'swish'], '--activation: "swish": Invalid option: expected one of'],
    [['--dropout', '1'], '--dropout: "1": must be in [0, 1)'],
    [['--hidden', '64,0'], '--hidden: "0": Too small'],
    [['--dataset', 'mnist', '--limit', '50'], '--limit: validation of 5 examples cannot hold one of each of the 10 classes'],
    [['--dataset', 'mnist', '--limit', '500', '--validation-split', '0.01'], '--validation-split: validation of 5 examples cannot hold one of each of the 10 classes'],
  ])('refuses %j before loading the dataset, naming the flag', async (args, text) => {
    // In process (the refusal comes before any output); the exit code is checked once below.
    await expect(runTrain(['--dataset', join(work, 'absent.csv'), ...args])).rejects.toThrow(text);
  });

  it('exits 1 on such a refusal, printing only the error', () => {
    const r = cli(['train', '--dataset', join(work, 'absent.csv'), '--microbatches', '0']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: --microbatches: must be an integer in [1, 64], got 0\n');
    expect(r.out).toBe('');
  });

  it('trains the example CNN (--model apps/cli/examples/mnist-cnn.json)', () => {
    const spec = new URL('../examples/mnist-cnn.json', import.meta.url).pathname;
    const r = cli(['train', '--model', spec, '--limit', '1000', '--epochs', '2', '--batch-size', '32', '--threads', '2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model: 105,866 parameters; 2 replica threads/);
    const losses = [...r.out.matchAll(/^epoch \d\/2 {2}loss (\d+\.\d{4})/gm)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(2);
    expect(losses[1]).toBeLessThan(losses[0]!);
    const accuracy = /test: loss [\d.]+ {2}accuracy (\d+\.\d\d)%/.exec(r.out);
    expect(Number(accuracy?.[1])).toBeGreaterThan(70);
  });

  it('refuses a bad conv spec as a submission would: the field named, exit 2, before loading data', () => {
    const spec = join(work, 'bad-cnn.json');
    writeFileSync(spec, JSON.stringify({ inputShape: [28, 28], layers: [{ type: 'reshape', targetShape: [28, 28, 1] }, { type: 'conv2d', filters: 4, kernelSize: 30 }, { type: 'max_pool2d', strides: 0 }, { type: 'flatten' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' }));
    const r = cli(['train', '--model', spec]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('error [invalid_request]: invalid model spec\n  model.layers[2].strides: ');
    const flat = join(work, 'pool-over-dense.json');
    writeFileSync(flat, JSON.stringify({ inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 8 }, { type: 'max_pool2d' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' }));
    const p = cli(['train', '--model', flat]);
    expect(p.code).toBe(2);
    expect(p.err).toContain('  model.layers[2]: max_pool2d expects an [height, width, channels] input but receives the flat shape [8]');
    const big = join(work, 'big-kernel.json');
    writeFileSync(big, JSON.stringify({ inputShape: [28, 28], layers: [{ type: 'reshape', targetShape: [28, 28, 1] }, { type: 'conv2d', filters: 4, kernelSize: 30 }, { type: 'flatten' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' }));
    const b = cli(['train', '--model', big]);
    expect(b.code).toBe(2);
    expect(b.err).toContain('  model.layers[1].kernelSize: the kernel 30×30 is larger than the input 28×28 with padding "valid"');
  });
});
