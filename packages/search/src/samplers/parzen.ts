// Parzen estimators of TPE: mixtures with one component per observed trial plus a prior, built
// from truncated Gaussian kernels in a numeric parameter's unit interval and smoothed categorical
// kernels; a component spans one or several parameters (multivariate TPE).
import type { Rng } from '@hypersweep/nn';
import { choiceIndex, fromUnit, internalBounds, isLog, stepOf, toUnit, type CategoricalParam, type NumericParam } from '../space.ts';
import type { ParamValue } from '../types.ts';

export interface ParzenOptions {
  /** Weight of the prior component relative to an observation (Optuna: 1). */
  readonly priorWeight: number;
  /** Add a broad prior component (centre of the range, σ = the whole range). */
  readonly considerPrior: boolean;
  /** Floor σ at range / min(100, 1 + kernels), Optuna's "magic clip", so kernels never collapse. */
  readonly considerMagicClip: boolean;
  /** Let the outermost kernels' σ reach the bounds (Optuna's consider_endpoints, default off). */
  readonly considerEndpoints: boolean;
  /** Bandwidths of multivariate TPE (Scott-like, one per dimension) instead of neighbour gaps. */
  readonly multivariate: boolean;
}

export type ParzenParam = NumericParam | CategoricalParam;

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const SQRT1_2 = Math.SQRT1_2;
/** Densities below this count as this, so a log ratio stays finite. */
const LOG_FLOOR = -700;

/** Complementary error function (Numerical Recipes' erfcc: relative error < 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(a < Z < b) for a standard normal Z, computed on the tail side for accuracy. */
export function normalMass(a: number, b: number): number {
  if (a >= 0) return 0.5 * (erfc(a * SQRT1_2) - erfc(b * SQRT1_2));
  if (b <= 0) return 0.5 * (erfc(-b * SQRT1_2) - erfc(-a * SQRT1_2));
  return 1 - 0.5 * erfc(-a * SQRT1_2) - 0.5 * erfc(b * SQRT1_2);
}

function safeLog(x: number): number {
  return x > 0 ? Math.max(LOG_FLOOR, Math.log(x)) : LOG_FLOOR;
}

function logSumExp(xs: Float64Array): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/** One parameter's share of every component: how to draw from a component and score a value. */
interface KernelDimension {
  sample(component: number, rng: Rng): ParamValue;
  /** Log density (mass, for discrete parameters) of each component at `value`. */
  logDensities(value: ParamValue): Float64Array;
}

/** The interval a discrete value owns in the unit scale (half a step each side, in log if log). */
function unitBin(spec: NumericParam, value: number): [number, number] {
  const half = stepOf(spec) / 2;
  const { low, high } = internalBounds(spec);
  const map = (x: number) => ((isLog(spec) ? Math.log(x) : x) - low) / (high - low);
  return [map(value - half), map(value + half)];
}

class NumericDimension implements KernelDimension {
  private readonly logNorm: Float64Array;
  constructor(
    private readonly spec: NumericParam,
    private readonly mus: Float64Array,
    private readonly sigmas: Float64Array,
  ) {
    // Each kernel is truncated to [0, 1]: its density is divided by the mass it keeps there.
    this.logNorm = mus.map((mu, i) => safeLog(normalMass(-mu / sigmas[i]!, (1 - mu) / sigmas[i]!)));
  }

  sample(i: number, rng: Rng): ParamValue {
    const mu = this.mus[i]!;
    const sigma = this.sigmas[i]!;
    // Rejection is exact and cheap: every centre lies in [0, 1], so at least ~half the mass does too.
    let u = mu;
    for (let attempt = 0; attempt < 64; attempt++) {
      const x = mu + sigma * rng.normal();
      if (x >= 0 && x <= 1) {
        u = x;
        break;
      }
    }
    return fromUnit(this.spec, u);
  }

  logDensities(value: ParamValue): Float64Array {
    const v = value as number;
    const out = new Float64Array(this.mus.length);
    if (stepOf(this.spec) > 0) {
      const [lo, hi] = unitBin(this.spec, v);
      for (let i = 0; i < out.length; i++) {
        const mu = this.mus[i]!;
        const s = this.sigmas[i]!;
        out[i] = safeLog(normalMass((lo - mu) / s, (hi - mu) / s)) - this.logNorm[i]!;
      }
    } else {
      const u = toUnit(this.spec, v);
      for (let i = 0; i < out.length; i++) {
        const z = (u - this.mus[i]!) / this.sigmas[i]!;
        out[i] = -0.5 * z * z - Math.log(this.sigmas[i]!) - LOG_SQRT_2PI - this.logNorm[i]!;
      }
    }
    return out;
  }
}

