// TPE (Bergstra et al. 2011, Optuna's defaults): finished trials split into good and bad by
// gamma, a Parzen estimator of each, and the candidate drawn from l(x) that maximises l(x)/g(x).
import type { Rng } from '@hypersweep/nn';
import { z } from 'zod';
import { assignParams, checkValue, fromUnit, type ParamDef, type SearchSpace } from '../space.ts';
import type { Direction, FrozenTrial, ParamValue, Sampler } from '../types.ts';
import { SeedSchema, byNumber, parseOptions, trialStream } from './common.ts';
import { ParzenEstimator, defaultGamma, defaultWeights, type ParzenOptions, type ParzenParam } from './parzen.ts';
import { sampleUniformly } from './random.ts';

const TpeOptionsSchema = z.strictObject({
  seed: SeedSchema,
  direction: z.enum(['minimize', 'maximize']).default('minimize'),
  /** Random suggestions until this many trials have finished (Optuna: 10). */
  nStartupTrials: z.int().min(0).default(10),
  /** Candidates drawn from l(x) per suggestion (Optuna: 24). */
  nEiCandidates: z.int().min(1).default(24),
  /** Size of the good group given the number of finished trials (Optuna: min(⌈0.1 n⌉, 25)). */
  gamma: z.custom<(nFinished: number) => number>((v) => typeof v === 'function', 'must be a function').optional(),
  /** Weights of a group's observations, oldest first (Optuna: ramp before the last 25). */
  weights: z.custom<(n: number) => readonly number[]>((v) => typeof v === 'function', 'must be a function').optional(),
  priorWeight: z.number().positive().default(1),
  considerPrior: z.boolean().default(true),
  considerMagicClip: z.boolean().default(true),
  considerEndpoints: z.boolean().default(false),
  /** One joint estimator over the unconditional parameters (Falkner et al.), instead of one per parameter. */
  multivariate: z.boolean().default(false),
  /** Count pending trials among the bad ones, so concurrent askers spread out (Optuna's constant_liar). */
  constantLiar: z.boolean().default(false),
});
export type TpeSamplerOptions = z.input<typeof TpeOptionsSchema>;

interface RankedHistory {
  /** Finished trials, best first. */
  readonly finished: readonly FrozenTrial[];
  /** Queued and running trials with params (the constant liar's lies). */
  readonly pending: readonly FrozenTrial[];
}

function lastStep(t: FrozenTrial): number {
  return t.reports.at(-1)?.step ?? 0;
}

/**
 * Completed trials by value, then trials stopped early by how far they got and their last value
 * (Optuna ranks pruned trials after all completed ones: a stopped trial's value is an early one).
 */
export function rankTrials(trials: readonly FrozenTrial[], direction: Direction): RankedHistory {
  const sign = direction === 'maximize' ? -1 : 1;
  const valued = (t: FrozenTrial): t is FrozenTrial & { value: number } => typeof t.value === 'number' && Number.isFinite(t.value);
  const completed = trials.filter((t) => t.state === 'completed').filter(valued);
  const stopped = trials.filter((t) => t.state === 'stopped').filter(valued);
  completed.sort((a, b) => sign * (a.value - b.value) || a.number - b.number);
  stopped.sort((a, b) => lastStep(b) - lastStep(a) || sign * (a.value - b.value) || a.number - b.number);
  const pending = trials.filter((t) => (t.state === 'queued' || t.state === 'running') && Object.keys(t.params).length > 0);
  return { finished: [...completed, ...stopped], pending };
}

/**
 * Tree-structured Parzen Estimator. Conditional parameters are modelled only on the trials where
 * they are active; with `multivariate`, the unconditional parameters share one joint estimator and
 * the conditional ones are drawn per parameter given the chosen branch.
 */
export function createTpeSampler(space: SearchSpace, options: TpeSamplerOptions): Sampler {
  const opts = parseOptions(TpeOptionsSchema, options, 'tpe');
  const gamma = opts.gamma ?? defaultGamma;
  const weightsOf = opts.weights ?? defaultWeights;
  const parzen: ParzenOptions = {
    priorWeight: opts.priorWeight,
    considerPrior: opts.considerPrior,
    considerMagicClip: opts.considerMagicClip,
    considerEndpoints: opts.considerEndpoints,
    multivariate: false,
  };
  const modelled = (def: ParamDef): def is ParamDef & { spec: ParzenParam } => def.spec.type !== 'fixed';
  const joint = opts.multivariate ? space.params.filter((d) => d.conditions.length === 0).filter(modelled) : [];
  const jointNames = new Set(joint.map((d) => d.name));

  /** Values of `defs` in each trial of a group that has legal values for all of them, oldest first. */
  const observe = (group: readonly FrozenTrial[], defs: readonly ParamDef[]) => {
    const rows: ParamValue[][] = [];
    for (const t of [...group].sort((a, b) => a.number - b.number)) {
      const row = defs.map((d) => t.params[d.name]);
      if (row.every((v, k) => v !== undefined && checkValue(defs[k]!.spec, v) === undefined)) rows.push(row as ParamValue[]);
    }
    return { rows, weights: weightsOf(rows.length) };
  };

  /** The candidate drawn from l that maximises log l − log g. */
  const bestCandidate = (
    defs: readonly (ParamDef & { spec: ParzenParam })[],
    below: readonly FrozenTrial[],
    above: readonly FrozenTrial[],
    rng: Rng,
    multivariate: boolean,
  ): ParamValue[] => {
    const specs = defs.map((d) => d.spec);
    const o = { ...parzen, multivariate };
    const b = observe(below, defs);
    const a = observe(above, defs);
    const l = new ParzenEstimator(specs, b.rows, b.weights, o);
    const g = new ParzenEstimator(specs, a.rows, a.weights, o);
    let best: ParamValue[] = [];
    let bestScore = -Infinity;
    for (let k = 0; k < opts.nEiCandidates; k++) {
      const x = l.sample(rng);
      const score = l.logPdf(x) - g.logPdf(x);
      if (k === 0 || score > bestScore) {
        best = x;
        bestScore = score;
      }
    }
    return best;
  };

  return {
    name: 'tpe',
    ask(trials, number) {
      const rng = trialStream(opts.seed, 'tpe', number);
      // The row of the trial being asked for may already exist (created before sampling): not history.
      const history = byNumber(trials).filter((t) => t.number !== number);
      const { finished, pending } = rankTrials(history, opts.direction);
      if (finished.length < Math.max(1, opts.nStartupTrials)) return { params: sampleUniformly(space, rng.split('startup')) };

      const nBelow = Math.min(finished.length, Math.max(1, Math.round(gamma(finished.length))));
      const below = finished.slice(0, nBelow);
      const above = [...finished.slice(nBelow), ...(opts.constantLiar ? pending : [])];

      const jointValues = new Map<string, ParamValue>();
      if (joint.length > 0) {
        const x = bestCandidate(joint, below, above, rng.split('joint'), true);
        joint.forEach((d, k) => jointValues.set(d.name, x[k]!));
      }
      const params = assignParams(space, (def) => {
        if (jointNames.has(def.name)) return jointValues.get(def.name)!;
        // assignParams fills fixed values itself; this keeps the type narrow.
        if (!modelled(def)) return fromUnit(def.spec, 0);
        return bestCandidate([def], below, above, rng.split(`param:${def.name}`), false)[0]!;
      });
      return { params };
    },
  };
}
