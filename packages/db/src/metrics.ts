// Metric curves for the API: one trial's series, downsampled server-side with LTTB.
import { isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';

export interface MetricPoint {
  step: number;
  value: number;
}

export interface MetricSeriesItem {
  name: string;
  points: MetricPoint[];
  /** Points stored for this metric. */
  totalPoints: number;
  downsampled: boolean;
}

export interface MetricSeriesResult {
  trialId: string;
  series: MetricSeriesItem[];
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): keeps the first and last points and, from
 * each of `threshold - 2` equal buckets in between, the point forming the largest triangle with
 * the previously kept point and the next bucket's average. Deterministic; preserves peaks.
 */
export function lttb(points: readonly MetricPoint[], threshold: number): MetricPoint[] {
  if (!Number.isInteger(threshold) || threshold < 3) throw new DbError('invalid_argument', `LTTB needs at least 3 points, got ${threshold}`);
  if (points.length <= threshold) return points.slice();
  const sampled: MetricPoint[] = [points[0]!];
  const bucketSize = (points.length - 2) / (threshold - 2);
  let previous = 0;
  for (let bucket = 0; bucket < threshold - 2; bucket++) {
    // The next bucket's average is the triangle's third vertex (the last point for the last bucket).
    const nextStart = Math.floor((bucket + 1) * bucketSize) + 1;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, points.length);
    let avgStep = 0;
    let avgValue = 0;
    for (let i = nextStart; i < nextEnd; i++) {
      avgStep += points[i]!.step;
      avgValue += points[i]!.value;
    }
    const nextCount = nextEnd - nextStart;
    avgStep /= nextCount;
    avgValue /= nextCount;

    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.floor((bucket + 1) * bucketSize) + 1;
    const a = points[previous]!;
    let maxArea = -1;
    let chosen = start;
    for (let i = start; i < end; i++) {
      const p = points[i]!;
      const area = Math.abs((a.step - avgStep) * (p.value - a.value) - (a.step - p.step) * (avgValue - a.value));
      if (area > maxArea) {
        maxArea = area;
        chosen = i;
      }
    }
    sampled.push(points[chosen]!);
    previous = chosen;
  }
  sampled.push(points[points.length - 1]!);
  return sampled;
}

export interface MetricSeriesOptions {
  /** Most points per series (≥ 3); default 500. */
  maxPoints?: number;
  /** Steps in [fromStep, toStep] only (inclusive; either end optional). */
  fromStep?: number;
  toStep?: number;
}

/**
 * The named metrics of a trial (every stored name when `names` is empty), by step, each
 * downsampled to `maxPoints` with LTTB. Names without points are returned empty.
 */
export async function metricSeries(
  db: DbClient,
  trialId: string,
  names: readonly string[] = [],
  options: MetricSeriesOptions = {},
): Promise<MetricSeriesResult> {
  const maxPoints = options.maxPoints ?? 500;
  if (!Number.isInteger(maxPoints) || maxPoints < 3) throw new DbError('invalid_argument', `maxPoints must be an integer ≥ 3, got ${maxPoints}`);
  if (!isUuid(trialId)) return { trialId, series: [] };
  const rows = await mapDbErrors(() =>
    db.metric.findMany({
      where: {
        trialId,
        ...(names.length > 0 ? { name: { in: [...names] } } : {}),
        ...(options.fromStep !== undefined || options.toStep !== undefined
          ? { step: { ...(options.fromStep !== undefined ? { gte: options.fromStep } : {}), ...(options.toStep !== undefined ? { lte: options.toStep } : {}) } }
          : {}),
      },
      select: { name: true, step: true, value: true },
      orderBy: [{ name: 'asc' }, { step: 'asc' }],
    }),
  );
  const byName = new Map<string, MetricPoint[]>();
  for (const name of names) byName.set(name, []);
  for (const row of rows) {
    const points = byName.get(row.name) ?? [];
    points.push({ step: row.step, value: row.value });
    byName.set(row.name, points);
  }
  const series = [...byName].map(([name, points]) => ({
    name,
    points: lttb(points, maxPoints),
    totalPoints: points.length,
    downsampled: points.length > maxPoints,
  }));
  return { trialId, series };
}

/** The latest value of every metric of each trial (one query for a whole page of trials). */
export async function latestMetrics(db: DbClient, trialIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const ids = trialIds.filter(isUuid);
  const out = new Map<string, Record<string, number>>();
  if (ids.length === 0) return out;
  // trials.last_metrics is kept by recordEpochs in the epoch's transaction: one row per trial.
  const rows = await mapDbErrors(() => db.trial.findMany({ where: { id: { in: ids } }, select: { id: true, lastMetrics: true } }));
  for (const row of rows) out.set(row.id, row.lastMetrics as Record<string, number>);
  return out;
}

export interface SweepCurvesResult {
  lastEventId: number;
  trials: { trialId: string; number: number; series: MetricSeriesItem[] }[];
}

/**
 * The named metrics of every trial of a sweep, each series downsampled with LTTB, in two queries.
 * `lastEventId` is read first: every metric row committed before that event is included (later
 * ones may be too), so a client that applies the events after it as upserts misses nothing.
 */
export async function sweepCurves(db: DbClient, sweepId: string, names: readonly string[], options: MetricSeriesOptions = {}): Promise<SweepCurvesResult | null> {
  const maxPoints = options.maxPoints ?? 100;
  if (!Number.isInteger(maxPoints) || maxPoints < 3) throw new DbError('invalid_argument', `maxPoints must be an integer ≥ 3, got ${maxPoints}`);
  if (!isUuid(sweepId)) return null;
  return mapDbErrors(async () => {
    const sweep = await db.sweep.findUnique({ where: { id: sweepId }, select: { eventSeq: true } });
    if (!sweep) return null;
    const trials = await db.trial.findMany({ where: { sweepId }, select: { id: true, number: true }, orderBy: { number: 'asc' } });
    // One row per (trial, metric) with its steps and values as arrays: 1,000 trials × 50 epochs are
    // 1,000 rows to decode, not 50,000.
    const rows = await db.$queryRaw<{ trial_id: string; name: string; steps: number[]; vals: number[] }[]>`
      SELECT m.trial_id::text AS trial_id, m.name, array_agg(m.step ORDER BY m.step) AS steps, array_agg(m.value ORDER BY m.step) AS vals
      FROM metrics m JOIN trials t ON t.id = m.trial_id
      WHERE t.sweep_id = ${sweepId}::uuid AND m.name = ANY(${[...names]}::text[])
      GROUP BY m.trial_id, m.name`;
    const points = new Map<string, MetricPoint[]>();
    for (const row of rows) {
      points.set(`${row.trial_id} ${row.name}`, row.steps.map((step, i) => ({ step, value: row.vals[i]! })));
    }
    return {
      lastEventId: sweep.eventSeq,
      trials: trials.map((trial) => ({
        trialId: trial.id,
        number: trial.number,
        series: names.map((name) => {
          const all = points.get(`${trial.id} ${name}`) ?? [];
          return { name, points: lttb(all, maxPoints), totalPoints: all.length, downsampled: all.length > maxPoints };
        }),
      })),
    };
  });
}