class CategoricalDimension implements KernelDimension {
  /** logP[i][c]: component i's log probability of choice c. */
  private readonly logP: Float64Array[];
  private readonly cumP: Float64Array[];
  constructor(
    private readonly spec: CategoricalParam,
    observed: readonly number[],
    withPrior: boolean,
    priorWeight: number,
  ) {
    const k = spec.choices.length;
    const rows = observed.map((c) => {
      // An observation's kernel: its choice, smoothed by the prior weight spread over all choices.
      const p = new Float64Array(k).fill(priorWeight / k / (1 + priorWeight));
      p[c] = p[c]! + 1 / (1 + priorWeight);
      return p;
    });
    if (withPrior) rows.push(new Float64Array(k).fill(1 / k));
    this.logP = rows.map((p) => p.map(safeLog));
    this.cumP = rows.map((p) => {
      let acc = 0;
      return p.map((x) => (acc += x));
    });
  }

  sample(i: number, rng: Rng): ParamValue {
    const cum = this.cumP[i]!;
    const u = rng.double() * cum[cum.length - 1]!;
    let c = 0;
    while (c < cum.length - 1 && u >= cum[c]!) c++;
    return this.spec.choices[c]!.value;
  }

  logDensities(value: ParamValue): Float64Array {
    const c = choiceIndex(this.spec, value);
    return Float64Array.from(this.logP, (row) => (c >= 0 ? row[c]! : LOG_FLOOR));
  }
}

/** Optuna's bandwidths for one numeric dimension, in the unit interval. */
function numericSigmas(mus: Float64Array, nDims: number, opts: ParzenOptions): Float64Array {
  const n = mus.length;
  let sigmas: Float64Array;
  if (opts.multivariate) {
    sigmas = new Float64Array(n).fill(0.2 * Math.pow(Math.max(n, 1), -1 / (nDims + 4)));
  } else {
    // σ of a kernel = the larger gap to its neighbours (the prior's centre and the bounds included).
    const withPrior = [...mus, 0.5];
    const order = withPrior.map((_, i) => i).sort((a, b) => withPrior[a]! - withPrior[b]! || a - b);
    const sorted = [0, ...order.map((i) => withPrior[i]!), 1];
    const sortedSigmas = order.map((_, j) => Math.max(sorted[j + 1]! - sorted[j]!, sorted[j + 2]! - sorted[j + 1]!));
    if (!opts.considerEndpoints && sorted.length >= 4) {
      sortedSigmas[0] = sorted[2]! - sorted[1]!;
      sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2]! - sorted[sorted.length - 3]!;
    }
    sigmas = new Float64Array(n);
    order.forEach((original, j) => {
      if (original < n) sigmas[original] = sortedSigmas[j]!;
    });
  }
  const kernels = n + (opts.considerPrior ? 1 : 0);
  const minSigma = opts.considerMagicClip ? 1 / Math.min(100, 1 + kernels) : 1e-12;
  return sigmas.map((s) => Math.min(1, Math.max(minSigma, s)));
}

/** A mixture over one or several parameters: weighted components, each a product of kernels. */
export class ParzenEstimator {
  private readonly dims: KernelDimension[];
  private readonly logWeights: Float64Array;
  private readonly cumWeights: Float64Array;

  /**
   * `observations[j][d]` is observation j's value of parameter d (legal values only);
   * `weights[j]` its weight before normalisation. Without observations the prior is the model.
   */
  constructor(params: readonly ParzenParam[], observations: readonly (readonly ParamValue[])[], weights: readonly number[], opts: ParzenOptions) {
    const withPrior = opts.considerPrior || observations.length === 0;
    this.dims = params.map((spec, d) => {
      const column = observations.map((o) => o[d]!);
      if (spec.type === 'categorical') {
        return new CategoricalDimension(spec, column.map((v) => choiceIndex(spec, v)), withPrior, opts.priorWeight);
      }
      const mus = Float64Array.from(column, (v) => toUnit(spec, v as number));
      const sigmas = numericSigmas(mus, params.length, opts);
      return withPrior
        ? new NumericDimension(spec, Float64Array.from([...mus, 0.5]), Float64Array.from([...sigmas, 1]))
        : new NumericDimension(spec, mus, sigmas);
    });
    const w = [...weights, ...(withPrior ? [opts.priorWeight] : [])];
    const total = w.reduce((a, b) => a + b, 0);
    this.logWeights = Float64Array.from(w, (x) => safeLog(x / total));
    let acc = 0;
    this.cumWeights = Float64Array.from(w, (x) => (acc += x / total));
  }

  sample(rng: Rng): ParamValue[] {
    const u = rng.double();
    let i = 0;
    while (i < this.cumWeights.length - 1 && u >= this.cumWeights[i]!) i++;
    return this.dims.map((d) => d.sample(i, rng));
  }

  logPdf(x: readonly ParamValue[]): number {
    const acc = Float64Array.from(this.logWeights);
    this.dims.forEach((d, k) => {
      const ld = d.logDensities(x[k]!);
      for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + ld[i]!;
    });
    return logSumExp(acc);
  }
}

/** Optuna's default weights: flat for the last 25 observations, a linear ramp before (by age). */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = Array.from({ length: n - 25 }, (_, i) => (n - 25 === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (n - 26)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/** Optuna's default gamma: the best 10% of finished trials, at most 25, model l(x). */
export function defaultGamma(nFinished: number): number {
  return Math.min(Math.ceil(0.1 * nFinished), 25);
}
