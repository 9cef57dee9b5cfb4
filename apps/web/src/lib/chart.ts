// The arithmetic of the dashboard's charts, kept apart from the canvas: scales (linear and log),
// "nice" ticks, extents over many series, LTTB downsampling to the pixels available, and the
// best-so-far curve of an optimisation history.

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Extent {
  readonly min: number;
  readonly max: number;
}

/** Min and max of the finite values; undefined when there are none. */
export function extentOf(values: Iterable<number>): Extent | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : undefined;
}

/** A degenerate extent (one value) widened so a scale over it is not a division by zero. */
export function padExtent(e: Extent, fraction = 0.05, log = false): Extent {
  if (log) {
    const lo = Math.log10(e.min);
    const hi = Math.log10(e.max);
    const pad = hi > lo ? (hi - lo) * fraction : 0.5;
    return { min: 10 ** (lo - pad), max: 10 ** (hi + pad) };
  }
  if (e.max > e.min) {
    const pad = (e.max - e.min) * fraction;
    return { min: e.min - pad, max: e.max + pad };
  }
  const pad = e.min === 0 ? 1 : Math.abs(e.min) * 0.1;
  return { min: e.min - pad, max: e.max + pad };
}

export interface Scale {
  (value: number): number;
  readonly domain: Extent;
  readonly range: readonly [number, number];
  readonly log: boolean;
  invert(pixel: number): number;
}

/** Maps domain → range linearly, or linearly in log10 space (domain must then be > 0). */
export function makeScale(domain: Extent, range: readonly [number, number], log = false): Scale {
  const t = log ? Math.log10 : (v: number) => v;
  const d0 = t(domain.min);
  const d1 = t(domain.max);
  const span = d1 - d0 || 1;
  const [r0, r1] = range;
  const scale = ((value: number) => r0 + ((t(value) - d0) / span) * (r1 - r0)) as Scale;
  Object.assign(scale, {
    domain,
    range,
    log,
    invert: (pixel: number) => {
      const v = d0 + ((pixel - r0) / (r1 - r0 || 1)) * span;
      return log ? 10 ** v : v;
    },
  });
  return scale;
}

/** About `count` round tick values (1, 2, 5 × 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || count < 1) return [];
  if (min === max) return [min];
  if (min > max) [min, max] = [max, min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const step = (fraction >= 7.5 ? 10 : fraction >= 3.5 ? 5 : fraction >= 1.5 ? 2 : 1) * power;
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) {
    // Rounded to the step's decimals so 0.1 + 0.2 prints as 0.3.
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    ticks.push(Number((i * step).toFixed(Math.min(20, decimals))));
  }
  return ticks;
}

/** Powers of ten within [min, max] (min > 0); the single nearest one when the range spans none. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.ceil(Math.log10(Math.min(min, max)) - 1e-9);
  const hi = Math.floor(Math.log10(Math.max(min, max)) + 1e-9);
  if (hi < lo) return [10 ** Math.round(Math.log10(Math.sqrt(min * max)))];
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) out.push(Number((10 ** k).toPrecision(1)));
  return out;
}

/**
 * Largest-Triangle-Three-Buckets: at most `threshold` points that keep the shape of the line
 * (first and last kept). Points must be sorted by x; non-finite y values are dropped first.
 */
export function lttb(points: readonly Point[], threshold: number): Point[] {
  const data = points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
  const n = data.length;
  if (threshold >= n || threshold < 3) return threshold < 3 && n > threshold ? data.slice(0, Math.max(0, threshold)) : data;
  const out: Point[] = [data[0]!];
  const bucket = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * bucket) + 1;
    const nextEnd = Math.min(n, Math.floor((i + 2) * bucket) + 1);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += data[j]!.x;
      avgY += data[j]!.y;
    }
    const len = Math.max(1, nextEnd - nextStart);
    avgX /= len;
    avgY /= len;

    const start = Math.floor(i * bucket) + 1;
    const end = Math.floor((i + 1) * bucket) + 1;
    const pa = data[a]!;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const p = data[j]!;
      const area = Math.abs((pa.x - avgX) * (p.y - pa.y) - (pa.x - p.x) * (avgY - pa.y));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(data[best]!);
    a = best;
  }
  out.push(data[n - 1]!);
  return out;
}

export type Direction = 'minimize' | 'maximize';

/** Whether `a` is better than `b` for the direction. */
export function isBetter(a: number, b: number, mode: Direction): boolean {
  return mode === 'minimize' ? a < b : a > b;
}

/**
 * The optimisation history: for values in trial order (null: no value yet), the best value so far
 * at each position with a value, as a step curve.
 */
export function bestSoFar(values: readonly { x: number; value: number | null }[], mode: Direction): Point[] {
  const out: Point[] = [];
  let best: number | undefined;
  for (const { x, value } of values) {
    if (value === null || !Number.isFinite(value)) continue;
    if (best === undefined || isBetter(value, best, mode)) best = value;
    out.push({ x, y: best });
  }
  return out;
}

/** Indices of the k best values (nulls never), best first. */
export function topK(values: readonly (number | null)[], k: number, mode: Direction): number[] {
  const idx: number[] = [];
  values.forEach((v, i) => {
    if (v !== null && Number.isFinite(v)) idx.push(i);
  });
  idx.sort((a, b) => (mode === 'minimize' ? values[a]! - values[b]! : values[b]! - values[a]!) || a - b);
  return idx.slice(0, Math.max(0, k));
}

/** A short human label for an axis tick or a table cell. */
export function formatValue(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(Math.max(0, digits - 2));
  return Number(v.toPrecision(digits)).toString();
}
