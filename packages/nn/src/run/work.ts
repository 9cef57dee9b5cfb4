// What one replica does in a run: its microbatches of each step, then the reduce-scatter and the
// optimizer update of its parameter shard; and its blocks of an evaluation. The single-thread
// session runs it as replica 0 of 1 in its own thread, the pool as replica r of T in a worker
// thread; only the barrier and the abort check (`ReplicaControl`) differ between the two.
import { NnError } from '../errors.ts';
import type { Kernels } from '../kernels/types.ts';
import { applyUpdate } from '../optimizer.ts';
import { Replica } from '../replica.ts';
import { learningRateAt } from '../schedule.ts';
import { dropoutKey, microbatchRows } from '../streams.ts';
import { CHUNK, STAT, STAT_FIELDS, evalRows, shardChunks, shardRange, type PlacedSplit, type RunPlan, type SplitName } from './plan.ts';
import { absErrorSum, countTopK, reportsTopK } from './scoring.ts';

export interface ReplicaControl {
  /** Waits until every replica of the run has arrived; returns the milliseconds waited. */
  sync(): number;
  /** Throws when the run must stop before step `step` (0-based) of epoch `epoch` (0-based). */
  beforeStep(epoch: number, step: number): void;
  /** Replica 0 only: `done` steps of the epoch are finished; `lossSum` over their examples so far. */
  progress(done: number, lossSum: number): void;
}

/** A replica's view of a run. Views of the memory are made here: the memory may grow between runs, not during one. */
export class ReplicaWork {
  private readonly replica: Replica;
  private readonly f64: Float64Array;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;

