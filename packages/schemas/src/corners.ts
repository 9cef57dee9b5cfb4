// A templated sweep (parameter references in model, training or dataset) checked where it can
// go wrong: at the corners of its space. Every combination of the branches that open sub-spaces,
// and within each, every parameter at each end of its range and at each choice (the others at
// their first value), and all at their last. A problem found there is refused at submission,
// named by the field the template puts it in and the corner that shows it.
import { activeParams, assignParams, describeConditions, snap, type ParamDef, type ParamValue, type Params, type SearchSpace } from '@hypersweep/search';
import { type ErrorDetail, zodIssuesToDetails } from './common.ts';
import { BOUND_PARAMS, paramCandidates as candidatesOfSpec, type BoundParam } from './bindings.ts';
import { DatasetRef, ModelSpec, TrainingSpec, type CreateSweepRequest } from './sweep.ts';
import { checkTemplate, instantiate, MAX_REPEAT, templatePathOf, TEMPLATE_SECTIONS, type TemplateSection } from './template.ts';

// A function: sweep.ts imports this module, so its schemas are not there yet at load time.
export const sectionSchema = (s: TemplateSection) => ({ dataset: DatasetRef, model: ModelSpec, training: TrainingSpec })[s];
/** Branch combinations of a templated space, at most: each is a corner or more to check. */
export const MAX_BRANCH_COMBINATIONS = 256;
/**
 * Corners of a templated space, at most: each resolves and validates the whole spec, so a space
 * with more is refused (split it, or give numeric choices as a range) rather than half-checked.
 */
export const MAX_CORNERS = 1024;
/** A categorical of numbers with more choices than this is checked at its least, greatest and a fractional choice. */
const EVERY_NUMERIC_CHOICE = 16;

type Sections = Pick<CreateSweepRequest, TemplateSection>;

/** The value a parameter takes at the base corner: its low end, first choice or fixed value. */
export function firstValue(def: ParamDef): ParamValue {
  const spec = def.spec;
  return spec.type === 'fixed' ? spec.value : spec.type === 'categorical' ? spec.choices[0]!.value : spec.low;
}

/** The assignment where every active parameter takes its first value. */
export function baseAssignment(space: SearchSpace): Params {
  return assignParams(space, firstValue);
}

/** Names the template refers to, `{i}` expanded over every repetition a block can have. */
export function referencedNames(template: Partial<Record<TemplateSection, unknown>>, space: SearchSpace): Set<string> {
  const out = new Set<string>();
  for (const s of TEMPLATE_SECTIONS) {
    if (template[s] === undefined) continue;
    for (const ref of checkTemplate(template[s], [s]).references) {
      if (!ref.name.includes('{i}')) out.add(ref.name);
      // Per repetition: only the names the space defines (the others are reported per corner).
      else for (let i = 1; i <= MAX_REPEAT; i++) if (space.byName.has(ref.name.split('{i}').join(String(i)))) out.add(ref.name.split('{i}').join(String(i)));
    }
  }
  return out;
}

/** A request's sections with one assignment applied, parsed; problems as template paths. */
export interface InstantiatedRequest {
  readonly sections: Sections;
  readonly issues: ErrorDetail[];
  readonly used: ReadonlySet<string>;
  /** References to a parameter the assignment does not hold. */
  readonly missing: readonly { path: string; name: string }[];
  /** The select cases taken. */
  readonly selected: ReadonlySet<string>;
}

export function instantiateRequest(request: Sections & Pick<CreateSweepRequest, 'template'>, params: Params): InstantiatedRequest {
  const issues: ErrorDetail[] = [];
  const used = new Set<string>();
  const missing: { path: string; name: string }[] = [];
  const selected = new Set<string>();
  const sections: Record<string, unknown> = { dataset: request.dataset, model: request.model, training: request.training };
  for (const s of TEMPLATE_SECTIONS) {
    const template = request.template?.[s];
    if (template === undefined) continue;
    const inst = instantiate(template, [s], params);
    for (const n of inst.used) used.add(n);
    missing.push(...inst.missing);
    issues.push(...inst.badCounts);
    for (const b of inst.badSelects) issues.push({ path: b.path, message: `${JSON.stringify(b.value)} has no case (cases: ${b.cases.join(', ')})` });
    for (const c of inst.selected) selected.add(c);
    if (inst.missing.length > 0 || inst.badCounts.length > 0 || inst.badSelects.length > 0) continue;
    const r = sectionSchema(s).safeParse(inst.value);
    if (r.success) {
      sections[s] = r.data;
      continue;
    }
    for (const d of zodIssuesToDetails(r.error, [s])) {
      const at = templatePathOf(d.path, inst.origins);
      issues.push({ path: at.path, message: at.repetition === null ? d.message : `${d.message} (in repetition ${at.repetition})` });
    }
  }
  return { sections: sections as unknown as Sections, issues, used, missing, selected };
}

