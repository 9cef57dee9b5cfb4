// Tests of the IDX parser on hand-made bytes (every dtype, every error) and on the real MNIST files.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { encodeIdx, parseIdx } from './idx.ts';
import { MNIST_FILE_NAMES, mnistDataDir } from './mnist.ts';

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function expectDatasetError(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).code).toBe(code);
    if (message) expect((error as DatasetError).message).toMatch(message);
    return;
  }
  throw new Error(`expected DatasetError ${code}, nothing was thrown`);
}

describe('parseIdx on hand-made bytes', () => {
  it('reads a u8 matrix', () => {
    const t = parseIdx(bytes(0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255));
    expect(t.dtype).toBe('u8');
    expect(t.dims).toEqual([2, 3]);
    expect(t.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 255]);
  });

  it('reads big-endian i8, i16, i32, f32 and f64', () => {
    const i8 = parseIdx(bytes(0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x7f));
    expect(i8.dtype).toBe('i8');
    expect(Array.from(i8.data)).toEqual([-1, 127]);

    const i16 = parseIdx(bytes(0, 0, 0x0b, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x00));
    expect(i16.data).toBeInstanceOf(Int16Array);
    expect(Array.from(i16.data)).toEqual([-2, 256]);

    const i32 = parseIdx(bytes(0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 1, 2, 0x80, 0, 0, 0));
    expect(i32.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i32.data)).toEqual([258, -2147483648]);

    const f32 = parseIdx(bytes(0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0));
    expect(f32.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f32.data)).toEqual([1.5]);

    const f64 = parseIdx(bytes(0, 0, 0x0e, 1, 0, 0, 0, 1, 0xbf, 0xe0, 0, 0, 0, 0, 0, 0));
    expect(f64.data).toBeInstanceOf(Float64Array);
    expect(Array.from(f64.data)).toEqual([-0.5]);
  });

  it('reads from a view that does not start at offset 0 of its buffer', () => {
    const backing = bytes(9, 9, 9, 0, 0, 0x0b, 1, 0, 0, 0, 1, 0x12, 0x34);
    expect(Array.from(parseIdx(backing.subarray(3)).data)).toEqual([0x1234]);
  });

  it('round-trips every dtype through encodeIdx', () => {
    const cases = [
      Uint8Array.from([0, 7, 255, 1]),
      Int8Array.from([-128, 0, 5, 127]),
      Int16Array.from([-32768, -1, 300, 32767]),
      Int32Array.from([-5, 0, 1 << 30, 123456]),
      Float32Array.from([-1.25, 0, 3.5, 1e-20]),
      Float64Array.from([Math.PI, -0, 1e300, -7]),
    ];
    for (const data of cases) {
      const t = parseIdx(encodeIdx([2, 2], data));
      expect(t.dims).toEqual([2, 2]);
      expect(t.data.constructor).toBe(data.constructor);
      expect(Array.from(t.data)).toEqual(Array.from(data));
    }
  });

  it('accepts an empty tensor', () => {
    const t = parseIdx(bytes(0, 0, 0x08, 1, 0, 0, 0, 0));
    expect(t.dims).toEqual([0]);
    expect(t.data.length).toBe(0);
  });

  it('rejects a bad magic number', () => {
    expectDatasetError(() => parseIdx(bytes(0x1f, 0x8b, 0x08, 1, 0, 0, 0, 0)), 'IDX_BAD_MAGIC', /0x1f 0x8b/);
  });

  it('rejects an unknown dtype byte', () => {
    expectDatasetError(() => parseIdx(bytes(0, 0, 0x0a, 1, 0, 0, 0, 0)), 'IDX_BAD_DTYPE', /0x0a/);
  });

  it('rejects truncated magic, header and data', () => {
    expectDatasetError(() => parseIdx(bytes(0, 0)), 'IDX_TRUNCATED', /magic/);
    expectDatasetError(() => parseIdx(bytes(0, 0, 0x08, 3, 0, 0, 0, 1)), 'IDX_TRUNCATED', /3 dimensions/);
    expectDatasetError(() => parseIdx(bytes(0, 0, 0x0b, 1, 0, 0, 0, 2, 0, 1, 0), 'x.idx'), 'IDX_TRUNCATED', /^x\.idx: .*\[2\] i16 \(12 bytes\).* 11 bytes/);
  });

  it('rejects trailing bytes as a size mismatch', () => {
    expectDatasetError(() => parseIdx(bytes(0, 0, 0x08, 1, 0, 0, 0, 1, 5, 6)), 'IDX_SIZE_MISMATCH', /1 trailing/);
  });

  it('refuses to encode data that does not match the dims', () => {
    expectDatasetError(() => encodeIdx([3], Uint8Array.from([1, 2])), 'IDX_SIZE_MISMATCH');
  });
});

describe('parseIdx on the real MNIST files', () => {
  const read = (name: string): Promise<Buffer> => readFile(join(mnistDataDir(), name));

  it('reads 60,000 training images of 28×28 and their labels (first label 5)', async () => {
    const images = parseIdx(await read(MNIST_FILE_NAMES.trainImages));
    const labels = parseIdx(await read(MNIST_FILE_NAMES.trainLabels));
    expect(images.dtype).toBe('u8');
    expect(images.dims).toEqual([60000, 28, 28]);
    expect(labels.dims).toEqual([60000]);
    expect(Array.from(labels.data.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    const seen = new Set(labels.data);
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The first image is a 5 drawn in the middle: its border row is blank, its centre is not.
    const first = images.data.subarray(0, 784);
    expect(first.subarray(0, 28).every((v) => v === 0)).toBe(true);
    expect(Array.from(first).filter((v) => v > 0).length).toBeGreaterThan(100);
  });

  it('reads 10,000 test images and labels (first label 7)', async () => {
    const images = parseIdx(await read(MNIST_FILE_NAMES.testImages));
    const labels = parseIdx(await read(MNIST_FILE_NAMES.testLabels));
    expect(images.dims).toEqual([10000, 28, 28]);
    expect(labels.dims).toEqual([10000]);
    expect(labels.data[0]).toBe(7);
  });

  it('reports a truncated real file', async () => {
    const labels = await read(MNIST_FILE_NAMES.testLabels);
    expectDatasetError(() => parseIdx(labels.subarray(0, labels.length - 1)), 'IDX_TRUNCATED', /\[10000\] u8/);
  });
});
