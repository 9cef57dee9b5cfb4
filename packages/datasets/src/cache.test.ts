import { describe, expect, it } from 'vitest';
import { DatasetCache, canonicalJson } from './cache.ts';

const CSV = 'a,b,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${i % 7},${i % 2 === 0 ? 'x' : 'y'}`).join('\n');

describe('DatasetCache', () => {
  it('loads a reference once, whatever the key order, and retries a failed load', async () => {
    let fetches = 0;
    const cache = new DatasetCache(async (id) => {
      fetches++;
      if (fetches === 1) throw new Error(`store down for ${id}`);
      return { text: CSV, options: { labelColumn: 'label', task: 'classification' } };
    });
    await expect(cache.get({ type: 'csv', id: 'x' })).rejects.toThrow('store down');
    const a = await cache.get({ type: 'csv', id: 'x' });
    const b = await cache.get({ id: 'x', type: 'csv' });
    expect(a).toBe(b);
    expect(fetches).toBe(2);
    expect(a.numClasses).toBe(2);
  });

  it('reads a stored upload as it was accepted: a label name the header holds twice is the first', async () => {
    const twice = 'a,label,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${i % 2},${i % 3}`).join('\n');
    const cache = new DatasetCache(async () => ({ text: twice, options: { labelColumn: 'label', task: 'classification' } }));
    const stored = await cache.get({ type: 'csv', id: 'old' });
    expect(stored.numClasses).toBe(2);
    expect(stored.featureShape).toEqual([2]);
  });

  it('loads built-ins by type and refuses csv without a store', async () => {
    const cache = new DatasetCache();
    const spirals = await cache.get({ type: 'spirals', count: 100, seed: 1 });
    expect(spirals.train.count + spirals.validation.count).toBe(100);
    await expect(cache.get({ type: 'csv', id: 'y' })).rejects.toThrow(/no upload store/);
  });

  it('canonicalJson sorts keys and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 2 }] })).toBe('{"a":[{"c":2}],"b":1}');
  });
});