/** One assignment to check, and how to name it in a message. */
export interface Corner {
  readonly params: Params;
  readonly describe: string;
}

/** Every combination of the categoricals that open sub-spaces, reached from the top (capped). */
function branchCombinations(space: SearchSpace): Params[] {
  const out: Params[] = [];
  const grow = (partial: Params): void => {
    if (out.length > MAX_BRANCH_COMBINATIONS) return;
    const next = activeParams(space, partial).find(
      (d) => d.spec.type === 'categorical' && d.spec.choices.some((c) => c.params) && !Object.hasOwn(partial, d.name),
    );
    if (!next || next.spec.type !== 'categorical') {
      out.push(partial);
      return;
    }
    for (const c of next.spec.choices) grow({ ...partial, [next.name]: c.value });
  };
  grow({});
  return out;
}

/**
 * The corners of a space (see the file's comment), each described for messages; null when there
 * are more than MAX_CORNERS of them or MAX_BRANCH_COMBINATIONS branch combinations (refused by
 * `checkCorners`).
 */
export function cornersOf(space: SearchSpace): Corner[] | null {
  const out: Corner[] = [];
  const seen = new Set<string>();
  const add = (params: Params, describe: string) => {
    const key = JSON.stringify(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)));
    if (seen.has(key) || out.length > MAX_CORNERS) return;
    seen.add(key);
    out.push({ params, describe });
  };
  const combinations = branchCombinations(space);
  if (combinations.length > MAX_BRANCH_COMBINATIONS) return null;
  for (const branches of combinations) {
    const where = Object.entries(branches).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
    const at = (picks: Params) => assignParams(space, (def) => (Object.hasOwn(branches, def.name) ? branches[def.name]! : Object.hasOwn(picks, def.name) ? picks[def.name]! : firstValue(def)));
    const base = at({});
    add(base, `when ${[...where, 'every other parameter at its first value (low end, first choice)'].join(', ')}`);
    const free = activeParams(space, base).filter((d) => !Object.hasOwn(branches, d.name));
    for (const def of free) {
      const values = paramCandidates(def).slice(1);
      const inner = interior(def);
      if (inner !== undefined) values.push({ value: inner, field: `an interior value of search.space.${def.path}` });
      values.forEach((c) => add(at({ [def.name]: c.value }), `when ${[...where, `${def.name} = ${JSON.stringify(c.value)} (${c.field})`].join(', ')}`));
    }
    const last: Record<string, ParamValue> = {};
    for (const def of free) last[def.name] = paramCandidates(def).at(-1)!.value;
    add(at(last), `when ${[...where, 'every other parameter at its last value (high, last choice)'].join(', ')}`);
  }
  return out.length > MAX_CORNERS ? null : out;
}

/**
 * A value inside a continuous range (or on a fractional quniform grid) that is not a whole number, so a float parameter meeting a
 * field that takes integers shows at a corner (both ends of [16, 256] are whole).
 */
function interior(def: ParamDef): number | undefined {
  const spec = def.spec;
  if (spec.type === 'quniform') {
    // low + k·q: the first of its values that is not whole, if any (q = 0.5 from 16 gives 16.5).
    const last = Math.min(8, Math.round((spec.high - spec.low) / spec.q));
    for (let k = 0; k <= last; k++) {
      const v = snap(spec, spec.low + k * spec.q);
      if (!Number.isInteger(v)) return v;
    }
    return undefined;
  }
  if (spec.type !== 'uniform' && spec.type !== 'loguniform') return undefined;
  const u = 0.3819660112501051; // the golden section: far from both ends and from simple fractions
  const v = spec.type === 'uniform' ? spec.low + u * (spec.high - spec.low) : Math.exp(Math.log(spec.low) + u * (Math.log(spec.high) - Math.log(spec.low)));
  return Number.isInteger(v) ? v + (spec.high - spec.low) * 1e-3 : v;
}