  constructor(
    private readonly kernels: Kernels,
    readonly memory: WebAssembly.Memory,
    readonly plan: RunPlan,
    readonly rank: number,
  ) {
    this.replica = new Replica(kernels, plan.model, plan.acts[rank]!, plan.params);
    this.f64 = new Float64Array(memory.buffer);
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  private gather(split: PlacedSplit, indices: number, rows: number): void {
    const k = this.kernels;
    const { plan } = this;
    const model = plan.model;
    const acts = plan.acts[this.rank]!;
    const ds = plan.dataset;
    if (ds.u8) k.gatherU8(split.features, model.inputSize, indices, rows, acts.input, ds.scale, ds.shift);
    else k.gather32(split.features, model.inputSize, indices, rows, acts.input);
    const labelWidth = model.spec.loss === 'mse' ? model.outputSize : 1;
    k.gather32(split.labels, labelWidth, indices, rows, acts.targets);
  }

  /** Trains `steps` steps of 0-based epoch `epoch`, whose first global step is `stepBase`. */
  epoch(epoch: number, stepBase: number, steps: number, control: ReplicaControl): void {
    const k = this.kernels;
    const { plan, replica, f64, rank } = this;
    const T = plan.threads;
    const M = plan.microbatches;
    const B = plan.batchSize;
    const P = plan.paramCount;
    const N = plan.dataset.train.count;
    const timing = plan.timing / 8 + rank * 3;
    const stats = plan.stepStats / 8;
    const sync = () => {
      f64[timing + 2]! += control.sync();
    };
    const epochSums = new Float64Array(STAT_FIELDS);
    for (let s = 0; s < steps; s++) {
      control.beforeStep(epoch, s);
      const t0 = performance.now();
      const rows = Math.min(B, N - s * B);
      for (let j = rank; j < M; j += T) {
        const [a, b] = microbatchRows(rows, M, j);
        const slot = plan.gradSlots[j]!;
        const record = stats + j * STAT_FIELDS;
        if (b === a) {
          k.fill(slot, P, 0);
          f64.fill(0, record, record + STAT_FIELDS);
          continue;
        }
        this.gather(plan.dataset.train, plan.perm + (s * B + a) * 4, b - a);
        const out = replica.forward(b - a, { training: true, dropoutKey: dropoutKey(plan.root, epoch, s, j) });
        const r = replica.loss(1 / rows);
        this.score(out, b - a, r.lossSum, r.correct, record);
        replica.backward(slot, false);
      }
      f64[timing]! += performance.now() - t0;
      sync();

      // Every replica sees the same microbatch losses, so all stop on the same step.
      let stepLoss = 0;
      for (let j = 0; j < M; j++) stepLoss += f64[stats + j * STAT_FIELDS + STAT.loss]!;
      if (!Number.isFinite(stepLoss)) {
        throw new NnError(
          'NON_FINITE_LOSS',
          `loss became ${stepLoss} at epoch ${epoch + 1}, step ${s + 1} (global step ${stepBase + s + 1}); try a lower learning rate or gradient clipping`,
          { epoch: epoch + 1, step: s + 1, globalStep: stepBase + s + 1 },
        );
      }

      this.reduceAndUpdate(stepBase + s, steps, rows, sync);
      if (rank === 0) {
        for (let j = 0; j < M; j++) {
          for (let f = 0; f < STAT_FIELDS; f++) epochSums[f]! += f64[stats + j * STAT_FIELDS + f]!;
        }
        control.progress(s + 1, epochSums[STAT.loss]!);
      }
      sync();
    }
    if (rank === 0) f64.set(epochSums, plan.epochStats / 8);
  }

  /**
   * Writes the statistics record at f64 index `record` of the last forward pass (`rows` rows whose
   * outputs are at `out`, targets at acts.targets): its loss and correct count, and the top-k hits
   * or the absolute error the model reports.
   */
  private score(out: number, rows: number, lossSum: number, correct: number, record: number): void {
    const { plan, f64, f32, i32 } = this;
    const model = plan.model;
    const cols = model.outputSize;
    const targets = plan.acts[this.rank]!.targets;
    f64.fill(0, record, record + STAT_FIELDS);
    f64[record + STAT.loss] = lossSum;
    f64[record + STAT.correct] = correct;
    if (model.spec.loss === 'softmax_cross_entropy') {
      if (reportsTopK(cols, 3)) f64[record + STAT.top3] = countTopK(f32, out / 4, i32, targets / 4, rows, cols, 3);
      if (reportsTopK(cols, 5)) f64[record + STAT.top5] = countTopK(f32, out / 4, i32, targets / 4, rows, cols, 5);
    } else {
      // Per example, the mean over its outputs (as the loss): the epoch's sum over N is the MAE.
      f64[record + STAT.absError] = absErrorSum(f32, out / 4, f32, targets / 4, rows * cols) / cols;
    }
  }

  /**
   * Reduce-scatter and sharded update of global step `step`: this replica sums, in microbatch
   * order, the chunks of its own shard, then applies the optimizer to that shard (ZeRO-1).
   */
  private reduceAndUpdate(step: number, stepsPerEpoch: number, rows: number, sync: () => void): void {
    const k = this.kernels;
    const { plan, f64, rank } = this;
    const model = plan.model;
    const M = plan.microbatches;
    const P = plan.paramCount;
    const timing = plan.timing / 8 + rank * 3;
    const [shardStart, shardEnd] = shardRange(plan, rank);
    const [firstChunk, lastChunk] = shardChunks(plan, rank);
    const t0 = performance.now();
    const g0 = plan.gradSlots[0]!;
    const learningRate = learningRateAt(plan.schedule, plan.optimizer.learningRate, step, stepsPerEpoch, plan.epochs);
    // Before the slots are summed: slot 0's statistics are read here and overwritten by the sum.
    this.foldMovingStatistics(rows, shardStart, shardEnd);
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
    // Sum the M slots of each chunk of the shard into slot 0, in microbatch order, and its squared norm.
    for (let c = firstChunk; c < lastChunk; c++) {
      const start = c * CHUNK;
      const n = Math.min(CHUNK, P - start);
      for (let j = 1; j < M; j++) k.axpy(n, 1, plan.gradSlots[j]! + start * 4, g0 + start * 4);
      // Summed statistics are no gradient: they stay out of the norm.
      for (const t of model.params) {
        if (t.trainable) continue;
        const lo = Math.max(start, t.offset);
        const hi = Math.min(start + n, t.offset + t.size);
        if (hi > lo) k.fill(g0 + lo * 4, hi - lo, 0);
      }
      f64[plan.chunkNorms / 8 + c] = k.sumSquares(g0 + start * 4, n);
    }
    f64[timing + 1]! += performance.now() - t0;
    sync();
    const t1 = performance.now();
    // Every replica sums the chunk norms in chunk order: the same number for any T.
    let sq = 0;
    for (let c = 0; c < plan.chunks; c++) sq += f64[plan.chunkNorms / 8 + c]!;
    const norm = Math.sqrt(sq);
    if (shardEnd > shardStart) {
      applyUpdate(k, model, plan.optimizer, {
        params: plan.params,
        grads: g0,
        state: plan.state,
        t: step + 1,
        learningRate,
        gradScale: norm > plan.clipNorm ? plan.clipNorm / norm : 1,
        range: [shardStart, shardEnd],
      });
    }
    f64[timing + 1]! += performance.now() - t1;
  }

  /**
   * Batch norm's moving statistics in this replica's shard: each non-empty microbatch's mean and
   * variance (in its gradient slot, at the moving tensor's offsets) folded in microbatch order,
   * as tfjs: moving −= (moving − batch)·(1 − momentum) in float32. The order is the microbatches',
   * so the bits do not depend on the thread count.
   */
  private foldMovingStatistics(rows: number, shardStart: number, shardEnd: number): void {
    const { plan, f32 } = this;
    const M = plan.microbatches;
    for (const t of plan.model.params) {
      if (t.trainable) continue;
      const lo = Math.max(shardStart, t.offset);
      const hi = Math.min(shardEnd, t.offset + t.size);
      if (hi <= lo) continue;
      const layer = plan.model.layers[t.layerIndex];
      if (layer?.type !== 'batch_norm') throw new Error(`${t.name} is not a batch norm statistic`);
      const decay = Math.fround(1 - layer.momentum);
      const p = plan.params / 4;
      for (let j = 0; j < M; j++) {
        const [a, b] = microbatchRows(rows, M, j);
        if (b === a) continue;
        const slot = plan.gradSlots[j]! / 4;
        for (let i = lo; i < hi; i++) {
          const moving = f32[p + i]!;
          f32[p + i] = Math.fround(moving - Math.fround(Math.fround(moving - f32[slot + i]!) * decay));
        }
      }
    }
  }

  /**
   * This replica's evaluation blocks of a split (blocks rank, rank + T, …): per block its statistics
   * record, and per example its predicted class (classification).
   */
  evaluate(which: SplitName, control: Pick<ReplicaControl, 'beforeStep'>): void {
    const { plan, replica } = this;
    const split = plan.dataset[which];
    const rows = evalRows(plan);
    const blocks = Math.ceil(split.count / rows);
    const classes = plan.model.spec.loss === 'softmax_cross_entropy' ? plan.model.outputSize : 0;
    for (let b = this.rank; b < blocks; b += plan.threads) {
      control.beforeStep(-1, b);
      const start = b * rows;
      const n = Math.min(rows, split.count - start);
      this.gather(split, plan.dataset.identity + start * 4, n);
      const out = replica.forward(n, { training: false });
      const r = replica.loss(1, false);
      this.score(out, n, r.lossSum, r.correct, plan.evalStats / 8 + b * STAT_FIELDS);
      if (classes > 0) this.argmax(out, n, classes, plan.predictions / 4 + start);
    }
  }

  /** Predicted class of each row: the first maximum wins and NaN never does, as countCorrect. */
  private argmax(out: number, rows: number, cols: number, dst: number): void {
    const f = this.f32;
    for (let r = 0; r < rows; r++) {
      const row = out / 4 + r * cols;
      let best = 0;
      let bv = f[row]!;
      for (let c = 1; c < cols; c++) {
        const v = f[row + c]!;
        if (v > bv) {
          bv = v;
          best = c;
        }
      }
      this.i32[dst + r] = best;
    }
  }
}
