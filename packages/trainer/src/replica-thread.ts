// A replica thread: instantiates the kernels on the shared memory, then runs whole epochs and
// evaluations on command, synchronising with its peers through the control block only.
import { parentPort } from 'node:worker_threads';
import {
  applyUpdate,
  dropoutKey,
  learningRateAt,
  microbatchRows,
  NnError,
  Replica,
  WasmKernels,
  type CompiledModel,
  type Kernels,
} from '@hypersweep/nn';
import { ABORT, AbortedByPeer, barrier, raiseAbort, WORD } from './control.ts';
import { evalRows, shardRange, CHUNK, type PlacedSplit, type TrialPlan } from './plan.ts';
import type { FromReplica, ReplicaFault, ToReplica } from './protocol.ts';

interface TrialState {
  plan: TrialPlan;
  model: CompiledModel;
  replica: Replica;
  words: Int32Array;
  f64: Float64Array;
}

let rank = -1;
let memory: WebAssembly.Memory | undefined;
let kernels: Kernels | undefined;
let trial: TrialState | undefined;
let fault: { step: number; fault: ReplicaFault } | undefined;

const port = parentPort;
if (!port) throw new Error('replica-thread.ts runs inside a worker thread');

function send(msg: FromReplica): void {
  port!.postMessage(msg);
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`replica ${rank}: ${what} before init/plan`);
  return v;
}

function gather(t: TrialState, split: PlacedSplit, indices: number, rows: number): void {
  const k = need(kernels, 'gather');
  const { plan, model } = t;
  const acts = plan.acts[rank]!;
  const ds = plan.dataset;
  if (ds.u8) k.gatherU8(split.features, model.inputSize, indices, rows, acts.input, ds.scale, ds.shift);
  else k.gather32(split.features, model.inputSize, indices, rows, acts.input);
  const labelWidth = model.spec.loss === 'mse' ? model.outputSize : 1;
  k.gather32(split.labels, labelWidth, indices, rows, acts.targets);
}

function runEpoch(t: TrialState, epoch: number, stepBase: number, steps: number): void {
  const k = need(kernels, 'epoch');
  const { plan, replica, words, f64 } = t;
  const T = plan.threads;
  const M = plan.microbatches;
  const B = plan.batchSize;
  const P = plan.paramCount;
  const N = plan.dataset.train.count;
  const timing = plan.timing / 8 + rank * 3;
  const stats = plan.stepStats / 8;
  const sync = () => {
    const waited = barrier(words, T, plan.spin, plan.stepTimeoutMs);
    f64[timing + 2]! += waited;
  };
  let epochLoss = 0;
  let epochCorrect = 0;
  for (let s = 0; s < steps; s++) {
    const reason = Atomics.load(words, WORD.abort);
    if (reason !== ABORT.none) throw new AbortedByPeer(reason);
    if (fault && fault.step === s) {
      const f = fault.fault;
      fault = undefined;
      if (f.kind === 'throw') throw new Error(f.message);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, f.ms);
    }
    const t0 = performance.now();
    const rows = Math.min(B, N - s * B);
    for (let j = rank; j < M; j += T) {
      const [a, b] = microbatchRows(rows, M, j);
      const slot = plan.gradSlots[j]!;
      if (b === a) {
        k.fill(slot, P, 0);
        f64[stats + 2 * j] = 0;
        f64[stats + 2 * j + 1] = 0;
        continue;
      }
      gather(t, plan.dataset.train, plan.perm + (s * B + a) * 4, b - a);
      replica.forward(b - a, { training: true, dropoutKey: dropoutKey(plan.root, epoch, s, j) });
      const r = replica.loss(1 / rows);
      f64[stats + 2 * j] = r.lossSum;
      f64[stats + 2 * j + 1] = r.correct;
      replica.backward(slot, false);
    }
    const t1 = performance.now();
    f64[timing]! += t1 - t0;
    sync();

    // Every replica sees the same microbatch losses, so all stop on the same step.
    let stepLoss = 0;
    for (let j = 0; j < M; j++) stepLoss += f64[stats + 2 * j]!;
    if (!Number.isFinite(stepLoss)) {
      throw new NnError(
        'NON_FINITE_LOSS',
        `loss became ${stepLoss} at epoch ${epoch + 1}, step ${s + 1} (global step ${stepBase + s + 1}); try a lower learning rate or gradient clipping`,
        { epoch: epoch + 1, step: s + 1, globalStep: stepBase + s + 1 },
      );
    }

    reduceAndUpdate(t, stepBase + s, steps, sync);
    if (rank === 0) {
      for (let j = 0; j < M; j++) {
        epochLoss += f64[stats + 2 * j]!;
        epochCorrect += f64[stats + 2 * j + 1]!;
      }
      Atomics.store(words, WORD.progress, s + 1);
    }
    sync();
  }
  if (rank === 0) {
    f64[plan.epochStats / 8] = epochLoss;
    f64[plan.epochStats / 8 + 1] = epochCorrect;
  }
}

/**
 * Reduce-scatter and sharded update of global step `step`: this replica sums, in microbatch order,
 * the chunks of its own shard into slot 0, then applies the optimizer to that shard (ZeRO-1).
 */
