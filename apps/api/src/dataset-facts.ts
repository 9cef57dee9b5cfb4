// What submission knows of a sweep's dataset without loading it: a built-in's entry in
// @hypersweep/datasets' registry (sized by the request's options), an upload's (CSV or IDX) stored row.
import { builtinDatasets, DEFAULT_CSV_VALIDATION_FRACTION, idxPoolClassCounts, mnistPoolClassCounts, spiralsPoolClassCounts, validationSplitProblem, type CsvOptions } from '@hypersweep/datasets';
import { getDataset, type Db } from '@hypersweep/db';
import { cornersOf, parseSearchSpace, resolveTrialConfig, SchemaError, type CreateSweepRequest, type DatasetFacts, type DatasetRef, type ErrorDetail } from '@hypersweep/schemas';
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
  options: z.object({ validationFraction: z.number().min(0).max(1).optional() }).optional(),
});

/** The part of a stored IDX upload's spec (IdxStoredSpec) submission reads. */
const StoredIdxFacts = z.object({
  featureShape: z.array(z.number().int().min(1)).min(2).max(3),
  numClasses: z.number().int().min(2),
  sizes: z.object({ train: count, test: count }),
  // Optional: rows stored without them are not checked for their validation split.
  classCounts: z.array(count).optional(),
  test: z.union([z.object({ source: z.literal('files') }), z.object({ source: z.literal('holdout'), fraction: z.number(), seed: z.number() })]).optional(),
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
    // The parse's own split: round(fraction · rows), the fraction 0.1 unless the upload set it.
    const validationExamples = Math.round((s.options?.validationFraction ?? DEFAULT_CSV_VALIDATION_FRACTION) * (s.sizes.train + s.sizes.test));
    return { name: row.name, task: s.task, featureShape: s.featureShape, numClasses: s.numClasses, targetDim: 1, featureBytes: 4, sizes: s.sizes, validationExamples };
  }
  if (ref.type === 'idx') {
    const row = await getDataset(db, ref.id);
    const spec = row?.kind === 'idx' ? StoredIdxFacts.safeParse(row.spec) : null;
    if (!row || !spec?.success || (projectId !== undefined && row.projectId !== projectId)) return null;
    const s = spec.data;
    // Images as uploaded: featureShape [H, W] or [H, W, C] as the file declares it, one byte per pixel like MNIST.
    const pool = s.classCounts && s.test && s.classCounts.length === s.numClasses ? idxPoolClassCounts({ classCounts: s.classCounts, numClasses: s.numClasses, test: s.test }) : undefined;
    return { name: row.name, task: 'classification', featureShape: s.featureShape, numClasses: s.numClasses, featureBytes: 1, sizes: s.sizes, ...(pool ? { poolClassCounts: pool } : {}) };
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

/** A dataset reference's training pool per class, where a trial splits it; `facts` hold an upload's. */
function poolClassCountsOf(ref: DatasetRef, facts: DatasetFacts): readonly number[] | undefined {
  if (ref.type === 'mnist') return mnistPoolClassCounts(ref.limitTrain);
  if (ref.type === 'spirals') return spiralsPoolClassCounts(ref.count);
  return ref.type === 'idx' ? facts.poolClassCounts : undefined;
}

/** The stratified validation hold-out of one dataset reference, as a problem at its field, or null. */
function splitProblem(ds: DatasetRef, facts: DatasetFacts, when: string): ErrorDetail | null {
  const counts = poolClassCountsOf(ds, facts);
  if (!counts || ds.type === 'csv') return null;
  const holdout = { ...(ds.validationFraction !== undefined ? { validationFraction: ds.validationFraction } : {}), ...(ds.validationCount !== undefined ? { validationCount: ds.validationCount } : {}) };
  const problem = validationSplitProblem(counts, holdout);
  if (problem === null) return null;
  // The option the user set, else the pool's size where they made it small, else the default fraction.
  const small = ds.type === 'mnist' && ds.limitTrain !== undefined ? 'limitTrain' : ds.type === 'spirals' && ds.count !== undefined ? 'count' : null;
  const field = ds.validationCount !== undefined ? 'validationCount' : ds.validationFraction !== undefined || small === null ? 'validationFraction' : small;
  const message = `${problem} (of ${counts.reduce((a, b) => a + b, 0)} training examples in ${counts.length} classes, a stratified validation hold-out needs one of each and leaves one in training${when}): hold out more (validationCount), none (validationFraction: 0), or train on more examples`;
  return { path: `dataset.${field}`, message };
}

/**
 * A trial draws a stratified validation hold-out from the training pool (one example of each class
 * in it, and each class left in training): refused at submission when the pool's class counts
 * cannot give one, as every such trial would fail the same way. A templated dataset section is
 * checked at every corner of the space.
 */
export function validationSplitProblems(request: CreateSweepRequest, facts: DatasetFacts): ErrorDetail[] {
  if (facts.validationExamples === 0) {
    // A CSV upload's split was fixed when it was uploaded: with none, no trial reports a val_ metric.
    const needs = [
      { path: 'objective.metric', metric: request.objective.metric },
      { path: 'training.earlyStopping.monitor', metric: (request.training.earlyStopping as { monitor?: unknown } | undefined)?.monitor },
    ];
    const problems = needs.flatMap(({ path, metric }) =>
      typeof metric === 'string' && metric.startsWith('val_')
        ? [{ path, message: `${metric} needs a validation split; dataset ${facts.name} was uploaded with no validation rows: use train_loss or train_accuracy, or upload it again with a validationFraction` }]
        : [],
    );
    if (problems.length > 0) return problems;
  }
  if (!request.template?.dataset) {
    const problem = splitProblem(request.dataset, facts, '');
    return problem ? [problem] : [];
  }
  const corners = cornersOf(parseSearchSpace(request.search.space));
  for (const corner of corners ?? []) {
    let dataset: DatasetRef;
    try {
      dataset = resolveTrialConfig(request, corner.params).dataset;
    } catch (error) {
      if (error instanceof SchemaError) continue; // submission's own corner checks report it
      throw error;
    }
    const problem = splitProblem(dataset, facts, `, ${corner.describe}`);
    if (problem) return [problem];
  }
  return [];
}
