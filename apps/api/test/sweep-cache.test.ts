// SweepJsonCache on its own: hits, one shared load per miss, invalidation racing a load, the age
// bound, the byte bound, and what is never kept (nothing found, errors, oversized bodies).
import { describe, expect, it } from 'vitest';
import { SweepJsonCache, jsonWithEtag } from '../src/sweep-cache.ts';

/** A load the test finishes by hand, counting its calls. */
function gate<T>(value: T) {
  let calls = 0;
  const opened: (() => void)[] = [];
  return {
    get calls() {
      return calls;
    },
    load: () => {
      calls++;
      return new Promise<T>((resolve) => opened.push(() => resolve(value)));
    },
    open: () => opened.splice(0).forEach((go) => go()),
  };
}

/** Waits (on microtasks, no timers) until the cached summary of A is version `v`. */
async function sleepUntilReplaced(cache: SweepJsonCache, now: number, v: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const hit = await cache.get(A, 'sweep', async () => ({ v: 'unexpected load' }));
    if ((JSON.parse(hit!.body.toString()) as { v: unknown }).v === v) return;
    await Promise.resolve();
  }
  throw new Error(`the entry was not replaced by v${v} at ${now}`);
}

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

describe('SweepJsonCache', () => {
  it('serves a repeated read from memory with the same strong ETag', async () => {
    const cache = new SweepJsonCache();
    let calls = 0;
    const load = async () => ({ n: ++calls });
    const first = await cache.get(A, 'sweep', load);
    const again = await cache.get(A, 'sweep', load);
    expect(calls).toBe(1);
    expect(again).toBe(first);
    expect(JSON.parse(first!.body.toString())).toEqual({ n: 1 });
    expect(first!.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(first!.etag).toBe(jsonWithEtag({ n: 1 }).etag);
    expect(jsonWithEtag({ n: 2 }).etag).not.toBe(first!.etag);
    expect(cache.stats).toMatchObject({ hits: 1, loads: 1, entries: 1 });
    // Another key of the same sweep, and another sweep, are their own entries.
    await cache.get(A, 'trials {}', load);
    await cache.get(B, 'sweep', load);
    expect(calls).toBe(3);
  });

  it('shares one load among concurrent misses', async () => {
    const cache = new SweepJsonCache();
    const g = gate({ v: 1 });
    const reads = Array.from({ length: 20 }, () => cache.get(A, 'sweep', g.load));
    g.open();
    const results = await Promise.all(reads);
    expect(g.calls).toBe(1);
    expect(new Set(results).size).toBe(1);
  });

  it('drops a sweep on invalidate, and never keeps a read that an invalidation overtook', async () => {
    const cache = new SweepJsonCache();
    let version = 1;
    const load = async () => ({ version });
    await cache.get(A, 'sweep', load);
    await cache.get(B, 'sweep', load);
    version = 2;
    cache.invalidate(A);
    expect(JSON.parse((await cache.get(A, 'sweep', load))!.body.toString())).toEqual({ version: 2 });
    // B was not touched.
    expect(JSON.parse((await cache.get(B, 'sweep', load))!.body.toString())).toEqual({ version: 1 });

    // A read begins, the sweep changes while it runs: its caller gets it, nobody after the change does.
    cache.invalidate(A);
    const slow = gate({ version: 'before the change' });
    const early = cache.get(A, 'sweep', slow.load);
    cache.invalidate(A);
    const late = cache.get(A, 'sweep', async () => ({ version: 'after the change' }));
    slow.open();
    expect(JSON.parse((await early)!.body.toString())).toEqual({ version: 'before the change' });
    expect(JSON.parse((await late)!.body.toString())).toEqual({ version: 'after the change' });
    const next = await cache.get(A, 'sweep', async () => ({ version: 'reloaded' }));
    expect(JSON.parse(next!.body.toString())).toEqual({ version: 'after the change' });

    // Overtaken and nothing read since: the stale read is still not kept.
    cache.invalidate(A);
    const overtaken = gate({ version: 'stale' });
    const pending = cache.get(A, 'sweep', overtaken.load);
    cache.invalidate(A);
    overtaken.open();
    await pending;
    expect(JSON.parse((await cache.get(A, 'sweep', async () => ({ version: 'fresh' })))!.body.toString())).toEqual({ version: 'fresh' });
  });

  it('serves nothing older than maxAgeMs, counted from the start of its read', async () => {
    let now = 1_000;
    const cache = new SweepJsonCache({ maxAgeMs: 1_000, refreshAfterMs: Infinity, now: () => now });
    let calls = 0;
    const slow = async () => {
      now += 300; // the read itself takes 300 ms
      return { n: ++calls };
    };
    await cache.get(A, 'sweep', slow);
    now += 700; // 1,000 ms after the read began
    await cache.get(A, 'sweep', slow);
    expect(calls).toBe(1);
    now += 1;
    await cache.get(A, 'sweep', slow);
    expect(calls).toBe(2);
  });

  it('reads an entry past half its age again in the background while still serving it', async () => {
    let now = 0;
    const cache = new SweepJsonCache({ maxAgeMs: 1_000, now: () => now });
    const reads = [gate({ v: 1 }), gate({ v: 2 }), gate({ v: 3 })];
    let next = 0;
    const load = () => reads[next++]!.load();
    const first = cache.get(A, 'sweep', load);
    reads[0]!.open();
    expect(JSON.parse((await first)!.body.toString())).toEqual({ v: 1 });
    now = 499;
    await cache.get(A, 'sweep', load);
    expect(next).toBe(1);
    // Past half its age: served at once, and one read begins (however many hits come meanwhile).
    now = 600;
    for (let i = 0; i < 5; i++) expect(JSON.parse((await cache.get(A, 'sweep', load))!.body.toString())).toEqual({ v: 1 });
    expect(next).toBe(2);
    reads[1]!.open();
    await sleepUntilReplaced(cache, now, 2);
    expect(cache.stats.loads).toBe(2);
    // A background read that fails leaves the entry to age out; then a caller waits for a new read.
    now = 1_200;
    let failed = 0;
    const failing = cache.get(A, 'sweep', async () => {
      failed++;
      throw new Error('database down');
    });
    expect(JSON.parse((await failing)!.body.toString())).toEqual({ v: 2 });
    // Let the failed read settle (microtasks only); a caller arriving before that would share its failure.
    await new Promise((resolve) => setImmediate(resolve));
    expect(failed).toBe(1);
    now = 1_700;
    const waited = cache.get(A, 'sweep', load);
    reads[2]!.open();
    expect(JSON.parse((await waited)!.body.toString())).toEqual({ v: 3 });
  });

  it('clear drops every sweep, and a read under way is not kept', async () => {
    const cache = new SweepJsonCache();
    let calls = 0;
    const load = async () => ({ n: ++calls });
    await cache.get(A, 'sweep', load);
    await cache.get(B, 'sweep', load);
    const slow = gate({ n: 'in flight' });
    const pending = cache.get(A, 'curves', slow.load);
    cache.clear();
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
    slow.open();
    await pending;
    await cache.get(A, 'sweep', load);
    await cache.get(B, 'sweep', load);
    await cache.get(A, 'curves', load);
    expect(calls).toBe(5);
  });

  it('keeps at most maxBytes, least recently used out first, and does not keep a body too large to share', async () => {
    const body = 'x'.repeat(1_000);
    const cache = new SweepJsonCache({ maxBytes: 8 * 1_400 });
    const ids = Array.from({ length: 12 }, (_, i) => `00000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`);
    for (const id of ids.slice(0, 6)) await cache.get(id, 'sweep', async () => ({ body }));
    // Touch the first: it is now the most recently used.
    let reloads = 0;
    const counted = async () => {
      reloads++;
      return { body };
    };
    await cache.get(ids[0]!, 'sweep', counted);
    expect(reloads).toBe(0);
    for (const id of ids.slice(6)) await cache.get(id, 'sweep', async () => ({ body }));
    expect(cache.stats.bytes).toBeLessThanOrEqual(8 * 1_400);
    expect(cache.stats.entries).toBeLessThan(12);
    await cache.get(ids[0]!, 'sweep', counted);
    expect(reloads).toBe(0);
    await cache.get(ids[1]!, 'sweep', counted);
    expect(reloads).toBe(1);

    const huge = await cache.get(A, 'trials', async () => ({ body: 'y'.repeat(2_000) }));
    expect(huge!.body.length).toBeGreaterThan(2_000);
    await cache.get(A, 'trials', counted);
    expect(reloads).toBe(2);
  });

  it('passes on nothing-found and errors without keeping them', async () => {
    const cache = new SweepJsonCache();
    let calls = 0;
    expect(
      await cache.get(A, 'sweep', async () => {
        calls++;
        return null;
      }),
    ).toBeNull();
    await expect(
      cache.get(A, 'sweep', async () => {
        calls++;
        throw new Error('database down');
      }),
    ).rejects.toThrow('database down');
    const ok = await cache.get(A, 'sweep', async () => {
      calls++;
      return { ok: true };
    });
    expect(JSON.parse(ok!.body.toString())).toEqual({ ok: true });
    expect(calls).toBe(3);
    expect(cache.stats).toMatchObject({ entries: 1, loads: 3 });
  });
});
