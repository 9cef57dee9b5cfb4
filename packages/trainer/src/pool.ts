// The replica pool: T worker threads sharing one WebAssembly.Memory, reused across trials. The
// dataset is placed in the memory once per process; each trial re-plans the space after it.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  Arena,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  compileKernelModule,
  createMemory,
  decodeTensors,
  encodeTensors,
  epochPermutation,
  initializeParams,
  initRng,
  jsonEqual,
  keyFromSeed,
  learningRateAt,
  NnError,
  PAGE_BYTES,
  parseOptimizerSpec,
  parseScheduleSpec,
  checkDatasetFits,
  compileModel,
  type Checkpoint,
  type CheckpointManifest,
  type Dataset,
  type DataSplit,
  type EpochMetrics,
  type EvalResult,
} from '@hypersweep/nn';
import { ABORT, CONTROL_BYTES, raiseAbort, WORD } from './control.ts';
import { TrainerError } from './errors.ts';
import { evalRows, planTrial, type PlacedDataset, type PlacedSplit, type TrialPlan } from './plan.ts';
import type { FromReplica, ReplicaFault, ToReplica } from './protocol.ts';

const THREAD_ENTRY = fileURLToPath(new URL('../dist/replica-thread.mjs', import.meta.url));

export interface PoolOptions {
  /** Replica threads (default: available cores). */
  readonly threads?: number;
  /** Use relaxed-SIMD FMA kernels when the runtime validates them. */
  readonly relaxedSimd?: boolean;
  /** Longest a barrier may wait before the step fails (default 30 s). */
  readonly stepTimeoutMs?: number;
}

export interface StepTiming {
  /** Milliseconds per step, averaged over replicas: forward + backward. */
  readonly computeMs: number;
  /** Reduce-scatter of the gradients and the sharded optimizer update. */
  readonly reduceMs: number;
  /** Waiting at barriers. */
  readonly waitMs: number;
}

export interface ParallelEpochMetrics extends EpochMetrics {
  readonly threads: number;
  readonly stepTiming: StepTiming;
}

export interface ParallelTrainOptions {
  readonly model: unknown;
  readonly optimizer: unknown;
  readonly schedule?: unknown;
  readonly dataset: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  /** Microbatches per step: fixed for the trial, independent of the thread count (default: threads). */
  readonly microbatches?: number;
  readonly seed: number;
  readonly clipNorm?: number;
  /** Called after every epoch; return 'stop' to end training there (e.g. a scheduler said so). */
  readonly onEpoch?: (metrics: ParallelEpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
  /** Cancels within one step with TrainerError ABORTED. */
  readonly signal?: AbortSignal;
  readonly resumeFrom?: Checkpoint;
  /** Evaluate the test split at the end (default false). */
  readonly evaluateTest?: boolean;
}

export interface ParallelTrainResult {
  readonly history: readonly ParallelEpochMetrics[];
  readonly epochsRun: number;
  readonly stoppedBy: 'epochs' | 'callback';
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
  /** The trial's state at its last completed epoch (what checkpoint() saves); unset mid-epoch. */
  private lastState: { plan: TrialPlan; epoch: number; step: number; history: ParallelEpochMetrics[]; o: ParallelTrainOptions; M: number } | undefined;

  private constructor(readonly options: PoolOptions) {
    this.threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > 256) {
      throw new TrainerError('INVALID_OPTIONS', `threads: must be an integer in [1, 256], got ${options.threads}`);
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
      const w = new Worker(THREAD_ENTRY, { execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 } });
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
    const timer = setInterval(() => {
      const now = Atomics.load(this.words, WORD.progress);
      if (now !== last) {
        last = now;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > this.stepTimeoutMs && Atomics.load(this.words, WORD.abort) === ABORT.none) {
        raiseAbort(this.words, ABORT.timeout);
        const p = this.pending;
        if (p) this.settle(p);
      }
    }, Math.min(1000, Math.max(50, this.stepTimeoutMs / 4)));
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

  private f64(): Float64Array {
    return new Float64Array(this.memory.buffer);
  }

