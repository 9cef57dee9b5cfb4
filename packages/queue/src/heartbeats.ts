// Worker heartbeats in Redis: each worker publishes what it is doing with a TTL; the API lists the cluster.
import { WorkerHeartbeat, type ClusterView, type WorkerStatus } from '@hypersweep/schemas';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { lastHeartbeatsKey, workerHeartbeatKey, workerTrialsKey, workersIndexKey } from './names.ts';
import { assertPrefix, parsePayload } from './queues.ts';

export type WorkerStatusView = z.infer<typeof WorkerStatus>;

/** One delivery a worker is training: the trial and the claim's attempt (Postgres' counter). */
const HeldTrialSchema = z.strictObject({ trialId: z.string().min(1).max(200), attempt: z.number().int().min(0) });
export type HeldTrial = z.infer<typeof HeldTrialSchema>;

const HeldTrialsSchema = z.strictObject({
  workerId: z.string().min(1),
  trials: z.array(HeldTrialSchema),
  /** The TTL the worker publishes with: how long it may stay silent and still count as alive. */
  ttlMs: z.number().int().positive(),
  at: z.string(),
});
/** What `<prefix>:worker-trials:<workerId>` holds while the worker's heartbeat is live. */
export type HeldTrials = z.infer<typeof HeldTrialsSchema>;

export interface PublishHeartbeatOptions {
  /**
   * Every trial the worker trains (the heartbeat's `currentTrial` shows one only). Default: the
   * heartbeat's `currentTrial`, or none.
   */
  trials?: readonly HeldTrial[];
}

/**
 * Stores a worker's heartbeat: its liveness key `<prefix>:workers:<workerId>` (JSON, expires after
 * `ttlMs`), the trials it holds in `<prefix>:worker-trials:<workerId>` (same TTL), its entry in the
 * index `<prefix>:workers` (scored by `heartbeat.at`, in ms) and its last heartbeat in
 * `<prefix>:worker-heartbeats` (kept until pruned, so a dead worker can still be shown).
 * Throws `QueueError('invalid_payload')` for a heartbeat the `WorkerHeartbeat` schema refuses.
 */
export async function publishHeartbeat(redis: Redis, prefix: string, heartbeat: WorkerHeartbeat, ttlMs: number, options: PublishHeartbeatOptions = {}): Promise<void> {
  assertPrefix(prefix);
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
  const beat = parsePayload(WorkerHeartbeat, heartbeat, 'worker heartbeat');
  const current = beat.currentTrial ? [{ trialId: beat.currentTrial.trialId, attempt: beat.currentTrial.attempt }] : [];
  const held = parsePayload(HeldTrialsSchema, { workerId: beat.workerId, trials: options.trials ?? current, ttlMs, at: beat.at }, 'held trials');
  const json = JSON.stringify(beat);
  const results = await redis
    .multi()
    .set(workerHeartbeatKey(prefix, beat.workerId), json, 'PX', ttlMs)
    .set(workerTrialsKey(prefix, beat.workerId), JSON.stringify(held), 'PX', ttlMs)
    .hset(lastHeartbeatsKey(prefix), beat.workerId, json)
    .zadd(workersIndexKey(prefix), Date.parse(beat.at), beat.workerId)
    .exec();
  throwOnFailedCommand(results);
}

/** Forgets a worker at once (graceful stop), instead of letting it show up as dead until pruned. */
export async function removeHeartbeat(redis: Redis, prefix: string, workerId: string): Promise<void> {
  assertPrefix(prefix);
  const results = await redis
    .multi()
    .del(workerHeartbeatKey(prefix, workerId))
    .del(workerTrialsKey(prefix, workerId))
    .hdel(lastHeartbeatsKey(prefix), workerId)
    .zrem(workersIndexKey(prefix), workerId)
    .exec();
  throwOnFailedCommand(results);
}

/** ioredis resolves a MULTI with per-command errors instead of rejecting; surface the first one. */
function throwOnFailedCommand(results: [error: Error | null, result: unknown][] | null): void {
  const failed = results?.find(([error]) => error !== null)?.[0];
  if (failed) throw failed;
}

export interface ListWorkersOptions {
  /** The caller's clock, in ms since the epoch (default `Date.now()`). */
  now?: number;
  /** A worker is alive while its liveness key exists and its last heartbeat is this recent (default 15 s). */
  aliveWithinMs?: number;
  /** Workers silent for longer are pruned from the index (default 5 min). */
  forgetAfterMs?: number;
}

