// Schedulers on synthetic learning curves with known final values: regret and epochs spent by ASHA,
// median stopping and Hyperband against training every trial fully, averaged over seeds.
//
// Usage: npm run bench -- schedulers [--seeds 20] [--trials 81] [--workers 8]
// Thresholds (issue 4) hold on the means over seeds: asha_regret_pct ≤ 1, asha_epoch_fraction ≤ 0.35,
// median_epoch_saving ≥ 0.25, median_regret_pct ≤ 1. ASHA runs with minResource 3 (Rungs 3, 9, 27):
// at epoch 1 the slow starters are indistinguishable from bad trials; `asha_min1_*` reports the
// same ASHA with Rungs from epoch 1 for comparison (it misses the 1% regret).
import {
  createAshaScheduler,
  createFifoScheduler,
  createHyperbandScheduler,
  createMedianStoppingScheduler,
} from '../packages/search/src/schedulers/index.ts';
import type { Scheduler } from '../packages/search/src/types.ts';
import { drawCurves, simulateSweep, type Curve } from './lib/curves.ts';

const MAX_RESOURCE = 81;
const NOISE = 0.002;

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

/** The schedulers compared; each built fresh per seed (they are pure, this only keeps runs independent). */
const SCHEDULERS: Record<string, () => Scheduler> = {
  fifo: () => createFifoScheduler(),
  asha: () => createAshaScheduler({ direction: 'minimize', reductionFactor: 3, minResource: 3, maxResource: MAX_RESOURCE }),
  asha_min1: () => createAshaScheduler({ direction: 'minimize', reductionFactor: 3, minResource: 1, maxResource: MAX_RESOURCE }),
  median: () => createMedianStoppingScheduler({ direction: 'minimize', gracePeriod: 5, minSamplesRequired: 3 }),
  hyperband: () => createHyperbandScheduler({ direction: 'minimize', reductionFactor: 3, minResource: 1, maxResource: MAX_RESOURCE }),
};

/** How much the curves cross: % of trial pairs ordered differently at epoch 1 and at the end, and the best's epoch-1 rank. */
function crossings(curves: readonly Curve[]): { flipPct: number; bestEpoch1Rank: number } {
  let flips = 0;
  let pairs = 0;
  for (let i = 0; i < curves.length; i++) {
    for (let j = i + 1; j < curves.length; j++) {
      const a = curves[i]!;
      const b = curves[j]!;
      pairs++;
      if (a.values[0]! < b.values[0]! !== a.final < b.final) flips++;
    }
  }
  const best = curves.reduce((bi, c, i) => (c.final < curves[bi]!.final ? i : bi), 0);
  const bestEpoch1Rank = 1 + curves.filter((c) => c.values[0]! < curves[best]!.values[0]!).length;
  return { flipPct: (100 * flips) / pairs, bestEpoch1Rank };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function run(args: string[]) {
  const seeds = flag(args, 'seeds', 20);
  const trials = flag(args, 'trials', 81);
  const workers = flag(args, 'workers', 8);
  const full = trials * MAX_RESOURCE;

  const perSeed: Record<string, unknown>[] = [];
  const regret: Record<string, number[]> = {};
  const fraction: Record<string, number[]> = {};
  const flip: number[] = [];
  const bestRank: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const curves = drawCurves(seed, { trials, maxResource: MAX_RESOURCE, noise: NOISE });
    const bestFinal = Math.min(...curves.map((c) => c.final));
    const c = crossings(curves);
    flip.push(c.flipPct);
    bestRank.push(c.bestEpoch1Rank);
    const row: Record<string, unknown> = { seed, bestFinal, rankFlipPct: c.flipPct, bestEpoch1Rank: c.bestEpoch1Rank };
    for (const [name, make] of Object.entries(SCHEDULERS)) {
      const out = simulateSweep(curves, MAX_RESOURCE, workers, make());
      const r = (100 * (out.selectedFinal - bestFinal)) / Math.abs(bestFinal);
      (regret[name] ??= []).push(r);
      (fraction[name] ??= []).push(out.epochs / full);
      row[name] = { ...out, regretPct: r, epochFraction: out.epochs / full };
    }
    perSeed.push(row);
  }

  const metrics = {
    asha_regret_pct: mean(regret['asha']!),
    asha_epoch_fraction: mean(fraction['asha']!),
    median_regret_pct: mean(regret['median']!),
    median_epoch_saving: 1 - mean(fraction['median']!),
    hyperband_regret_pct: mean(regret['hyperband']!),
    hyperband_epoch_fraction: mean(fraction['hyperband']!),
    asha_min1_regret_pct: mean(regret['asha_min1']!),
    asha_min1_epoch_fraction: mean(fraction['asha_min1']!),
    // FIFO trains everything: its regret is what the noise alone costs when picking the best.
    fifo_regret_pct: mean(regret['fifo']!),
    curves_rank_flip_pct: mean(flip),
    curves_best_epoch1_rank: mean(bestRank),
  };
  const thresholds = {
    asha_regret_pct: metrics.asha_regret_pct <= 1,
    asha_epoch_fraction: metrics.asha_epoch_fraction <= 0.35,
    median_epoch_saving: metrics.median_epoch_saving >= 0.25,
    median_regret_pct: metrics.median_regret_pct <= 1,
  };
  for (const [k, ok] of Object.entries(thresholds)) if (!ok) console.error(`threshold missed: ${k} = ${metrics[k as keyof typeof metrics]}`);
  return {
    metrics,
    details: {
      setup: { seeds, trials, workers, maxResource: MAX_RESOURCE, noise: NOISE, direction: 'minimize', thresholdsOn: 'means over seeds' },
      thresholds,
      maxRegretPct: Object.fromEntries(Object.entries(regret).map(([k, v]) => [k, Math.max(...v)])),
      perSeed,
    },
  };
}