  /** Places a dataset in the shared memory unless it is already there (one copy per process). */
  private placeDataset(ds: Dataset): PlacedDataset {
    if (this.placed?.dataset === ds) return this.placed.placed;
    const arena = new Arena(CONTROL_BYTES);
    const layout = (s: DataSplit) => ({ s, features: arena.alloc(s.features.byteLength), labels: arena.alloc(s.labels.byteLength) });
    const parts = { train: layout(ds.train), validation: layout(ds.validation), test: layout(ds.test) };
    const maxCount = Math.max(ds.train.count, ds.validation.count, ds.test.count);
    const identity = arena.alloc(4 * maxCount);
    this.reserve(arena.size);
    const buf = this.memory.buffer;
    const copy = (p: { s: DataSplit; features: number; labels: number }): PlacedSplit => {
      new Uint8Array(buf, p.features, p.s.features.byteLength).set(new Uint8Array(p.s.features.buffer, p.s.features.byteOffset, p.s.features.byteLength));
      new Uint8Array(buf, p.labels, p.s.labels.byteLength).set(new Uint8Array(p.s.labels.buffer, p.s.labels.byteOffset, p.s.labels.byteLength));
      return { count: p.s.count, features: p.features, labels: p.labels };
    };
    const ids = new Int32Array(buf, identity, maxCount);
    for (let i = 0; i < maxCount; i++) ids[i] = i;
    const norm = ds.normalization;
    const placed: PlacedDataset = {
      u8: ds.train.features instanceof Uint8Array,
      scale: norm.kind === 'affine' ? norm.scale : 1,
      shift: norm.kind === 'affine' ? norm.shift : 0,
      train: copy(parts.train),
      validation: copy(parts.validation),
      test: copy(parts.test),
      identity,
      end: arena.size,
    };
    this.placed = { dataset: ds, placed };
    this.placements++;
    return placed;
  }

  private async evaluate(plan: TrialPlan, which: 'validation' | 'test' | 'train', classification: boolean, signal?: AbortSignal): Promise<EvalResult> {
    const split = plan.dataset[which];
    await this.all((id) => ({ type: 'evaluate', id, split: which }), signal);
    const rows = evalRows(plan);
    const blocks = Math.ceil(split.count / rows);
    const f = this.f64();
    let loss = 0;
    let correct = 0;
    for (let b = 0; b < blocks; b++) {
      loss += f[plan.evalStats / 8 + 2 * b]!;
      correct += f[plan.evalStats / 8 + 2 * b + 1]!;
    }
    const n = Math.max(split.count, 1);
    return { loss: loss / n, accuracy: classification ? correct / n : null, count: split.count };
  }

  /** Trains one trial data-parallel on the pool's threads. One trial at a time per pool. */
  async train(o: ParallelTrainOptions): Promise<ParallelTrainResult> {
    if (this.closed) throw new TrainerError('POOL_CLOSED', 'the replica pool is closed');
    if (this.busy) throw new TrainerError('INVALID_OPTIONS', 'the pool is already training a trial');
    this.busy = true;
    try {
      return await this.trainTrial(o);
    } finally {
      this.busy = false;
    }
  }

  /** Validates the options, places the dataset, plans the trial and sends the plan to every replica. */
  private async prepare(o: ParallelTrainOptions) {
    const optimizer = parseOptimizerSpec(o.optimizer);
    const schedule = parseScheduleSpec(o.schedule ?? { type: 'constant' });
    const check = (name: string, v: number, max: number) => {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new NnError('INVALID_SPEC', `${name}: must be an integer in [1, ${max}], got ${v}`);
    };
    check('epochs', o.epochs, 100000);
    check('batchSize', o.batchSize, 65536);
    const M = o.microbatches ?? this.threads;
    check('microbatches', M, o.batchSize);
    if (!Number.isSafeInteger(o.seed)) throw new NnError('INVALID_SPEC', `seed: must be a safe integer, got ${o.seed}`);
    if (o.clipNorm !== undefined && !(o.clipNorm > 0 && Number.isFinite(o.clipNorm))) {
      throw new NnError('INVALID_SPEC', `clipNorm: must be a finite number > 0, got ${o.clipNorm}`);
    }
    const model = compileModel(o.model);
    checkDatasetFits(model, o.dataset);
    await this.ensureThreads();

    const placed = this.placeDataset(o.dataset);
    const root = keyFromSeed(o.seed);
    const { plan, compiled } = planTrial({
      model,
      optimizer,
      schedule,
      threads: this.threads,
      microbatches: M,
      batchSize: o.batchSize,
      epochs: o.epochs,
      clipNorm: o.clipNorm ?? null,
      root,
      dataset: placed,
      spin: this.threads <= availableParallelism() ? 20000 : 0,
      stepTimeoutMs: this.stepTimeoutMs,
    });
    this.reserve(plan.bytes);
    const P = plan.paramCount;
    for (const s of plan.state) new Float32Array(this.memory.buffer, s, P).fill(0);
    let epoch = 0;
    let step = 0;
    let history: ParallelEpochMetrics[] = [];
    if (o.resumeFrom) {
      const r = this.restore(o, plan, M);
      epoch = r.epoch;
      step = r.step;
      history = r.history;
    } else {
      initializeParams(compiled, initRng(root), new Float32Array(this.memory.buffer, plan.params, P));
    }
    await this.all((id) => ({ type: 'plan', id, plan }), o.signal);
    return { plan, compiled, root, M, placed, epoch, step, history };
  }

