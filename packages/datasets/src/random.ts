// A small seeded PRNG (mulberry32) for shuffles, splits and synthetic data: every draw is a
// pure function of the seed, so a dataset built with a seed is the same on every machine.
import { DatasetError } from './errors.ts';

/** Finaliser of MurmurHash3: a bijective 32-bit mix, so nearby seeds give unrelated streams. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Checks a user seed; any safe integer (negative too) is accepted. */
export function assertSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed)) {
    throw new DatasetError('INVALID_OPTION', `${what} must be a safe integer, got ${String(seed)}`);
  }
}

/**
 * The 32-bit state of a named sub-stream of a seed, e.g. deriveSeed(seed, 'validation').
 * Sub-streams keep independent draws independent: limiting the test set never changes
 * which training examples go to validation.
 */
export function deriveSeed(seed: number, label: string): number {
  assertSeed(seed);
  const lo = seed >>> 0;
  // Math.floor keeps the high word of negative seeds distinct from positive ones.
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = fmix32(lo ^ 0x9e3779b9) ^ fmix32(hi + 0x632be5ab);
  for (let i = 0; i < label.length; i++) {
    h = fmix32((h ^ label.charCodeAt(i)) + 0x9e3779b9);
  }
  return h >>> 0;
}

export class SeededRandom {
  private state: number;

  /** `state` is a 32-bit value, normally from deriveSeed. */
  constructor(state: number) {
    this.state = state >>> 0;
  }

  static fromSeed(seed: number, label: string): SeededRandom {
    return new SeededRandom(deriveSeed(seed, label));
  }

  /** mulberry32: a uniform uint32. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`nextInt bound must be in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal draw (Box–Muller; the second value is discarded to keep the state simple). */
  nextNormal(): number {
    // 1 - u keeps the log argument in (0, 1].
    const u = 1 - this.nextFloat();
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}