function reduceAndUpdate(t: TrialState, step: number, stepsPerEpoch: number, sync: () => void): void {
  const k = need(kernels, 'reduce');
  const { plan, model, f64 } = t;
  const T = plan.threads;
  const M = plan.microbatches;
  const P = plan.paramCount;
  const timing = plan.timing / 8 + rank * 3;
  const [shardStart, shardEnd] = shardRange(plan, rank);
  const firstChunk = Math.floor((rank * plan.chunks) / T);
  const lastChunk = Math.floor(((rank + 1) * plan.chunks) / T);
  const t0 = performance.now();
  const g0 = plan.gradSlots[0]!;
  const learningRate = learningRateAt(plan.schedule, plan.optimizer.learningRate, step, stepsPerEpoch, plan.epochs);
  if (plan.clipNorm === null) {
    // No global norm to wait for: one pass in which the optimizer reads the M slots and sums
    // them in microbatch order (the same bits as reducing into slot 0 first).
    if (shardEnd > shardStart) {
      applyUpdate(k, model, plan.optimizer, {
        params: plan.params,
        grads: g0,
        gradSlots: M,
        slotStride: plan.slotStride,
        state: plan.state,
        t: step + 1,
        learningRate,
        gradScale: 1,
        range: [shardStart, shardEnd],
      });
    }
    f64[timing + 1]! += performance.now() - t0;
    return;
  }
  const update = (start: number, end: number, gradScale: number) =>
    applyUpdate(k, model, plan.optimizer, { params: plan.params, grads: g0, state: plan.state, t: step + 1, learningRate, gradScale, range: [start, end] });
  /** Sums the M slots of chunk c into slot 0, in microbatch order. */
  const reduceChunks = (c: number, count: number): [number, number] => {
    const start = c * CHUNK;
    const n = Math.min(count * CHUNK, P - start);
    for (let j = 1; j < M; j++) k.axpy(n, 1, plan.gradSlots[j]! + start * 4, g0 + start * 4);
    return [start, start + n];
  };
  for (let c = firstChunk; c < lastChunk; c++) {
    const [start, end] = reduceChunks(c, 1);
    f64[plan.chunkNorms / 8 + c] = k.sumSquares(g0 + start * 4, end - start);
  }
  f64[timing + 1]! += performance.now() - t0;
  sync();
  const t1 = performance.now();
  // Every replica sums the chunk norms in chunk order: the same number for any T.
  let sq = 0;
  for (let c = 0; c < plan.chunks; c++) sq += f64[plan.chunkNorms / 8 + c]!;
  const norm = Math.sqrt(sq);
  if (shardEnd > shardStart) update(shardStart, shardEnd, norm > plan.clipNorm ? plan.clipNorm / norm : 1);
  f64[timing + 1]! += performance.now() - t1;
}

/** Benchmark: `iterations` reduce-scatter + update rounds between barriers; rank 0 stores ms per round. */
function runReduceBench(t: TrialState, iterations: number): void {
  const { plan, words, f64 } = t;
  const sync = () => void barrier(words, plan.threads, plan.spin, plan.stepTimeoutMs);
  sync();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    reduceAndUpdate(t, i, iterations, sync);
    sync();
  }
  if (rank === 0) f64[plan.epochStats / 8] = (performance.now() - started) / iterations;
}

function runEvaluate(t: TrialState, which: 'validation' | 'test' | 'train'): void {
  const { plan, replica, words, f64 } = t;
  const split = plan.dataset[which];
  const rows = evalRows(plan);
  const blocks = Math.ceil(split.count / rows);
  for (let b = rank; b < blocks; b += plan.threads) {
    const reason = Atomics.load(words, WORD.abort);
    if (reason !== ABORT.none) throw new AbortedByPeer(reason);
    const start = b * rows;
    const n = Math.min(rows, split.count - start);
    gather(t, split, plan.dataset.identity + start * 4, n);
    replica.forward(n, { training: false });
    const r = replica.loss(1, false);
    f64[plan.evalStats / 8 + 2 * b] = r.lossSum;
    f64[plan.evalStats / 8 + 2 * b + 1] = r.correct;
  }
}

port.on('message', (msg: ToReplica) => {
  try {
    switch (msg.type) {
      case 'init':
        rank = msg.rank;
        memory = msg.memory;
        kernels = new WasmKernels(msg.module, msg.memory);
        break;
      case 'plan': {
        const mem = need(memory, 'plan');
        const model = msg.plan.model;
        trial = {
          plan: msg.plan,
          model,
          replica: new Replica(need(kernels, 'plan'), model, msg.plan.acts[rank]!, msg.plan.params),
          // Views are made per trial: the pool may have grown the memory in between.
          words: new Int32Array(mem.buffer, 0, 64),
          f64: new Float64Array(mem.buffer),
        };
        break;
      }
      case 'epoch':
        runEpoch(need(trial, 'epoch'), msg.epoch, msg.stepBase, msg.steps);
        break;
      case 'evaluate':
        runEvaluate(need(trial, 'evaluate'), msg.split);
        break;
      case 'reduce-bench':
        runReduceBench(need(trial, 'reduce-bench'), msg.iterations);
        break;
      case 'fault':
        fault = { step: msg.step, fault: msg.fault };
        break;
    }
    send({ type: 'done', id: msg.id, rank });
  } catch (e) {
    if (e instanceof AbortedByPeer) {
      send({ type: 'aborted', id: msg.id, rank, reason: e.reason });
      return;
    }
    // Release the peers first, then report.
    if (trial) raiseAbort(trial.words, ABORT.replicaError);
    const err = e as Error & { code?: string; details?: unknown };
    send({
      type: 'error',
      id: msg.id,
      rank,
      message: err.message ?? String(e),
      ...(err.stack ? { stack: err.stack } : {}),
      ...(err.code ? { code: err.code } : {}),
      ...(err.details !== undefined ? { details: err.details } : {}),
    });
  }
});
