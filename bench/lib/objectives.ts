// Standard test functions for sampler benchmarks, each with its search space and known minimum.
import type { Params } from '@hypersweep/search';

export interface Objective {
  readonly name: string;
  /** Search space JSON (as a user would write it). */
  readonly space: Record<string, unknown>;
  /** The global minimum's value. */
  readonly minimum: number;
  evaluate(params: Params): number;
}

const num = (params: Params, name: string): number => {
  const v = params[name];
  if (typeof v !== 'number') throw new Error(`objective needs a number for ${name}, got ${String(v)}`);
  return v;
};

/** Branin–Hoo on x1 ∈ [−5, 10], x2 ∈ [0, 15]; three global minima of 0.397887. */
export const branin: Objective = {
  name: 'branin',
  space: { x1: { type: 'uniform', low: -5, high: 10 }, x2: { type: 'uniform', low: 0, high: 15 } },
  minimum: 0.397887,
  evaluate(p) {
    const x1 = num(p, 'x1');
    const x2 = num(p, 'x2');
    const b = 5.1 / (4 * Math.PI * Math.PI);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
};

const H6_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H6_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H6_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((x) => x * 1e-4));

/** Hartmann-6 on [0, 1]⁶; global minimum −3.32237. */
export const hartmann6: Objective = {
  name: 'hartmann6',
  space: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i + 1}`, { type: 'uniform', low: 0, high: 1 }])),
  minimum: -3.32237,
  evaluate(p) {
    const x = Array.from({ length: 6 }, (_, i) => num(p, `x${i + 1}`));
    let sum = 0;
    for (let i = 0; i < 4; i++) {
      let inner = 0;
      for (let j = 0; j < 6; j++) inner += H6_A[i]![j]! * (x[j]! - H6_P[i]![j]!) ** 2;
      sum += H6_ALPHA[i]! * Math.exp(-inner);
    }
    return -sum;
  },
};

/** Rosenbrock in 5 dimensions on [−2, 2]⁵; global minimum 0 at (1, …, 1). */
export const rosenbrock5: Objective = {
  name: 'rosenbrock5',
  space: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`x${i + 1}`, { type: 'uniform', low: -2, high: 2 }])),
  minimum: 0,
  evaluate(p) {
    const x = Array.from({ length: 5 }, (_, i) => num(p, `x${i + 1}`));
    let sum = 0;
    for (let i = 0; i < 4; i++) sum += 100 * (x[i + 1]! - x[i]! ** 2) ** 2 + (1 - x[i]!) ** 2;
    return sum;
  },
};
