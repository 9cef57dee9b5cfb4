// Per-example scores of a forward pass besides the loss and top-1 accuracy (the kernels count
// those): top-k hits for classification, absolute errors for regression. Plain TypeScript over the
// memory's views: a few comparisons per output, next to a pass that did a matrix product per layer.

/** The k of the top-k accuracies a run reports (train_top3_accuracy, val_top5_accuracy, …). */
export const TOP_K = [3, 5] as const;
export type TopK = (typeof TOP_K)[number];

/**
 * Whether top-k accuracy is reported for a model with `classes` outputs: only when k < classes.
 * With k ≥ classes every label is in the top k and the metric is 1 whatever the weights, so it
 * would say nothing and rank nothing; it is left out instead.
 */
export function reportsTopK(classes: number, k: number): boolean {
  return k < classes;
}

/**
 * Rows whose label is among the k largest of its row's `cols` logits. A label ranks after every
 * column with a strictly larger logit and every earlier column with an equal one: the order of a
 * stable sort by descending logit, so top-1 would be countCorrect's first-maximum argmax. A NaN
 * logit ranks ahead of nothing; a row whose label is out of range or whose own logit is NaN is
 * never a hit.
 */
export function countTopK(logits: Float32Array, lOff: number, labels: Int32Array, labOff: number, rows: number, cols: number, k: number): number {
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    const label = labels[labOff + r]!;
    if (!(label >= 0 && label < cols)) continue;
    const row = lOff + r * cols;
    const own = logits[row + label]!;
    if (Number.isNaN(own)) continue;
    let ahead = 0;
    for (let c = 0; c < cols && ahead < k; c++) {
      const v = logits[row + c]!;
      if (v > own || (v === own && c < label)) ahead++;
    }
    if (ahead < k) hits++;
  }
  return hits;
}

/** Σ |prediction − target| over n values, summed in index order in float64. */
export function absErrorSum(pred: Float32Array, pOff: number, target: Float32Array, tOff: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(pred[pOff + i]! - target[tOff + i]!);
  return s;
}
