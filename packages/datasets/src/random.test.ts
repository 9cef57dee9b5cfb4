// Tests of the loaders' seeds and streams: they are nn's Rng keyed by (seed, label), pure
// functions of both, independent across labels and seeds.
import { deriveKey, keyFromSeed, Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { deriveSeed, streamRng } from './random.ts';

const draws = (rng: Rng, n = 20): number[] => Array.from({ length: n }, () => rng.nextU32());

describe('streamRng', () => {
  it("is nn's Rng of the seed's child stream named by the label", () => {
    for (const [seed, label] of [[0, 'validation-split'], [42, 'x'], [-7, 'spirals-test'], [2 ** 40 + 3, 'csv-split']] as const) {
      expect(draws(streamRng(seed, label))).toEqual(draws(Rng.fromSeed(seed).split(label)));
      expect(streamRng(seed, label).key).toEqual(deriveKey(keyFromSeed(seed), label));
    }
  });

  it('is a pure function of seed and label, and different for another seed or label', () => {
    expect(draws(streamRng(42, 'x'))).toEqual(draws(streamRng(42, 'x')));
    const streams = [streamRng(42, 'x'), streamRng(43, 'x'), streamRng(42, 'y'), streamRng(-42, 'x'), streamRng(42 + 2 ** 32, 'x')].map((r) => draws(r).join());
    expect(new Set(streams).size).toBe(streams.length);
  });

  it('rejects seeds that are not safe integers with a DatasetError', () => {
    for (const seed of [1.5, Number.NaN, 2 ** 53]) {
      expect(() => streamRng(seed, 'x')).toThrow(DatasetError);
      expect(() => deriveSeed(seed, 'x')).toThrow(/safe integer/);
    }
  });
});

describe('deriveSeed', () => {
  it("is the first uint32 drawn from the label's stream", () => {
    for (const [seed, label] of [[0, 'trial-0'], [123, 'trial-17'], [-1, 'a'], [2 ** 32 + 5, 'trial-3']] as const) {
      const value = deriveSeed(seed, label);
      expect(value).toBe(Rng.fromSeed(seed).split(label).nextU32());
      expect(Number.isInteger(value) && value >= 0 && value < 2 ** 32).toBe(true);
    }
  });

  it('gives different seeds for different seeds, labels and negative seeds', () => {
    const seeds = [deriveSeed(1, 'a'), deriveSeed(2, 'a'), deriveSeed(1, 'b'), deriveSeed(-1, 'a'), deriveSeed(2 ** 32 + 1, 'a')];
    expect(new Set(seeds).size).toBe(seeds.length);
    const trials = Array.from({ length: 1000 }, (_, i) => deriveSeed(7, `trial-${i}`));
    expect(new Set(trials).size).toBe(trials.length);
  });
});
