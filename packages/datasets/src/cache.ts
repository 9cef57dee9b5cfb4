// Datasets loaded once per process, keyed by their reference (a sweep's `dataset` object), so a
// process parses MNIST, a CSV file or an IDX upload once however many trials or requests use it.
import type { Dataset } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { parseCsvOffThread } from './csv-check.ts';
import type { CsvOptions, CsvScaling } from './csv.ts';
import { buildIdxDataset, type IdxDatasetOptions, type IdxStoredSpec } from './idx-images.ts';
import { loadDataset } from './registry.ts';

/**
 * A dataset reference as sweeps write it: `{type: 'mnist', …options}`, `{type: 'csv', id, scaling?}`,
 * `{type: 'idx', id, scaling?, validationFraction? | validationCount?, seed?}`.
 */
export interface DatasetReference {
  readonly type: string;
  readonly [option: string]: unknown;
}

/** An uploaded CSV file and the options it was validated with. */
export interface StoredCsv {
  kind?: 'csv';
  text: string;
  options: CsvOptions;
}

/** Uploaded IDX files: the packed, validated blob and the spec that says where each file lies. */
export interface StoredIdx {
  kind: 'idx';
  name: string;
  data: Uint8Array;
  spec: IdxStoredSpec;
}

export type StoredUpload = StoredCsv | StoredIdx;

export class DatasetCache {
  private readonly loaded = new Map<string, Promise<Dataset>>();

  /** `loadUpload` fetches an upload (CSV or IDX) by id (from Postgres, in the apps). */
  constructor(private readonly loadUpload: (id: string) => Promise<StoredUpload> = noUploads) {}

  /**
   * The dataset a reference names; the same reference always yields the same object. The key is
   * the whole reference, its `scaling` included, so references that differ only in how inputs
   * are scaled never share a dataset.
   */
  get(ref: DatasetReference): Promise<Dataset> {
    const key = canonicalJson(ref);
    let dataset = this.loaded.get(key);
    if (!dataset) {
      dataset = this.load(ref);
      // A failed load is not cached: the next caller tries again.
      dataset.catch(() => this.loaded.delete(key));
      this.loaded.set(key, dataset);
    }
    return dataset;
  }

  private async load(ref: DatasetReference): Promise<Dataset> {
    const { type, ...options } = ref;
    if (type === 'csv') {
      const { id, scaling } = options;
      if (typeof id !== 'string') throw new DatasetError('INVALID_OPTION', 'a csv dataset reference needs an id');
      const stored = await this.loadUpload(id);
      if (stored.kind === 'idx') throw new DatasetError('UNKNOWN_DATASET', `dataset ${id} is an IDX upload, not a CSV one (use type "idx")`);
      // The reference's scaling overrides the upload's; parseCsv checks the value (and refuses 'unit').
      const read: CsvOptions = { ...stored.options, duplicateLabelName: 'first' };
      // Off the event loop when large (a worker's heartbeats, an API's requests go on meanwhile).
      return parseCsvOffThread(stored.text, scaling === undefined ? read : { ...read, scaling: scaling as CsvScaling });
    }
    if (type === 'idx') {
      const { id, ...rest } = options;
      if (typeof id !== 'string') throw new DatasetError('INVALID_OPTION', 'an idx dataset reference needs an id');
      const stored = await this.loadUpload(id);
      if (stored.kind !== 'idx') throw new DatasetError('UNKNOWN_DATASET', `dataset ${id} is a CSV upload, not an IDX one (use type "csv")`);
      // buildIdxDataset refuses unknown option names and checks each value it reads.
      return buildIdxDataset(stored.name, stored.data, stored.spec, rest as IdxDatasetOptions);
    }
    return loadDataset(type, options);
  }
}

async function noUploads(id: string): Promise<StoredUpload> {
  throw new DatasetError('UNKNOWN_DATASET', `dataset ${id}: no upload store configured`);
}

/** JSON with sorted keys and undefined members dropped: equal references, equal keys. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * A stored upload row of either kind → what DatasetCache builds a dataset from. Throws UNKNOWN_DATASET
 * for a missing row or file.
 */
export function storedUpload(id: string, row: { kind: string; name: string; data: Uint8Array | null; spec: unknown } | null): StoredUpload {
  if (row?.kind !== 'idx') return storedCsv(id, row);
  const spec = row.spec as Partial<IdxStoredSpec> | null;
  if (!row.data || spec?.format !== 'idx-ubyte-v1') throw new DatasetError('UNKNOWN_DATASET', `no idx dataset ${id}`);
  return { kind: 'idx', name: row.name, data: row.data, spec: spec as IdxStoredSpec };
}

/**
 * An uploaded dataset as stored (the file's bytes, and a spec whose `options` are the parse options
 * it was validated with) → what DatasetCache parses. Throws UNKNOWN_DATASET for a missing row or file.
 */
export function storedCsv(id: string, row: { data: Uint8Array | null; spec: unknown } | null): StoredCsv {
  const options = (row?.spec as { options?: CsvOptions } | null | undefined)?.options;
  if (!row?.data || !options) throw new DatasetError('UNKNOWN_DATASET', `no csv dataset ${id}`);
  return { text: new TextDecoder().decode(row.data), options };
}
