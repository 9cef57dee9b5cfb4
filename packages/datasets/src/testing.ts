// Test helpers (package entry "@hypersweep/datasets/testing"): small learnable image datasets written
// as IDX files, the way users upload Fashion-MNIST or KMNIST, for tests of the upload path end to end.
import { encodeIdx } from './idx.ts';
import { streamRng } from './random.ts';

export interface SyntheticIdxOptions {
  count: number;
  height: number;
  width: number;
  /** Omitted: a rank-3 file [N, H, W]. Given: a rank-4 file [N, H, W, C]. */
  channels?: 1 | 3;
  numClasses: number;
  seed?: number;
  /** The first label (EMNIST letters start at 1): labels are firstLabel .. firstLabel + numClasses - 1. */
  firstLabel?: number;
}

/**
 * Images whose class is a bright horizontal band (class c lights rows where row·numClasses/height == c)
 * over noise, so a small dense model learns them in an epoch or two; labels cycle through the classes.
 */
export function syntheticIdxImages(options: SyntheticIdxOptions): { images: Uint8Array; labels: Uint8Array; pixels: Uint8Array; classes: Uint8Array } {
  const { count, height, width, numClasses } = options;
  const channels = options.channels ?? 1;
  const rng = streamRng(options.seed ?? 1, 'synthetic-idx');
  const pixels = new Uint8Array(count * height * width * channels);
  const classes = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const c = n % numClasses;
    classes[n] = c + (options.firstLabel ?? 0);
    for (let y = 0; y < height; y++) {
      const lit = Math.floor((y * numClasses) / height) === c;
      for (let x = 0; x < width * channels; x++) {
        const noise = rng.int(60);
        pixels[((n * height + y) * width) * channels + x] = lit ? 195 + noise : noise;
      }
    }
  }
  const dims = options.channels === undefined ? [count, height, width] : [count, height, width, channels];
  return { images: encodeIdx(dims, pixels), labels: encodeIdx([count], classes), pixels, classes };
}
