// POST …/predict and GET …/export take the features a user has — MNIST pixels 0–255, CSV values
// as in the file — and answer what the trained model answers; bad inputs get a 400 naming the field.
import { createTrial, saveCheckpoint, setSweepStatus, type Prisma } from '@hypersweep/db';
import { Predictor, TrainingSession, serializeCheckpoint, type Dataset } from '@hypersweep/nn';
import { multiScaleRows } from '@hypersweep/nn/testing';
import { ApiError, CreateSweepRequest, DatasetInfo, PredictResponse, Sweep, TrialModelExport, resolveTrialConfig } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';

const rows = multiScaleRows;
const CLASSES = ['low', 'mid', 'high'];
const classOf = (score: number) => CLASSES[score < -0.6 ? 0 : score < 0.6 ? 1 : 2]!;
const target = (score: number) => 10 + 4 * Math.tanh(score);

function argmax(row: readonly number[]): number {
  return row.indexOf(Math.max(...row));
}

function maxDiff(a: readonly (readonly number[])[], b: Float32Array): number {
  let d = 0;
  a.flat().forEach((v, i) => (d = Math.max(d, Math.abs(v - b[i]!))));
  return d;
}

function chunk(flat: Float32Array, width: number): number[][] {
  return Array.from({ length: flat.length / width }, (_, i) => Array.from(flat.subarray(i * width, (i + 1) * width)));
}

interface TrainedTrial {
  sweepId: string;
  path: string;
  dataset: Dataset;
  /** The model as trained, with the dataset's normalisation beside it: the reference. */
  reference: Predictor;
}

