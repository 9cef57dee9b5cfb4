// Compiles a validated model spec into layer plans with dimensions and a flat parameter layout.
import type { ElementwiseActivation } from './kernels/types.ts';
import { parseModelSpec, type Activation, type Initializer, type ModelSpec } from './spec.ts';

/** One parameter tensor inside the flat parameter block (offsets in float32 elements). */
export interface ParamTensor {
  /** Stable name, also used by checkpoints and the TensorFlow.js export ("dense_1/kernel"). */
  readonly name: string;
  readonly layerIndex: number;
  readonly role: 'kernel' | 'bias';
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
  /** Kernels are decayed; biases only when the optimizer says `decayBiases`. */
  readonly decay: boolean;
  readonly init: Initializer;
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
    };

export interface CompiledModel {
  readonly spec: ModelSpec;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly layers: readonly LayerPlan[];
  readonly params: readonly ParamTensor[];
  /** Elements in the parameter block, including alignment padding between tensors. */
  readonly paramCount: number;
  /** Real parameters (without padding). */
  readonly trainableCount: number;
  /** Widest activation (features per example) of any layer, input included. */
  readonly maxDim: number;
  /** GEMM FLOPs of one training example (forward + backward, skipping the unused input gradient). */
  readonly gemmFlopsPerSample: number;
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
  let maxDim = inputSize;
  let offset = 0;
  let denseCount = 0;
  let seenParams = false;
  let flops = 0;
  const align = (n: number) => Math.ceil(n / PARAM_ALIGN) * PARAM_ALIGN;

  spec.layers.forEach((layer, index) => {
    switch (layer.type) {
      case 'dense': {
        denseCount++;
        const name = `dense_${denseCount}`;
        const kernel: ParamTensor = {
          name: `${name}/kernel`,
          layerIndex: index,
          role: 'kernel',
          offset,
          size: dim * layer.units,
          shape: [dim, layer.units],
          decay: true,
          init: layer.kernelInitializer ?? defaultInitializer(layer.activation),
          fanIn: dim,
          fanOut: layer.units,
        };
        offset = align(offset + kernel.size);
        params.push(kernel);
        let bias: ParamTensor | undefined;
        if (layer.useBias) {
          bias = {
            name: `${name}/bias`,
            layerIndex: index,
            role: 'bias',
            offset,
            size: layer.units,
            shape: [layer.units],
            decay: false,
            init: 'zeros',
            fanIn: dim,
            fanOut: layer.units,
          };
          offset = align(offset + bias.size);
          params.push(bias);
        }
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
        break;
      }
      case 'dropout':
        layers.push({ type: 'dropout', index, dim, rate: layer.rate, needsInputGrad: seenParams });
        break;
      case 'flatten':
        layers.push({ type: 'flatten', index, dim, needsInputGrad: seenParams });
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
    trainableCount: params.reduce((a, p) => a + p.size, 0),
    maxDim,
    gemmFlopsPerSample: flops,
  };
}
