// Compiles a validated model spec into layer plans with dimensions and a flat parameter layout.
import type { ElementwiseActivation } from './kernels/types.ts';
import { convScratchFloats, pair, windowGeometry, type WindowGeometry } from './geometry.ts';
import { parseModelSpec, type Activation, type Initializer, type ModelSpec } from './spec.ts';

/** One parameter tensor inside the flat parameter block (offsets in float32 elements). */
export interface ParamTensor {
  /** Stable name, also used by checkpoints and the TensorFlow.js export ("dense_1/kernel"). */
  readonly name: string;
  readonly layerIndex: number;
  /** gamma/beta are batch norm's scale and offset; its moving statistics are state, not trained. */
  readonly role: 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
  /** Kernels are decayed; biases only when the optimizer says `decayBiases`. */
  readonly decay: boolean;
  /**
   * False for batch norm's moving statistics: the optimizer skips them, and a gradient slot holds
   * the microbatch's statistics there instead of a gradient (folded in by the run, run/work.ts).
   */
  readonly trainable: boolean;
  readonly init: Initializer | 'ones';
  readonly fanIn: number;
  readonly fanOut: number;
}

export type LayerPlan =
  | {
      readonly type: 'dense';
      readonly index: number;
      readonly name: string;
      readonly inDim: number;
      readonly outDim: number;
      readonly activation: Activation;
      readonly alpha: number;
      readonly kernel: ParamTensor;
      readonly bias: ParamTensor | undefined;
      /** False for the first layer with parameters: nobody needs the gradient of the input. */
      readonly needsInputGrad: boolean;
    }
  | { readonly type: 'dropout'; readonly index: number; readonly dim: number; readonly rate: number; readonly needsInputGrad: boolean }
  | { readonly type: 'flatten'; readonly index: number; readonly dim: number; readonly needsInputGrad: boolean }
  | {
      readonly type: 'activation';
      readonly index: number;
      readonly dim: number;
      readonly activation: Activation;
      readonly alpha: number;
      readonly needsInputGrad: boolean;
    }
  | {
      /** Implicit GEMM: each output position's window (kh·kw·cin taps) times the HWIO kernel (kh·kw·cin × filters). */
      readonly type: 'conv2d';
      readonly index: number;
      readonly name: string;
      readonly geometry: WindowGeometry;
      readonly filters: number;
      readonly inDim: number;
      readonly outDim: number;
      readonly activation: Activation;
      readonly alpha: number;
      readonly kernel: ParamTensor;
      readonly bias: ParamTensor | undefined;
      readonly needsInputGrad: boolean;
      /** GEMM FLOPs of one example, forward and backward (the input gradient only if needed). */
      readonly flopsPerSample: number;
    }
  | {
      readonly type: 'max_pool2d' | 'avg_pool2d';
      readonly index: number;
      readonly geometry: WindowGeometry;
      readonly inDim: number;
      readonly outDim: number;
      readonly needsInputGrad: boolean;
      /** Window element visits of one example: one per output and window cell, ×2 with the input gradient. */
      readonly flopsPerSample: number;
    }
  | {
      readonly type: 'global_avg_pool2d';
      readonly index: number;
      /** height × width of the input. */
      readonly positions: number;
      readonly channels: number;
      readonly inDim: number;
      readonly outDim: number;
      readonly needsInputGrad: boolean;
      /** Adds of one example: one per input element, ×2 with the input gradient. */
      readonly flopsPerSample: number;
    }
  | { readonly type: 'reshape'; readonly index: number; readonly dim: number; readonly needsInputGrad: boolean }
  | {
      /** Over the last axis: each example is `positions` rows of `channels` values. */
      readonly type: 'batch_norm';
      readonly index: number;
      readonly name: string;
      readonly dim: number;
      readonly channels: number;
      readonly positions: number;
      readonly momentum: number;
      readonly epsilon: number;
      readonly gamma: ParamTensor | undefined;
      readonly beta: ParamTensor | undefined;
      readonly movingMean: ParamTensor;
      readonly movingVariance: ParamTensor;
      readonly needsInputGrad: boolean;
    };

