// Exact resume: 4 epochs straight equal 2 epochs + checkpoint (serialised, parsed) + 2 epochs, bit for bit.
import { describe, expect, it } from 'vitest';
import { parseCheckpoint, serializeCheckpoint } from '../src/checkpoint.ts';
import { NnError } from '../src/errors.ts';
import { TrainingSession, type TrainOptions } from '../src/train.ts';
import { blobs, quadrants } from './harness.ts';

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

// Timings are measurements, not results.
const strip = (h: readonly object[]) => h.map((m) => ({ ...m, seconds: 0, samplesPerSec: 0, stepTiming: null }));

describe('checkpoints', () => {
  it.each([
    ['adam + dropout, uint8', { type: 'adam', learningRate: 0.01 }],
    ['sgd nesterov + clipping', { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true }],
    ['rmsprop momentum', { type: 'rmsprop', learningRate: 0.003, momentum: 0.3 }],
  ])('resume is bitwise exact (%s)', async (_name, optimizer) => {
    const options: TrainOptions = {
      model: {
        inputShape: [8, 8],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 24, activation: 'elu' }, { type: 'dropout', rate: 0.3 }, { type: 'dense', units: 4 }],
        loss: 'softmax_cross_entropy',
      },
      optimizer,
      schedule: { type: 'cosine', warmupEpochs: 1 },
      dataset: quadrants({ count: 300, side: 8, seed: 9 }),
      epochs: 4,
      batchSize: 32,
      seed: 77,
      clipNorm: 1,
      earlyStopping: { patience: 10 },
    };
    const straight = await TrainingSession.create(options);
    await straight.fit();

    const first = await TrainingSession.create({ ...options, epochs: 4 });
    await first.runEpoch();
    await first.runEpoch();
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint());
    const resumed = await TrainingSession.create({ ...options, resumeFrom: parseCheckpoint(manifestJson, data.slice()) });
    expect(resumed.epoch).toBe(2);
    await resumed.fit();

    expect(bytes(resumed.paramsView())).toEqual(bytes(straight.paramsView()));
    expect(strip(resumed.history)).toEqual(strip(straight.history));
    expect(resumed.step).toBe(straight.step);
    const a = straight.checkpoint();
    const b = resumed.checkpoint();
    expect(b.data).toEqual(a.data); // optimizer state and best weights too
  });

  it('refuses a checkpoint of another model or dataset', async () => {
    const ds = blobs({ count: 60, dims: 4, classes: 2, seed: 1 });
    const base: TrainOptions = {
      model: { inputShape: [4], layers: [{ type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'adam' },
      dataset: ds,
      epochs: 2,
      batchSize: 8,
      seed: 1,
    };
    const s = await TrainingSession.create(base);
    await s.runEpoch();
    const ckpt = s.checkpoint();
    await expect(TrainingSession.create({ ...base, batchSize: 16, resumeFrom: ckpt })).rejects.toThrow('batchSize');
    await expect(
      TrainingSession.create({ ...base, dataset: blobs({ count: 61, dims: 4, classes: 2, seed: 1 }), resumeFrom: ckpt }),
    ).rejects.toThrow('training-set size');
    expect(() => parseCheckpoint('{"format":"other"}', new Uint8Array())).toThrow(NnError);
    expect(() => parseCheckpoint('not json', new Uint8Array())).toThrow('not JSON');
    const { manifestJson } = serializeCheckpoint(ckpt);
    const truncated = parseCheckpoint(manifestJson, ckpt.data.subarray(0, 10));
    await expect(TrainingSession.create({ ...base, resumeFrom: truncated })).rejects.toThrow('past the 10-byte buffer');
  });
});

describe('checkpoint specs compared by value', () => {
  it('resumes from a manifest whose keys were reordered (as a jsonb column returns them)', async () => {
    const ds = blobs({ count: 60, dims: 4, classes: 2, seed: 1 });
    const base: TrainOptions = {
      model: { inputShape: [4], layers: [{ type: 'dense', units: 3, activation: 'relu' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: ds,
      epochs: 2,
      batchSize: 8,
      seed: 1,
    };
    const s = await TrainingSession.create(base);
    await s.runEpoch();
    const ckpt = s.checkpoint();
    const reverse = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverse) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v;
    const manifest = reverse(ckpt.manifest) as typeof ckpt.manifest;
    expect(JSON.stringify(manifest.model)).not.toBe(JSON.stringify(ckpt.manifest.model));
    const resumed = await TrainingSession.create({ ...base, resumeFrom: { manifest, data: ckpt.data } });
    expect(resumed.epoch).toBe(1);
    // A manifest written before a field existed (its default then applies) still resumes the run.
    const { decayBiases: _omitted, ...older } = ckpt.manifest.optimizer as Record<string, unknown>;
    expect(_omitted).toBe(false);
    const olderRun = await TrainingSession.create({ ...base, resumeFrom: { manifest: { ...ckpt.manifest, optimizer: older }, data: ckpt.data } });
    expect(olderRun.epoch).toBe(1);
    // A real difference is still refused.
    const other = { ...manifest, optimizer: { ...(manifest.optimizer as object), learningRate: 0.02 } };
    await expect(TrainingSession.create({ ...base, resumeFrom: { manifest: other, data: ckpt.data } })).rejects.toThrow('checkpoint optimizer');
  });
});
