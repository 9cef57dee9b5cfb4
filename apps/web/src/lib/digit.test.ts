import { describe, expect, it } from 'vitest';
import { MNIST_SIDE, base64ToBytes, rankClasses, toMnistPixels } from './digit.ts';

function drawing(width: number, height: number, paint: (x: number, y: number) => boolean): Uint8ClampedArray {
  const ink = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (paint(x, y)) ink[y * width + x] = 255;
  return ink;
}

describe('toMnistPixels', () => {
  it('is all zero for a blank drawing', () => {
    const out = toMnistPixels(new Uint8ClampedArray(280 * 280), 280, 280);
    expect(out).toHaveLength(784);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('fits the ink into a 20-pixel box centred by mass', () => {
    // A vertical bar in the top-left corner of a 280×280 canvas.
    const out = toMnistPixels(drawing(280, 280, (x, y) => x >= 10 && x < 50 && y >= 10 && y < 210), 280, 280);
    let mass = 0, mx = 0, my = 0, maxV = 0;
    const rowsWithInk = new Set<number>();
    for (let y = 0; y < MNIST_SIDE; y++) for (let x = 0; x < MNIST_SIDE; x++) {
      const v = out[y * MNIST_SIDE + x]!;
      mass += v; mx += v * (x + 0.5); my += v * (y + 0.5); maxV = Math.max(maxV, v);
      if (v > 0) rowsWithInk.add(y);
    }
    expect(maxV).toBeLessThanOrEqual(255);
    expect(maxV).toBeGreaterThan(200);
    expect(rowsWithInk.size).toBe(20);
    expect(mx / mass).toBeCloseTo(14, 0);
    expect(my / mass).toBeCloseTo(14, 0);
  });
});

describe('helpers', () => {
  it('ranks classes by probability', () => {
    expect(rankClasses([0.1, 0.6, 0.3])).toEqual([1, 2, 0]);
  });
  it('decodes base64', () => {
    expect(Array.from(base64ToBytes('AAEC/w=='))).toEqual([0, 1, 2, 255]);
  });
});
