// A drawn digit → the 28×28 input MNIST models were trained on: crop to the ink, scale the longer
// side to 20 px keeping the aspect ratio, and centre by centre of mass in a 28×28 frame (the
// preprocessing of the original MNIST set). Values are 0..255 ink, as in the IDX files.

export const MNIST_SIDE = 28;
const INNER = 20;

/**
 * `ink` is one value per pixel of a width × height drawing (0 = blank, 255 = full ink), e.g. the
 * alpha channel of a canvas. Returns 784 values in 0..255, all zero for a blank drawing.
 */
export function toMnistPixels(ink: ArrayLike<number>, width: number, height: number): Float32Array {
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  let minX = width, minY = height, maxX = -1, maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! > 0) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return out;
  const boxW = maxX - minX + 1;
  const boxH = maxY - minY + 1;
  const scale = INNER / Math.max(boxW, boxH);
  const w = Math.max(1, Math.round(boxW * scale));
  const h = Math.max(1, Math.round(boxH * scale));

  // Area-average the box into w × h.
  const small = new Float32Array(w * h);
  for (let ty = 0; ty < h; ty++) {
    const y0 = minY + (ty * boxH) / h;
    const y1 = minY + ((ty + 1) * boxH) / h;
    for (let tx = 0; tx < w; tx++) {
      const x0 = minX + (tx * boxW) / w;
      const x1 = minX + ((tx + 1) * boxW) / w;
      let sum = 0;
      let area = 0;
      for (let sy = Math.floor(y0); sy < Math.ceil(y1); sy++) {
        const cy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        for (let sx = Math.floor(x0); sx < Math.ceil(x1); sx++) {
          const cx = Math.min(x1, sx + 1) - Math.max(x0, sx);
          sum += ink[sy * width + sx]! * cx * cy;
          area += cx * cy;
        }
      }
      small[ty * w + tx] = area > 0 ? sum / area : 0;
    }
  }

  // Centre of mass → the frame's centre.
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = small[y * w + x]!;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const offX = Math.round(MNIST_SIDE / 2 - (mass > 0 ? mx / mass : w / 2));
  const offY = Math.round(MNIST_SIDE / 2 - (mass > 0 ? my / mass : h / 2));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const X = x + offX;
      const Y = y + offY;
      if (X >= 0 && X < MNIST_SIDE && Y >= 0 && Y < MNIST_SIDE) out[Y * MNIST_SIDE + X] = Math.min(255, small[y * w + x]!);
    }
  }
  return out;
}

/** Class indices sorted by probability, most probable first. */
export function rankClasses(probabilities: ArrayLike<number>): number[] {
  return Array.from({ length: probabilities.length }, (_, i) => i).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
}

/** base64 → bytes (the export's weights.bin). */
export function base64ToBytes(b64: string): Uint8Array {
  const binary = atob(b64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