/**
 * A parameter's candidate values with the field of the request each comes from: a range's ends,
 * every choice — but of many numeric choices only the first, least, greatest and a fractional one
 * (what a field's bounds and integrality can refuse).
 */
const candidateCache = new WeakMap<ParamDef, { field: string; value: ParamValue }[]>();
function paramCandidates(def: ParamDef): { field: string; value: ParamValue }[] {
  const cached = candidateCache.get(def);
  if (cached) return cached;
  const picked = pickCandidates(def);
  candidateCache.set(def, picked);
  return picked;
}

function pickCandidates(def: ParamDef): { field: string; value: ParamValue }[] {
  const all = candidatesOfSpec(def.spec).map((c) => ({ value: c.value, field: `search.space.${def.path}.${c.field}` }));
  if (all.length <= EVERY_NUMERIC_CHOICE || !all.every((c) => typeof c.value === 'number')) return all;
  const byValue = (pick: (a: number, b: number) => boolean) => all.reduce((a, c) => (pick(c.value as number, a.value as number) ? c : a));
  const fractional = all.find((c) => !Number.isInteger(c.value));
  return [...new Set([all[0]!, byValue((a, b) => a < b), byValue((a, b) => a > b), ...(fractional ? [fractional] : [])])];
}

/**
 * Problems of a templated request over the corners of its space: references to parameters that
 * do not exist there, parameters drawn there that nothing uses, and specs that do not validate
 * (`check` adds the request's own rules between fields, and the shorthand names' checks).
 */
export function checkCorners(
  request: CreateSweepRequest,
  space: SearchSpace,
  check: (sections: Sections, params: Params) => ErrorDetail[],
  maxIssues = 20,
): ErrorDetail[] {
  const issues: ErrorDetail[] = [];
  const paths = new Set<string>();
  const push = (d: ErrorDetail) => {
    if (paths.has(d.path) || issues.length >= maxIssues) return;
    paths.add(d.path);
    issues.push(d);
  };
  const referenced = referencedNames(request.template ?? {}, space);
  const taken = new Set<string>();
  const shorthand = new Set<string>(BOUND_PARAMS.filter((n: BoundParam) => !referenced.has(n)));
  const corners = cornersOf(space);
  if (!corners) {
    return [{ path: 'search.space', message: `a space that references the spec is checked at each of its corners, at most ${MAX_CORNERS} (or ${MAX_BRANCH_COMBINATIONS} combinations of branches); this one has more: use fewer categorical choices (numbers may be a range) or fewer branches` }];
  }
  for (const corner of corners) {
    const inst = instantiateRequest(request, corner.params);
    for (const c of inst.selected) taken.add(c);
    for (const m of inst.missing) {
      const def = space.byName.get(m.name);
      push({
        path: m.path,
        message: def
          ? `refers to parameter "${m.name}", which is not drawn ${corner.describe} (it exists only when ${describeConditions(def)})`
          : `refers to parameter "${m.name}", which search.space does not define`,
      });
    }
    for (const def of activeParams(space, corner.params)) {
      if (inst.used.has(def.name) || shorthand.has(def.name) || !referenced.has(def.name)) continue;
      push({ path: `search.space.${def.path}`, message: `is drawn ${corner.describe}, but nothing uses it then; define it only in the branches where its field exists` });
    }
    if (inst.missing.length > 0) continue;
    for (const d of inst.issues) push({ path: d.path, message: `${d.message} (${corner.describe})` });
    if (inst.issues.length > 0) continue;
    for (const d of check(inst.sections, corner.params)) push({ path: d.path, message: `${d.message} (${corner.describe})` });
  }
  for (const s of TEMPLATE_SECTIONS) {
    if (request.template?.[s] === undefined) continue;
    for (const c of checkTemplate(request.template[s], [s]).cases) {
      if (!taken.has(c)) push({ path: c, message: 'no choice of its parameter selects this case' });
    }
  }
  return issues;
}
