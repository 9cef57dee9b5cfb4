// Datasets: the built-ins, and CSV uploads validated by parsing them before they are stored.
import { DatasetError, builtinDatasets, parseCsv, type CsvOptions } from '@hypersweep/datasets';
import { DbError, createDataset, getDataset, listDatasets, type Dataset as DatasetRow, type Prisma } from '@hypersweep/db';
import { CsvUploadQuery, DatasetPathParams, type DatasetInfo } from '@hypersweep/schemas';
import express, { Router } from 'express';
import type { ApiDeps } from '../deps.ts';
import type { CsvSpec } from '../dataset-facts.ts';
import { HttpError } from '../errors.ts';
import { parseParams, parseQuery } from '../validate.ts';

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
  const csvBody = express.text({ type: ['text/csv', 'text/plain'], limit: deps.config.maxUploadBytes });

  router.get('/datasets', async (_req, res) => {
    const rows = await listDatasets(deps.db);
    res.json({ items: [...builtinInfo(), ...rows.map(csvInfo)] });
  });

  router.post('/datasets', csvBody, async (req, res) => {
    const q = parseQuery(CsvUploadQuery, req);
    if (!req.is('text/csv') && !req.is('text/plain')) {
      throw new HttpError('unsupported_media_type', 'upload the file as text/csv', [{ path: 'headers.content-type', message: `content-type ${req.get('content-type') ?? '(none)'} is not text/csv` }]);
    }
    const text = typeof req.body === 'string' ? req.body : '';
    if (text.trim() === '') throw new HttpError('invalid_request', 'the CSV file is empty', [{ path: 'body', message: 'is empty' }]);
    const labelIndex = /^-?\d+$/.test(q.labelColumn) ? Number(q.labelColumn) : null;
    const options: CsvOptions = {
      labelColumn: labelIndex ?? q.labelColumn,
      task: q.task,
      header: q.header === 'auto' ? 'auto' : q.header === 'true',
      delimiter: q.delimiter,
      name: q.name,
      source: q.name,
      ...(q.validationFraction !== undefined ? { validationFraction: q.validationFraction } : {}),
      ...(q.testFraction !== undefined ? { testFraction: q.testFraction } : {}),
    };
    let parsed;
    try {
      parsed = parseCsv(text, options);
    } catch (error) {
      if (!(error instanceof DatasetError)) throw error;
      const where = error.line !== undefined ? `body (line ${error.line}${error.column !== undefined ? `, column ${error.column}` : ''})` : 'body';
      throw new HttpError('invalid_request', `invalid CSV: ${error.message}`, [{ path: where, message: error.message }]);
    }
    const spec: CsvSpec = {
      options,
      task: q.task,
      featureShape: [...parsed.featureShape],
      numClasses: parsed.numClasses ?? null,
      sizes: { train: parsed.train.count + parsed.validation.count, test: parsed.test.count },
    };
    const row = await createDataset(deps.db, { name: q.name, kind: 'csv', spec: spec as unknown as Prisma.InputJsonValue, data: new TextEncoder().encode(text) }).catch((error: unknown) => {
      if (error instanceof DbError && error.code === 'unique_violation') throw new HttpError('conflict', error.message, [{ path: 'name', message: 'a dataset with this name exists' }]);
      throw error;
    });
    deps.logger.info({ datasetId: row.id, name: row.name, rows: spec.sizes }, 'dataset uploaded');
    res.status(201).location(`/api/v1/datasets/${row.id}`).json(csvInfo(row));
  });

  router.get('/datasets/:datasetId', async (req, res) => {
    const { datasetId } = parseParams(DatasetPathParams, req);
    const builtin = builtinInfo().find((d) => d.id === datasetId);
    if (builtin) return void res.json(builtin);
    const row = await getDataset(deps.db, datasetId);
    if (!row) throw new HttpError('not_found', `no dataset ${datasetId}`, [{ path: 'datasetId', message: 'no such dataset' }]);
    res.json(csvInfo(row));
  });

  return router;
}
