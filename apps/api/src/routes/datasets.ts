// Datasets: the built-ins, CSV uploads validated by parsing them, and IDX image uploads validated
// whole (every file, then the set) before one row stores them: a refused upload stores nothing.
import { DatasetError, builtinDatasets, checkIdxUpload, csvUploadErrorPath, csvUploadOptions, packIdxUpload, type IdxStoredSpec } from '@hypersweep/datasets';
import { checkCsvUpload } from '@hypersweep/datasets/csv-check';
import { DbError, createDataset, getDataset, listDatasets, type Dataset as DatasetRow, type Prisma } from '@hypersweep/db';
import { CsvUploadQuery, DatasetPathParams, IdxUploadFields, type DatasetInfo } from '@hypersweep/schemas';
import express, { Router } from 'express';
import type { ApiDeps } from '../deps.ts';
import type { CsvSpec } from '../dataset-facts.ts';
import { HttpError, invalid } from '../errors.ts';
import { readIdxUpload } from '../idx-upload.ts';
import { noteInvalidUtf8, parseParams, parseQuery, refuseDeclaredOversize, refuseInvalidUtf8 } from '../validate.ts';
import { roleIn, targetProject, visibleProjectIds } from '../scope.ts';

function builtinInfo(): DatasetInfo[] {
  return builtinDatasets.map((d) => ({
    id: d.id,
    name: d.id,
    kind: 'builtin',
    description: d.description,
    task: 'classification',
    featureShape: [...d.featureShape],
    numClasses: d.numClasses,
    sizes: { ...d.sizes },
    createdAt: null,
  }));
}

function idxInfo(row: Pick<DatasetRow, 'id' | 'name' | 'spec' | 'createdAt'>): DatasetInfo {
  const spec = row.spec as unknown as IdxStoredSpec;
  const shape = spec.featureShape.join('×');
  const test = spec.test.source === 'files' ? 'uploaded test set' : `test set held out from the training file (${spec.test.fraction})`;
  return {
    id: row.id,
    name: row.name,
    kind: 'idx',
    description: `IDX images ${shape} uint8, ${spec.numClasses} classes, ${test}`,
    task: 'classification',
    featureShape: spec.featureShape,
    numClasses: spec.numClasses,
    sizes: spec.sizes,
    createdAt: row.createdAt.toISOString(),
  };
}

function uploadInfo(row: Pick<DatasetRow, 'id' | 'name' | 'kind' | 'spec' | 'createdAt'>): DatasetInfo {
  return row.kind === 'idx' ? idxInfo(row) : csvInfo(row);
}

function csvInfo(row: Pick<DatasetRow, 'id' | 'name' | 'spec' | 'createdAt'>): DatasetInfo {
  const spec = row.spec as unknown as CsvSpec;
  return {
    id: row.id,
    name: row.name,
    kind: 'csv',
    description: null,
    task: spec.task,
    featureShape: spec.featureShape,
    numClasses: spec.numClasses,
    sizes: spec.sizes,
    createdAt: row.createdAt.toISOString(),
  };
}

