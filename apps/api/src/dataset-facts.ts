// What submission knows of a sweep's dataset without loading it: a built-in's entry in
// @hypersweep/datasets' registry (sized by the request's options), an upload's (CSV or IDX) stored row.
import { builtinDatasets, type CsvOptions } from '@hypersweep/datasets';
import { getDataset, type Db } from '@hypersweep/db';
import type { DatasetFacts, DatasetRef } from '@hypersweep/schemas';
import { z } from 'zod';

/** What an upload stores next to the file (routes/datasets.ts): its parse options and what validation found. */
export interface CsvSpec {
  options: CsvOptions;
  task: 'classification' | 'regression';
  featureShape: number[];
  numClasses: number | null;
  sizes: { train: number; test: number };
}

const count = z.number().int().min(0);
/** The part of a stored CsvSpec submission reads, checked: the row is JSON written by an older version, perhaps. */
const StoredCsvFacts = z.object({
  task: z.enum(['classification', 'regression']),
  featureShape: z.array(z.number().int().min(1)).min(1),
  numClasses: count.nullable(),
  sizes: z.object({ train: count, test: count }),
});

/** The part of a stored IDX upload's spec (IdxStoredSpec) submission reads. */
const StoredIdxFacts = z.object({
  featureShape: z.array(z.number().int().min(1)).min(2).max(3),
  numClasses: z.number().int().min(2),
  sizes: z.object({ train: count, test: count }),
});

/**
 * The facts of the request's dataset, or null for an upload that does not exist (or whose stored
 * spec is unreadable, or that is of the other kind). MNIST and IDX uploads are stored as uint8 pixels
 * (one byte per feature), the others as float32. Given `projectId`, an upload of another project
 * does not exist for the sweep.
 */
export async function datasetFacts(db: Db, ref: DatasetRef, projectId?: string): Promise<DatasetFacts | null> {
  if (ref.type === 'csv') {
    const row = await getDataset(db, ref.id);
    const spec = row?.kind === 'csv' ? StoredCsvFacts.safeParse(row.spec) : null;
    if (!row || !spec?.success || (projectId !== undefined && row.projectId !== projectId)) return null;
    const s = spec.data;
    return { name: row.name, task: s.task, featureShape: s.featureShape, numClasses: s.numClasses, targetDim: 1, featureBytes: 4, sizes: s.sizes };
  }
  if (ref.type === 'idx') {
    const row = await getDataset(db, ref.id);
    const spec = row?.kind === 'idx' ? StoredIdxFacts.safeParse(row.spec) : null;
    if (!row || !spec?.success || (projectId !== undefined && row.projectId !== projectId)) return null;
    const s = spec.data;
    // Images as uploaded: featureShape [H, W] or [H, W, C] as the file declares it, one byte per pixel like MNIST.
    return { name: row.name, task: 'classification', featureShape: s.featureShape, numClasses: s.numClasses, featureBytes: 1, sizes: s.sizes };
  }
  const entry = builtinDatasets.find((d) => d.id === ref.type)!;
  const base = { name: entry.id, task: 'classification' as const, featureShape: entry.featureShape, numClasses: entry.numClasses };
  if (ref.type === 'mnist') {
    return { ...base, featureBytes: 1, sizes: { train: ref.limitTrain ?? entry.sizes.train, test: ref.limitTest ?? entry.sizes.test } };
  }
  // Spirals: the test set defaults to a fifth of `count` (rounded up here: the memory check only needs a bound).
  const train = ref.count ?? entry.sizes.train;
  return { ...base, featureBytes: 4, sizes: { train, test: ref.testCount ?? (ref.count === undefined ? entry.sizes.test : Math.ceil(train / 5)) } };
}
