// Deterministic splits (stratified by class, or plain random for regression) and
// normalisation statistics that are computed from the training split only.
import { DatasetError } from './errors.ts';
import { assertSeed, streamRng } from './random.ts';

// ---------------------------------------------------------------------------------------
// Sizes

/** A hold-out given either as a fraction of the examples or as an exact count. */
export interface HoldoutSize {
  fraction?: number;
  count?: number;
}

/** Resolves a fraction-or-count hold-out of `total` examples to a count (fractions round to nearest). */
export function resolveHoldoutCount(total: number, size: HoldoutSize, what: string): number {
  if (size.fraction !== undefined && size.count !== undefined) {
    throw new DatasetError('INVALID_OPTION', `give ${what}Fraction or ${what}Count, not both`);
  }
  if (size.count !== undefined) {
    if (!Number.isInteger(size.count) || size.count < 0) {
      throw new DatasetError('INVALID_OPTION', `${what}Count must be a non-negative integer, got ${String(size.count)}`);
    }
    if (size.count >= total) {
      throw new DatasetError('SPLIT_TOO_SMALL', `${what}Count ${size.count} leaves no training examples out of ${total}`);
    }
    return size.count;
  }
  const fraction = size.fraction ?? 0;
  if (!Number.isFinite(fraction) || fraction < 0 || fraction >= 1) {
    throw new DatasetError('INVALID_OPTION', `${what}Fraction must be in [0, 1), got ${String(fraction)}`);
  }
  return Math.round(fraction * total);
}

// ---------------------------------------------------------------------------------------
// Partitions

export interface PartitionOptions {
  /** Same seed → same partition. */
  seed: number;
  /** Names the PRNG sub-stream, so two partitions of one seed are independent. */
  stream: string;
  /** Exact sizes of the hold-out parts, taken in this order; the remaining examples form `rest`. */
  holdouts: readonly number[];
  /** Part names for messages, e.g. ['test', 'validation'], and the rest's name, e.g. 'train'. */
  holdoutNames?: readonly string[];
  restName?: string;
}

export interface StratifiedPartitionOptions extends PartitionOptions {
  numClasses: number;
  /** Class names for messages; defaults to the class ids. */
  classNames?: readonly string[];
  /**
   * Whether `rest` must also hold every class (true for a training split, false when
   * drawing a subset and discarding the rest). Default true.
   */
  restNeedsEveryClass?: boolean;
}

/** Example indices of each part, ascending. */
export interface Partition {
  rest: Int32Array;
  holdouts: Int32Array[];
}

function partName(options: PartitionOptions, part: number): string {
  return options.holdoutNames?.[part] ?? `hold-out ${part + 1}`;
}

function checkHoldouts(total: number, options: PartitionOptions): void {
  assertSeed(options.seed);
  let sum = 0;
  options.holdouts.forEach((size, part) => {
    if (!Number.isInteger(size) || size < 0) {
      throw new DatasetError('INVALID_OPTION', `${partName(options, part)} size must be a non-negative integer, got ${size}`);
    }
    sum += size;
  });
  if (sum > total) {
    throw new DatasetError('SPLIT_TOO_SMALL', `hold-outs of ${sum} examples exceed the ${total} available`);
  }
}

/**
 * Splits [0, total) into hold-outs of exact sizes and a rest, uniformly at random (for
 * regression, where there are no classes to balance).
 */
export function randomPartition(total: number, options: PartitionOptions): Partition {
  checkHoldouts(total, options);
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  streamRng(options.seed, options.stream).shuffle(order);
  const holdouts: Int32Array[] = [];
  let at = 0;
  for (const size of options.holdouts) {
    holdouts.push(order.slice(at, at + size).sort());
    at += size;
  }
  return { rest: order.slice(at).sort(), holdouts };
}

/**
 * Largest-remainder apportionment of `target` among classes with bounds per class, so
 * every part is proportional to the class sizes as closely as integers allow. Ties go to
 * the lower class id, which keeps the result deterministic.
 */
function apportion(ideal: readonly number[], target: number, min: readonly number[], max: readonly number[]): number[] {
  const quota = ideal.map((x, c) => Math.min(max[c]!, Math.max(min[c]!, Math.floor(x))));
  let diff = target - quota.reduce((a, b) => a + b, 0);
  while (diff !== 0) {
    const step = diff > 0 ? 1 : -1;
    const eligible: number[] = [];
    for (let c = 0; c < quota.length; c++) {
      if (step > 0 ? quota[c]! < max[c]! : quota[c]! > min[c]!) eligible.push(c);
    }
    // Callers check Σmin ≤ target ≤ Σmax first, so this only guards against a logic error.
    if (eligible.length === 0) throw new Error('apportion: infeasible bounds');
    // Give to the classes furthest below their ideal share (take from those furthest above).
    eligible.sort((a, b) => step * ((ideal[b]! - quota[b]!) - (ideal[a]! - quota[a]!)) || a - b);
    for (const c of eligible) {
      if (diff === 0) break;
      quota[c]! += step;
      diff -= step;
    }
  }
  return quota;
}

