// checkTrainable: sweeps whose trials could never train are refused at submission, naming the field.
import { builtinDatasets } from '@hypersweep/datasets';
import { planBytes } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { mnistTpeAshaSweep } from './fixtures.ts';
import { CreateSweepRequest } from './sweep.ts';
import { checkTrainable, type DatasetFacts } from './trainable.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const GiB = 2 ** 30;
const LIMITS = { maxPlanBytes: 2 * GiB, threads: 8 };

const registry = (id: 'mnist' | 'spirals'): DatasetFacts => {
  const d = builtinDatasets.find((b) => b.id === id)!;
  return { name: d.id, task: 'classification', featureShape: d.featureShape, numClasses: d.numClasses, featureBytes: id === 'mnist' ? 1 : 4, sizes: d.sizes };
};
const MNIST = registry('mnist');
const SPIRALS = registry('spirals');

function request(edit: (r: Json) => void = () => {}) {
  const r = structuredClone(mnistTpeAshaSweep()) as Json;
  edit(r);
  return CreateSweepRequest.parse(r);
}

describe('checkTrainable: the model against its dataset', () => {
  it('accepts the acceptance sweep on MNIST', () => {
    expect(checkTrainable(request(), MNIST, LIMITS)).toEqual([]);
  });

  it('names the input shape, the output layer and the loss, with nn’s own messages', () => {
    expect(checkTrainable(request(), SPIRALS, LIMITS)).toEqual([
      { path: 'model.inputShape', message: 'the model takes [28, 28] (784 features) but dataset "spirals" has [2] (2)' },
      { path: 'model.layers[3].units', message: 'the output layer has 10 units but dataset "spirals" has 2 classes' },
    ]);
    const flat = request((r) => {
      r.model.inputShape = [784];
      r.model.layers.shift();
    });
    expect(checkTrainable(flat, MNIST, LIMITS)).toEqual([{ path: 'model.inputShape', message: 'the model takes [784] but dataset "mnist" has [28, 28]' }]);
    const regression: DatasetFacts = { name: 'prices', task: 'regression', featureShape: [784], numClasses: null, targetDim: 1, featureBytes: 4, sizes: { train: 100, test: 10 } };
    expect(checkTrainable(flat, regression, LIMITS).map((d) => d.path)).toEqual(['model.loss']);
    const mse = request((r) => {
      r.model.inputShape = [784];
      r.model.layers.shift();
      r.model.loss = 'mse';
      r.objective = { metric: 'val_loss' };
    });
    expect(checkTrainable(mse, regression, LIMITS)).toEqual([{ path: 'model.layers[2].units', message: 'the output layer has 10 units but dataset "prices" has 1 targets' }]);
    expect(checkTrainable(mse, { ...MNIST, featureShape: [784] }, LIMITS).map((d) => d.path)).toEqual(['model.loss']);
  });
});

describe('checkTrainable: the memory plan of the largest trial', () => {
  const twoHidden = (r: Json) => r.model.layers.splice(3, 0, { type: 'dense', units: 64, activation: 'relu' });

  it('plans the largest corner: the widest hidden, the largest batch per microbatch count, the optimizer with most state', () => {
    const req = request((r) => {
      twoHidden(r);
      r.search.space.hidden = { type: 'int', low: 16, high: 2048 };
    });
    // adam (2 state slots) beats sgd with momentum (1); batch 128 (4 microbatches of 32 rows) beats 32 and 64.
    const biggest = planBytes({ model: { ...req.model, layers: req.model.layers.map((l, i) => (l.type === 'dense' && i < 4 ? { ...l, units: 2048 } : l)) }, optimizer: { type: 'adam', learningRate: 1e-3 }, batchSize: 128, threads: 8, dataset: { featureShape: [28, 28], featureBytes: 1, train: 60_000, validation: 0, test: 10_000 } });
    expect(checkTrainable(req, MNIST, { maxPlanBytes: biggest.bytes, threads: 8 })).toEqual([]);
    const [detail] = checkTrainable(req, MNIST, { maxPlanBytes: biggest.bytes - 1, threads: 8 });
    expect(detail).toMatchObject({ path: 'search.space.hidden.high' });
    expect(detail!.message).toMatch(/^the largest trial \(hidden=2048, batchSize=128, optimizer=adam\) needs .* on 8 replica threads/);
  });

  it('names the hidden range, a batch-size choice, a model layer or training.batchSize: whatever makes it too big', () => {
    const hidden = request((r) => {
      twoHidden(r);
      r.search.space.hidden = { type: 'intlog', low: 8, high: 16_384 };
    });
    expect(checkTrainable(hidden, MNIST, LIMITS).map((d) => d.path)).toEqual(['search.space.hidden.high']);
    const batch = request((r) => {
      r.model.layers[1].units = 1024;
      r.search.space.batchSize = { type: 'categorical', choices: [32, 65_536, 64] };
    });
    expect(checkTrainable(batch, MNIST, LIMITS).map((d) => d.path)).toEqual(['search.space.batchSize.choices[1]']);
    const layer = request((r) => {
      r.model.layers[1].units = 16_384;
      r.model.layers.splice(3, 0, { type: 'dense', units: 16_384 });
    });
    const [wide] = checkTrainable(layer, MNIST, LIMITS);
    expect(wide!.path).toBe('model.layers[3].units');
    expect(wide!.message).toContain("more than WebAssembly's 4 GiB");
    const base = request((r) => {
      r.model.layers[1].units = 4096;
      delete r.search.space.batchSize;
      r.training.batchSize = 65_536;
    });
    expect(checkTrainable(base, MNIST, LIMITS).map((d) => d.path)).toEqual(['training.batchSize']);
  });

  it('plans a range of batch sizes below each microbatch threshold too (63 rows per microbatch beat 64 split in 4)', () => {
    // Activations dominate: a batch of 63 runs in 2 microbatches of 32 rows, 64 in 4 of 16.
    const req = request((r) => {
      r.model.layers[1].units = 8192;
      r.search.space.batchSize = { type: 'int', low: 40, high: 64 };
      r.search.space.optimizer = { type: 'categorical', choices: ['sgd'] };
    });
    const at = (batchSize: number) => planBytes({ model: req.model, optimizer: { type: 'sgd', learningRate: 1e-3 }, batchSize, threads: 64, dataset: { featureShape: [28, 28], featureBytes: 1, train: 60_000, validation: 0, test: 10_000 } }).bytes;
    expect(at(63)).toBeGreaterThan(at(64));
    expect(checkTrainable(req, MNIST, { maxPlanBytes: at(63), threads: 64 })).toEqual([]);
    const [detail] = checkTrainable(req, MNIST, { maxPlanBytes: at(63) - 1, threads: 64 });
    expect(detail).toMatchObject({ path: 'search.space.batchSize.high', message: expect.stringContaining('batchSize=63') });
  });

  it('counts the dataset: a large upload with a small model can be what does not fit', () => {
    const small = request((r) => {
      r.model.inputShape = [1000];
      r.model.layers = [{ type: 'dense', units: 4 }, { type: 'dropout', rate: 0.1 }, { type: 'dense', units: 10 }];
    });
    const huge: DatasetFacts = { name: 'wide.csv', task: 'classification', featureShape: [1000], numClasses: 10, featureBytes: 4, sizes: { train: 600_000, test: 0 } };
    expect(checkTrainable(small, huge, LIMITS).map((d) => d.path)).toEqual(['dataset']);
  });
});
