// The replica pool: T worker threads sharing one WebAssembly.Memory, reused across runs. It keeps
// only threads, their protocol and the watchdog; what a training run is (options, plan, epochs,
// early stopping, checkpoints) is nn's TrainingRun, which it hosts. The dataset is placed in the
// memory once per process; each run is laid out after it.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  compileKernelModule,
  createMemory,
  layoutDataset,
  NnError,
  PAGE_BYTES,
  TrainingRun,
  writeDataset,
  type Checkpoint,
  type Dataset,
  type EvalResult,
  type PlacedDataset,
  type RunEpochMetrics,
  type RunHost,
  type RunOptions,
  type RunPlan,
  type SplitName,
  type StopReason,
} from '@hypersweep/nn';
import { ABORT, CONTROL_BYTES, raiseAbort, SUSPENDED_MS, WORD } from './control.ts';
import { TrainerError } from './errors.ts';
import type { FromReplica, ToReplica } from './protocol.ts';

const THREAD_ENTRY = fileURLToPath(new URL('../dist/replica-thread.mjs', import.meta.url));

/** The most replica threads a pool may have. */
export const MAX_THREADS = 256;

export interface PoolOptions {
  /** Replica threads (default: available cores). */
  readonly threads?: number;
  /** Use relaxed-SIMD FMA kernels when the runtime validates them. */
  readonly relaxedSimd?: boolean;
  /** Longest a barrier may wait before the step fails (default 30 s). */
  readonly stepTimeoutMs?: number;
  /**
   * The replica threads' entry script (default: the bundled production entry). Tools wrap the
   * production entry with `serveReplica(port, hooks)` — tests inject faults that way — so the
   * production protocol carries nothing but training.
   */
  readonly threadEntry?: string;
  /** Passed to every replica thread as its `workerData` (for a custom `threadEntry`). */
  readonly workerData?: unknown;
}

export type ParallelEpochMetrics = RunEpochMetrics;

export interface ParallelTrainOptions extends RunOptions {
  /** Evaluate the test split at the end, with the confusion matrix (default false). */
  readonly evaluateTest?: boolean;
}

export interface ParallelTrainResult {
  readonly history: readonly ParallelEpochMetrics[];
  readonly epochsRun: number;
  readonly stoppedBy: StopReason;
  /** 1-based epoch whose weights the model holds (the best one when early stopping restored it). */
  readonly bestEpoch: number | null;
  readonly test: EvalResult | null;
  /** The trained parameter block (a copy). */
  readonly params: Float32Array;
  readonly checkpoint: Checkpoint;
}

interface Pending {
  id: number;
  /** The ranks that must answer. */
  ranks: number[];
  replies: Map<number, FromReplica>;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class ReplicaPool {
  readonly threads: number;
  private readonly workers: (Worker | null)[];
  private readonly memory: WebAssembly.Memory;
  private readonly words: Int32Array;
  private module!: WebAssembly.Module;
  private nextId = 1;
  private pending: Pending | undefined;
  private placed: { dataset: Dataset; placed: PlacedDataset } | undefined;
  private closed = false;
  private busy = false;
  private readonly stepTimeoutMs: number;
  /** The first fatal error of the running command (thread death, replica error). */
  private failure: Error | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private placements = 0;
  /** The current (or last) run, and whether its memory holds a completed epoch (what checkpoint() saves). */
  private run: TrainingRun | undefined;
  private atEpochBoundary = false;

  private constructor(readonly options: PoolOptions) {
    this.threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > MAX_THREADS) {
      throw new TrainerError('INVALID_OPTIONS', `threads: must be an integer in [1, ${MAX_THREADS}], got ${options.threads}`);
    }
    this.stepTimeoutMs = options.stepTimeoutMs ?? 30_000;
    this.memory = createMemory(CONTROL_BYTES, true);
    this.words = new Int32Array(this.memory.buffer, 0, CONTROL_BYTES / 4);
    this.workers = new Array<Worker | null>(this.threads).fill(null);
  }

  static async create(options: PoolOptions = {}): Promise<ReplicaPool> {
    const pool = new ReplicaPool(options);
    pool.module = await compileKernelModule({ shared: true, relaxed: options.relaxedSimd === true });
    await pool.ensureThreads();
    return pool;
  }

