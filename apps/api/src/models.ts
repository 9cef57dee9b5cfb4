// A trial's model from its latest checkpoint: exported to the TensorFlow.js Layers format (raw
// features in, the dataset's scaling inside), and that same export loaded into a Predictor for
// POST …/predict, so the download and the API answer alike. Both are cached per (trial, checkpoint epoch).
import type { DatasetCache } from '@hypersweep/datasets';
import { getSweep, latestCheckpoint, type Db, type Trial } from '@hypersweep/db';
import { Predictor, compileModel, decodeTensors, exportTfjs, parseCheckpoint, type TfjsExport } from '@hypersweep/nn';
import { CreateSweepRequest, requestKind, resolveTrialConfig } from '@hypersweep/schemas';
import { HttpError } from './errors.ts';

export interface TrialModel {
  export: TfjsExport;
  predictor: Predictor;
  epoch: number;
  classification: boolean;
}

/** A trainable's or an external loop's checkpoints are theirs, in their own format. */
const ownModel = (sweepId: string) =>
  new HttpError('invalid_state', `sweep ${sweepId} trains its own model (a trainable or an external loop): no TensorFlow.js export or predictions here`, [
    { path: 'trialId', message: 'not a built-in engine trial' },
  ]);

export class ModelCache {
  private readonly cache = new Map<string, Promise<TrialModel>>();

  constructor(
    private readonly db: Db,
    private readonly datasets: DatasetCache,
    private readonly capacity = 16,
  ) {}

  async get(trial: Trial): Promise<TrialModel> {
    const stored = await latestCheckpoint(this.db, trial.id);
    if (!stored) {
      // Why there is none: the sweep is gone (deleted meanwhile), trains its own models, or this trial has no epoch yet.
      const sweep = await getSweep(this.db, trial.sweepId);
      if (!sweep) throw new HttpError('not_found', `no sweep ${trial.sweepId}`, [{ path: 'sweepId', message: 'no such sweep' }]);
      if (requestKind(sweep.spec) !== 'builtin') throw ownModel(sweep.id);
      throw new HttpError('invalid_state', `trial ${trial.id} has no checkpoint yet (it has not finished an epoch)`, [{ path: 'trialId', message: 'no model yet' }]);
    }
    const key = `${trial.id}@${stored.epoch}`;
    let model = this.cache.get(key);
    if (!model) {
      model = this.build(trial, JSON.stringify(stored.manifest), new Uint8Array(stored.data), stored.epoch);
      model.catch(() => this.cache.delete(key));
      this.cache.set(key, model);
      // Oldest first: Map keeps insertion order.
      while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as string);
    }
    return model;
  }

  private async build(trial: Trial, manifestJson: string, data: Uint8Array, epoch: number): Promise<TrialModel> {
    const sweep = await getSweep(this.db, trial.sweepId);
    if (!sweep) throw new HttpError('not_found', `no sweep ${trial.sweepId}`, [{ path: 'sweepId', message: 'no such sweep' }]);
    if (requestKind(sweep.spec) !== 'builtin') throw ownModel(sweep.id);
    const spec = CreateSweepRequest.parse(sweep.spec);
    const config = resolveTrialConfig(spec, trial.params as Record<string, number | string | boolean>);
    const model = compileModel(config.model);
    const tensors = decodeTensors(parseCheckpoint(manifestJson, data));
    const params = tensors.get('params');
    if (!params) throw new HttpError('internal', `checkpoint of trial ${trial.id} has no parameters`);
    const dataset = await this.datasets.get(config.dataset);
    const exported = exportTfjs(model, params, { normalization: dataset.normalization, classNames: dataset.classNames ?? null });
    const predictor = await Predictor.fromTfjs(exported.modelJson, exported.weights);
    return { export: exported, predictor, epoch, classification: model.spec.loss === 'softmax_cross_entropy' };
  }
}