  private async trainTrial(o: ParallelTrainOptions): Promise<ParallelTrainResult> {
    const prepared = await this.prepare(o);
    const { plan, compiled, root, M, placed, history } = prepared;
    let { epoch, step } = prepared;
    const P = plan.paramCount;
    const paramsView = () => new Float32Array(this.memory.buffer, plan.params, P);
    const classification = compiled.spec.loss === 'softmax_cross_entropy';
    const N = placed.train.count;
    const steps = Math.ceil(N / o.batchSize);
    let stoppedBy: ParallelTrainResult['stoppedBy'] = 'epochs';
    while (epoch < o.epochs) {
      if (o.signal?.aborted) throw new TrainerError('ABORTED', 'training was cancelled');
      new Int32Array(this.memory.buffer, plan.perm, N).set(epochPermutation(root, epoch, N));
      new Float64Array(this.memory.buffer, plan.timing, 3 * this.threads).fill(0);
      // From here until the epoch completes the parameters are between two epoch boundaries.
      this.lastState = undefined;
      const started = performance.now();
      await this.watchProgress(this.all((id) => ({ type: 'epoch', id, epoch, stepBase: step, steps }), o.signal));
      const seconds = (performance.now() - started) / 1000;
      const f = this.f64();
      const lossSum = f[plan.epochStats / 8]!;
      const correct = f[plan.epochStats / 8 + 1]!;
      const sumTiming = (k: number) => {
        let s = 0;
        for (let r = 0; r < this.threads; r++) s += f[plan.timing / 8 + r * 3 + k]!;
        return s / this.threads / steps;
      };
      const stepTiming = { computeMs: sumTiming(0), reduceMs: sumTiming(1), waitMs: sumTiming(2) };
      const val = placed.validation.count > 0 ? await this.evaluate(plan, 'validation', classification, o.signal) : null;
      // The rate of the epoch's last update, as the single-thread session reports it.
      const lr = learningRateAt(plan.schedule, plan.optimizer.learningRate, step + steps - 1, steps, plan.epochs);
      epoch++;
      step += steps;
      const m: ParallelEpochMetrics = {
        epoch,
        trainLoss: lossSum / N,
        trainAccuracy: classification ? correct / N : null,
        valLoss: val ? val.loss : null,
        valAccuracy: val ? val.accuracy : null,
        learningRate: lr,
        samplesPerSec: N / seconds,
        seconds,
        steps,
        threads: this.threads,
        stepTiming,
      };
      history.push(m);
      this.lastState = { plan, epoch, step, history, o, M };
      if ((await o.onEpoch?.(m)) === 'stop') {
        stoppedBy = 'callback';
        break;
      }
    }
    const test = o.evaluateTest ? await this.evaluate(plan, 'test', classification, o.signal) : null;
    this.lastState = { plan, epoch, step, history, o, M };
    return { history, epochsRun: epoch, stoppedBy, test, params: paramsView().slice(), checkpoint: this.checkpoint() };
  }