export interface CompiledModel {
  readonly spec: ModelSpec;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly layers: readonly LayerPlan[];
  readonly params: readonly ParamTensor[];
  /** Elements in the parameter block, including alignment padding between tensors. */
  readonly paramCount: number;
  /** Real trainable parameters (without padding or batch norm's moving statistics). */
  readonly trainableCount: number;
  /** Widest activation (features per example) of any layer, input included. */
  readonly maxDim: number;
  /**
   * GEMM FLOPs of one training example (forward + backward, skipping the unused input gradient);
   * conv2d counts as the GEMMs of its im2col form (the kernels run them without the matrix).
   */
  readonly gemmFlopsPerSample: number;
  /** Floats of the largest conv2d kernel scratch (geometry.ts convScratchFloats; 0 without conv2d). */
  readonly convScratchFloats: number;
}

/** Tensors start at multiples of 16 floats (64 bytes) so SIMD loads stay within one cache line. */
export const PARAM_ALIGN = 16;

export function defaultAlpha(activation: Activation): number {
  return activation === 'elu' ? 1 : activation === 'leaky_relu' ? 0.01 : 0;
}

export function defaultInitializer(activation: Activation): Initializer {
  return activation === 'relu' || activation === 'leaky_relu' || activation === 'elu' || activation === 'gelu'
    ? 'he_uniform'
    : 'glorot_uniform';
}

export function isElementwise(a: Activation): a is ElementwiseActivation {
  return a !== 'softmax';
}

