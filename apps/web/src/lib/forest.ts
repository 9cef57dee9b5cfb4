// Hyperparameter importance: a small random forest of regression trees fitted on the finished trials
// (params → objective), and permutation importance measured on each tree's out-of-bag trials
// (Breiman 2001): how much the error grows when one parameter's column is shuffled. Seeded, so
// the same trials always give the same bars (every draw comes from nn's seeded Rng).
import { Rng } from '@hypersweep/nn';

// ---------------------------------------------------------------------------------------------
// Encoding trials as a numeric matrix
// ---------------------------------------------------------------------------------------------

export type RawParamValue = number | string | boolean | undefined;

export interface EncodedFeatures {
  readonly names: readonly string[];
  /** Row-major, rows × names.length. Categorical values are category indices; absent values -1. */
  readonly x: Float64Array;
  readonly rows: number;
}

/**
 * Encodes parameter dictionaries: numeric parameters as themselves (absent → NaN replaced by a value
 * below the minimum, so a tree can split "absent" off), the rest as category indices in order of
 * first appearance. Trees only compare values, so no scaling is needed.
 */
export function encodeParams(rows: readonly Readonly<Record<string, RawParamValue>>[], names: readonly string[]): EncodedFeatures {
  const x = new Float64Array(rows.length * names.length);
  names.forEach((name, j) => {
    const numeric = rows.every((r) => r[name] === undefined || typeof r[name] === 'number');
    if (numeric) {
      let min = Infinity;
      for (const r of rows) {
        const v = r[name];
        if (typeof v === 'number' && v < min) min = v;
      }
      const absent = Number.isFinite(min) ? min - 1 - Math.abs(min) : -1;
      rows.forEach((r, i) => {
        const v = r[name];
        x[i * names.length + j] = typeof v === 'number' && Number.isFinite(v) ? v : absent;
      });
    } else {
      const index = new Map<string, number>();
      rows.forEach((r, i) => {
        const v = r[name];
        if (v === undefined) {
          x[i * names.length + j] = -1;
          return;
        }
        const key = String(v);
        if (!index.has(key)) index.set(key, index.size);
        x[i * names.length + j] = index.get(key)!;
      });
    }
  });
  return { names, x, rows: rows.length };
}

// ---------------------------------------------------------------------------------------------
// Regression trees
// ---------------------------------------------------------------------------------------------

/** A node: a leaf (feature -1) with its value, or a split "x[feature] <= threshold → left". */
interface TreeNode {
  feature: number;
  threshold: number;
  value: number;
  left: number;
  right: number;
}

export interface ForestOptions {
  readonly trees?: number;
  readonly maxDepth?: number;
  readonly minSamplesLeaf?: number;
  /** Features tried per split; default max(1, round(p / 3)) as for regression forests. */
  readonly featuresPerSplit?: number;
  /** Any safe integer (the Rng's seed); default 1. */
  readonly seed?: number;
}

export class RegressionTree {
  readonly nodes: TreeNode[] = [];

  predictRow(x: Float64Array, offset: number): number {
    let n = this.nodes[0]!;
    while (n.feature >= 0) n = this.nodes[x[offset + n.feature]! <= n.threshold ? n.left : n.right]!;
    return n.value;
  }

  static fit(
    data: EncodedFeatures,
    y: Float64Array,
    sample: readonly number[],
    opts: { maxDepth: number; minSamplesLeaf: number; featuresPerSplit: number },
    rng: Rng,
  ): RegressionTree {
    const tree = new RegressionTree();
    const p = data.names.length;
    const features = Array.from({ length: p }, (_, j) => j);

    const build = (rows: number[], depth: number): number => {
      const id = tree.nodes.length;
      let sum = 0;
      for (const r of rows) sum += y[r]!;
      const mean = sum / rows.length;
      tree.nodes.push({ feature: -1, threshold: 0, value: mean, left: -1, right: -1 });
      if (depth >= opts.maxDepth || rows.length < 2 * opts.minSamplesLeaf) return id;

      rng.shuffle(features);
      let bestGain = 1e-12;
      let bestFeature = -1;
      let bestThreshold = 0;
      const total = sum;
      let totalSq = 0;
      for (const r of rows) totalSq += y[r]! * y[r]!;
      const parentSse = totalSq - (total * total) / rows.length;

      for (let f = 0; f < Math.min(p, opts.featuresPerSplit); f++) {
        const j = features[f]!;
        const sorted = [...rows].sort((a, b) => data.x[a * p + j]! - data.x[b * p + j]!);
        let leftSum = 0;
        let leftSq = 0;
        for (let k = 0; k < sorted.length - 1; k++) {
          const r = sorted[k]!;
          leftSum += y[r]!;
          leftSq += y[r]! * y[r]!;
          const nl = k + 1;
          const nr = sorted.length - nl;
          if (nl < opts.minSamplesLeaf || nr < opts.minSamplesLeaf) continue;
          const xv = data.x[r * p + j]!;
          const xn = data.x[sorted[k + 1]! * p + j]!;
          if (xv === xn) continue; // cannot split between equal values
          const rightSum = total - leftSum;
          const rightSq = totalSq - leftSq;
          const sse = leftSq - (leftSum * leftSum) / nl + (rightSq - (rightSum * rightSum) / nr);
          const gain = parentSse - sse;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = j;
            bestThreshold = (xv + xn) / 2;
          }
        }
      }
      if (bestFeature < 0) return id;
      const leftRows: number[] = [];
      const rightRows: number[] = [];
      for (const r of rows) (data.x[r * p + bestFeature]! <= bestThreshold ? leftRows : rightRows).push(r);
      const node = tree.nodes[id]!;
      node.feature = bestFeature;
      node.threshold = bestThreshold;
      node.left = build(leftRows, depth + 1);
      node.right = build(rightRows, depth + 1);
      return id;
    };
    build([...sample], 0);
    return tree;
  }
}

