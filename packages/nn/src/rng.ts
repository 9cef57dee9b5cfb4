// Seeded, splittable random numbers: xoshiro128** streams keyed by a 64-bit key, so any
// draw is a pure function of (seed, path), never of the thread or the call order elsewhere.
import { lowbias32 } from './kernels/types.ts';

export type RngKey = readonly [number, number];
export interface RngState {
  key: [number, number];
  s: [number, number, number, number];
}

/** FNV-1a of a label, so string paths ("shuffle", "dropout") can name sub-streams. */
function labelHash(label: number | string): number {
  if (typeof label === 'number') {
    if (!Number.isInteger(label) || label < 0 || label > 0xffffffff) {
      throw new RangeError(`rng label must be a uint32 or a string, got ${label}`);
    }
    return label >>> 0;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Derives the key of a child stream; independent of how many draws the parent made. */
export function deriveKey(key: RngKey, label: number | string): RngKey {
  const l = labelHash(label);
  const a = lowbias32((key[0] ^ lowbias32((l + 0x9e3779b9) >>> 0)) >>> 0);
  const b = lowbias32((key[1] + lowbias32((l ^ 0x85ebca6b ^ a) >>> 0)) >>> 0);
  return [a, b];
}

/** The key of a user seed (any integer in the safe range, or a string). */
export function keyFromSeed(seed: number | string): RngKey {
  if (typeof seed === 'string') return deriveKey([0x6a09e667, 0xbb67ae85], seed);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return deriveKey([lowbias32(lo ^ 0x3c6ef372), lowbias32(hi ^ 0xa54ff53a)], 'seed');
}

export class Rng {
  readonly key: RngKey;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(key: RngKey, s: readonly [number, number, number, number]) {
    this.key = key;
    [this.s0, this.s1, this.s2, this.s3] = s;
  }

  static fromKey(key: RngKey): Rng {
    // SplitMix-style expansion of the key into a non-zero xoshiro state.
    const s: [number, number, number, number] = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      s[i] = lowbias32((key[i & 1]! + Math.imul(i + 1, 0x9e3779b9) + (i >> 1) * 0x632be5ab) >>> 0);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    return new Rng([key[0] >>> 0, key[1] >>> 0], s);
  }

  static fromSeed(seed: number | string): Rng {
    return Rng.fromKey(keyFromSeed(seed));
  }

  static fromState(state: RngState): Rng {
    if (state.s.every((w) => w === 0)) throw new RangeError('rng state must not be all zero');
    return new Rng(state.key, state.s.map((w) => w >>> 0) as [number, number, number, number]);
  }

  state(): RngState {
    return { key: [this.key[0], this.key[1]], s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** An independent child stream named by label (a pure function of this key and the label). */
  split(label: number | string): Rng {
    return Rng.fromKey(deriveKey(this.key, label));
  }

  /** Next uint32 (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 bits, exactly representable in float32. */
  float(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform in [0, 1) with 53 bits. */
  double(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.double();
  }

  /** Unbiased integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`int(n) needs 1 ≤ n ≤ 2^32, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal by Box–Muller (two draws per value, no cached state). */
  normal(): number {
    let u = this.double();
    while (u === 0) u = this.double();
    const v = this.double();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1 as Int32Array. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
