// What a faulted run of a sweep stored, against a fault-free run of the same sweep (same spec, same
// seed): every count here must be 0 for the faulted run to have lost, doubled or changed nothing.
import { TRAINING_METRICS, type StoredTrial } from '../../test/lib/db-faults.ts';

export interface Comparison {
  /**
   * (trial number, epoch) pairs the reference stored (every training metric at that step) of which the
   * faulted run lacks at least one training metric — a trial missing altogether counts all its epochs.
   */
  lost: number;
  /** Reference trial numbers that the faulted run does not have at all (their epochs are in `lost`). */
  lostTrials: number;
  /**
   * (faulted trial, epoch) pairs with epoch in 1..max(epochsDone, highest stored step) for which a
   * training metric row or the trial.epoch event is missing: holes inside a trial's own progress.
   */
  gaps: number;
  /** trial.epoch events beyond the first per (trial, epoch), plus trial numbers stored more than once. */
  duplicateEvents: number;
  /** Training-metric values stored by both runs at the same (trial number, metric, step) whose float64 bits differ. */
  mismatchedValues: number;
  /** Trials of the same number whose sampled params differ. */
  mismatchedParams: number;
  /** Trials of the same number whose final objective value differs (bit for bit). */
  mismatchedFinalValues: number;
  /** Faulted-run trial numbers the reference does not have (an advance that sampled twice). */
  extraTrials: number;
  /** Per trial number, what differed (at most the first 5 items per kind), for the report. */
  notes: string[];
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
function sameBits(a: number, b: number): boolean {
  bits[0] = a;
  const [a0, a1] = [words[0], words[1]];
  bits[0] = b;
  return a0 === words[0] && a1 === words[1];
}

function stepSet(trial: StoredTrial, name: string): Set<number> {
  return new Set(trial.series.get(name)?.steps ?? []);
}

/** Epochs at which every training metric of `trial` is stored. */
function completeEpochs(trial: StoredTrial): Set<number> {
  const sets = TRAINING_METRICS.map((name) => stepSet(trial, name));
  return new Set([...sets[0]!].filter((step) => sets.every((s) => s.has(step))));
}

export function compareRuns(reference: readonly StoredTrial[], faulted: readonly StoredTrial[]): Comparison {
  const notes: string[] = [];
  const note = (text: string) => {
    if (notes.length < 50) notes.push(text);
  };
  const byNumber = new Map<number, StoredTrial>();
  let duplicateEvents = 0;
  for (const trial of faulted) {
    if (byNumber.has(trial.number)) {
      duplicateEvents++;
      note(`trial number ${trial.number} stored twice`);
    }
    byNumber.set(trial.number, trial);
  }
  const referenceNumbers = new Set(reference.map((t) => t.number));

  let lost = 0;
  let lostTrials = 0;
  let mismatchedValues = 0;
  let mismatchedParams = 0;
  let mismatchedFinalValues = 0;
  for (const ref of reference) {
    const expected = completeEpochs(ref);
    const twin = byNumber.get(ref.number);
    if (!twin) {
      lostTrials++;
      lost += expected.size;
      note(`trial ${ref.number}: missing from the faulted run (${expected.size} epochs)`);
      continue;
    }
    const have = completeEpochs(twin);
    const missing = [...expected].filter((e) => !have.has(e));
    lost += missing.length;
    if (missing.length) note(`trial ${ref.number}: reference epochs missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    if (JSON.stringify(ref.params) !== JSON.stringify(twin.params)) {
      mismatchedParams++;
      note(`trial ${ref.number}: params ${JSON.stringify(twin.params)} ≠ reference ${JSON.stringify(ref.params)}`);
    }
    const finalSame = ref.finalValue === null || twin.finalValue === null ? ref.finalValue === twin.finalValue : sameBits(ref.finalValue, twin.finalValue);
    if (!finalSame) {
      mismatchedFinalValues++;
      note(`trial ${ref.number}: final value ${twin.finalValue} ≠ reference ${ref.finalValue}`);
    }
    for (const name of TRAINING_METRICS) {
      const a = ref.series.get(name);
      const b = twin.series.get(name);
      if (!a || !b) continue;
      const atStep = new Map(b.steps.map((step, i) => [step, b.values[i]!]));
      let differing = 0;
      a.steps.forEach((step, i) => {
        const value = atStep.get(step);
        if (value !== undefined && !sameBits(a.values[i]!, value)) {
          if (differing++ < 3) note(`trial ${ref.number} ${name} step ${step}: ${value} ≠ reference ${a.values[i]}`);
        }
      });
      mismatchedValues += differing;
    }
  }

  let gaps = 0;
  let extraTrials = 0;
  for (const trial of faulted) {
    if (!referenceNumbers.has(trial.number)) {
      extraTrials++;
      note(`trial ${trial.number}: not in the reference`);
    }
    const stored = completeEpochs(trial);
    const events = new Set(trial.epochEvents);
    const top = Math.max(trial.epochsDone, ...TRAINING_METRICS.flatMap((name) => trial.series.get(name)?.steps ?? []), ...trial.epochEvents);
    const holes: number[] = [];
    for (let e = 1; e <= top; e++) if (!stored.has(e) || !events.has(e)) holes.push(e);
    gaps += holes.length;
    if (holes.length) note(`trial ${trial.number}: gaps at ${holes.slice(0, 5).join(', ')}${holes.length > 5 ? ', …' : ''}`);
    const repeats = trial.epochEvents.length - events.size;
    duplicateEvents += repeats;
    if (repeats) note(`trial ${trial.number}: ${repeats} trial.epoch events repeated`);
  }
  return { lost, lostTrials, gaps, duplicateEvents, mismatchedValues, mismatchedParams, mismatchedFinalValues, extraTrials, notes };
}

/** The p-quantile (nearest rank) of `values`; -1 when there are none. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return -1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
