// Two interleaved spirals: a small synthetic 2-class, 2-feature dataset that a tiny MLP
// can learn in seconds, deterministic by seed, for fast end-to-end tests.
import type { Dataset, DataSplit, Rng } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { assertSeed, streamRng } from './random.ts';
import { checkScaling, type Scaling } from './scaling.ts';
import { gatherRows, standardizationStats, standardize, stratifiedSplit } from './split.ts';

export interface TwoSpiralsOptions {
  /** Points in train + validation, classes alternating (so balanced). Default 1000. */
  count?: number;
  /** Points in the test set, drawn from an independent stream. Default count / 5. */
  testCount?: number;
  /** Standard deviation of the Gaussian noise added to each coordinate (radius 1 = outer end). Default 0.05. */
  noise?: number;
  /** Revolutions of each spiral. Default 1.5. */
  turns?: number;
  /** Default 0. */
  seed?: number;
  /** Default 0.1. */
  validationFraction?: number;
  validationCount?: number;
  /** 'standardize' (default) with the training split's statistics, or 'none' (coordinates as drawn). */
  scaling?: SpiralsScaling;
}

export const SPIRALS_SCALINGS = ['standardize', 'none'] as const satisfies readonly Scaling[];
export type SpiralsScaling = (typeof SPIRALS_SCALINGS)[number];

/** Draws `count` labelled points; point i belongs to spiral i mod 2. */
function drawPoints(count: number, noise: number, turns: number, rng: Rng): { points: Float64Array; labels: Int32Array } {
  const points = new Float64Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    // Starting a little away from the centre keeps the two spirals apart where they begin.
    const t = 0.05 + 0.95 * rng.double();
    const angle = 2 * Math.PI * turns * t + Math.PI * label;
    points[2 * i] = t * Math.cos(angle) + noise * rng.normal();
    points[2 * i + 1] = t * Math.sin(angle) + noise * rng.normal();
    labels[i] = label;
  }
  return { points, labels };
}

/** Points per spiral before the validation hold-out: point i belongs to spiral i mod 2. */
export function spiralsPoolClassCounts(count = 1000): number[] {
  return [Math.ceil(count / 2), Math.floor(count / 2)];
}

function checkCount(value: number, what: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new DatasetError('INVALID_OPTION', `${what} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

export function twoSpirals(options: TwoSpiralsOptions = {}): Dataset {
  const count = checkCount(options.count ?? 1000, 'count', 4);
  const testCount = checkCount(options.testCount ?? Math.round(count / 5), 'testCount', 0);
  const noise = options.noise ?? 0.05;
  const turns = options.turns ?? 1.5;
  const seed = options.seed ?? 0;
  assertSeed(seed);
  const scaling = checkScaling(options.scaling ?? 'standardize', SPIRALS_SCALINGS, 'spirals');
  if (!Number.isFinite(noise) || noise < 0) throw new DatasetError('INVALID_OPTION', `noise must be a finite number ≥ 0, got ${String(noise)}`);
  if (!Number.isFinite(turns) || turns <= 0) throw new DatasetError('INVALID_OPTION', `turns must be a finite number > 0, got ${String(turns)}`);

  const pool = drawPoints(count, noise, turns, streamRng(seed, 'spirals-train'));
  const held = drawPoints(testCount, noise, turns, streamRng(seed, 'spirals-test'));
  const split = stratifiedSplit(pool.labels, 2, {
    seed,
    ...(options.validationFraction !== undefined ? { validationFraction: options.validationFraction } : {}),
    ...(options.validationCount !== undefined ? { validationCount: options.validationCount } : {}),
  });

  const stats = scaling === 'standardize' ? standardizationStats(pool.points, 2, split.train) : { mean: [0, 0], std: [1, 1] };
  const makeSplit = (points: Float64Array, labels: Int32Array, rows: Int32Array | null): DataSplit => {
    const p = rows === null ? points : gatherRows(points, 2, rows);
    return { count: p.length / 2, features: standardize(p, 2, stats), labels: rows === null ? labels : gatherRows(labels, 1, rows) };
  };
  return {
    name: 'spirals',
    task: 'classification',
    featureShape: [2],
    numClasses: 2,
    classNames: ['0', '1'],
    normalization: { kind: 'standardized', mean: stats.mean, std: stats.std },
    train: makeSplit(pool.points, pool.labels, split.train),
    validation: makeSplit(pool.points, pool.labels, split.validation),
    test: makeSplit(held.points, held.labels, null),
  };
}
