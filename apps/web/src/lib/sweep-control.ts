// The sweep page's controls, as pure functions: which actions a sweep's status allows, the budget
// form's values → a PATCH body (only the fields that change), the "Add configurations" text → the
// configurations to enqueue, and the API's error details grouped by the field they name.
import { TrialParams, zodIssuesToDetails, type ErrorDetail, type SweepStatus } from '@hypersweep/schemas';
import { MAX_ENQUEUED_CONFIGURATIONS, type BudgetChange, type TrialConfiguration } from '@hypersweep/client';

/** The actions a sweep in `status` allows (as the API's state machine does). */
export interface SweepActions {
  readonly pause: boolean;
  readonly resume: boolean;
  readonly cancel: boolean;
  /** Budget changes and enqueued configurations: a sweep that has not ended. */
  readonly edit: boolean;
  readonly delete: boolean;
}

export function sweepActions(status: SweepStatus): SweepActions {
  // Compared as text: one switch for every status the API may send.
  const s: string = status;
  const active = s === 'pending' || s === 'running';
  const paused = s === 'paused';
  const ended = s === 'completed' || s === 'failed' || s === 'cancelled';
  return { pause: active, resume: paused, cancel: active || paused, edit: active || paused, delete: ended };
}

export const BUDGET_FIELDS = ['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs'] as const;
export type BudgetField = (typeof BUDGET_FIELDS)[number];

/** The budget form as typed: text per field; an empty maxTotalEpochs means no limit. */
export type BudgetForm = Record<BudgetField, string>;

export interface CurrentBudget {
  readonly maxTrials: number;
  readonly maxConcurrentTrials: number;
  readonly maxTotalEpochs: number | null;
}

export function budgetForm(budget: CurrentBudget): BudgetForm {
  return { maxTrials: String(budget.maxTrials), maxConcurrentTrials: String(budget.maxConcurrentTrials), maxTotalEpochs: budget.maxTotalEpochs === null ? '' : String(budget.maxTotalEpochs) };
}

/** Messages by request path (`budget.maxTrials`, `params[0].learningRate`; '' for the whole request). */
export type FieldErrors = ReadonlyMap<string, readonly string[]>;

export function errorsByPath(details: readonly ErrorDetail[]): FieldErrors {
  const out = new Map<string, string[]>();
  for (const d of details) out.set(d.path, [...(out.get(d.path) ?? []), d.message]);
  return out;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: FieldErrors };

/** The PATCH body of the form: the fields that differ from the budget now, each a positive integer. */
export function budgetChange(current: CurrentBudget, form: BudgetForm): Checked<BudgetChange> {
  const details: ErrorDetail[] = [];
  const change: { maxTrials?: number; maxConcurrentTrials?: number; maxTotalEpochs?: number | null } = {};
  for (const field of BUDGET_FIELDS) {
    const text = form[field].trim();
    let value: number | null;
    if (text === '' && field === 'maxTotalEpochs') value = null;
    else if (/^\d+$/.test(text) && Number(text) >= 1 && Number.isSafeInteger(Number(text))) value = Number(text);
    else {
      details.push({ path: `budget.${field}`, message: field === 'maxTotalEpochs' ? 'a whole number ≥ 1, or empty for no limit' : 'a whole number ≥ 1' });
      continue;
    }
    if (value !== current[field]) change[field] = value as number;
  }
  if (details.length === 0 && Object.keys(change).length === 0) details.push({ path: 'budget', message: 'nothing to change: edit a field first' });
  return details.length > 0 ? { ok: false, errors: errorsByPath(details) } : { ok: true, value: change };
}

/**
 * The configurations of the "Add configurations" text: JSON of one object or an array of them,
 * each an object of numbers, strings and booleans. Problems are named as the API names them
 * (`params[i].<name>`); a syntax error is on the whole text ('').
 */
export function parseConfigurations(text: string): Checked<TrialConfiguration[]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = text.trim() === '' ? 'enter a JSON object, or an array of them' : `not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, errors: errorsByPath([{ path: '', message }]) };
  }
  const list = Array.isArray(value) ? value : [value];
  const details: ErrorDetail[] = [];
  if (list.length === 0) details.push({ path: 'params', message: 'give at least one configuration' });
  if (list.length > MAX_ENQUEUED_CONFIGURATIONS) details.push({ path: 'params', message: `at most ${MAX_ENQUEUED_CONFIGURATIONS} configurations at once, got ${list.length}` });
  list.forEach((config, i) => {
    const parsed = TrialParams.safeParse(config);
    if (!parsed.success) for (const d of zodIssuesToDetails(parsed.error)) details.push({ path: d.path === '' ? `params[${i}]` : `params[${i}].${d.path}`, message: d.message });
    else if (Object.keys(parsed.data).length === 0) details.push({ path: `params[${i}]`, message: 'names no parameter' });
  });
  return details.length > 0 ? { ok: false, errors: errorsByPath(details) } : { ok: true, value: list as TrialConfiguration[] };
}

/** A starting point for the configurations editor: the best trial's parameters, else a placeholder per parameter. */
export function configurationTemplate(paramNames: readonly string[], best: Readonly<Record<string, unknown>> | null): string {
  const template = best ?? Object.fromEntries(paramNames.map((n) => [n, null]));
  return JSON.stringify([template], null, 2);
}

/** The sweep with a budget change applied to its spec (a sweep.control `budget` event, before the API is read again). */
export function withBudget<S extends { spec: { search: { budget: CurrentBudget } } }>(sweep: S, change: BudgetChange): S {
  const budget = { ...sweep.spec.search.budget };
  for (const field of BUDGET_FIELDS) {
    const value = change[field];
    if (value !== undefined && (value !== null || field === 'maxTotalEpochs')) (budget as Record<BudgetField, number | null>)[field] = value;
  }
  return { ...sweep, spec: { ...sweep.spec, search: { ...sweep.spec.search, budget } } };
}

/** Controls merged by event id (history read once, and live ones), oldest first. */
export function mergeControls<C extends { readonly id: number }>(known: readonly C[], more: readonly C[]): C[] {
  if (more.length === 0) return known as C[];
  const byId = new Map(known.map((c) => [c.id, c]));
  for (const c of more) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
