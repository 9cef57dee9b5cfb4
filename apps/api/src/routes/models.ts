// A trial's model: the TensorFlow.js export, and predictions with it.
import { getTrial } from '@hypersweep/db';
import { PredictRequest, TrialPathParams, type PredictResponse } from '@hypersweep/schemas';
import { Router, type Request } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { requireSweepAccess } from '../scope.ts';
import { parseJsonBody, parseParams } from '../validate.ts';

export function modelRoutes(deps: ApiDeps): Router {
  const router = Router();
  const modelOf = async (req: Request) => {
    const { sweepId, trialId } = parseParams(TrialPathParams, req);
    // Reading a model and predicting with it change nothing: the read role's.
    await requireSweepAccess(deps.db, req, sweepId, 'read');
    const trial = await getTrial(deps.db, trialId);
    if (!trial || trial.sweepId !== sweepId) throw new HttpError('not_found', `no trial ${trialId} in sweep ${sweepId}`, [{ path: 'trialId', message: 'no such trial in this sweep' }]);
    return deps.models.get(trial);
  };

  router.get('/sweeps/:sweepId/trials/:trialId/export', async (req, res) => {
    const model = await modelOf(req);
    res.setHeader('X-Checkpoint-Epoch', String(model.epoch));
    res.json({ modelJson: model.export.modelJson, weightsBase64: Buffer.from(model.export.weights).toString('base64') });
  });

  router.post('/sweeps/:sweepId/trials/:trialId/predict', async (req, res) => {
    const body = parseJsonBody(PredictRequest, req);
    const model = await modelOf(req);
    const width = model.predictor.inputSize;
    const bad = body.inputs.findIndex((row) => row.length !== width);
    if (bad >= 0) {
      throw new HttpError('invalid_request', `each input row needs ${width} features`, [{ path: `inputs[${bad}]`, message: `has ${body.inputs[bad]!.length} features, the model takes ${width}` }]);
    }
    // Raw features, as the user has them: the exported model carries the dataset's scaling.
    const flat = new Float32Array(body.inputs.length * width);
    body.inputs.forEach((row, i) => flat.set(row, i * width));
    const out = model.predictor.predictRaw(flat, body.inputs.length);
    const k = model.predictor.outputSize;
    const outputs: number[][] = [];
    for (let i = 0; i < body.inputs.length; i++) outputs.push(Array.from(out.subarray(i * k, (i + 1) * k)));
    // Values within float32 can still overflow inside the network (e.g. 1e30 times a weight).
    const overflow = outputs.findIndex((row) => !row.every(Number.isFinite));
    if (overflow >= 0) {
      throw new HttpError('invalid_request', `the model's outputs for inputs[${overflow}] are not finite numbers: its values are too large for the model`, [
        { path: `inputs[${overflow}]`, message: 'values too large: the outputs overflow float32' },
      ]);
    }
    const response: PredictResponse = {
      outputs,
      classes: model.classification ? outputs.map((row) => row.indexOf(Math.max(...row))) : null,
    };
    res.json(response);
  });

  return router;
}