export function datasetRoutes(deps: ApiDeps): Router {
  const router = Router();
  const csvBody = express.text({ type: ['text/csv', 'text/plain'], limit: deps.config.maxUploadBytes, verify: noteInvalidUtf8 });
  const csvTooLarge = refuseDeclaredOversize(deps.config.maxUploadBytes);

  router.get('/datasets', async (req, res) => {
    const rows = await listDatasets(deps.db, visibleProjectIds(req));
    res.json({ items: [...builtinInfo(), ...rows.map(uploadInfo)] });
  });

  router.post('/datasets', csvTooLarge, csvBody, refuseInvalidUtf8, async (req, res) => {
    const q = parseQuery(CsvUploadQuery, req);
    const projectId = await targetProject(deps.db, req, 'submit');
    if (!req.is('text/csv') && !req.is('text/plain')) {
      throw new HttpError('unsupported_media_type', 'upload the file as text/csv', [{ path: 'headers.content-type', message: `content-type ${req.get('content-type') ?? '(none)'} is not text/csv` }]);
    }
    const text = typeof req.body === 'string' ? req.body : '';
    if (text.trim() === '') throw new HttpError('invalid_request', 'the CSV file is empty', [{ path: 'body', message: 'is empty' }]);
    const options = csvUploadOptions(q);
    let parsed;
    // A client that goes away ends its parse (queued or running): nobody would read the answer.
    const gone = new AbortController();
    const onClose = () => !res.writableEnded && gone.abort(new Error('the client closed the connection'));
    res.once('close', onClose);
    try {
      // Off the event loop when large: tens of megabytes take seconds to parse.
      parsed = await checkCsvUpload(text, options, { signal: gone.signal });
    } catch (error) {
      if (gone.signal.aborted) return;
      if (!(error instanceof DatasetError)) throw error;
      if (error.code === 'CSV_TOO_LARGE') throw new HttpError('payload_too_large', error.message, [{ path: 'body', message: error.message }]);
      throw new HttpError('invalid_request', `invalid CSV: ${error.message}`, [{ path: csvUploadErrorPath(error), message: error.message }]);
    } finally {
      res.off('close', onClose);
    }
    const spec: CsvSpec = {
      options,
      task: q.task,
      featureShape: [...parsed.featureShape],
      numClasses: parsed.numClasses,
      sizes: { train: parsed.sizes.train + parsed.sizes.validation, test: parsed.sizes.test },
    };
    const row = await createDataset(deps.db, { projectId, name: q.name, kind: 'csv', spec: spec as unknown as Prisma.InputJsonValue, data: new TextEncoder().encode(text) }).catch((error: unknown) => {
      if (error instanceof DbError && error.code === 'unique_violation') throw new HttpError('conflict', error.message, [{ path: 'name', message: 'a dataset with this name exists' }]);
      throw error;
    });
    deps.logger.info({ datasetId: row.id, name: row.name, rows: spec.sizes }, 'dataset uploaded');
    res.status(201).location(`/api/v1/datasets/${row.id}`).json(csvInfo(row));
  });

  router.post('/datasets/idx', async (req, res) => {
    const projectId = await targetProject(deps.db, req, 'submit');
    const { fields, files } = await readIdxUpload(req, deps.config.maxUploadBytes);
    const parsed = IdxUploadFields.safeParse(fields);
    if (!parsed.success) throw invalid(parsed.error, 'body');
    const q = parsed.data;
    const { trainImages, trainLabels, testImages, testLabels } = files;
    if (!trainImages || !trainLabels) {
      const missing = [!trainImages && 'trainImages', !trainLabels && 'trainLabels'].filter((f): f is string => f !== false);
      throw new HttpError('invalid_request', `the upload needs a training pair: ${missing.join(' and ')} missing`, missing.map((path) => ({ path, message: 'required (an IDX file, gzip or not)' })));
    }
    if ((testImages === undefined) !== (testLabels === undefined)) {
      const path = testImages ? 'testLabels' : 'testImages';
      throw new HttpError('invalid_request', `give testImages and testLabels together, or neither: ${path} missing`, [{ path, message: 'required with the other test file' }]);
    }
    let spec: IdxStoredSpec;
    try {
      spec = checkIdxUpload({ trainImages, trainLabels, testImages, testLabels }, { numClasses: q.numClasses, testFraction: q.testFraction });
    } catch (error) {
      if (!(error instanceof DatasetError)) throw error;
      // A file's problem names the file (and its offset and header field in the message); a split's, the option.
      const path = error.file ?? (error.code === 'CLASS_TOO_SMALL' || error.code === 'SPLIT_TOO_SMALL' ? 'testFraction' : 'numClasses');
      throw new HttpError('invalid_request', `invalid IDX upload: ${error.message}`, [{ path, message: error.message }]);
    }
    const row = await createDataset(deps.db, { projectId, name: q.name, kind: 'idx', spec: spec as unknown as Prisma.InputJsonValue, data: packIdxUpload({ trainImages, trainLabels, testImages, testLabels }) }).catch(
      (error: unknown) => {
        if (error instanceof DbError && error.code === 'unique_violation') throw new HttpError('conflict', error.message, [{ path: 'name', message: 'a dataset with this name exists' }]);
        throw error;
      },
    );
    deps.logger.info({ datasetId: row.id, name: row.name, shape: spec.featureShape, classes: spec.numClasses, sizes: spec.sizes }, 'IDX dataset uploaded');
    res.status(201).location(`/api/v1/datasets/${row.id}`).json(idxInfo(row));
  });

  router.get('/datasets/:datasetId', async (req, res) => {
    const { datasetId } = parseParams(DatasetPathParams, req);
    const builtin = builtinInfo().find((d) => d.id === datasetId);
    if (builtin) return void res.json(builtin);
    const row = await getDataset(deps.db, datasetId);
    if (!row || roleIn(req, row.projectId) === null) throw new HttpError('not_found', `no dataset ${datasetId}`, [{ path: 'datasetId', message: 'no such dataset' }]);
    res.json(uploadInfo(row));
  });

  return router;
}
