// Serialized JSON of a sweep's hot reads (its summary, pages of its trials, its curves), each with a
// strong ETag, kept in this process so a repeated GET costs no query. Entries are per sweep: a
// notification of any change of the sweep drops all of its entries, and none is served longer than
// `maxAgeMs` after its read began (the bound when a notification is lost). An entry past half that age
// is read again in the background while it is still served, so a busy read never waits on the
// database in steady state. Memory is bounded in bytes, least recently used first out.
import { createHash } from 'node:crypto';

/** A response body ready to send, and its strong ETag (a hash of exactly these bytes). */
export interface CachedJson {
  readonly body: Buffer;
  readonly etag: string;
}

export interface SweepJsonCacheOptions {
  /** Longest an entry is served, counted from the start of its read. Default 1000 ms. */
  maxAgeMs?: number;
  /** Age from which a hit also starts a background read to replace the entry. Default maxAgeMs / 2. */
  refreshAfterMs?: number;
  /** Bytes of bodies (plus a per-entry overhead) kept. Default 32 MiB. */
  maxBytes?: number;
  now?: () => number;
}

export interface SweepJsonCacheStats {
  hits: number;
  /** Reads from the loader (one per miss, shared by the requests that wait for it, or a background refresh). */
  loads: number;
  entries: number;
  bytes: number;
}

interface Entry {
  sweep: SweepState;
  id: string;
  value: CachedJson;
  /** When its load began: the data may be as old as that. */
  since: number;
  size: number;
}

/** What is cached and being read of one sweep. */
interface SweepState {
  sweepId: string;
  /** Bumped by each invalidation: a load begun under an older one is answered but not kept. */
  generation: number;
  entries: Set<string>;
  loads: Map<string, Promise<CachedJson | null>>;
}

/** Map key and per-entry bookkeeping, counted against `maxBytes` beside the body. */
const ENTRY_OVERHEAD_BYTES = 256;

export function jsonWithEtag(value: unknown): CachedJson {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

export class SweepJsonCache {
  private readonly maxAgeMs: number;
  private readonly refreshAfterMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  /** Insertion order is recency: a hit moves its entry to the end, eviction takes from the front. */
  private readonly entries = new Map<string, Entry>();
  /** Sweeps with entries or loads under way; no others. */
  private readonly sweeps = new Map<string, SweepState>();
  private bytes = 0;
  private hits = 0;
  private loadCount = 0;

  constructor(options: SweepJsonCacheOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 1_000;
    this.refreshAfterMs = options.refreshAfterMs ?? this.maxAgeMs / 2;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.now = options.now ?? Date.now;
  }

  /**
   * The cached JSON of (`sweepId`, `key`), or `load()`'s result serialized (and kept). Concurrent misses
   * share one load. `load` returning null (nothing there) or throwing is passed on and never kept.
   */
  async get(sweepId: string, key: string, load: () => Promise<unknown>): Promise<CachedJson | null> {
    const id = `${sweepId}\n${key}`;
    const entry = this.entries.get(id);
    if (entry) {
      const age = this.now() - entry.since;
      if (age <= this.maxAgeMs) {
        this.entries.delete(id);
        this.entries.set(id, entry);
        this.hits++;
        // Nobody waits for this one; a failure leaves the entry to age out, and then a caller sees it.
        if (age >= this.refreshAfterMs && !entry.sweep.loads.has(id)) this.load(entry.sweep, id, load).catch(() => undefined);
        return entry.value;
      }
      this.remove(entry);
    }
    let sweep = this.sweeps.get(sweepId);
    const pending = sweep?.loads.get(id);
    if (pending) return pending;
    if (!sweep) {
      sweep = { sweepId, generation: 0, entries: new Set(), loads: new Map() };
      this.sweeps.set(sweepId, sweep);
    }
    return this.load(sweep, id, load);
  }

  /** Drops every entry of the sweep; loads under way are still answered but not kept. */
  invalidate(sweepId: string): void {
    const sweep = this.sweeps.get(sweepId);
    if (!sweep) return;
    sweep.generation++;
    for (const id of sweep.entries) this.remove(this.entries.get(id)!);
    sweep.loads.clear();
    this.sweeps.delete(sweepId);
  }

  /** Drops everything (after missed notifications); loads under way are not kept. */
  clear(): void {
    for (const sweepId of [...this.sweeps.keys()]) this.invalidate(sweepId);
  }

  get stats(): SweepJsonCacheStats {
    return { hits: this.hits, loads: this.loadCount, entries: this.entries.size, bytes: this.bytes };
  }

  private load(sweep: SweepState, id: string, load: () => Promise<unknown>): Promise<CachedJson | null> {
    this.loadCount++;
    const promise = this.read(sweep, id, load);
    sweep.loads.set(id, promise);
    const settled = () => {
      if (sweep.loads.get(id) === promise) sweep.loads.delete(id);
      if (sweep.loads.size === 0 && sweep.entries.size === 0 && this.sweeps.get(sweep.sweepId) === sweep) this.sweeps.delete(sweep.sweepId);
    };
    // Callers see the rejection; this only tidies up after it.
    promise.then(settled, settled);
    return promise;
  }

  private async read(sweep: SweepState, id: string, load: () => Promise<unknown>): Promise<CachedJson | null> {
    const { generation } = sweep;
    const since = this.now();
    const value = await load();
    if (value === null) return null;
    const json = jsonWithEtag(value);
    // Kept only if nothing about the sweep changed while it was read (an invalidation retires the state).
    if (this.sweeps.get(sweep.sweepId) === sweep && sweep.generation === generation) {
      this.keep({ sweep, id, value: json, since, size: json.body.length + id.length + ENTRY_OVERHEAD_BYTES });
    }
    return json;
  }

  private keep(entry: Entry): void {
    // A body too large to share the space with others is served, not kept.
    if (entry.size > this.maxBytes / 8) return;
    const old = this.entries.get(entry.id);
    if (old) this.remove(old);
    this.entries.set(entry.id, entry);
    entry.sweep.entries.add(entry.id);
    this.bytes += entry.size;
    for (const oldest of this.entries.values()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(oldest);
      if (oldest.sweep.entries.size === 0 && oldest.sweep.loads.size === 0) this.sweeps.delete(oldest.sweep.sweepId);
    }
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.id);
    entry.sweep.entries.delete(entry.id);
    this.bytes -= entry.size;
  }
}
