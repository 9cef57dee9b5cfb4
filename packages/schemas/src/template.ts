// Parameter references in a sweep's model, training and dataset: `{ $param: name }` in place of
// any scalar, and in place of array elements `{ $repeat: { times, block } }` (a block of layers
// repeated 0..n times, its references named per repetition with `{i}`) or `{ $select: { by,
// cases } }` (the elements of the case a categorical parameter names: alternative layer lists). A template is checked
// for its shape here; what it resolves to is checked per corner of the space in sweep.ts.
import type { ParamValue, Params } from '@hypersweep/search';
import type { ErrorDetail } from './common.ts';

export const PARAM = '$param';
export const REPEAT = '$repeat';
export const SELECT = '$select';
/** The sections of a request that may hold references. */
export const TEMPLATE_SECTIONS = ['dataset', 'model', 'training'] as const;
export type TemplateSection = (typeof TEMPLATE_SECTIONS)[number];
/** A block repeats at most this many times (a model has at most 64 layers anyway). */
export const MAX_REPEAT = 64;
/** References and directives in a request, at most: each is resolved at every corner. */
export const MAX_REFERENCES = 1000;
/** Elements a list may expand to (repeats × blocks); past it the expansion stops and is refused. */
export const MAX_EXPANDED = 1024;
/** The repetition number (1-based) in a reference's name inside a `$repeat` block. */
const INDEX = '{i}';
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Fields whose value decides what the rest means: a reference there is refused. */
function literalRequired(path: readonly PropertyKey[]): string | undefined {
  const [section, key] = path;
  const last = path[path.length - 1];
  if (last === 'type' && !(section === 'training' && (key === 'optimizer' || key === 'schedule') && path.length === 3)) {
    return 'a type must be written literally (it decides which other fields exist)';
  }
  if (section === 'dataset' && key === 'id') return 'the dataset id must be written literally';
  if (section === 'model' && key === 'loss') return 'the loss must be written literally (it decides the metrics a trial reports)';
  if (section === 'model' && key === 'inputShape') return "the input shape must be written literally (it is the dataset's)";
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out;
}

/** Whether a JSON value holds a `$param` or `$repeat` (or any other `$` key, to be refused). */
export function hasDirectives(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (Array.isArray(v)) return v.some((x) => hasDirectives(x, depth + 1));
  if (!isPlainObject(v)) return false;
  return Object.keys(v).some((k) => k.startsWith('$')) || Object.values(v).some((x) => hasDirectives(x, depth + 1));
}

/** A reference as written: where it is and the name, `{i}` unexpanded. */
export interface Reference {
  readonly path: string;
  readonly name: string;
  readonly inBlock: boolean;
}

/**
 * Problems of a template's shape, with request paths: unknown `$` keys, a `$param` that is not
 * `{ $param: "<name>" }`, a `$repeat` outside an array or malformed, `{i}` outside a block,
 * nested repeats, references where a literal is required. Also returns the references found.
 */