  /** Starts (or replaces dead) replica threads and initialises them. */
  private async ensureThreads(): Promise<void> {
    const fresh: number[] = [];
    for (let r = 0; r < this.threads; r++) {
      if (this.workers[r]) continue;
      // The entry is plain JS: no loader flags of the parent (tsx) are inherited. A replica keeps
      // its tensors in the shared memory, so a small young generation is enough.
      const w = new Worker(this.options.threadEntry ?? THREAD_ENTRY, {
        execArgv: [],
        workerData: this.options.workerData,
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 },
      });
      w.on('message', (m: FromReplica) => this.onReply(m));
      w.on('error', (e) => this.onThreadDeath(r, w, e));
      w.on('exit', (code) => this.onThreadDeath(r, w, new Error(`replica thread ${r} exited with code ${code}`)));
      this.workers[r] = w;
      fresh.push(r);
    }
    if (fresh.length === 0) return;
    await this.command(fresh, (id, rank) => ({ type: 'init', id, rank, module: this.module, memory: this.memory }));
  }

  private onThreadDeath(rank: number, w: Worker, e: Error): void {
    if (this.workers[rank] !== w) return;
    this.workers[rank] = null;
    if (this.closed) return;
    const p = this.pending;
    // Between commands a dead thread is only replaced before the next one (ensureThreads).
    if (!p) return;
    const err = new TrainerError('THREAD_DIED', `replica thread ${rank} died: ${e.message}`, { rank }, { cause: e });
    // A thread the watchdog killed after a timeout or cancellation is not the cause.
    if (Atomics.load(this.words, WORD.abort) === ABORT.none) this.failure ??= err;
    raiseAbort(this.words, ABORT.threadDied);
    if (!p.replies.has(rank)) {
      p.replies.set(rank, { type: 'error', id: p.id, rank, message: err.message });
      this.settle(p);
    }
  }

  private onReply(m: FromReplica): void {
    const p = this.pending;
    if (!p || m.id !== p.id) return;
    p.replies.set(m.rank, m);
    if (m.type === 'error') {
      const err =
        m.code === 'NON_FINITE_LOSS'
          ? new TrainerError('NON_FINITE_LOSS', m.message, m.details)
          : new TrainerError('REPLICA_FAILED', `replica ${m.rank} failed: ${m.message}`, { rank: m.rank, stack: m.stack });
      this.failure ??= err;
    }
    this.settle(p);
  }

  private settle(p: Pending): void {
    const expected = p.ranks;
    if (!expected.every((r) => p.replies.has(r))) {
      if (Atomics.load(this.words, WORD.abort) !== ABORT.none) this.armWatchdog(p, expected);
      return;
    }
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.pending = undefined;
    const reason = Atomics.load(this.words, WORD.abort);
    const failure = this.failure;
    this.failure = undefined;
    if (failure) p.reject(failure);
    else if (reason === ABORT.cancelled) p.reject(new TrainerError('ABORTED', 'training was cancelled'));
    else if (reason === ABORT.timeout) p.reject(new TrainerError('TIMEOUT', `a replica waited more than ${this.stepTimeoutMs} ms at a barrier`));
    else if (reason !== ABORT.none) p.reject(new TrainerError('REPLICA_FAILED', `command aborted (reason ${reason})`));
    else p.resolve();
  }

  /** After an abort, a replica that has not answered within the step timeout is stuck: terminate it. */
  private armWatchdog(p: Pending, ranks: number[]): void {
    if (this.watchdog) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (this.pending !== p) return;
      for (const r of ranks) if (!p.replies.has(r)) void this.workers[r]?.terminate();
    }, this.stepTimeoutMs);
    this.watchdog.unref?.();
  }

  /** Sends one message per rank and resolves when every rank has answered. */
  private command(ranks: number[], make: (id: number, rank: number) => ToReplica, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new TrainerError('POOL_CLOSED', 'the replica pool is closed'));
    const id = this.nextId++;
    this.failure = undefined;
    Atomics.store(this.words, WORD.abort, ABORT.none);
    Atomics.store(this.words, WORD.barrierCount, 0);
    Atomics.store(this.words, WORD.progress, 0);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => raiseAbort(this.words, ABORT.cancelled);
      const done = (fn: () => void) => {
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const p: Pending = {
        id,
        ranks,
        replies: new Map(),
        resolve: () => done(resolve),
        reject: (e) => done(() => reject(e)),
      };
      this.pending = p;
      signal?.addEventListener('abort', onAbort);
      for (const r of ranks) {
        const w = this.workers[r];
        if (!w) {
          p.replies.set(r, { type: 'error', id, rank: r, message: `replica thread ${r} is not running` });
          this.failure ??= new TrainerError('THREAD_DIED', `replica thread ${r} is not running`);
          raiseAbort(this.words, ABORT.threadDied);
          continue;
        }
        w.postMessage(make(id, r));
      }
      if (signal?.aborted) onAbort();
      this.settle(p);
    });
  }

  private all(make: (id: number, rank: number) => ToReplica, signal?: AbortSignal): Promise<void> {
    return this.command(
      Array.from({ length: this.threads }, (_, r) => r),
      make,
      signal,
    );
  }

  /**
   * Barriers time out when a peer stalls; this covers the case where no replica reaches a
   * barrier (every replica stuck, or a single thread): no step finished within the step timeout.
   */
  private async watchProgress(running: Promise<void>): Promise<void> {
    let last = Atomics.load(this.words, WORD.progress);
    let lastChange = performance.now();
    const tickMs = Math.min(1000, Math.max(50, this.stepTimeoutMs / 4));
    let lastTick = lastChange;
    const timer = setInterval(() => {
      const now = Atomics.load(this.words, WORD.progress);
      const at = performance.now();
      // A tick far later than due: the process was stopped, its replicas with it; not a stall.
      if (at - lastTick > tickMs + Math.min(SUSPENDED_MS, this.stepTimeoutMs / 2)) lastChange += at - lastTick;
      lastTick = at;
      if (now !== last) {
        last = now;
        lastChange = at;
      } else if (at - lastChange > this.stepTimeoutMs && Atomics.load(this.words, WORD.abort) === ABORT.none) {
        raiseAbort(this.words, ABORT.timeout);
        const p = this.pending;
        if (p) this.settle(p);
      }
    }, tickMs);
    try {
      await running;
    } finally {
      clearInterval(timer);
    }
  }

  /** Grows the shared memory to at least `bytes`; views are re-created by their users. */
  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
  }

  /** Places a dataset in the shared memory unless it is already there (one copy per process). */
  private placeDataset(ds: Dataset): PlacedDataset {
    if (this.placed?.dataset === ds) return this.placed.placed;
    const placed = layoutDataset(ds, CONTROL_BYTES);
    this.reserve(placed.end);
    writeDataset(this.memory.buffer, placed, ds);
    this.placed = { dataset: ds, placed };
    this.placements++;
    return placed;
  }

  /** The pool as a run's host: layout in the shared memory, commands to every replica. */
  private host(): RunHost {
    return {
      threads: this.threads,
      spin: this.threads <= availableParallelism() ? 20000 : 0,
      stepTimeoutMs: this.stepTimeoutMs,
      layout: (dataset: Dataset, plan: (placed: PlacedDataset) => RunPlan) => {
        const p = plan(this.placeDataset(dataset));
        this.reserve(p.bytes);
        return { memory: this.memory, plan: p };
      },
      begin: async (plan: RunPlan, signal?: AbortSignal) => {
        await this.ensureThreads();
        await this.all((id) => ({ type: 'plan', id, plan }), signal);
      },
      epoch: async (epoch: number, stepBase: number, steps: number, signal?: AbortSignal) => {
        this.atEpochBoundary = false;
        await this.watchProgress(this.all((id) => ({ type: 'epoch', id, epoch, stepBase, steps }), signal));
        this.atEpochBoundary = true;
      },
      evaluate: (split: SplitName, signal?: AbortSignal) => this.all((id) => ({ type: 'evaluate', id, split }), signal),
    };
  }

  /** Trains one run data-parallel on the pool's threads. One run at a time per pool. */
  async train(o: ParallelTrainOptions): Promise<ParallelTrainResult> {
    if (this.closed) throw new TrainerError('POOL_CLOSED', 'the replica pool is closed');
    if (this.busy) throw new TrainerError('INVALID_OPTIONS', 'the pool is already training a run');
    this.busy = true;
    this.run = undefined;
    this.atEpochBoundary = false;
    try {
      const run = await TrainingRun.start(o, this.host());
      this.run = run;
      this.atEpochBoundary = true;
      const fit = await run.fit();
      const test = o.evaluateTest ? await run.evaluate('test', { confusionMatrix: true }) : null;
      return { ...fit, test, params: run.paramsView().slice(), checkpoint: run.checkpoint() };
    } catch (error) {
      this.atEpochBoundary = false;
      // Cancelled between epochs: the same error as a cancellation mid-epoch.
      if (error instanceof NnError && error.code === 'ABORTED') throw new TrainerError('ABORTED', 'training was cancelled', undefined, { cause: error });
      throw error;
    } finally {
      this.busy = false;
    }
  }

  /**
   * A checkpoint of the run at its last completed epoch: call it from onEpoch, or after train
   * returned (not after a failure: the parameters may then be mid-epoch). It does not depend on
   * the number of threads: resume it on any pool, or in a single-thread TrainingSession.
   */
  checkpoint(): Checkpoint {
    if (!this.run || !this.atEpochBoundary) throw new TrainerError('INVALID_OPTIONS', 'no epoch has completed yet');
    return this.run.checkpoint();
  }

  /** The worker object of a replica (tests terminate it to simulate a crash). */
  replicaThread(rank: number): Worker | null {
    return this.workers[rank] ?? null;
  }

  /** Bytes of shared memory and how many times a dataset was copied into it. */
  get stats(): { memoryBytes: number; datasetPlacements: number } {
    return { memoryBytes: this.memory.buffer.byteLength, datasetPlacements: this.placements };
  }

  /** Optimizer steps finished in the running epoch. */
  get progress(): number {
    return Atomics.load(this.words, WORD.progress);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    raiseAbort(this.words, ABORT.cancelled);
    await Promise.all(this.workers.map((w) => w?.terminate()));
    this.workers.fill(null);
  }
}

/** Trains one run on a fresh pool of `threads` threads and closes it. */
export async function train(o: ParallelTrainOptions & PoolOptions): Promise<ParallelTrainResult> {
  const pool = await ReplicaPool.create(o);
  try {
    return await pool.train(o);
  } finally {
    await pool.close();
  }
}
