// One forward/backward pass of a compiled model over a batch of rows, as a sequence of kernel
// calls on fixed pointers. A data-parallel trainer runs one Replica per thread.
import type { Kernels, Ptr } from './kernels/types.ts';
import type { Activation } from './spec.ts';
import type { ActivationPlan } from './memory.ts';
import type { CompiledModel } from './model.ts';
import { deriveKey, type RngKey } from './rng.ts';

export interface ForwardOptions {
  /** Dropout is active only in training. */
  readonly training: boolean;
  /** Key of this microbatch's dropout masks; each layer derives its own from it. */
  readonly dropoutKey?: RngKey;
}

export interface LossResult {
  /** Σ over rows of the per-example loss. */
  readonly lossSum: number;
  /** Correctly classified rows (classification only; 0 for regression). */
  readonly correct: number;
}

export class Replica {
  /** Input pointer of each layer in the last forward pass, needed by the backward pass. */
  private readonly inputs: Ptr[];
  private output: Ptr = 0;
  private trained = false;
  private rows = 0;

  constructor(
    readonly kernels: Kernels,
    readonly model: CompiledModel,
    readonly acts: ActivationPlan,
    /** Base of the parameter block the layers read. */
    readonly params: Ptr,
  ) {
    this.inputs = new Array<Ptr>(model.layers.length).fill(0);
  }

  /** Runs the layers on acts.input[0..rows); returns the pointer of the output (logits). */
  forward(rows: number, options: ForwardOptions): Ptr {
    if (rows < 1 || rows > this.acts.rows) throw new RangeError(`forward of ${rows} rows; the plan holds 1..${this.acts.rows}`);
    const k = this.kernels;
    let cur = this.acts.input;
    for (const layer of this.model.layers) {
      this.inputs[layer.index] = cur;
      const buf = this.acts.layers[layer.index]!;
      switch (layer.type) {
        case 'dense': {
          const w = this.params + layer.kernel.offset * 4;
          k.gemmNN(rows, layer.outDim, layer.inDim, cur, layer.inDim, w, layer.outDim, buf.z, layer.outDim, false);
          if (layer.bias) k.biasAdd(buf.z, this.params + layer.bias.offset * 4, rows, layer.outDim);
          applyActivation(k, layer.activation, layer.alpha, buf.z, buf.y, rows, layer.outDim);
          cur = buf.y;
          break;
        }
        case 'activation':
          applyActivation(k, layer.activation, layer.alpha, cur, buf.y, rows, layer.dim);
          cur = buf.y;
          break;
        case 'dropout':
          if (options.training && layer.rate > 0) {
            if (!options.dropoutKey) throw new Error('training with dropout needs a dropoutKey');
            const [lo, hi] = deriveKey(options.dropoutKey, layer.index);
            k.dropout(cur, buf.y, buf.mask, rows * layer.dim, layer.rate, lo | 0, hi | 0);
            cur = buf.y;
          }
          break;
        case 'conv2d': {
          const g = layer.geometry;
          const positions = g.outH * g.outW;
          const bias = layer.bias ? this.params + layer.bias.offset * 4 : 0;
          k.convForward(cur, this.params + layer.kernel.offset * 4, bias, buf.z, rows, g, layer.filters, this.acts.convScratch);
          applyActivation(k, layer.activation, layer.alpha, buf.z, buf.y, rows * positions, layer.filters);
          cur = buf.y;
          break;
        }
        case 'max_pool2d':
          k.maxPool(cur, buf.y, buf.argmax, rows, layer.geometry);
          cur = buf.y;
          break;
        case 'avg_pool2d':
          k.avgPool(cur, buf.y, rows, layer.geometry);
          cur = buf.y;
          break;
        case 'global_avg_pool2d':
          k.globalAvgPool(cur, buf.y, rows, layer.positions, layer.channels);
          cur = buf.y;
          break;
        case 'batch_norm': {
          // Training normalises by this microbatch's statistics (ghost batch norm), evaluation by
          // the moving ones.
          const count = rows * layer.positions;
          const c = layer.channels;
          let mean = this.params + layer.movingMean.offset * 4;
          let variance = this.params + layer.movingVariance.offset * 4;
          if (options.training) {
            mean = buf.stats;
            variance = buf.stats + c * 4;
            k.batchNormStats(cur, mean, variance, count, c);
          }
          const gamma = layer.gamma ? this.params + layer.gamma.offset * 4 : 0;
          const beta = layer.beta ? this.params + layer.beta.offset * 4 : 0;
          k.batchNormForward(cur, buf.y, mean, variance, gamma, beta, count, c, layer.epsilon);
          cur = buf.y;
          break;
        }
        case 'flatten':
        case 'reshape':
          break;
      }
    }
    this.output = cur;
    this.trained = options.training;
    this.rows = rows;
    return cur;
  }

  /**
   * Loss of the last forward pass against acts.targets, and its gradient into acts.gradA,
   * scaled by gradScale (1/global batch for a mean over the batch).
   */
  loss(gradScale: number, withGrad = true): LossResult {
    const k = this.kernels;
    const n = this.model.outputSize;
    const dOut = withGrad ? this.acts.gradA : 0;
    if (this.model.spec.loss === 'softmax_cross_entropy') {
      const correct = k.countCorrect(this.output, this.acts.targets, this.rows, n);
      const lossSum = k.softmaxXent(this.output, this.acts.targets, dOut, this.rows, n, gradScale);
      return { lossSum, correct };
    }
    // Mean squared error per example averages over the outputs, as Keras does.
    const sq = k.mse(this.output, this.acts.targets, dOut, this.rows * n, gradScale / n);
    return { lossSum: sq / n, correct: 0 };
  }

