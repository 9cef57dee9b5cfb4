// The playground's one path from a drawing to class probabilities: the drawing becomes raw MNIST
// pixels (0–255, as in the IDX files) and those go unchanged to the exported model, run in the
// page (Predictor.predictRaw) or by the API (POST …/predict). The model carries the dataset's
// scaling, so neither side scales anything.
import { toMnistPixels } from './digit.ts';

/** Probabilities for one row of raw pixels. */
export type DigitModel = (pixels: readonly number[]) => Promise<number[]>;

/** The drawing's raw pixels (784 values in 0..255), or null for a blank drawing. */
export function drawnPixels(ink: ArrayLike<number>, width: number, height: number): number[] | null {
  const pixels = Array.from(toMnistPixels(ink, width, height));
  return pixels.some((v) => v !== 0) ? pixels : null;
}

/** The exported model run in the page. */
export function inPage(predictor: { predictRaw(raw: ArrayLike<number>, rows?: number): Float32Array }): DigitModel {
  return async (pixels) => Array.from(predictor.predictRaw(pixels, 1));
}

/** The same model run by the API. */
export function viaApi(predict: (inputs: number[][]) => Promise<{ outputs: number[][] }>): DigitModel {
  return async (pixels) => {
    const res = await predict([[...pixels]]);
    const row = res.outputs[0];
    if (!row) throw new Error('the API returned no prediction');
    return row;
  };
}
