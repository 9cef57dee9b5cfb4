// A scrambled Sobol sequence (Joe & Kuo direction numbers, linear matrix scrambling and a digital
// shift drawn from the seed), addressable by index so trial n always gets point n.
import { Rng } from '@hypersweep/nn';

/**
 * Joe & Kuo (2008) "new-joe-kuo-6.21201", dimensions 2..45, each as `s a m_1 … m_s` (degree of
 * the primitive polynomial, its coefficients, initial direction numbers). Dimension 1 is van der
 * Corput and needs none.
 */
const JOE_KUO =
  '1 0 1|2 1 1 3|3 1 1 3 1|3 2 1 1 1|4 1 1 1 3 3|4 4 1 3 5 13|5 2 1 1 5 5 17|5 4 1 1 5 5 5|5 7 1 1 7 11 19|' +
  '5 11 1 1 5 1 1|5 13 1 1 1 3 11|5 14 1 3 5 5 31|6 1 1 3 3 9 7 49|6 13 1 1 1 15 21 21|6 16 1 3 1 13 27 49|' +
  '6 19 1 1 1 15 7 5|6 22 1 3 1 15 13 25|6 25 1 1 5 5 19 61|7 1 1 3 7 11 23 15 103|7 4 1 3 7 13 13 15 69|' +
  '7 7 1 1 3 13 7 35 63|7 8 1 3 5 9 1 25 53|7 14 1 3 1 13 9 35 107|7 19 1 3 1 5 27 61 31|7 21 1 1 5 11 19 41 61|' +
  '7 28 1 3 5 3 3 13 69|7 31 1 1 7 13 1 19 1|7 32 1 3 7 5 13 19 59|7 37 1 1 3 9 25 29 41|7 41 1 3 5 13 23 1 55|' +
  '7 42 1 3 7 3 13 59 17|7 50 1 3 1 3 5 53 69|7 55 1 1 5 5 23 33 13|7 56 1 1 7 7 1 61 123|7 59 1 1 7 9 13 61 49|' +
  '7 62 1 3 3 5 3 55 33|8 14 1 3 1 15 31 13 49 245|8 21 1 3 5 15 31 59 63 97|8 22 1 3 1 11 11 11 77 249|' +
  '8 38 1 3 1 11 27 43 71 9|8 47 1 1 7 15 21 11 81 45|8 49 1 3 7 3 25 31 65 79|8 50 1 3 1 1 19 11 3 205|' +
  '8 52 1 1 5 9 19 21 29 157';

const BITS = 32;

/** Direction numbers of one dimension as 32-bit integers (bit 31 is the first binary digit). */
function directionNumbers(dim: number): Uint32Array {
  const v = new Uint32Array(BITS);
  if (dim === 0) {
    for (let k = 0; k < BITS; k++) v[k] = (1 << (BITS - 1 - k)) >>> 0;
    return v;
  }
  const row = JOE_KUO.split('|')[dim - 1]!.split(' ').map(Number);
  const [s, a, ...m] = row as [number, number, ...number[]];
  for (let k = 0; k < Math.min(s, BITS); k++) v[k] = (m[k]! << (BITS - 1 - k)) >>> 0;
  for (let k = s; k < BITS; k++) {
    let x = v[k - s]! ^ (v[k - s]! >>> s);
    for (let j = 1; j < s; j++) if ((a >>> (s - 1 - j)) & 1) x ^= v[k - j]!;
    v[k] = x >>> 0;
  }
  return v;
}

function parity(x: number): number {
  let y = x ^ (x >>> 16);
  y ^= y >>> 8;
  y ^= y >>> 4;
  y ^= y >>> 2;
  y ^= y >>> 1;
  return y & 1;
}

/**
 * Linear matrix scrambling (as SciPy's `scramble=True`): a random lower-triangular binary matrix
 * with a unit diagonal mixes each digit with the digits above it, keeping the net structure.
 */
function scramble(v: Uint32Array, rng: Rng): Uint32Array {
  const rows = new Uint32Array(BITS);
  for (let r = 0; r < BITS; r++) {
    // Row r acts on digit r (bit 31 − r) and may mix in digits 0..r−1 (the higher bits).
    const higher = r === 0 ? 0 : (rng.nextU32() & ~((1 << (BITS - r)) - 1)) >>> 0;
    rows[r] = (higher | (1 << (BITS - 1 - r))) >>> 0;
  }
  const out = new Uint32Array(BITS);
  for (let k = 0; k < BITS; k++) {
    let x = 0;
    for (let r = 0; r < BITS; r++) if (parity(v[k]! & rows[r]!)) x |= 1 << (BITS - 1 - r);
    out[k] = x >>> 0;
  }
  return out;
}

export const SOBOL_MAX_DIMENSIONS = JOE_KUO.split('|').length + 1;

export class SobolSequence {
  private readonly directions: Uint32Array[] = [];
  private readonly shifts: Uint32Array;

  /** `dimensions` ≤ SOBOL_MAX_DIMENSIONS; the seed picks the scrambling and the shift. */
  constructor(readonly dimensions: number, seed: number | string) {
    if (dimensions > SOBOL_MAX_DIMENSIONS) throw new RangeError(`Sobol supports ${SOBOL_MAX_DIMENSIONS} dimensions, asked for ${dimensions}`);
    const rng = Rng.fromSeed(seed).split('sobol');
    this.shifts = new Uint32Array(dimensions);
    for (let d = 0; d < dimensions; d++) {
      const dimRng = rng.split(d);
      this.directions.push(scramble(directionNumbers(d), dimRng));
      this.shifts[d] = dimRng.nextU32();
    }
  }

  /** Coordinate `dim` of point `index` (0 ≤ index < 2^32), in [0, 1). */
  point(index: number, dim: number): number {
    const v = this.directions[dim]!;
    let x = this.shifts[dim]!;
    // The point is the XOR of the direction numbers of index's set bits (natural order, not Gray code).
    let i = index;
    for (let k = 0; i > 0; k++, i = Math.floor(i / 2)) if (i % 2 === 1) x ^= v[k]!;
    return (x >>> 0) / 4294967296;
  }
}
