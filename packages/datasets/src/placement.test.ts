// Tests of placing dataset splits into a shared WebAssembly.Memory and reading them back from another thread.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { DataSplit } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { datasetBytes, placeDataset, placedDatasetBytes, placeSplit, splitView } from './placement.ts';
import { twoSpirals } from './spirals.ts';

const PAGE = 65536;

function sharedMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

const u8Split: DataSplit = {
  count: 3,
  features: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]), // 3 × 5 bytes: labels need padding
  labels: Int32Array.from([7, -1, 2]),
};

describe('placeSplit', () => {
  it('copies uint8 features and int32 labels, aligning labels to 4 bytes', () => {
    const memory = sharedMemory(1);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    new Uint8Array(memory.buffer).fill(0xaa);
    const p = placeSplit(memory.buffer, 64, u8Split);
    expect(p).toMatchObject({ featuresPtr: 64, labelsPtr: 80, count: 3, byteLength: 28, featureType: 'u8', labelType: 'i32' });
    expect(datasetBytes(u8Split)).toBe(28);
    const bytes = new Uint8Array(memory.buffer);
    expect(Array.from(bytes.subarray(64, 79))).toEqual(Array.from(u8Split.features));
    expect(bytes[79]).toBe(0); // padding is zeroed
    expect(Array.from(new Int32Array(memory.buffer, 80, 3))).toEqual([7, -1, 2]);
    expect(bytes[63]).toBe(0xaa); // nothing written before the region...
    expect(bytes[92]).toBe(0xaa); // ...or after it
    const view = splitView(memory.buffer, p);
    expect(Array.from(view.features)).toEqual(Array.from(u8Split.features));
    expect(Array.from(view.labels)).toEqual([7, -1, 2]);
  });

  it('copies float32 features and regression labels bit-exactly', () => {
    const split: DataSplit = { count: 2, features: Float32Array.from([0.1, -2.5, 3e-8, Math.PI]), labels: Float32Array.from([1.5, -0.25]) };
    const memory = sharedMemory(1);
    const p = placeSplit(memory.buffer, 8, split);
    expect(p).toMatchObject({ featuresPtr: 8, labelsPtr: 24, byteLength: 24, featureType: 'f32', labelType: 'f32' });
    const view = splitView(memory.buffer, p);
    expect(view.features).toBeInstanceOf(Float32Array);
    expect(Array.from(view.features)).toEqual(Array.from(split.features));
    expect(Array.from(view.labels)).toEqual(Array.from(split.labels));
  });

  it('copies from typed arrays that are views into a larger buffer', () => {
    const backing = new Uint8Array(32).map((_, i) => i);
    const split: DataSplit = { count: 2, features: backing.subarray(10, 14), labels: new Int32Array(backing.buffer, 16, 2) };
    const memory = sharedMemory(1);
    const view = splitView(memory.buffer, placeSplit(memory.buffer, 0, split));
    expect(Array.from(view.features)).toEqual([10, 11, 12, 13]);
    expect(Array.from(view.labels)).toEqual(Array.from(new Int32Array(backing.buffer, 16, 2)));
  });

  it('refuses misaligned offsets and regions past the end', () => {
    const memory = sharedMemory(1);
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return error instanceof DatasetError ? error.code : String(error);
      }
      return undefined;
    };
    expect(code(() => placeSplit(memory.buffer, 2, u8Split))).toBe('PLACEMENT_OUT_OF_BOUNDS');
    expect(code(() => placeSplit(memory.buffer, PAGE - 24, u8Split))).toBe('PLACEMENT_OUT_OF_BOUNDS');
    expect(code(() => placeSplit(memory.buffer, PAGE - 28, u8Split))).toBeUndefined();
  });
});

describe('placeDataset', () => {
  it('places all three splits back to back and a worker thread reads them from the shared memory', async () => {
    const d = twoSpirals({ count: 300, seed: 5 });
    const needed = placedDatasetBytes(d);
    const memory = sharedMemory(Math.ceil((needed + 1024) / PAGE));
    const placement = placeDataset(memory.buffer, 1024, d);
    expect(placement.byteLength).toBe(needed);
    expect(placement.validation.featuresPtr).toBe(placement.train.featuresPtr + placement.train.byteLength);
    expect(placement.test.featuresPtr + placement.test.byteLength).toBe(1024 + needed);

    // The worker sums features and labels through its own views of the same memory.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { memory, p } = workerData;
      const f = new Float32Array(memory.buffer, p.featuresPtr, p.featuresLength);
      const l = new Int32Array(memory.buffer, p.labelsPtr, p.labelsLength);
      let fs = 0; for (const v of f) fs += v;
      let ls = 0; for (const v of l) ls += v;
      parentPort.postMessage({ fs, ls, shared: memory.buffer instanceof SharedArrayBuffer });
    `;
    const worker = new Worker(source, { eval: true, workerData: { memory, p: placement.validation } });
    const result = await new Promise<{ fs: number; ls: number; shared: boolean }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    let fs = 0;
    for (const v of d.validation.features) fs += v;
    let ls = 0;
    for (const v of d.validation.labels) ls += v;
    expect(result).toEqual({ fs, ls, shared: true });
  });

  it('refuses a dataset that does not fit', () => {
    const d = twoSpirals({ count: 20000, seed: 5 });
    expect(() => placeDataset(sharedMemory(1).buffer, 0, d)).toThrow(/needs \d+ bytes/);
  });
});
