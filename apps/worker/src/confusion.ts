// The confusion matrix of a classifier on a dataset's test split, computed with the same Predictor
// the API and the dashboard use, so what the best-trial card shows is what the model predicts.
import { Predictor, compileModel, featureSize, type Dataset, type ModelSpec } from '@hypersweep/nn';

const CHUNK = 256;

/** rows: true class, columns: predicted class; null for regression datasets. */
export async function confusionMatrix(spec: ModelSpec, params: Float32Array, dataset: Dataset): Promise<number[][] | null> {
  const k = dataset.numClasses;
  if (dataset.task !== 'classification' || !k) return null;
  const model = compileModel(spec);
  const predictor = await Predictor.create(model, params, { rows: CHUNK, normalization: dataset.normalization });
  const { test } = dataset;
  const n = featureSize(dataset.featureShape);
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const labels = test.labels as Int32Array;
  for (let start = 0; start < test.count; start += CHUNK) {
    const rows = Math.min(CHUNK, test.count - start);
    const x = test.features.subarray(start * n, (start + rows) * n);
    // uint8 features are stored raw (the affine map is the model's input scaling); float32 ones
    // are stored standardised already.
    const out = x instanceof Uint8Array ? predictor.predictRaw(x, rows) : predictor.predict(x, rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (out[r * k + c]! > out[r * k + best]!) best = c;
      matrix[labels[start + r]!]![best]!++;
    }
  }
  return matrix;
}