export function checkTemplate(value: unknown, at: readonly PropertyKey[]): { issues: ErrorDetail[]; references: Reference[]; cases: string[] } {
  const issues: ErrorDetail[] = [];
  const references: Reference[] = [];
  /** Paths of every select case (outside repeats), to find the ones no corner takes. */
  const casesFound: string[] = [];
  const visit = (v: unknown, path: PropertyKey[], logical: PropertyKey[], inBlock: boolean, depth: number): void => {
    if (depth > 64) {
      issues.push({ path: formatPath(path), message: 'nests deeper than 64 levels' });
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        elementOf(x, [...path, i], [...logical, i], inBlock, false, depth + 1);
      });
      return;
    }
    if (!isPlainObject(v)) return;
    if (Object.hasOwn(v, PARAM)) {
      reference(v, path, logical, inBlock);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === REPEAT || k === SELECT) {
        issues.push({ path: formatPath([...path, k]), message: `${k} stands only as an element of an array (of layers), in place of the elements it makes` });
      } else if (k.startsWith('$')) {
        issues.push({ path: formatPath([...path, k]), message: `unknown directive ${k}; use { "${PARAM}": "<parameter>" }, { "${REPEAT}": { "times": …, "block": […] } } or { "${SELECT}": { "by": …, "cases": {…} } }` });
      } else {
        visit(x, [...path, k], [...logical, k], inBlock, depth + 1);
      }
    }
  };
  const reference = (v: Record<string, unknown>, path: PropertyKey[], logical: PropertyKey[], inBlock: boolean): void => {
    const where = formatPath(path);
    const extra = Object.keys(v).filter((k) => k !== PARAM);
    const name = v[PARAM];
    if (extra.length > 0) {
      issues.push({ path: where, message: `a reference is { "${PARAM}": "<parameter>" } alone; unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')}` });
      return;
    }
    if (typeof name !== 'string' || name === '') {
      issues.push({ path: `${where}.${PARAM}`, message: 'must be the name of a search-space parameter (a string)' });
      return;
    }
    if (name.includes(INDEX) && !inBlock) {
      issues.push({ path: `${where}.${PARAM}`, message: `${INDEX} (the repetition number) is meaningful only inside a ${REPEAT} block` });
      return;
    }
    if (!NAME.test(name.split(INDEX).join('1'))) {
      issues.push({ path: `${where}.${PARAM}`, message: `"${name}" is not a parameter name (a letter or _ then letters, digits, _ or -; ${INDEX} for the repetition)` });
      return;
    }
    const literal = literalRequired(logical);
    if (literal) {
      issues.push({ path: where, message: `a reference is not allowed here: ${literal}` });
      return;
    }
    references.push({ path: where, name, inBlock });
  };
  const repeat = (v: Record<string, unknown>, path: PropertyKey[], logical: PropertyKey[], inBlock: boolean, inSelect: boolean, depth: number): void => {
    const at = [...path, REPEAT];
    const extra = Object.keys(v).filter((k) => k !== REPEAT);
    if (extra.length > 0) {
      issues.push({ path: formatPath(path), message: `a repeat is { "${REPEAT}": { "times": …, "block": […] } } alone; unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')}` });
      return;
    }
    if (inBlock) {
      issues.push({ path: formatPath(at), message: 'repeats do not nest' });
      return;
    }
    const body = v[REPEAT];
    if (!isPlainObject(body)) {
      issues.push({ path: formatPath(at), message: 'must be an object { "times": <count or reference>, "block": [<elements>] }' });
      return;
    }
    for (const k of Object.keys(body)) {
      if (k !== 'times' && k !== 'block') issues.push({ path: formatPath([...at, k]), message: 'is not a field of a repeat (times, block)' });
    }
    const times = body['times'];
    if (isPlainObject(times)) {
      reference(times, [...at, 'times'], [...logical, 'times'], false);
    } else if (!(typeof times === 'number' && Number.isInteger(times) && times >= 0 && times <= MAX_REPEAT)) {
      issues.push({ path: formatPath([...at, 'times']), message: `must be an integer in [0, ${MAX_REPEAT}] or a reference to one` });
    }
    const block = body['block'];
    if (!Array.isArray(block) || block.length === 0) {
      issues.push({ path: formatPath([...at, 'block']), message: 'must be a non-empty array of the elements to repeat' });
      return;
    }
    // The block's elements stand where the repeat stands: same logical place as array elements.
    block.forEach((x, i) => {
      if (isPlainObject(x) && Object.hasOwn(x, REPEAT)) issues.push({ path: formatPath([...at, 'block', i, REPEAT]), message: 'repeats do not nest' });
      else elementOf(x, [...at, 'block', i], [...logical.slice(0, -1), i], true, inSelect, depth + 1);
    });
  };
  const select = (v: Record<string, unknown>, path: PropertyKey[], logical: PropertyKey[], inBlock: boolean, inSelect: boolean, depth: number): void => {
    const at = [...path, SELECT];
    const extra = Object.keys(v).filter((k) => k !== SELECT);
    if (extra.length > 0) {
      issues.push({ path: formatPath(path), message: `a select is { "${SELECT}": { "by": …, "cases": {…} } } alone; unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')}` });
      return;
    }
    if (inSelect) {
      issues.push({ path: formatPath(at), message: 'selects do not nest' });
      return;
    }
    const body = v[SELECT];
    if (!isPlainObject(body)) {
      issues.push({ path: formatPath(at), message: 'must be an object { "by": { "$param": <categorical> }, "cases": { <value>: [<elements>] } }' });
      return;
    }
    for (const k of Object.keys(body)) {
      if (k !== 'by' && k !== 'cases') issues.push({ path: formatPath([...at, k]), message: 'is not a field of a select (by, cases)' });
    }
    const by = body['by'];
    if (isPlainObject(by) && Object.hasOwn(by, PARAM)) reference(by, [...at, 'by'], [...logical, 'by'], inBlock);
    else issues.push({ path: formatPath([...at, 'by']), message: `must be a reference { "${PARAM}": "<categorical parameter>" }` });
    const cases = body['cases'];
    const allCases = casesFound;
    if (!isPlainObject(cases) || Object.keys(cases).length === 0) {
      issues.push({ path: formatPath([...at, 'cases']), message: 'must be an object of choice value → list of elements, with at least one case' });
      return;
    }
    for (const [key, elements] of Object.entries(cases)) {
      if (!inBlock) allCases.push(formatPath([...at, 'cases', key]));
      if (!Array.isArray(elements)) {
        issues.push({ path: formatPath([...at, 'cases', key]), message: 'must be a list of elements (may be empty)' });
        continue;
      }
      elements.forEach((x, i) => elementOf(x, [...at, 'cases', key, i], [...logical.slice(0, -1), i], inBlock, true, depth + 1));
    }
  };
  const elementOf = (x: unknown, path: PropertyKey[], logical: PropertyKey[], inBlock: boolean, inSelect: boolean, depth: number): void => {
    if (isPlainObject(x) && Object.hasOwn(x, REPEAT)) repeat(x, path, logical, inBlock, inSelect, depth);
    else if (isPlainObject(x) && Object.hasOwn(x, SELECT)) select(x, path, logical, inBlock, inSelect, depth);
    else visit(x, path, logical, inBlock, depth);
  };
  visit(value, [...at], [...at], false, 0);
  if (references.length > MAX_REFERENCES) {
    issues.push({ path: formatPath(at), message: `holds ${references.length} references; at most ${MAX_REFERENCES} (each is checked at every corner of the space)` });
  }
  return { issues, references, cases: casesFound };
}