/**
 * Splits examples into hold-outs of exact sizes and a rest, stratified by class: every
 * part holds each present class in proportion to its size (largest remainder), and every
 * non-empty part holds at least one example of every present class.
 *
 * Throws CLASS_TOO_SMALL when a class has fewer examples than parts that need it, and
 * SPLIT_TOO_SMALL when a part is smaller than the number of classes.
 */
export function stratifiedPartition(labels: ArrayLike<number>, options: StratifiedPartitionOptions): Partition {
  const total = labels.length;
  const { numClasses } = options;
  checkHoldouts(total, options);
  const className = (c: number): string => (options.classNames?.[c] !== undefined ? `"${options.classNames[c]}"` : String(c));

  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < total; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new DatasetError('INVALID_OPTION', `label ${label} of example ${i} is not a class id in [0, ${numClasses})`);
    }
    members[label]!.push(i);
  }
  const rng = streamRng(options.seed, options.stream);
  for (const m of members) rng.shuffle(m);
  const sizes = members.map((m) => m.length);

  // Which parts must hold every class: non-empty hold-outs, and the rest when asked.
  const restNeedsEveryClass = options.restNeedsEveryClass ?? true;
  const needing = options.holdouts.filter((s) => s > 0).length + (restNeedsEveryClass ? 1 : 0);
  const restName = options.restName ?? 'rest';
  sizes.forEach((n, c) => {
    if (n > 0 && n < needing) {
      const names = options.holdouts.flatMap((s, p) => (s > 0 ? [partName(options, p)] : []));
      if (restNeedsEveryClass) names.unshift(restName);
      throw new DatasetError(
        'CLASS_TOO_SMALL',
        `class ${className(c)} has ${n} example${n === 1 ? '' : 's'}; a stratified split into ${names.join(', ')} needs at least ${needing}`,
      );
    }
  });

  const available = sizes.slice();
  const taken = new Array<number>(numClasses).fill(0);
  const holdouts: Int32Array[] = [];
  options.holdouts.forEach((target, part) => {
    const laterNeeding = options.holdouts.slice(part + 1).filter((s) => s > 0).length + (restNeedsEveryClass ? 1 : 0);
    const min = available.map((a): number => (target > 0 && a > 0 ? 1 : 0));
    const max = available.map((a) => (a > 0 ? a - laterNeeding : 0));
    const sumMin = min.reduce((x, y) => x + y, 0);
    const sumMax = max.reduce((x, y) => x + y, 0);
    const name = partName(options, part);
    if (target < sumMin) {
      throw new DatasetError(
        'SPLIT_TOO_SMALL',
        `${name} of ${target} example${target === 1 ? '' : 's'} cannot hold one of each of the ${sumMin} classes`,
      );
    }
    if (target > sumMax) {
      throw new DatasetError(
        'SPLIT_TOO_SMALL',
        `${name} of ${target} examples leaves too few for the other splits to hold every class (at most ${sumMax})`,
      );
    }
    const ideal = sizes.map((n) => (target * n) / total);
    const quota = apportion(ideal, target, min, max);
    const out = new Int32Array(target);
    let at = 0;
    quota.forEach((q, c) => {
      const m = members[c]!;
      for (let k = 0; k < q; k++) out[at++] = m[taken[c]! + k]!;
      taken[c]! += q;
      available[c]! -= q;
    });
    holdouts.push(out.sort());
  });

  const rest = new Int32Array(available.reduce((a, b) => a + b, 0));
  let at = 0;
  members.forEach((m, c) => {
    for (let k = taken[c]!; k < m.length; k++) rest[at++] = m[k]!;
  });
  return { rest: rest.sort(), holdouts };
}

export interface StratifiedSplitOptions {
  seed: number;
  validationFraction?: number;
  validationCount?: number;
}

/** The train/validation split used by every classification loader: indices ascending. */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  numClasses: number,
  options: StratifiedSplitOptions,
): { train: Int32Array; validation: Int32Array } {
  const validation = resolveHoldoutCount(
    labels.length,
    { fraction: options.validationFraction ?? (options.validationCount === undefined ? 0.1 : undefined), count: options.validationCount },
    'validation',
  );
  const p = stratifiedPartition(labels, {
    numClasses,
    seed: options.seed,
    stream: 'validation-split',
    holdouts: [validation],
    holdoutNames: ['validation'],
    restName: 'train',
  });
  return { train: p.rest, validation: p.holdouts[0]! };
}

/** A class-balanced subset of `count` examples (indices ascending), e.g. for fast tests. */
export function stratifiedSubset(labels: ArrayLike<number>, numClasses: number, count: number, seed: number, stream = 'subset'): Int32Array {
  if (!Number.isInteger(count) || count < 1) {
    throw new DatasetError('INVALID_OPTION', `subset size must be a positive integer, got ${count}`);
  }
  if (count >= labels.length) {
    const all = new Int32Array(labels.length);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return all;
  }
  return stratifiedPartition(labels, {
    numClasses,
    seed,
    stream,
    holdouts: [count],
    holdoutNames: ['subset'],
    restNeedsEveryClass: false,
  }).holdouts[0]!;
}

