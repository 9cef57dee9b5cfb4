// Leases of ask/tell trials in Redis (docs/ask-tell.md). A lease is the right to report for one
// attempt of a trial; it lapses after its TTL without a heartbeat, report or tell, and the
// reconciler then retries or fails the trial. Every change checks the lease id atomically.
import type { Redis } from 'ioredis';
import { leaseKey } from './names.ts';

export interface Lease {
  readonly leaseId: string;
  /** The trial attempt the lease holds (Postgres' claim counter). */
  readonly attempt: number;
  /** Set once the trial ended under this lease (a stop or the last step): a late tell still succeeds. */
  readonly ended?: string;
}

/** Takes the lease of a trial nobody holds (SET NX); false when another lease exists. */
export async function takeLease(redis: Redis, prefix: string, trialId: string, lease: Lease, ttlMs: number): Promise<boolean> {
  return (await redis.set(leaseKey(prefix, trialId), JSON.stringify(lease), 'PX', ttlMs, 'NX')) === 'OK';
}

export async function readLease(redis: Redis, prefix: string, trialId: string): Promise<Lease | null> {
  const raw = await redis.get(leaseKey(prefix, trialId));
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as Lease;
  } catch {
    return null;
  }
}

// Replaces the value (keeping the TTL, or a new one) only while the lease id matches.
const REPLACE_IF_HELD = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw).leaseId ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL') else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
return 1`;

/** Renews the lease for `ttlMs` more; false when it is lost (lapsed or replaced). */
export async function renewLease(redis: Redis, prefix: string, trialId: string, lease: Lease, ttlMs: number): Promise<boolean> {
  return (await redis.eval(REPLACE_IF_HELD, 1, leaseKey(prefix, trialId), lease.leaseId, String(ttlMs), JSON.stringify(lease))) === 1;
}

/** Marks the lease's trial ended (`status`) for `ttlMs`, so a late tell is answered; false when lost. */
export async function endLease(redis: Redis, prefix: string, trialId: string, lease: Lease, status: string, ttlMs: number): Promise<boolean> {
  return renewLease(redis, prefix, trialId, { ...lease, ended: status }, ttlMs);
}

const DELETE_IF_HELD = `
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).leaseId == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Drops the lease if it is still this one. */
export async function dropLease(redis: Redis, prefix: string, trialId: string, leaseId: string): Promise<void> {
  await redis.eval(DELETE_IF_HELD, 1, leaseKey(prefix, trialId), leaseId);
}