  /** Back-propagates acts.gradA into the gradient block `grads` (overwritten, or added to). */
  backward(grads: Ptr, accumulate: boolean): void {
    if (!this.trained) throw new Error('backward needs a training forward pass first');
    const k = this.kernels;
    const rows = this.rows;
    let g = this.acts.gradA;
    let spare = this.acts.gradB;
    for (let i = this.model.layers.length - 1; i >= 0; i--) {
      const layer = this.model.layers[i]!;
      const buf = this.acts.layers[i]!;
      const x = this.inputs[i]!;
      switch (layer.type) {
        case 'dense': {
          if (layer.activation !== 'linear') {
            if (layer.activation === 'softmax') {
              k.softmaxGrad(buf.y, g, spare, rows, layer.outDim);
              [g, spare] = [spare, g];
            } else {
              k.activationGrad(layer.activation, buf.z, buf.y, g, g, rows * layer.outDim, layer.alpha);
            }
          }
          const gw = grads + layer.kernel.offset * 4;
          k.gemmTN(layer.inDim, layer.outDim, rows, x, layer.inDim, g, layer.outDim, gw, layer.outDim, accumulate);
          if (layer.bias) k.biasGrad(g, grads + layer.bias.offset * 4, rows, layer.outDim, accumulate);
          if (layer.needsInputGrad) {
            const w = this.params + layer.kernel.offset * 4;
            k.gemmNT(rows, layer.inDim, layer.outDim, g, layer.outDim, w, layer.outDim, spare, layer.inDim, false);
            [g, spare] = [spare, g];
          }
          break;
        }
        case 'activation':
          if (!layer.needsInputGrad) break;
          if (layer.activation === 'softmax') {
            k.softmaxGrad(buf.y, g, spare, rows, layer.dim);
            [g, spare] = [spare, g];
          } else {
            k.activationGrad(layer.activation, x, buf.y, g, g, rows * layer.dim, layer.alpha);
          }
          break;
        case 'dropout':
          if (layer.needsInputGrad && layer.rate > 0) k.mul(g, buf.mask, g, rows * layer.dim);
          break;
        case 'conv2d': {
          const geo = layer.geometry;
          const positions = geo.outH * geo.outW;
          const f = layer.filters;
          // Per position, the activation is a row of `filters` values: dense's backward on rows·P rows.
          if (layer.activation !== 'linear') {
            if (layer.activation === 'softmax') {
              k.softmaxGrad(buf.y, g, spare, rows * positions, f);
              [g, spare] = [spare, g];
            } else {
              k.activationGrad(layer.activation, buf.z, buf.y, g, g, rows * layer.outDim, layer.alpha);
            }
          }
          k.convFilterGrad(x, g, grads + layer.kernel.offset * 4, rows, geo, f, this.acts.convScratch, accumulate);
          if (layer.bias) k.biasGrad(g, grads + layer.bias.offset * 4, rows * positions, f, accumulate);
          if (layer.needsInputGrad) {
            k.convInputGrad(g, this.params + layer.kernel.offset * 4, spare, rows, geo, f, this.acts.convScratch);
            [g, spare] = [spare, g];
          }
          break;
        }
        case 'max_pool2d':
          if (!layer.needsInputGrad) break;
          k.maxPoolGrad(g, buf.argmax, spare, rows, layer.geometry);
          [g, spare] = [spare, g];
          break;
        case 'avg_pool2d':
          if (!layer.needsInputGrad) break;
          k.avgPoolGrad(g, spare, rows, layer.geometry);
          [g, spare] = [spare, g];
          break;
        case 'global_avg_pool2d':
          if (!layer.needsInputGrad) break;
          k.globalAvgPoolGrad(g, spare, rows, layer.positions, layer.channels);
          [g, spare] = [spare, g];
          break;
        case 'batch_norm': {
          const c = layer.channels;
          const gamma = layer.gamma ? this.params + layer.gamma.offset * 4 : 0;
          const dgamma = layer.gamma ? grads + layer.gamma.offset * 4 : 0;
          const dbeta = layer.beta ? grads + layer.beta.offset * 4 : 0;
          k.batchNormBackward(x, g, spare, buf.stats, buf.stats + c * 4, gamma, dgamma, dbeta, rows * layer.positions, c, layer.epsilon, accumulate);
          [g, spare] = [spare, g];
          // The gradient block holds this microbatch's statistics where the moving ones sit in the
          // parameters; the run folds them in, microbatch by microbatch (run/work.ts).
          k.copy(buf.stats, grads + layer.movingMean.offset * 4, c);
          k.copy(buf.stats + c * 4, grads + layer.movingVariance.offset * 4, c);
          break;
        }
        case 'flatten':
        case 'reshape':
          break;
      }
    }
  }
}

function applyActivation(
  k: Kernels,
  activation: Activation,
  alpha: number,
  x: Ptr,
  y: Ptr,
  rows: number,
  cols: number,
): void {
  // Dense and conv layers compute a linear output in place (y is z); a standalone activation
  // layer has its own output, which must still hold its input.
  if (activation === 'linear') {
    if (x !== y) k.copy(x, y, rows * cols);
    return;
  }
  if (activation === 'softmax') k.softmax(x, y, rows, cols);
  else k.activation(activation, x, y, rows * cols, alpha);
}