export function compileModel(input: ModelSpec | unknown): CompiledModel {
  const spec = parseModelSpec(input);
  const inputSize = spec.inputShape.reduce((a, b) => a * b, 1);
  const layers: LayerPlan[] = [];
  const params: ParamTensor[] = [];
  let dim = inputSize;
  // The example's shape after each layer (the spec's shape rules have checked it).
  let shape: number[] = [...spec.inputShape];
  let maxDim = inputSize;
  let convScratchFloatsMax = 0;
  let convCount = 0;
  let offset = 0;
  let denseCount = 0;
  let batchNormCount = 0;
  let seenParams = false;
  let flops = 0;
  const align = (n: number) => Math.ceil(n / PARAM_ALIGN) * PARAM_ALIGN;

  /** Places a kernel and its optional bias in the parameter block. */
  const addParams = (name: string, index: number, kernelShape: number[], fanIn: number, fanOut: number, init: Initializer, useBias: boolean) => {
    const kernel: ParamTensor = {
      name: `${name}/kernel`,
      layerIndex: index,
      role: 'kernel',
      offset,
      size: kernelShape.reduce((a, b) => a * b, 1),
      shape: kernelShape,
      decay: true,
      trainable: true,
      init,
      fanIn,
      fanOut,
    };
    offset = align(offset + kernel.size);
    params.push(kernel);
    let bias: ParamTensor | undefined;
    if (useBias) {
      const units = kernelShape[kernelShape.length - 1] as number;
      bias = { name: `${name}/bias`, layerIndex: index, role: 'bias', offset, size: units, shape: [units], decay: false, trainable: true, init: 'zeros', fanIn, fanOut };
      offset = align(offset + bias.size);
      params.push(bias);
    }
    return { kernel, bias };
  };

  spec.layers.forEach((layer, index) => {
    switch (layer.type) {
      case 'dense': {
        denseCount++;
        const name = `dense_${denseCount}`;
        const init = layer.kernelInitializer ?? defaultInitializer(layer.activation);
        const { kernel, bias } = addParams(name, index, [dim, layer.units], dim, layer.units, init, layer.useBias);
        // Forward x·W and backward xᵀ·dY always; dY·Wᵀ only when an earlier layer needs it.
        flops += 2 * dim * layer.units * (seenParams ? 3 : 2);
        layers.push({
          type: 'dense',
          index,
          name,
          inDim: dim,
          outDim: layer.units,
          activation: layer.activation,
          alpha: layer.alpha ?? defaultAlpha(layer.activation),
          kernel,
          bias,
          needsInputGrad: seenParams,
        });
        seenParams = true;
        dim = layer.units;
        shape = [dim];
        break;
      }
      case 'conv2d': {
        convCount++;
        const name = `conv2d_${convCount}`;
        const [h, w, c] = shape as [number, number, number];
        const g = windowGeometry([h, w, c], pair(layer.kernelSize), pair(layer.strides), pair(layer.dilation), layer.padding);
        const receptive = g.kh * g.kw;
        // Keras' fans for a convolution: receptive field × input (output) channels.
        const init = layer.kernelInitializer ?? defaultInitializer(layer.activation);
        const { kernel, bias } = addParams(name, index, [g.kh, g.kw, c, layer.filters], receptive * c, receptive * layer.filters, init, layer.useBias);
        const positions = g.outH * g.outW;
        const k = receptive * c;
        const convFlops = 2 * positions * k * layer.filters * (seenParams ? 3 : 2);
        flops += convFlops;
        convScratchFloatsMax = Math.max(convScratchFloatsMax, convScratchFloats(g, layer.filters));
        const outDim = positions * layer.filters;
        layers.push({
          type: 'conv2d',
          index,
          name,
          geometry: g,
          filters: layer.filters,
          inDim: dim,
          outDim,
          activation: layer.activation,
          alpha: layer.alpha ?? defaultAlpha(layer.activation),
          kernel,
          bias,
          needsInputGrad: seenParams,
          flopsPerSample: convFlops,
        });
        seenParams = true;
        dim = outDim;
        shape = [g.outH, g.outW, layer.filters];
        break;
      }
      case 'max_pool2d':
      case 'avg_pool2d': {
        const [h, w, c] = shape as [number, number, number];
        const window = pair(layer.poolSize);
        const g = windowGeometry([h, w, c], window, pair(layer.strides ?? window), [1, 1], layer.padding);
        const outDim = g.outH * g.outW * c;
        const visits = outDim * g.kh * g.kw * (seenParams ? 2 : 1);
        layers.push({ type: layer.type, index, geometry: g, inDim: dim, outDim, needsInputGrad: seenParams, flopsPerSample: visits });
        dim = outDim;
        shape = [g.outH, g.outW, c];
        break;
      }
      case 'global_avg_pool2d': {
        const [h, w, c] = shape as [number, number, number];
        layers.push({ type: 'global_avg_pool2d', index, positions: h * w, channels: c, inDim: dim, outDim: c, needsInputGrad: seenParams, flopsPerSample: dim * (seenParams ? 2 : 1) });
        dim = c;
        shape = [c];
        break;
      }
      case 'batch_norm': {
        batchNormCount++;
        const name = `batch_normalization_${batchNormCount}`;
        const channels = shape[shape.length - 1] as number;
        // tfjs' weight order: gamma, beta, moving_mean, moving_variance; gamma and beta are not
        // decayed (like biases), the moving statistics start at 0 and 1 as Keras'.
        const vector = (suffix: ParamTensor['role'], init: 'zeros' | 'ones', trainable: boolean): ParamTensor => {
          const t: ParamTensor = { name: `${name}/${suffix}`, layerIndex: index, role: suffix, offset, size: channels, shape: [channels], decay: false, trainable, init, fanIn: channels, fanOut: channels };
          offset = align(offset + channels);
          params.push(t);
          return t;
        };
        const gamma = layer.scale ? vector('gamma', 'ones', true) : undefined;
        const beta = layer.center ? vector('beta', 'zeros', true) : undefined;
        const movingMean = vector('moving_mean', 'zeros', false);
        const movingVariance = vector('moving_variance', 'ones', false);
        layers.push({
          type: 'batch_norm',
          index,
          name,
          dim,
          channels,
          positions: dim / channels,
          momentum: layer.momentum,
          epsilon: layer.epsilon,
          gamma,
          beta,
          movingMean,
          movingVariance,
          needsInputGrad: seenParams,
        });
        if (gamma || beta) seenParams = true;
        break;
      }
      case 'reshape':
        layers.push({ type: 'reshape', index, dim, needsInputGrad: seenParams });
        shape = [...layer.targetShape];
        break;
      case 'dropout':
        layers.push({ type: 'dropout', index, dim, rate: layer.rate, needsInputGrad: seenParams });
        break;
      case 'flatten':
        layers.push({ type: 'flatten', index, dim, needsInputGrad: seenParams });
        shape = [dim];
        break;
      case 'activation':
        layers.push({
          type: 'activation',
          index,
          dim,
          activation: layer.activation,
          alpha: layer.alpha ?? defaultAlpha(layer.activation),
          needsInputGrad: seenParams,
        });
        break;
    }
    maxDim = Math.max(maxDim, dim);
  });

  return {
    spec,
    inputSize,
    outputSize: dim,
    layers,
    params,
    paramCount: offset,
    trainableCount: params.reduce((a, p) => a + (p.trainable ? p.size : 0), 0),
    maxDim,
    gemmFlopsPerSample: flops,
    convScratchFloats: convScratchFloatsMax,
  };
}
