// Axes of the parallel-coordinates plot: one per searched parameter (log axes for log-scaled
// parameters, category axes for choices) and one for the objective; trial values → 0..1 positions.
import type { Trial } from '@hypersweep/schemas';
import { extentOf, padExtent } from './chart.ts';

export interface Axis {
  readonly name: string;
  readonly kind: 'linear' | 'log' | 'category';
  readonly min: number;
  readonly max: number;
  /** Category values in order (kind 'category'). */
  readonly categories: readonly string[];
}

type SpaceDef = { type?: unknown; choices?: unknown };

/** The parameter names of a space, nested choice sub-spaces included, in the order written. */
export function spaceParamNames(space: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  const walk = (node: Readonly<Record<string, unknown>>) => {
    for (const [name, def] of Object.entries(node)) {
      if (!out.includes(name)) out.push(name);
      const choices = (def as SpaceDef | null)?.choices;
      if (Array.isArray(choices)) {
        for (const c of choices) {
          const params = (c as { params?: unknown } | null)?.params;
          if (params && typeof params === 'object') walk(params as Record<string, unknown>);
        }
      }
    }
  };
  walk(space);
  return out;
}

/** Parameter types that the search draws on a log scale, by name. */
export function logScaledParams(space: Readonly<Record<string, unknown>>): Set<string> {
  const out = new Set<string>();
  const walk = (node: Readonly<Record<string, unknown>>) => {
    for (const [name, def] of Object.entries(node)) {
      const d = def as SpaceDef | null;
      if (d?.type === 'loguniform' || d?.type === 'intlog') out.add(name);
      if (Array.isArray(d?.choices)) {
        for (const c of d.choices) {
          const params = (c as { params?: unknown } | null)?.params;
          if (params && typeof params === 'object') walk(params as Record<string, unknown>);
        }
      }
    }
  };
  walk(space);
  return out;
}

export function buildAxes(trials: readonly Trial[], paramNames: readonly string[], logParams: ReadonlySet<string>, objectiveName: string, objectiveOf: (t: Trial) => number | null): Axis[] {
  const axes: Axis[] = paramNames.map((name) => {
    const values = trials.map((t) => t.params[name]).filter((v) => v !== undefined);
    if (values.length > 0 && values.every((v) => typeof v === 'number')) {
      const nums = values as number[];
      const log = logParams.has(name) && nums.every((v) => v > 0);
      const e = extentOf(nums) ?? { min: 0, max: 1 };
      const d = e.max > e.min ? e : padExtent(e, 0.05, log);
      return { name, kind: log ? 'log' : 'linear', min: d.min, max: d.max, categories: [] };
    }
    const categories = [...new Set(values.map(String))].sort();
    return { name, kind: 'category', min: 0, max: Math.max(1, categories.length - 1), categories };
  });
  const obj = extentOf(trials.map(objectiveOf).filter((v): v is number => v !== null)) ?? { min: 0, max: 1 };
  axes.push({ name: objectiveName, kind: 'linear', ...(obj.max > obj.min ? obj : padExtent(obj)), categories: [] });
  return axes;
}

/** Position of a value on an axis, 0 (bottom) … 1 (top); null when the trial has no value there. */
export function axisPosition(axis: Axis, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (axis.kind === 'category') {
    const i = axis.categories.indexOf(String(value));
    if (i < 0) return null;
    return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  if (axis.kind === 'log') {
    if (value <= 0) return null;
    return (Math.log10(value) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min) || 1);
  }
  return (value - axis.min) / (axis.max - axis.min || 1);
}
