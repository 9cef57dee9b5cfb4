// Tests of the built-in dataset registry.
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { builtinDatasets, isBuiltinDatasetId, loadDataset } from './registry.ts';

describe('builtinDatasets', () => {
  it('lists mnist and spirals with their shapes', () => {
    expect(builtinDatasets.map((d) => d.id)).toEqual(['mnist', 'spirals']);
    expect(builtinDatasets[0]).toMatchObject({ featureShape: [28, 28], numClasses: 10, sizes: { train: 60000, test: 10000 } });
    expect(isBuiltinDatasetId('spirals')).toBe(true);
    expect(isBuiltinDatasetId('cifar10')).toBe(false);
  });

  it('describes what loadDataset returns with default options', async () => {
    const spirals = builtinDatasets.find((d) => d.id === 'spirals')!;
    const d = await loadDataset('spirals');
    expect(d.featureShape).toEqual(spirals.featureShape);
    expect(d.numClasses).toBe(spirals.numClasses);
    expect(d.train.count + d.validation.count).toBe(spirals.sizes.train);
    expect(d.test.count).toBe(spirals.sizes.test);
  });
});

describe('loadDataset', () => {
  it('loads mnist with options', async () => {
    const d = await loadDataset('mnist', { limitTrain: 500, limitTest: 100, seed: 1 });
    expect(d.name).toBe('mnist');
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([450, 50, 100]);
  });

  it('refuses an unknown id', async () => {
    await expect(loadDataset('cifar10')).rejects.toMatchObject({ code: 'UNKNOWN_DATASET' });
    await expect(loadDataset('cifar10')).rejects.toThrow(/built-in datasets are "mnist", "spirals"/);
  });

  it('refuses options the dataset does not have', async () => {
    const error: unknown = await loadDataset('mnist', { count: 5 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).code).toBe('INVALID_OPTION');
    expect((error as DatasetError).message).toMatch(/no option "count"/);
  });
});
