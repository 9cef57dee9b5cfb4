// The three kinds of sweep: the built-in engine's (a model, a dataset and training settings:
// CreateSweepRequest), a worker-defined trainable's (docs/trainables.md) and an external loop's
// over ask/tell (docs/ask-tell.md). The API takes a name for a trainable, never a command.
import { z } from 'zod';
import { createSampler, createScheduler, SearchError, type SchedulerConfig, type SearchSpace } from '@hypersweep/search';
import { int, MetricName, parsePath, unstorableStrings, text } from './common.ts';
import {
  CreateSweepRequest,
  MAX_EPOCHS,
  maxEpochsOf as maxEpochsOfBuiltin,
  ObjectiveSpec,
  parseSearchSpace,
  samplerConfigFor,
  schedulerConfigWith,
  SearchSpec,
  SWEEP_NAME_MAX,
} from './sweep.ts';

/** A trainable's name in a worker's trainables file, a queue name and a sweep. */
export const TRAINABLE_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const TrainableName = z
  .string()
  .regex(TRAINABLE_NAME_PATTERN, 'must be 1–64 of a-z, 0-9, _ . - (starting with a letter or digit): the name of a trainable a worker offers');

/** Parameters reach a trainable as HYPERSWEEP_PARAM_<NAME> too: names an environment can hold. */
export const TRAINABLE_PARAM_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Metrics one report may carry. */
export const MAX_REPORT_METRICS = 64;
/** One step's report, from a trainable's stdout or an ask/tell client. */
export const ReportMetrics = z
  .record(MetricName, z.number().refine(Number.isFinite, 'must be a finite number'))
  .refine((m) => Object.keys(m).length > 0, 'must hold at least one metric')
  .refine((m) => Object.keys(m).length <= MAX_REPORT_METRICS, `must hold at most ${MAX_REPORT_METRICS} metrics`);

const maxSteps = () => int(1, MAX_EPOCHS).describe('the trial budget in reported steps (the resource of ASHA and Hyperband)');

export const TrainableRef = z.strictObject({ name: TrainableName, maxSteps: maxSteps() });
export type TrainableRef = z.infer<typeof TrainableRef>;

export const ExternalRef = z.strictObject({
  maxSteps: maxSteps(),
  /** A lease lapses after this long without a heartbeat, report or tell. */
  leaseSeconds: int(5, 3600).default(60),
  /** Attempts of a trial (a lapsed lease ends one) before it fails. */
  maxAttempts: int(1, 100).default(3),
});
export type ExternalRef = z.infer<typeof ExternalRef>;

const common = {
  name: text(SWEEP_NAME_MAX),
  description: text(2000, 0).optional(),
  search: SearchSpec,
  objective: ObjectiveSpec,
};

/** Search, budget and storage rules shared by trainable and external sweeps. */
function checkOpen(req: { search: SearchSpec; objective: ObjectiveSpec }, steps: number, ctx: z.RefinementCtx): void {
  const { search } = req;
  if (search.budget.maxConcurrentTrials > search.budget.maxTrials) {
    ctx.addIssue({ code: 'custom', path: ['search', 'budget', 'maxConcurrentTrials'], message: `must be ≤ maxTrials (${search.budget.maxTrials})` });
  }
  const sched = search.scheduler;
  if ((sched.type === 'asha' || sched.type === 'hyperband') && sched.maxResource !== undefined && sched.maxResource > steps) {
    ctx.addIssue({ code: 'custom', path: ['search', 'scheduler', 'maxResource'], message: `must be ≤ maxSteps (${steps})` });
  } else {
    try {
      createScheduler(schedulerConfigWith(req, steps));
    } catch (err) {
      if (!(err instanceof SearchError)) throw err;
      ctx.addIssue({ code: 'custom', path: ['search', 'scheduler'], message: err.message });
    }
  }
  for (const d of unstorableStrings(req)) ctx.addIssue({ code: 'custom', message: d.message, path: parsePath(d.path) });
  let space: SearchSpace;
  try {
    space = parseSearchSpace(search.space);
  } catch {
    return; // reported by SearchSpaceSpec
  }
  try {
    createSampler(space, samplerConfigFor(req));
  } catch (err) {
    if (!(err instanceof SearchError)) throw err;
    ctx.addIssue({ code: 'custom', path: ['search', 'sampler'], message: err.message });
  }
  const upper = new Map<string, string>();
  for (const p of space.params) {
    const env = p.name.toUpperCase();
    const other = upper.get(env);
    if (other !== undefined && other !== p.name) {
      ctx.addIssue({ code: 'custom', path: ['search', 'space', ...parsePath(p.path)], message: `parameter ${JSON.stringify(p.name)} and ${JSON.stringify(other)} would share HYPERSWEEP_PARAM_${env}` });
    }
    upper.set(env, p.name);
    if (!TRAINABLE_PARAM_PATTERN.test(p.name)) {
      ctx.addIssue({ code: 'custom', path: ['search', 'space', ...parsePath(p.path)], message: `parameter name ${JSON.stringify(p.name)} must match ${TRAINABLE_PARAM_PATTERN.source} (it becomes HYPERSWEEP_PARAM_${p.name.toUpperCase()})` });
    }
  }
}

