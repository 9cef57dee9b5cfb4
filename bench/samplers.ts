// Sampler benchmark: on Branin, Hartmann-6 and 5-D Rosenbrock (20 seeds each), how many trials TPE
// needs to reach the median best that random search has after 100; also best-so-far curves (JSON, SVG).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createQuasiRandomSampler,
  createRandomSampler,
  createTpeSampler,
  parseSpace,
  type FrozenTrial,
  type Sampler,
  type SearchSpace,
  type TpeSamplerOptions,
} from '@hypersweep/search';
import { branin, hartmann6, rosenbrock5, type Objective } from './lib/objectives.ts';
import { renderPanels, type PlotPanel } from './lib/svg-plot.ts';

const TRIALS = 100;
/** Trials counted for a TPE run that never reaches the target within TRIALS. */
const NEVER = TRIALS + 1;

/** The TPE configuration under test: one setting for every objective. */
const TPE_OPTIONS: Omit<TpeSamplerOptions, 'seed'> = { multivariate: true };

type SamplerFactory = (space: SearchSpace, seed: string) => Sampler;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Best-so-far values of one sequential run (ask, evaluate, tell). */
function bestSoFar(objective: Objective, space: SearchSpace, sampler: Sampler): number[] {
  const trials: FrozenTrial[] = [];
  const curve: number[] = [];
  let best = Infinity;
  for (let n = 0; n < TRIALS; n++) {
    const s = sampler.ask(trials, n);
    if (!s) throw new Error(`${sampler.name} returned no suggestion at trial ${n}`);
    const value = objective.evaluate(s.params);
    trials.push({ number: n, params: s.params, state: 'completed', reports: [{ step: 1, value }], value });
    best = Math.min(best, value);
    curve.push(best);
  }
  return curve;
}

/** Trials (1-based) until a curve reaches `target`; NEVER when it does not. */
function trialsToReach(curve: readonly number[], target: number): number {
  const i = curve.findIndex((v) => v <= target);
  return i < 0 ? NEVER : i + 1;
}

function parseArgs(args: string[]): { seeds: number; tpe: Omit<TpeSamplerOptions, 'seed'> } {
  let seeds = 20;
  const tpe: Record<string, unknown> = { ...TPE_OPTIONS };
  for (const arg of args) {
    const [k, v] = arg.replace(/^--/, '').split('=');
    if (!k || v === undefined) throw new Error(`expected key=value, got "${arg}"`);
    if (k === 'seeds') seeds = Number(v);
    else tpe[k] = v === 'true' ? true : v === 'false' ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return { seeds, tpe: tpe as Omit<TpeSamplerOptions, 'seed'> };
}

export async function run(args: string[]) {
  const { seeds, tpe } = parseArgs(args);
  const samplers: Record<string, SamplerFactory> = {
    random: (space, seed) => createRandomSampler(space, { seed }),
    'quasi-random': (space, seed) => createQuasiRandomSampler(space, { seed }),
    tpe: (space, seed) => createTpeSampler(space, { ...tpe, seed }),
  };
  const metrics: Record<string, number> = {};
  const curves: Record<string, Record<string, number[]>> = {};
  const perSeed: Record<string, Record<string, number[]>> = {};
  const panels: PlotPanel[] = [];
  const started = performance.now();
  for (const objective of [branin, hartmann6, rosenbrock5]) {
    const space = parseSpace(objective.space);
    const runs: Record<string, number[][]> = {};
    for (const [name, make] of Object.entries(samplers)) {
      runs[name] = Array.from({ length: seeds }, (_, s) => bestSoFar(objective, space, make(space, `${objective.name}-${s}`)));
    }
    const finalBest = (name: string) => runs[name]!.map((c) => c[TRIALS - 1]!);
    const target = median(finalBest('random'));
    const tpeTrials = runs['tpe']!.map((c) => trialsToReach(c, target));
    const qrTrials = runs['quasi-random']!.map((c) => trialsToReach(c, target));
    metrics[`${objective.name}_tpe_trials`] = median(tpeTrials);
    metrics[`${objective.name}_random_median_best`] = target;
    metrics[`${objective.name}_tpe_median_best`] = median(finalBest('tpe'));
    metrics[`${objective.name}_quasi_random_median_best`] = median(finalBest('quasi-random'));
    metrics[`${objective.name}_quasi_random_trials`] = median(qrTrials);
    perSeed[objective.name] = { tpeTrials, quasiRandomTrials: qrTrials };
    curves[objective.name] = Object.fromEntries(
      Object.entries(runs).map(([name, rs]) => [name, Array.from({ length: TRIALS }, (_, i) => median(rs.map((c) => c[i]!)))]),
    );
    const colors: Record<string, string> = { random: '#888888', 'quasi-random': '#2b8cbe', tpe: '#d7301f' };
    panels.push({
      title: `${objective.name} (min ${objective.minimum})`,
      series: Object.entries(curves[objective.name]!).map(([label, values]) => ({
        label,
        color: colors[label] ?? '#000',
        values: values.map((v) => v - objective.minimum),
      })),
      reference: { label: 'random @100', value: target - objective.minimum },
    });
    console.error(`${objective.name}: random median best ${target.toPrecision(6)}, TPE needs ${metrics[`${objective.name}_tpe_trials`]} trials (per seed ${tpeTrials.join(' ')})`);
  }
  metrics['seconds'] = (performance.now() - started) / 1000;

  const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const meta = { trials: TRIALS, seeds, statistic: 'median over seeds of best-so-far', tpeOptions: tpe, rosenbrockBounds: [-2, 2] };
  writeFileSync(join(resultsDir, 'samplers-curves.json'), JSON.stringify({ ...meta, curves }, null, 1) + '\n');
  writeFileSync(join(resultsDir, 'samplers.svg'), renderPanels(panels));
  return { metrics, details: { ...meta, trialsToReachRandomMedianPerSeed: perSeed } };
}
