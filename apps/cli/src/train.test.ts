// The README's run command, shortened: `hypersweep train` on an MNIST subset reaches ≥ 90% test accuracy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';

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
    expect(epochs[0]).toMatch(/loss \d+\.\d{4} \d+\.\d\d% {2}val_loss \d+\.\d{4} \d+\.\d\d% {2}lr 0\.00100 {2}[\d,]+ samples\/s/);
    const test = /test: loss [\d.]+ {2}accuracy ([\d.]+)% on 10000 examples/.exec(r.out);
    expect(test, r.out).not.toBeNull();
    expect(Number(test![1])).toBeGreaterThanOrEqual(90);
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

  it.each([
    [['train', '--dataset', 'imagenet'], 'neither a built-in dataset'],
    [['train', '--epochs', 'many'], '--epochs: "many" is not a number'],
    [['train', '--dataset', 'spirals', '--optimizer', 'lamb'], 'optimizer spec'],
    [['train', '--bogus'], "Unknown option '--bogus'"],
    [['fly'], 'unknown command "fly"'],
  ])('fails clearly on bad input %j', (args, text) => {
    const r = cli(args);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(text);
  });
});
