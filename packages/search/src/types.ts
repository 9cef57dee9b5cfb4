// The vocabulary of search, shared by samplers, schedulers and the orchestrator. Everything is
// plain data, so a sweep's search state can be rebuilt from the trials stored in Postgres.

/** A sampled value: numbers for numeric parameters, the chosen value for categoricals. */
export type ParamValue = number | string | boolean;
/** A configuration: parameter name → value; conditional parameters appear only when active. */
export type Params = Readonly<Record<string, ParamValue>>;

export type Direction = 'minimize' | 'maximize';

/**
 * Trial states as the orchestrator stores them. A sampler sees pending trials too (queued,
 * running) so it does not propose the same thing twice; only finished ones carry values.
 */
export type TrialState = 'queued' | 'running' | 'completed' | 'stopped' | 'failed' | 'cancelled';

/** One reported value of the objective at a resource level (an epoch). */
export interface Report {
  /** Resource consumed so far, e.g. epochs completed (1-based, increasing). */
  readonly step: number;
  readonly value: number;
}

/** What samplers and schedulers know about a trial: immutable, as Optuna's FrozenTrial. */
export interface FrozenTrial {
  /** 0-based, unique and increasing per sweep. */
  readonly number: number;
  readonly params: Params;
  readonly state: TrialState;
  /** Objective values reported at each step, in step order. */
  readonly reports: readonly Report[];
  /**
   * The trial's objective for the sampler: its final value when completed, its last report
   * when stopped early; undefined for pending, failed and cancelled trials.
   */
  readonly value?: number;
  /** Grid cell key when the grid sampler proposed it. */
  readonly cellKey?: string;
}

/** What a sampler proposes. */
export interface Suggestion {
  readonly params: Params;
  /** Stable key of a grid cell (storage makes it unique per sweep); absent for other samplers. */
  readonly cellKey?: string;
}

/** Sampler: what to try next. Pure: the same (seed, trials, number) gives the same suggestion. */
export interface Sampler {
  readonly name: string;
  /**
   * Proposes the configuration of trial `number` given every trial of the sweep so far
   * (pending ones included). Returns null when the sampler is exhausted (a finished grid).
   */
  ask(trials: readonly FrozenTrial[], number: number): Suggestion | null;
}

export type Decision = 'continue' | 'stop';

/** Scheduler: whether a running trial goes on, asked at each report. Pure in its inputs. */
export interface Scheduler {
  readonly name: string;
  /**
   * Called after `trial` reported (its last report is the new one). `trials` is the whole sweep,
   * `trial` included, as stored. Returns whether the trial should train further.
   */
  onReport(trial: FrozenTrial, trials: readonly FrozenTrial[]): Decision;
}

/** A typed error with the path of the offending field (e.g. "learningRate.low"). */
export class SearchError extends Error {
  readonly code: 'INVALID_SPACE' | 'INVALID_CONFIG' | 'EXHAUSTED';
  readonly path: string;
  constructor(code: SearchError['code'], path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'SearchError';
    this.code = code;
    this.path = path;
  }
}