export interface FittedForest {
  readonly trees: readonly RegressionTree[];
  /** Out-of-bag rows of each tree. */
  readonly oob: readonly (readonly number[])[];
  predictRow(x: Float64Array, offset: number): number;
}

export function fitForest(data: EncodedFeatures, y: Float64Array, options: ForestOptions = {}): FittedForest {
  const n = data.rows;
  const p = data.names.length;
  const rng = Rng.fromSeed(options.seed ?? 1).split('forest');
  const opts = {
    maxDepth: options.maxDepth ?? 8,
    minSamplesLeaf: options.minSamplesLeaf ?? 2,
    featuresPerSplit: options.featuresPerSplit ?? Math.max(1, Math.round(p / 3)),
  };
  const trees: RegressionTree[] = [];
  const oob: number[][] = [];
  for (let t = 0; t < (options.trees ?? 64); t++) {
    const inBag = new Uint8Array(n);
    const sample: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = rng.int(n);
      sample.push(r);
      inBag[r] = 1;
    }
    trees.push(RegressionTree.fit(data, y, sample, opts, rng));
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!inBag[i]) out.push(i);
    oob.push(out);
  }
  return {
    trees,
    oob,
    predictRow(x, offset) {
      let s = 0;
      for (const tree of trees) s += tree.predictRow(x, offset);
      return s / trees.length;
    },
  };
}

export interface ParamImportance {
  readonly name: string;
  /** Mean increase of the out-of-bag squared error when the parameter is shuffled (≥ 0). */
  readonly raw: number;
  /** Share of the total, 0..1 (all zero when no parameter matters). */
  readonly share: number;
}

/**
 * Permutation importance of each parameter for the objective, from the finished trials.
 * `values` is the objective per row; rows with a non-finite value must be removed by the caller.
 */
export function permutationImportance(
  rows: readonly Readonly<Record<string, RawParamValue>>[],
  values: readonly number[],
  names: readonly string[],
  options: ForestOptions & { repeats?: number } = {},
): ParamImportance[] {
  if (rows.length !== values.length) throw new Error(`rows (${rows.length}) and values (${values.length}) differ in length`);
  if (rows.length < 4 || names.length === 0) return names.map((name) => ({ name, raw: 0, share: 0 }));
  const data = encodeParams(rows, names);
  const y = Float64Array.from(values);
  const forest = fitForest(data, y, options);
  const p = names.length;
  const rng = Rng.fromSeed(options.seed ?? 1).split('permutations');
  const repeats = options.repeats ?? 2;
  const increase = new Float64Array(p);
  let treesUsed = 0;
  const row = new Float64Array(p);

  forest.trees.forEach((tree, t) => {
    const oob = forest.oob[t]!;
    if (oob.length < 2) return;
    treesUsed++;
    let base = 0;
    for (const r of oob) base += (tree.predictRow(data.x, r * p) - y[r]!) ** 2;
    base /= oob.length;
    for (let j = 0; j < p; j++) {
      let permutedErr = 0;
      for (let rep = 0; rep < repeats; rep++) {
        const donors = [...oob];
        rng.shuffle(donors);
        oob.forEach((r, k) => {
          for (let c = 0; c < p; c++) row[c] = data.x[r * p + c]!;
          row[j] = data.x[donors[k]! * p + j]!;
          permutedErr += (tree.predictRow(row, 0) - y[r]!) ** 2;
        });
      }
      increase[j]! += permutedErr / (oob.length * repeats) - base;
    }
  });

  const raw = Array.from(increase, (v) => (treesUsed > 0 ? Math.max(0, v / treesUsed) : 0));
  const total = raw.reduce((a, b) => a + b, 0);
  return names.map((name, j) => ({ name, raw: raw[j]!, share: total > 0 ? raw[j]! / total : 0 }));
}
