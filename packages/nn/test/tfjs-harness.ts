// Loads our exports in TensorFlow.js (cpu backend) the way a user does: model.json as JSON text,
// weights.bin as bytes, through tf.loadLayersModel.
import * as tf from '@tensorflow/tfjs';
import type { TfjsExport } from '../src/tfjs.ts';

export async function loadInTfjs(exported: TfjsExport): Promise<tf.LayersModel> {
  await tf.setBackend('cpu');
  const mj = JSON.parse(JSON.stringify(exported.modelJson)) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: mj.weightsManifest.flatMap((g) => g.weights),
      weightData: exported.weights.slice().buffer,
    }),
  );
}

/** The export's outputs in tfjs for rows of `inputShape`. */
export async function tfjsPredict(exported: TfjsExport, x: Float32Array, inputShape: readonly number[]): Promise<Float32Array> {
  const model = await loadInTfjs(exported);
  const input = tf.tensor(x, [x.length / inputShape.reduce((a, b) => a * b, 1), ...inputShape]);
  const out = model.predict(input) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  tf.dispose([input, out]);
  model.dispose();
  return data;
}
