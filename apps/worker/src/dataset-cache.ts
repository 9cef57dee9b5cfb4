// Datasets loaded once per process, keyed by their reference, so the replica pool places each once.
import { loadDataset, type Dataset } from '@hypersweep/datasets';
import type { DatasetRef } from '@hypersweep/schemas';

export class DatasetCache {
  private readonly loaded = new Map<string, Promise<Dataset>>();

  /** The dataset a sweep names; the same reference always yields the same object. */
  get(ref: DatasetRef): Promise<Dataset> {
    const key = canonicalJson(ref);
    let dataset = this.loaded.get(key);
    if (!dataset) {
      dataset = load(ref);
      // A failed load is not cached: the next trial tries again.
      dataset.catch(() => this.loaded.delete(key));
      this.loaded.set(key, dataset);
    }
    return dataset;
  }
}

async function load(ref: DatasetRef): Promise<Dataset> {
  switch (ref.type) {
    case 'mnist': {
      const { type: _type, ...options } = ref;
      return loadDataset('mnist', options);
    }
    case 'spirals': {
      const { type: _type, ...options } = ref;
      return loadDataset('spirals', options);
    }
    case 'csv':
      throw new Error(`csv dataset ${ref.id}: uploaded datasets are not supported by the worker yet`);
  }
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
