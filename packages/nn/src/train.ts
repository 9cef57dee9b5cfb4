// Single-thread training: a TrainingSession runs the training-run core (run/) with its one replica
// in the caller's thread, on a memory of its own. The same run on T threads is the trainer's
// ReplicaPool; both compute the same bits for the same options.
import { createKernels, type KernelOptions } from './backend.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { Dataset } from './data.ts';
import { NnError } from './errors.ts';
import type { Kernels } from './kernels/types.ts';
import { createMemory } from './memory.ts';
import type { CompiledModel } from './model.ts';
import type { EvalResult, RunEpochMetrics } from './run/metrics.ts';
import type { RunOptions } from './run/options.ts';
import { layoutDataset, writeDataset, type PlacedDataset, type RunPlan, type SplitName } from './run/plan.ts';
import { checkpointWeights, collectEvaluation, TrainingRun, type FitResult, type RunHost } from './run/run.ts';
import { ReplicaWork, type ReplicaControl } from './run/work.ts';

export interface StepProgress {
  /** 1-based epoch and step; `loss` is the epoch's mean training loss so far. */
  readonly epoch: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
}

export interface TrainOptions extends RunOptions {
  readonly kernels?: KernelOptions;
  /** Called every `stepInterval` steps (default 50) with the running epoch progress. */
  readonly onStep?: (progress: StepProgress) => void;
  readonly stepInterval?: number;
}

/** Byte offset where a session lays its dataset out (0 stays unused: a zero pointer means "none"). */
const BASE = 64;

/** The run's one replica, in this thread. */
class InProcessHost implements RunHost {
  readonly threads = 1;
  readonly spin = 0;
  readonly stepTimeoutMs = 0;
  memory: WebAssembly.Memory | undefined;
  kernels: Kernels | undefined;
  work: ReplicaWork | undefined;

  constructor(readonly options: TrainOptions) {}

  layout(dataset: Dataset, plan: (placed: PlacedDataset) => RunPlan): { memory: WebAssembly.Memory; plan: RunPlan } {
    const placed = layoutDataset(dataset, BASE);
    const p = plan(placed);
    const memory = createMemory(p.bytes, false);
    writeDataset(memory.buffer, placed, dataset);
    this.memory = memory;
    return { memory, plan: p };
  }

  async begin(plan: RunPlan): Promise<void> {
    const memory = this.memory!;
    this.kernels = await createKernels(memory, this.options.kernels ?? {});
    this.work = new ReplicaWork(this.kernels, memory, plan, 0);
  }

  private control(steps: number): ReplicaControl {
    const o = this.options;
    const plan = this.work!.plan;
    const interval = o.stepInterval ?? 50;
    let epochNow = 0;
    return {
      sync: () => 0,
      beforeStep: (epoch, step) => {
        epochNow = epoch;
        if (o.signal?.aborted) {
          throw new NnError('ABORTED', `training aborted at epoch ${epoch + 1}, step ${step + 1}`, undefined, { cause: o.signal.reason });
        }
      },
      progress: (done, lossSum) => {
        if (!o.onStep || done % interval !== 0) return;
        const seen = Math.min(done * plan.batchSize, plan.dataset.train.count);
        o.onStep({ epoch: epochNow + 1, step: done, steps, loss: lossSum / seen });
      },
    };
  }

  async epoch(epoch: number, stepBase: number, steps: number): Promise<void> {
    this.work!.epoch(epoch, stepBase, steps, this.control(steps));
  }

  async evaluate(split: SplitName): Promise<void> {
    this.evaluateNow(split);
  }

  evaluateNow(split: SplitName): void {
    this.work!.evaluate(split, { beforeStep: () => undefined });
  }
}

export class TrainingSession {
  private constructor(
    private readonly run: TrainingRun,
    private readonly host: InProcessHost,
  ) {}

  static async create(options: TrainOptions): Promise<TrainingSession> {
    const host = new InProcessHost(options);
    const run = await TrainingRun.start(options, host);
    return new TrainingSession(run, host);
  }

  get options(): TrainOptions {
    return this.host.options;
  }
  get model(): CompiledModel {
    return this.run.model;
  }
  get memory(): WebAssembly.Memory {
    return this.run.memory;
  }
  get kernels(): Kernels {
    return this.host.kernels!;
  }
  /** Where every tensor of the run lives in `memory`. */
  get plan(): RunPlan {
    return this.run.plan;
  }
  get microbatches(): number {
    return this.run.plan.microbatches;
  }
  /** Completed epochs and optimizer steps. */
  get epoch(): number {
    return this.run.epoch;
  }
  get step(): number {
    return this.run.step;
  }
  get history(): readonly RunEpochMetrics[] {
    return this.run.history;
  }
  get stepsPerEpoch(): number {
    return this.run.stepsPerEpoch;
  }

  /** The live parameter block (a view: copy it to keep it). */
  paramsView(): Float32Array {
    return this.run.paramsView();
  }

  /** Trains one epoch and validates it (early stopping is fit's). */
  async runEpoch(): Promise<RunEpochMetrics> {
    return (await this.run.runEpoch()).metrics;
  }

  /** Trains up to options.epochs (continuing a resumed session), with early stopping. */
  fit(): Promise<FitResult> {
    return this.run.fit();
  }

  /** Loss and accuracy on a split in inference mode (no dropout); the confusion matrix when asked. */
  evaluate(split: SplitName, options: { confusionMatrix?: boolean } = {}): EvalResult {
    this.host.evaluateNow(split);
    return collectEvaluation(this.run.plan, this.run.memory, split, options.confusionMatrix === true);
  }

  checkpoint(): Checkpoint {
    return this.run.checkpoint();
  }
}

/** Trains a model from scratch (or from options.resumeFrom) and evaluates it on the test set. */
export async function fit(options: TrainOptions): Promise<FitResult & { test: EvalResult; session: TrainingSession }> {
  const session = await TrainingSession.create(options);
  const result = await session.fit();
  return { ...result, test: session.evaluate('test', { confusionMatrix: true }), session };
}

/**
 * Evaluates a checkpoint's weights on a split of `dataset` in one pass (loss, accuracy and the
 * confusion matrix), in evaluation blocks of the run that wrote it. Only the weights are restored:
 * the checkpoint may come from a data-parallel run or from another training-set size.
 */
export async function evaluateCheckpoint(ckpt: Checkpoint, dataset: Dataset, split: SplitName = 'test', kernels: KernelOptions = {}): Promise<EvalResult> {
  const m = ckpt.manifest;
  const session = await TrainingSession.create({
    model: m.model,
    optimizer: m.optimizer,
    schedule: m.schedule,
    dataset,
    epochs: Math.max(1, m.training.epochs),
    batchSize: m.training.batchSize,
    microbatches: m.training.microbatches,
    seed: m.training.seed,
    kernels,
  });
  session.paramsView().set(checkpointWeights(ckpt, session.model));
  return session.evaluate(split, { confusionMatrix: true });
}
