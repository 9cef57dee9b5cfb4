// Faults: a replica that throws or a thread that dies fails the step within 1 s with that error,
// the pool replaces the dead thread and the next trial runs; cancellation stops within one step.
import { describe, expect, it, afterAll } from 'vitest';
import { ReplicaPool, TrainerError, type ParallelTrainOptions } from '../src/index.ts';
import { faultyPool, type ReplicaFault } from './faults.ts';
import { mlp, quadrants } from './helpers.ts';

const dataset = quadrants({ count: 4000, side: 8, seed: 5 });
const base: ParallelTrainOptions = {
  model: mlp(8),
  optimizer: { type: 'adam', learningRate: 0.01 },
  dataset,
  epochs: 2,
  batchSize: 16,
  microbatches: 2,
  seed: 1,
};

const pools: ReplicaPool[] = [];
afterAll(async () => {
  for (const p of pools) await p.close();
});
async function pool(threads: number, stepTimeoutMs?: number, faults: ReplicaFault[] = []): Promise<ReplicaPool> {
  const options = { threads, ...(stepTimeoutMs ? { stepTimeoutMs } : {}) };
  const p = faults.length > 0 ? await faultyPool(options, faults) : await ReplicaPool.create(options);
  pools.push(p);
  return p;
}

async function failure(p: Promise<unknown>): Promise<TrainerError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TrainerError);
  return e as TrainerError;
}

/** Polls until the pool reports progress in the running epoch. */
async function untilProgress(p: ReplicaPool, steps: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (p.progress < steps) {
    if (Date.now() > deadline) throw new Error('no progress');
    await new Promise((r) => setImmediate(r));
  }
}

describe('faults', () => {
  it('a replica that throws fails the step with its error; the next trial runs normally', async () => {
    const p = await pool(2, undefined, [{ rank: 1, step: 5, kind: 'throw', message: 'kernel exploded' }]);
    const started = Date.now();
    const e = await failure(p.train(base));
    expect(Date.now() - started).toBeLessThan(1000 + 200);
    expect(e.code).toBe('REPLICA_FAILED');
    expect(e.message).toContain('replica 1 failed: kernel exploded');
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
    expect(ok.history[0]!.valAccuracy).toBeGreaterThan(0.5);
  });

  it('a terminated thread fails the step within 1 s; the pool replaces it', async () => {
    const p = await pool(2);
    const running = p.train({ ...base, epochs: 50 });
    await untilProgress(p, 3);
    const killed = Date.now();
    await p.replicaThread(1)!.terminate();
    const e = await failure(running);
    expect(Date.now() - killed).toBeLessThan(1000);
    expect(e.code).toBe('THREAD_DIED');
    expect(e.message).toContain('replica thread 1');
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
    expect(p.replicaThread(1)).not.toBeNull();
  });

  it('a thread that dies between trials is replaced before the next one', async () => {
    const p = await pool(2);
    await p.train({ ...base, epochs: 1 });
    await p.replicaThread(0)!.terminate();
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
    expect(() => p.checkpoint()).not.toThrow();
  });

  it('an abort signal stops training within one step', async () => {
    const p = await pool(2);
    const ac = new AbortController();
    const running = p.train({ ...base, epochs: 50, signal: ac.signal });
    await untilProgress(p, 3);
    ac.abort();
    // Read after the abort word is up (the abort listener raises it synchronously): a step that
    // finished between a read before it and the abort is not one that ran after it.
    const at = p.progress;
    const e = await failure(running);
    expect(e.code).toBe('ABORTED');
    // Each replica checks the abort word before every step: at most the step in flight finishes.
    expect(p.progress - at).toBeLessThanOrEqual(1);
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
  });

  it('a stalled replica fails the step with TIMEOUT; the stuck thread is terminated and replaced', async () => {
    // Replica 1 stalls inside step 3 without looking at the abort word.
    const p = await pool(2, 300, [{ rank: 1, step: 3, kind: 'stall', ms: 60_000 }]);
    const stuck = p.replicaThread(1);
    const started = Date.now();
    const e = await failure(p.train(base));
    // The peer gives up at 300 ms; the watchdog gives the stuck replica 300 ms more, then kills it.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toContain('300 ms');
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
    expect(p.replicaThread(1)).not.toBe(stuck);
  });

  it('a single replica stuck in a step is timed out by the progress watchdog', async () => {
    const p = await pool(1, 300, [{ rank: 0, step: 2, kind: 'stall', ms: 60_000 }]);
    const started = Date.now();
    const e = await failure(p.train(base));
    expect(e.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2500);
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
  });

  it('a loss that becomes NaN/Inf stops every replica with an error naming the step', async () => {
    const p = await pool(2);
    const e = await failure(p.train({ ...base, optimizer: { type: 'sgd', learningRate: 100 } }));
    expect(e.code).toBe('NON_FINITE_LOSS');
    expect(e.message).toMatch(/at epoch 1, step \d+/);
    const ok = await p.train({ ...base, epochs: 1 });
    expect(ok.epochsRun).toBe(1);
  });

  it('rejects bad options with a clear error', async () => {
    const p = await pool(1);
    await expect(p.train({ ...base, microbatches: 0 })).rejects.toThrow('microbatches');
    await expect(p.train({ ...base, microbatches: 17 })).rejects.toThrow('microbatches: must be an integer in [1, 16]');
    await expect(ReplicaPool.create({ threads: 0 })).rejects.toThrow('threads');
  });
});
