// Grid search: the cartesian product of explicit values (choices, fixed values) and n points per
// numeric parameter, expanded per conditional branch; each cell has a stable key storage makes unique.
import { z } from 'zod';
import { canonicalKey, isLog, snap, type NumericParam, type ParamSpec, type SearchSpace, type SpaceNode } from '../space.ts';
import { SearchError, type ParamValue, type Params, type Sampler } from '../types.ts';
import { Rng } from '@hypersweep/nn';
import { SeedSchema, parseOptions } from './common.ts';

const GridOptionsSchema = z.strictObject({
  /** Only used with `shuffle`; the grid itself does not depend on it. */
  seed: SeedSchema.optional(),
  /** Points per numeric parameter, or per parameter name (default 5). */
  pointsPerParam: z.union([z.int().min(1), z.record(z.string(), z.int().min(1))]).optional(),
  /** Visit the cells in a seeded random order instead of the order the space is written in. */
  shuffle: z.boolean().optional(),
  /** Refuse grids larger than this (default 100 000 cells). */
  maxCells: z.int().min(1).optional(),
});
export type GridSamplerOptions = z.input<typeof GridOptionsSchema>;

export interface GridCell {
  readonly params: Params;
  /** Canonical JSON of the params (keys sorted). */
  readonly cellKey: string;
}

const DEFAULT_POINTS = 5;
const DEFAULT_MAX_CELLS = 100_000;

/** Trims float noise of computed grid points (0.30000000000000004 → 0.3). */
function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

/** n points spanning a numeric parameter (geometric for log ones), snapped to its grid and deduplicated. */
export function gridPoints(spec: NumericParam, n: number): number[] {
  const raw: number[] = [];
  if (n === 1) {
    raw.push(isLog(spec) ? Math.sqrt(spec.low * spec.high) : (spec.low + spec.high) / 2);
  } else {
    for (let i = 0; i < n; i++) {
      const t = i / (n - 1);
      // Endpoints exactly, interior points tidied.
      const x = i === 0 ? spec.low : i === n - 1 ? spec.high : isLog(spec) ? spec.low * Math.pow(spec.high / spec.low, t) : spec.low + t * (spec.high - spec.low);
      raw.push(i === 0 || i === n - 1 ? x : tidy(x));
    }
  }
  return [...new Set(raw.map((x) => snap(spec, x)))];
}

function valuesOf(name: string, spec: ParamSpec, points: number | Readonly<Record<string, number>>): ParamValue[] {
  switch (spec.type) {
    case 'fixed':
      return [spec.value];
    case 'categorical':
      return spec.choices.map((c) => c.value);
    default:
      return gridPoints(spec, typeof points === 'number' ? points : (points[name] ?? DEFAULT_POINTS));
  }
}

/**
 * Every cell of the grid, in a fixed order: the first parameter varies slowest, a categorical's
 * sub-space right after its value. Throws when there are more than `maxCells`.
 */
export function gridCells(space: SearchSpace, options: Omit<GridSamplerOptions, 'seed' | 'shuffle'> = {}): GridCell[] {
  const points = options.pointsPerParam ?? DEFAULT_POINTS;
  const maxCells = options.maxCells ?? DEFAULT_MAX_CELLS;
  const count = (entries: [string, ParamSpec][]): number => {
    const [head, ...rest] = entries;
    if (!head) return 1;
    const [name, spec] = head;
    const sub = (value: ParamValue) => (spec.type === 'categorical' ? spec.choices.find((c) => c.value === value)?.params : undefined);
    const restCount = count(rest);
    let total = 0;
    for (const v of valuesOf(name, spec, points)) {
      const s = sub(v);
      total += (s ? count(Object.entries(s)) : 1) * restCount;
    }
    return total;
  };
  const total = count(Object.entries(space.root));
  if (total > maxCells) {
    throw new SearchError('INVALID_CONFIG', 'maxCells', `the grid has ${total} cells, more than maxCells = ${maxCells}; lower pointsPerParam`);
  }
  const expand = (node: SpaceNode): Record<string, ParamValue>[] => expandEntries(Object.entries(node));
  const expandEntries = (entries: [string, ParamSpec][]): Record<string, ParamValue>[] => {
    const [head, ...rest] = entries;
    if (!head) return [{}];
    const [name, spec] = head;
    const restCells = expandEntries(rest);
    const out: Record<string, ParamValue>[] = [];
    for (const v of valuesOf(name, spec, points)) {
      const sub = spec.type === 'categorical' ? spec.choices.find((c) => c.value === v)?.params : undefined;
      for (const s of sub ? expand(sub) : [{}]) for (const r of restCells) out.push({ [name]: v, ...s, ...r });
    }
    return out;
  };
  return expand(space.root).map((params) => ({ params, cellKey: canonicalKey(params) }));
}

/**
 * Returns the first cell (in a fixed order) that no trial holds yet, pending and failed trials
 * included, or null when every cell is taken. A trial holds a cell by its `cellKey`, or by its
 * params when it has none (a configuration enqueued by hand). Concurrent askers may pick the same
 * cell; storage's unique index on the key rejects the second insert and that asker asks again.
 */
export function createGridSampler(space: SearchSpace, options: GridSamplerOptions = {}): Sampler {
  const opts = parseOptions(GridOptionsSchema, options, 'grid');
  const written = gridCells(space, opts);
  const cells = opts.shuffle
    ? Array.from(Rng.fromSeed(opts.seed ?? 0).split('grid').permutation(written.length), (i) => written[i]!)
    : written;
  return {
    name: 'grid',
    ask(trials) {
      const taken = new Set(trials.map((t) => t.cellKey ?? canonicalKey(t.params)));
      for (const cell of cells) if (!taken.has(cell.cellKey)) return { params: cell.params, cellKey: cell.cellKey };
      return null;
    },
  };
}