/** What instantiating a template with one assignment gives. */
export interface Instance {
  /** The section with every reference replaced and every repeat expanded. */
  readonly value: unknown;
  /** Parameter names it used. */
  readonly used: ReadonlySet<string>;
  /** References to parameters the assignment does not hold (inactive or unknown there). */
  readonly missing: readonly { path: string; name: string }[];
  /** Repeat counts that are not integers in [0, MAX_REPEAT], and lists that expand past MAX_EXPANDED. */
  readonly badCounts: readonly { path: string; message: string }[];
  /** Selects whose value has no case. */
  readonly badSelects: readonly { path: string; value: ParamValue; cases: readonly string[] }[];
  /** Paths of the select cases this assignment took ("model.layers[1].$select.cases.wide"). */
  readonly selected: ReadonlySet<string>;
  /** Resolved array element path → the template path it came from (with its repetition). */
  readonly origins: ReadonlyMap<string, string>;
}

/**
 * A section of the request with an assignment applied. Assumes `checkTemplate` found nothing;
 * a reference that does not resolve is left in place (and listed in `missing`).
 */
export function instantiate(value: unknown, at: readonly PropertyKey[], params: Params): Instance {
  const used = new Set<string>();
  const missing: { path: string; name: string }[] = [];
  const badCounts: { path: string; message: string }[] = [];
  const badSelects: { path: string; value: ParamValue; cases: string[] }[] = [];
  const selected = new Set<string>();
  const origins = new Map<string, string>();
  const overflow = new Set<PropertyKey[]>();
  const lookup = (ref: Record<string, unknown>, path: string, index: number | null): unknown => {
    const raw = String(ref[PARAM]);
    const name = index === null ? raw : raw.split(INDEX).join(String(index));
    if (!Object.hasOwn(params, name)) {
      missing.push({ path, name });
      return ref;
    }
    used.add(name);
    return params[name];
  };
  /** Expands one template element into `out` (an element, a repeat's blocks or a select's case). */
  const element = (x: unknown, from: string, path: PropertyKey[], out: unknown[], index: number | null, note: string | null): void => {
    if (isPlainObject(x) && isPlainObject(x[REPEAT])) {
      const body = x[REPEAT] as { times?: unknown; block?: unknown };
      const timesAt = `${from}.${REPEAT}.times`;
      const times = isPlainObject(body.times) ? lookup(body.times, timesAt, null) : body.times;
      if (isPlainObject(times)) return; // unresolved: reported in missing
      if (!(typeof times === 'number' && Number.isInteger(times) && times >= 0 && times <= MAX_REPEAT)) {
        badCounts.push({ path: timesAt, message: `a repeat count must be an integer in [0, ${MAX_REPEAT}], got ${JSON.stringify(times)}` });
        return;
      }
      const block = Array.isArray(body.block) ? body.block : [];
      for (let r = 1; r <= times; r++) block.forEach((b, j) => element(b, `${from}.${REPEAT}.block[${j}]`, path, out, r, `repetition ${r}`));
      return;
    }
    if (isPlainObject(x) && isPlainObject(x[SELECT])) {
      const body = x[SELECT] as { by?: unknown; cases?: unknown };
      const byAt = `${from}.${SELECT}.by`;
      const by = isPlainObject(body.by) ? lookup(body.by, byAt, index) : undefined;
      if (by === undefined || isPlainObject(by)) return; // unresolved: reported in missing
      const cases = isPlainObject(body.cases) ? body.cases : {};
      const key = String(by);
      if (!Object.hasOwn(cases, key) || !Array.isArray(cases[key])) {
        badSelects.push({ path: byAt, value: by as ParamValue, cases: Object.keys(cases) });
        return;
      }
      selected.add(`${from}.${SELECT}.cases.${key}`);
      (cases[key] as unknown[]).forEach((c, j) => element(c, `${from}.${SELECT}.cases.${key}[${j}]`, path, out, index, note));
      return;
    }
    if (out.length >= MAX_EXPANDED) {
      if (!overflow.has(path)) badCounts.push({ path: formatPath(path), message: `expands to more than ${MAX_EXPANDED} elements` });
      overflow.add(path);
      return;
    }
    const resolvedAt = [...path, out.length];
    if (formatPath(resolvedAt) !== from) origins.set(formatPath(resolvedAt), note ? `${from} (${note})` : from);
    out.push(visit(x, resolvedAt, from, index));
  };
  const visit = (v: unknown, path: PropertyKey[], templatePath: string, index: number | null): unknown => {
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      v.forEach((x, i) => element(x, `${templatePath}[${i}]`, path, out, index, null));
      return out;
    }
    if (!isPlainObject(v)) return v;
    if (Object.hasOwn(v, PARAM)) return lookup(v, templatePath, index);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = visit(x, [...path, k], `${templatePath}.${k}`, index);
    return out;
  };
  const value2 = visit(value, [...at], formatPath(at), null);
  return { value: value2, used, missing, badCounts, badSelects, selected, origins };
}

/**
 * A path of the resolved request as the template's path it came from (repeats shift indices),
 * with the repetition it belongs to, if any.
 */
export function templatePathOf(path: string, origins: ReadonlyMap<string, string>): { path: string; repetition: number | null } {
  let best = '';
  for (const key of origins.keys()) {
    if ((path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`)) && key.length > best.length) best = key;
  }
  if (best === '') return { path, repetition: null };
  const origin = origins.get(best)!;
  const m = origin.match(/ \(repetition (\d+)\)$/);
  const base = m ? origin.slice(0, m.index) : origin;
  return { path: `${base}${path.slice(best.length)}`, repetition: m ? Number(m[1]) : null };
}