export const TrainableSweepRequest = z
  .strictObject({ ...common, trainable: TrainableRef })
  .superRefine((req, ctx) => checkOpen(req, req.trainable.maxSteps, ctx));
export type TrainableSweepRequest = z.infer<typeof TrainableSweepRequest>;

export const ExternalSweepRequest = z
  .strictObject({ ...common, external: ExternalRef })
  .superRefine((req, ctx) => checkOpen(req, req.external.maxSteps, ctx));
export type ExternalSweepRequest = z.infer<typeof ExternalSweepRequest>;

export type SweepKind = 'builtin' | 'trainable' | 'external';
/** Any sweep's request (and stored spec). */
export type SweepRequest = CreateSweepRequest | TrainableSweepRequest | ExternalSweepRequest;

/** The kind a request asks for, by the section it carries (`trainable`, `external`, else built-in). */
export function requestKind(input: unknown): SweepKind {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return 'builtin';
  if (Object.hasOwn(input, 'trainable')) return 'trainable';
  if (Object.hasOwn(input, 'external')) return 'external';
  return 'builtin';
}

export function sweepKind(spec: SweepRequest): SweepKind {
  return 'trainable' in spec ? 'trainable' : 'external' in spec ? 'external' : 'builtin';
}
export function isBuiltinSweep(spec: SweepRequest): spec is CreateSweepRequest {
  return sweepKind(spec) === 'builtin';
}

const KIND_SCHEMAS = { builtin: CreateSweepRequest, trainable: TrainableSweepRequest, external: ExternalSweepRequest } as const;

/**
 * Any sweep: the schema of its kind, chosen by the section it carries, with that schema's issues
 * and paths (a union would report all three kinds' at once).
 */
export const SweepRequest: z.ZodType<SweepRequest> = z.unknown().transform((input, ctx) => {
  const r = (KIND_SCHEMAS[requestKind(input)] as z.ZodType<SweepRequest>).safeParse(input);
  if (r.success) return r.data;
  // The issues as they are (unrecognized keys stay a list of keys, for the error's details).
  for (const issue of r.error.issues) ctx.addIssue({ ...issue, input } as Parameters<typeof ctx.addIssue>[0] & object);
  return z.NEVER;
});

/** The scheduler config of any sweep (its resource: maxStepsOf). */
export function sweepSchedulerConfig(spec: SweepRequest): SchedulerConfig {
  return schedulerConfigWith(spec, maxStepsOf(spec));
}

/** The most steps (epochs) a trial of this sweep can run: the resource of ASHA and Hyperband. */
export function maxStepsOf(spec: SweepRequest): number {
  if ('trainable' in spec) return spec.trainable.maxSteps;
  if ('external' in spec) return spec.external.maxSteps;
  return maxEpochsOfBuiltin(spec);
}