// ---------------------------------------------------------------------------------------
// Gathering rows

/** Copies the rows `indices` (each `rowSize` elements) of a row-major array into a new array of the same type. */
export function gatherRows<T extends Uint8Array | Int32Array | Float32Array | Float64Array>(data: T, rowSize: number, indices: ArrayLike<number>): T {
  // Not `data.constructor`: a Node Buffer is a Uint8Array whose constructor is deprecated.
  const n = indices.length * rowSize;
  const out = (
    data instanceof Uint8Array ? new Uint8Array(n) : data instanceof Int32Array ? new Int32Array(n) : data instanceof Float32Array ? new Float32Array(n) : new Float64Array(n)
  ) as T;
  for (let r = 0; r < indices.length; r++) {
    const from = indices[r]! * rowSize;
    out.set(data.subarray(from, from + rowSize), r * rowSize);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Normalisation statistics (training split only)

/**
 * The affine map x = u8·scale + shift that standardises pixel/255 with the mean and
 * standard deviation of these (training) pixels. A constant image set gets std 1.
 */
export function affineNormalization(trainFeatures: Uint8Array): { kind: 'affine'; scale: number; shift: number } {
  // A 256-bin histogram makes the statistics exact and independent of summation order.
  const histogram = new Float64Array(256);
  for (let i = 0; i < trainFeatures.length; i++) histogram[trainFeatures[i]!]!++;
  const n = trainFeatures.length;
  if (n === 0) return { kind: 'affine', scale: 1 / 255, shift: 0 };
  let sum = 0;
  for (let v = 0; v < 256; v++) sum += histogram[v]! * (v / 255);
  const mean = sum / n;
  let squares = 0;
  for (let v = 0; v < 256; v++) squares += histogram[v]! * (v / 255 - mean) ** 2;
  const variance = squares / n;
  const std = variance > 0 ? Math.sqrt(variance) : 1;
  return { kind: 'affine', scale: 1 / (255 * std), shift: -mean / std };
}

export interface StandardizationStats {
  mean: number[];
  std: number[];
}

/**
 * Per-feature mean and (population) standard deviation over the rows `rows` of a
 * row-major matrix with `dim` columns. Constant features get std 1, so they map to 0.
 */
export function standardizationStats(values: ArrayLike<number>, dim: number, rows: ArrayLike<number>): StandardizationStats {
  const mean = new Array<number>(dim).fill(0);
  const std = new Array<number>(dim).fill(1);
  const n = rows.length;
  if (n === 0) return { mean, std };
  const min = new Array<number>(dim).fill(Infinity);
  const max = new Array<number>(dim).fill(-Infinity);
  for (let r = 0; r < n; r++) {
    const base = rows[r]! * dim;
    for (let j = 0; j < dim; j++) {
      const v = values[base + j]!;
      mean[j]! += v;
      if (v < min[j]!) min[j] = v;
      if (v > max[j]!) max[j] = v;
    }
  }
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  // Two passes: the textbook one-pass formula loses precision when |mean| ≫ std.
  const squares = new Array<number>(dim).fill(0);
  for (let r = 0; r < n; r++) {
    const base = rows[r]! * dim;
    for (let j = 0; j < dim; j++) squares[j]! += (values[base + j]! - mean[j]!) ** 2;
  }
  for (let j = 0; j < dim; j++) {
    // min === max detects constants exactly; a rounding-noise std would blow them up instead.
    std[j] = min[j] === max[j] ? 1 : Math.sqrt(squares[j]! / n);
  }
  return { mean, std };
}

/** (x - mean) / std per feature, as float32. */
export function standardize(values: ArrayLike<number>, dim: number, stats: StandardizationStats): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const j = i % dim;
    out[i] = (values[i]! - stats.mean[j]!) / stats.std[j]!;
  }
  return out;
}

/** Labels 0, 0, …, 1, 1, … with `counts[c]` of class c: what a split's per-class sizes depend on. */
export function labelsOfCounts(counts: readonly number[]): Int32Array {
  const out = new Int32Array(counts.reduce((a, b) => a + b, 0));
  let at = 0;
  counts.forEach((n, c) => out.fill(c, at, (at += n)));
  return out;
}

/**
 * Why a stratified validation hold-out of a training pool with these examples per class cannot be
 * drawn (too small to hold one of each class, or a class too small to be in both parts), or null.
 * A split's sizes depend only on the counts, never on the seed: submission checks it without data.
 */
export function validationSplitProblem(classCounts: readonly number[], options: { validationFraction?: number; validationCount?: number }): string | null {
  try {
    stratifiedSplit(labelsOfCounts(classCounts), classCounts.length, { seed: 0, ...options });
    return null;
  } catch (error) {
    if (error instanceof DatasetError) return error.message;
    throw error;
  }
}

