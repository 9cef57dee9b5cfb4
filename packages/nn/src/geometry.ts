// Window arithmetic of convolution and pooling, channels-last (NHWC), with tfjs's padding rules:
// the spec's shape checks, the compiler and the kernels all read their sizes from here.

export type Padding = 'valid' | 'same';

/** One spatial axis of a sliding window: its output size and the padding before the first input. */
export interface AxisWindow {
  readonly out: number;
  readonly padBefore: number;
}

/**
 * tfjs's arithmetic (tfjs-core conv_util): the dilated kernel spans (k − 1)·d + 1 inputs; `valid`
 * gives ⌈(in − span + 1) / s⌉ outputs, `same` gives ⌈in / s⌉ and pads max((out − 1)·s + span − in, 0)
 * in total, the smaller half before (so an even kernel pads one more after). `out` may be < 1:
 * callers refuse that.
 */
export function axisWindow(inSize: number, kernel: number, stride: number, dilation: number, padding: Padding): AxisWindow {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'valid') return { out: Math.ceil((inSize - span + 1) / stride), padBefore: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + span - inSize, 0);
  return { out, padBefore: Math.floor(total / 2) };
}

/**
 * A sliding window over one NHWC example (conv2d and pooling): input H×W×C, window kh×kw with
 * strides and dilations, padding before the first row and column, output outH×outW (×C for
 * pooling, ×filters for conv2d). The kernels take these fields as their parameters.
 */
export interface WindowGeometry {
  readonly inH: number;
  readonly inW: number;
  readonly channels: number;
  readonly kh: number;
  readonly kw: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly outH: number;
  readonly outW: number;
}

/** A number or an [h, w] pair as a pair. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

export function windowGeometry(
  input: readonly [number, number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilation: readonly [number, number],
  padding: Padding,
): WindowGeometry {
  const rows = axisWindow(input[0], kernel[0], strides[0], dilation[0], padding);
  const cols = axisWindow(input[1], kernel[1], strides[1], dilation[1], padding);
  return {
    inH: input[0],
    inW: input[1],
    channels: input[2],
    kh: kernel[0],
    kw: kernel[1],
    strideH: strides[0],
    strideW: strides[1],
    dilationH: dilation[0],
    dilationW: dilation[1],
    padTop: rows.padBefore,
    padLeft: cols.padBefore,
    outH: rows.out,
    outW: cols.out,
  };
}

/**
 * The zero-padded copy of one example that the conv kernels read: hp × wp pixels, just enough
 * for every window (rows and columns no window reaches are left out).
 */
export function paddedExtent(g: WindowGeometry): { readonly hp: number; readonly wp: number } {
  return { hp: (g.outH - 1) * g.strideH + (g.kh - 1) * g.dilationH + 1, wp: (g.outW - 1) * g.strideW + (g.kw - 1) * g.dilationW + 1 };
}

/** Element offset of tap k = (ky, kx, c) from a window's origin in the padded example, k in order. */
export function tapOffsets(g: WindowGeometry): Int32Array {
  const { wp } = paddedExtent(g);
  const out = new Int32Array(g.kh * g.kw * g.channels);
  let k = 0;
  for (let ky = 0; ky < g.kh; ky++) {
    for (let kx = 0; kx < g.kw; kx++) {
      for (let c = 0; c < g.channels; c++) out[k++] = (ky * g.dilationH * wp + kx * g.dilationW) * g.channels + c;
    }
  }
  return out;
}

/**
 * Floats of a conv2d layer's kernel scratch (kernels/types.ts convForward): the tap table
 * (K = kh·kw·cin int32), the window origins (outH·outW int32), the padded example (hp·wp·cin)
 * and Wᵀ (filters·K) for the input gradient.
 */
export function convScratchFloats(g: WindowGeometry, filters: number): number {
  const { hp, wp } = paddedExtent(g);
  const depth = g.kh * g.kw * g.channels;
  return depth + g.outH * g.outW + hp * wp * g.channels + filters * depth;
}
