import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestMetrics, lttb, metricSeries, type MetricPoint } from './metrics.ts';
import { createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { createTrial, recordEpochs } from './trials.ts';

/** A noisy decaying curve with two sharp spikes, deterministic. */
function curve(n: number): MetricPoint[] {
  return Array.from({ length: n }, (_, i) => {
    let value = Math.exp(-i / 2000) + 0.05 * Math.sin(i * 0.37) * Math.cos(i * 0.011);
    if (i === 3_001) value = 5;
    if (i === 7_777) value = -3;
    return { step: i + 1, value };
  });
}

describe('lttb', () => {
  it('downsamples 10,000 points to 500, keeping first, last and extrema, deterministically', () => {
    const points = curve(10_000);
    const sampled = lttb(points, 500);
    expect(sampled).toHaveLength(500);
    expect(sampled[0]).toEqual(points[0]);
    expect(sampled.at(-1)).toEqual(points.at(-1));
    // Steps stay strictly increasing and every point is an original one.
    for (let i = 1; i < sampled.length; i++) expect(sampled[i]!.step).toBeGreaterThan(sampled[i - 1]!.step);
    for (const point of sampled) expect(points[point.step - 1]).toEqual(point);
    // The spikes (global max and min) survive.
    expect(sampled.some((p) => p.step === 3_002 && p.value === 5)).toBe(true);
    expect(sampled.some((p) => p.step === 7_778 && p.value === -3)).toBe(true);
    // The curve's envelope is kept: the sampled range of every 1,000-step window is close to the original's.
    for (let start = 0; start < 10_000; start += 1_000) {
      const window = (p: MetricPoint) => p.step > start && p.step <= start + 1_000;
      const original = points.filter(window).map((p) => p.value);
      const kept = sampled.filter(window).map((p) => p.value);
      expect(Math.max(...kept)).toBeGreaterThan(Math.max(...original) - 0.02);
      expect(Math.min(...kept)).toBeLessThan(Math.min(...original) + 0.02);
    }
    expect(lttb(points, 500)).toEqual(sampled);
  });

  it('returns short series unchanged and refuses thresholds below 3', () => {
    const points = curve(10);
    expect(lttb(points, 10)).toEqual(points);
    expect(lttb(points, 50)).toEqual(points);
    expect(lttb(points, 3)).toHaveLength(3);
    expect(() => lttb(points, 2)).toThrow(/at least 3/);
  });
});

describe('metricSeries', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reads named series by step, downsampled server-side when long', async () => {
    const { sweep } = await createSweep(t.db, { name: 'm', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const points = curve(2_000);
    await recordEpochs(
      t.db,
      trial.id,
      points.map((p) => ({ epoch: p.step, metrics: { val_loss: p.value, train_loss: p.value * 2 } })),
    );

    const full = await metricSeries(t.db, trial.id, ['val_loss'], { maxPoints: 5_000 });
    expect(full.series).toEqual([{ name: 'val_loss', points, totalPoints: 2_000, downsampled: false }]);

    const small = await metricSeries(t.db, trial.id, ['train_loss', 'val_loss', 'missing'], { maxPoints: 100 });
    expect(small.series.map((s) => [s.name, s.points.length, s.totalPoints, s.downsampled])).toEqual([
      ['train_loss', 100, 2_000, true],
      ['val_loss', 100, 2_000, true],
      ['missing', 0, 0, false],
    ]);
    expect(small.series[1]!.points).toEqual(lttb(points, 100));

    const every = await metricSeries(t.db, trial.id, [], { maxPoints: 10 });
    expect(every.series.map((s) => s.name).sort()).toEqual(['train_loss', 'val_loss']);
    await expect(metricSeries(t.db, trial.id, [], { maxPoints: 1 })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('keeps each metric at its latest step on the trial row, through rewrites and partial epochs', async () => {
    const sweep = (await createSweep(t.db, { name: 'latest', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} })).sweep;
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const other = await createTrial(t.db, sweep.id, { params: {} });
    await recordEpochs(t.db, trial.id, [
      { epoch: 1, metrics: { val_loss: 0.9, train_loss: 1.0, lr: 0.1 } },
      { epoch: 2, metrics: { val_loss: 0.7, train_loss: 0.8 } },
    ]);
    // A resumed worker rewrites epoch 1: the latest values (epoch 2) stand; lr only ever had epoch 1.
    await recordEpochs(t.db, trial.id, [{ epoch: 1, metrics: { val_loss: 0.95, lr: 0.2 } }]);
    const latest = await latestMetrics(t.db, [trial.id, other.id, 'not-a-uuid']);
    expect(latest.get(trial.id)).toEqual({ val_loss: 0.7, train_loss: 0.8, lr: 0.2 });
    expect(latest.get(other.id)).toEqual({});
    // The same as reading the metrics table.
    const series = await metricSeries(t.db, trial.id, [], { maxPoints: 10 });
    expect(Object.fromEntries(series.series.map((s) => [s.name, s.points.at(-1)!.value]))).toEqual(latest.get(trial.id));
  });
});