export const DEFAULT_ALIVE_WITHIN_MS = 15_000;
export const DEFAULT_FORGET_AFTER_MS = 5 * 60_000;

// Removes index entries scored below ARGV[1] and their last heartbeats, atomically, so a worker
// publishing at the same moment is either pruned entirely or kept entirely.
const PRUNE_SCRIPT = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, id in ipairs(stale) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #stale`;

/**
 * The cluster as the API shows it (`ClusterView`): every worker of the index, sorted by id, with
 * `alive` true while its liveness key exists and its heartbeat is at most `aliveWithinMs` old.
 * A worker whose key expired stays listed as not alive until it has been silent for
 * `forgetAfterMs`; then it is pruned. Totals count alive workers only (busy: with a current trial).
 */
export async function listWorkers(redis: Redis, prefix: string, options: ListWorkersOptions = {}): Promise<ClusterView> {
  assertPrefix(prefix);
  const now = options.now ?? Date.now();
  const aliveWithinMs = options.aliveWithinMs ?? DEFAULT_ALIVE_WITHIN_MS;
  const forgetAfterMs = options.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
  const index = workersIndexKey(prefix);
  const last = lastHeartbeatsKey(prefix);

  await redis.eval(PRUNE_SCRIPT, 2, index, last, String(now - forgetAfterMs));
  const ids = await redis.zrange(index, '0', '-1');
  if (ids.length === 0) return { workers: [], totals: { workers: 0, alive: 0, busy: 0, threads: 0, samplesPerSecond: 0 } };
  const [live, stored] = await Promise.all([
    redis.mget(...ids.map((id) => workerHeartbeatKey(prefix, id))),
    redis.hmget(last, ...ids),
  ]);

  const workers: WorkerStatusView[] = [];
  const unreadable: string[] = [];
  ids.forEach((id, i) => {
    const liveJson = live[i] ?? null;
    const beat = parseStored(liveJson ?? stored[i] ?? null);
    if (!beat || beat.workerId !== id) {
      unreadable.push(id);
      return;
    }
    const alive = liveJson !== null && now - Date.parse(beat.at) <= aliveWithinMs;
    workers.push({ ...beat, alive });
  });
  // An index entry without a readable heartbeat (a partial flush, a foreign write) shows nothing: drop it.
  if (unreadable.length > 0) await redis.zrem(index, ...unreadable);
  workers.sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));

  const alive = workers.filter((w) => w.alive);
  return {
    workers,
    totals: {
      workers: workers.length,
      alive: alive.length,
      busy: alive.filter((w) => w.currentTrial !== null).length,
      threads: alive.reduce((sum, w) => sum + w.threads, 0),
      samplesPerSecond: alive.reduce((sum, w) => sum + w.samplesPerSecond, 0),
    },
  };
}

/**
 * A worker's latest heartbeat: `live` while its liveness key exists; after that expired, the last one
 * it published (`live: false`) until pruned or removed. `null` when Redis knows nothing of the worker
 * (never published, stopped gracefully, pruned — or Redis lost its keys).
 */
export async function getHeartbeat(
  redis: Redis,
  prefix: string,
  workerId: string,
): Promise<{ heartbeat: WorkerHeartbeat; live: boolean } | null> {
  assertPrefix(prefix);
  const [live, last] = await Promise.all([redis.get(workerHeartbeatKey(prefix, workerId)), redis.hget(lastHeartbeatsKey(prefix), workerId)]);
  const current = parseStored(live);
  if (current) return { heartbeat: current, live: true };
  const previous = parseStored(last);
  return previous ? { heartbeat: previous, live: false } : null;
}

/**
 * The trials each of `workerIds` holds, for the workers whose heartbeat is live (an expired or
 * unreadable entry is left out): one MGET.
 */
export async function getHeldTrials(redis: Redis, prefix: string, workerIds: Iterable<string>): Promise<Map<string, HeldTrials>> {
  assertPrefix(prefix);
  const ids = [...new Set(workerIds)];
  const held = new Map<string, HeldTrials>();
  if (ids.length === 0) return held;
  const values = await redis.mget(...ids.map((id) => workerTrialsKey(prefix, id)));
  ids.forEach((id, i) => {
    const entry = parseJson(HeldTrialsSchema, values[i] ?? null);
    if (entry?.workerId === id) held.set(id, entry);
  });
  return held;
}

function parseStored(json: string | null): WorkerHeartbeat | null {
  return parseJson(WorkerHeartbeat, json);
}

function parseJson<T>(schema: z.ZodType<T>, json: string | null): T | null {
  if (json === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