describe('predict and export on raw inputs', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function uploadCsv(name: string, text: string, task: 'classification' | 'regression', label: string): Promise<string> {
    const res = await t.request(`/api/v1/datasets?name=${name}&labelColumn=${label}&task=${task}`, { method: 'POST', body: text, headers: { 'content-type': 'text/csv' } });
    expect(res.status).toBe(201);
    return DatasetInfo.parse(await res.json()).id;
  }

  /** A sweep with one trial trained here as a worker would, its weights stored as a checkpoint. */
  async function trainedTrial(body: Record<string, unknown>, epochs: number): Promise<TrainedTrial> {
    const res = await t.request('/api/v1/sweeps', { method: 'POST', json: body });
    expect(res.status, await res.clone().text()).toBe(201);
    const sweep = Sweep.parse(await res.json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
    const config = resolveTrialConfig(CreateSweepRequest.parse(sweep.spec), { learningRate: 0.01 });
    // The API's own dataset cache, so both sides use the same normalisation statistics.
    const dataset = await t.api.deps.datasets.get(config.dataset);
    const session = await TrainingSession.create({ model: config.model, optimizer: config.optimizer, dataset, epochs, batchSize: 32, seed: 1 });
    await session.fit();
    const { manifestJson, data } = serializeCheckpoint(session.checkpoint());
    await saveCheckpoint(t.db, trial.id, epochs, JSON.parse(manifestJson) as Prisma.InputJsonValue, data);
    const reference = await Predictor.create(session.model, session.paramsView().slice(), { normalization: dataset.normalization });
    return { sweepId: sweep.id, path: `/api/v1/sweeps/${sweep.id}/trials/${trial.id}`, dataset, reference };
  }

  const predict = (path: string, inputs: unknown) => t.request(`${path}/predict`, { method: 'POST', json: { inputs } });

  async function predicted(path: string, inputs: number[][]): Promise<PredictResponse> {
    const res = await predict(path, inputs);
    expect(res.status).toBe(200);
    return PredictResponse.parse(await res.json());
  }

  const sweepBody = (name: string, dataset: unknown, model: unknown, metric = 'val_accuracy') => ({
    name,
    dataset,
    model,
    training: { epochs: 3, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.01 } },
    search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 1 } },
    objective: { metric },
  });

  it('MNIST: takes raw 0–255 pixels and answers what the model as trained answers; the export agrees', async () => {
    const trial = await trainedTrial(
      sweepBody('mnist raw', { type: 'mnist', limitTrain: 2000, limitTest: 500 }, {
        inputShape: [28, 28],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 10 }],
        loss: 'softmax_cross_entropy',
      }),
      2,
    );
    const n = 40;
    const u8 = (trial.dataset.test.features as Uint8Array).subarray(0, n * 784);
    const pixels = chunk(Float32Array.from(u8), 784);
    const expected = trial.reference.predictRaw(u8);
    const body = await predicted(trial.path, pixels);
    expect(maxDiff(body.outputs, expected)).toBeLessThanOrEqual(1e-4);
    expect(body.classes).toEqual(chunk(expected, 10).map(argmax));
    const labels = trial.dataset.test.labels as Int32Array;
    expect(body.classes!.filter((c, i) => c === labels[i]).length / n).toBeGreaterThan(0.7);
    // pixels/255 are not what the model takes: the answer changes.
    const scaled = await predicted(trial.path, pixels.map((row) => row.map((v) => v / 255)));
    expect(maxDiff(scaled.outputs, expected)).toBeGreaterThan(1e-2);

    // The download is the same model: raw inputs, the scaling inside.
    const exp = TrialModelExport.parse(await (await t.request(`${trial.path}/export`)).json());
    expect(exp.modelJson).toMatchObject({ userDefinedMetadata: { hypersweep: { input: 'raw', normalization: null, inputScaling: { method: 'folded' } } } });
    const downloaded = await Predictor.fromTfjs(exp.modelJson, new Uint8Array(Buffer.from(exp.weightsBase64, 'base64')));
    expect(body.outputs).toEqual(chunk(downloaded.predictRaw(u8), 10));
  });

  it('CSV classification: takes raw feature values (scales 1e3 and 1e-2) as in the file', async () => {
    const data = rows(900, 1);
    const csv = ['big,tiny,plain,label', ...data.x.map((f, i) => `${f.join(',')},${classOf(data.score[i]!)}`)].join('\n');
    const id = await uploadCsv('scales', csv, 'classification', 'label');
    const trial = await trainedTrial(sweepBody('csv raw', { type: 'csv', id }, { inputShape: [3], layers: [{ type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }), 40);
    const fresh = rows(60, 2);
    const expected = trial.reference.predictRaw(fresh.x.flat());
    const body = await predicted(trial.path, fresh.x);
    expect(maxDiff(body.outputs, expected)).toBeLessThanOrEqual(1e-4);
    expect(body.classes).toEqual(chunk(expected, 3).map(argmax));
    const names = trial.dataset.classNames!;
    expect(body.classes!.filter((c, i) => names[c] === classOf(fresh.score[i]!)).length / fresh.x.length).toBeGreaterThan(0.85);
    // Standardised values are not what the endpoint takes.
    const norm = trial.dataset.normalization;
    if (norm.kind !== 'standardized') throw new Error('a CSV dataset is standardized');
    const standardised = fresh.x.map((row) => row.map((v, j) => (v - norm.mean[j]!) / norm.std[j]!));
    expect(maxDiff((await predicted(trial.path, standardised)).outputs, expected)).toBeGreaterThan(1e-2);

    // Bad inputs: a 400 naming the field.
    const refused = async (inputs: unknown, path: string, message: RegExp) => {
      const res = await predict(trial.path, inputs);
      const error = ApiError.parse(await res.json());
      expect(res.status, JSON.stringify(error)).toBe(400);
      expect(error.error.details.map((d) => d.path)).toContain(path);
      expect(error.error.details.find((d) => d.path === path)!.message).toMatch(message);
    };
    await refused([[1000, 0.01, 5], [1000, 0.01]], 'inputs', /same length/);
    await refused([[1000, 0.01]], 'inputs[0]', /has 2 features, the model takes 3/);
    await refused([[1000, 1e308, 5]], 'inputs[0][1]', /float32 range/);
    await refused([[1000, 0.01, 5], [-1e39, 0.01, 5]], 'inputs[1][0]', /float32 range/);
    await refused([[1000, '0.01', 5]], 'inputs[0][1]', /number/);
    await refused([], 'inputs', /at least one row/);
    // 1e400 is valid JSON that parses to Infinity.
    const inf = await t.request(`${trial.path}/predict`, { method: 'POST', body: '{"inputs":[[1000,1e400,5]]}', headers: { 'content-type': 'application/json' } });
    expect(inf.status).toBe(400);
    expect(ApiError.parse(await inf.json()).error.details[0]).toMatchObject({ path: 'inputs[0][1]', message: expect.stringMatching(/finite/) });
    // Within float32 but overflowing inside the network (3e38 / std 0.01): the model's outputs are not numbers.
    const huge = [[1000, 3e38, 5]];
    expect(trial.reference.predictRaw(huge.flat()).every(Number.isFinite)).toBe(false);
    await refused(huge, 'inputs[0]', /overflow/);
    // A trial that has not finished an epoch has no model yet.
    const untrained = await createTrial(t.db, trial.sweepId, { params: { learningRate: 0.02 } });
    const early = await predict(`/api/v1/sweeps/${trial.sweepId}/trials/${untrained.id}`, fresh.x.slice(0, 1));
    expect(early.status).toBe(409);
    expect(ApiError.parse(await early.json()).error.details[0]?.path).toBe('trialId');
  });

  it('CSV regression: takes raw feature values and returns values, no classes', async () => {
    const data = rows(600, 3);
    const csv = ['big,tiny,plain,y', ...data.x.map((f, i) => `${f.join(',')},${target(data.score[i]!)}`)].join('\n');
    const id = await uploadCsv('scales-regression', csv, 'regression', 'y');
    const trial = await trainedTrial(sweepBody('csv regression raw', { type: 'csv', id }, { inputShape: [3], layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 1 }], loss: 'mse' }, 'val_loss'), 60);
    const fresh = rows(50, 4);
    const expected = trial.reference.predictRaw(fresh.x.flat());
    const body = await predicted(trial.path, fresh.x);
    expect(body.classes).toBeNull();
    expect(maxDiff(body.outputs, expected) / Math.max(...Array.from(expected, Math.abs))).toBeLessThanOrEqual(1e-5);
    const rmse = Math.sqrt(fresh.score.reduce((a, s, i) => a + (body.outputs[i]![0]! - target(s)) ** 2, 0) / fresh.score.length);
    expect(rmse).toBeLessThan(1);
  });
});