  /**
   * A checkpoint of the trial at its last completed epoch: call it from onEpoch, or after train
   * returned (not after a failure: the parameters may then be mid-epoch). It does not depend on
   * the number of threads: resume it on any pool.
   */
  checkpoint(): Checkpoint {
    const s = this.lastState;
    if (!s) throw new TrainerError('INVALID_OPTIONS', 'no epoch has completed yet');
    const { plan, o } = s;
    const view = (ptr: number) => new Float32Array(this.memory.buffer, ptr, plan.paramCount);
    const tensors = [{ name: 'params', data: view(plan.params) }, ...plan.state.map((ptr, i) => ({ name: `optimizer/${i}`, data: view(ptr) }))];
    const { index, data } = encodeTensors(tensors);
    const compiled = plan.model;
    const ds = o.dataset;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: compiled.spec,
      optimizer: plan.optimizer,
      schedule: plan.schedule,
      training: { epochs: o.epochs, batchSize: o.batchSize, seed: o.seed, clipNorm: o.clipNorm ?? null, microbatches: s.M },
      dataset: { name: ds.name, trainCount: ds.train.count, normalization: ds.normalization, classNames: ds.classNames ? [...ds.classNames] : null },
      epoch: s.epoch,
      step: s.step,
      rng: { key: [plan.root[0], plan.root[1]] },
      earlyStopping: { best: null, bestEpoch: null, wait: 0 },
      history: s.history.map(({ threads: _t, stepTiming: _s, ...h }) => h),
      params: compiled.params.map((p) => ({ name: p.name, offset: p.offset, shape: [...p.shape] })),
      paramCount: plan.paramCount,
      tensors: index,
      byteOrder: 'little',
    };
    return { manifest, data };
  }

  private restore(o: ParallelTrainOptions, plan: TrialPlan, M: number): { epoch: number; step: number; history: ParallelEpochMetrics[] } {
    const ck = o.resumeFrom!;
    const m = ck.manifest;
    const mismatch = (what: string, a: unknown, b: unknown): never => {
      throw new NnError('INVALID_CHECKPOINT', `checkpoint ${what} is ${JSON.stringify(a)} but this run has ${JSON.stringify(b)}`);
    };
    if (!jsonEqual(m.model, plan.model.spec)) mismatch('model', m.model, plan.model.spec);
    if (!jsonEqual(m.optimizer, plan.optimizer)) mismatch('optimizer', m.optimizer, plan.optimizer);
    if (m.training.batchSize !== o.batchSize) mismatch('batchSize', m.training.batchSize, o.batchSize);
    if (m.training.microbatches !== M) mismatch('microbatches', m.training.microbatches, M);
    if (m.training.seed !== o.seed) mismatch('seed', m.training.seed, o.seed);
    if (m.dataset.trainCount !== o.dataset.train.count) mismatch('training-set size', m.dataset.trainCount, o.dataset.train.count);
    if (m.paramCount !== plan.paramCount) mismatch('paramCount', m.paramCount, plan.paramCount);
    const tensors = decodeTensors(ck);
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t || t.length !== plan.paramCount) throw new NnError('INVALID_CHECKPOINT', `checkpoint tensor ${name} is missing or has the wrong size`);
      return t;
    };
    new Float32Array(this.memory.buffer, plan.params, plan.paramCount).set(get('params'));
    plan.state.forEach((ptr, i) => new Float32Array(this.memory.buffer, ptr, plan.paramCount).set(get(`optimizer/${i}`)));
    const history = m.history.map((h) => ({ ...h, threads: this.threads, stepTiming: { computeMs: 0, reduceMs: 0, waitMs: 0 } }));
    return { epoch: m.epoch, step: m.step, history };
  }

  /**
   * Milliseconds of one reduce-scatter + sharded optimizer update of the trial's parameters
   * across the pool's threads, barriers included (mean over `iterations` rounds).
   */
  async measureReduce(o: ParallelTrainOptions, iterations: number): Promise<number> {
    if (this.busy) throw new TrainerError('INVALID_OPTIONS', 'the pool is already training a trial');
    this.busy = true;
    try {
      const { plan } = await this.prepare(o);
      await this.all((id) => ({ type: 'reduce-bench', id, iterations }));
      return this.f64()[plan.epochStats / 8]!;
    } finally {
      this.busy = false;
    }
  }

  /** Test hook: makes replica `rank` throw or stall at step `step` of the next epoch. */
  async injectFault(rank: number, step: number, fault: ReplicaFault): Promise<void> {
    await this.command([rank], (id) => ({ type: 'fault', id, step, fault }));
  }

  /** Test hook: the worker object of a replica (to terminate it). */
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


/** Trains one trial on a fresh pool of `threads` threads and closes it. */
export async function train(o: ParallelTrainOptions & PoolOptions): Promise<ParallelTrainResult> {
  const pool = await ReplicaPool.create(o);
  try {
    return await pool.train(o);
  } finally {
    await pool.close();
  }
}
