// The search space: zod-validated JSON (users write it as YAML), conditional sub-spaces, and the
// mapping of every parameter to and from the unit interval that all samplers draw in.
import { z } from 'zod';
import { SearchError, type ParamValue, type Params } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export interface UniformParam {
  readonly type: 'uniform';
  readonly low: number;
  readonly high: number;
}
export interface LogUniformParam {
  readonly type: 'loguniform';
  readonly low: number;
  readonly high: number;
}
export interface IntParam {
  readonly type: 'int';
  readonly low: number;
  readonly high: number;
  /** Values are low, low + step, …, high (default 1). */
  readonly step: number;
}
export interface IntLogParam {
  readonly type: 'intlog';
  readonly low: number;
  readonly high: number;
}
export interface QUniformParam {
  readonly type: 'quniform';
  readonly low: number;
  readonly high: number;
  /** Values are low, low + q, …, high. */
  readonly q: number;
}
export interface Choice {
  readonly value: ParamValue;
  /** Parameters that exist only when this value is chosen (they may nest further). */
  readonly params?: SpaceNode;
}
export interface CategoricalParam {
  readonly type: 'categorical';
  readonly choices: readonly Choice[];
}
export interface FixedParam {
  readonly type: 'fixed';
  readonly value: ParamValue;
}

export type NumericParam = UniformParam | LogUniformParam | IntParam | IntLogParam | QUniformParam;
export type ParamSpec = NumericParam | CategoricalParam | FixedParam;
export type ParamKind = ParamSpec['type'];
/** One level of the space: parameter name → definition, in the order written. */
export type SpaceNode = Readonly<Record<string, ParamSpec>>;

/** A parameter is active when every condition holds (its ancestors took these values). */
export interface Condition {
  readonly param: string;
  readonly value: ParamValue;
}

/** A parameter with its place in the space. */
export interface ParamDef {
  readonly name: string;
  readonly spec: ParamSpec;
  /** Where it is defined, e.g. "optimizer.choices[0].params.momentum". */
  readonly path: string;
  /** Position in `SearchSpace.params` (stable: samplers use it as a dimension index). */
  readonly index: number;
  /** Values its ancestors must take, outermost first; empty for top-level parameters. */
  readonly conditions: readonly Condition[];
  /**
   * Every branch that defines it: `conditions` first, then the other branches of a parameter
   * shared by mutually exclusive branches (units_2 under depth = 2 and depth = 3). It is active
   * when one of them holds.
   */
  readonly alternatives: readonly (readonly Condition[])[];
}

export interface SearchSpace {
  readonly root: SpaceNode;
  /**
   * Every parameter of every branch, depth-first in the order written. Names are unique: a name
   * defined again in a branch that excludes its first one (same definition) is the same parameter.
   */
  readonly params: readonly ParamDef[];
  readonly byName: ReadonlyMap<string, ParamDef>;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const finite = () => z.number({ error: 'must be a finite number' });
const primitive = () =>
  z.union([finite(), z.string(), z.boolean()], { error: 'must be a finite number, a string or a boolean' });

const ParamSchemas = {
  uniform: z.strictObject({ type: z.literal('uniform'), low: finite(), high: finite() }),
  loguniform: z.strictObject({ type: z.literal('loguniform'), low: finite(), high: finite() }),
  int: z.strictObject({ type: z.literal('int'), low: finite(), high: finite(), step: finite().optional() }),
  intlog: z.strictObject({ type: z.literal('intlog'), low: finite(), high: finite() }),
  quniform: z.strictObject({ type: z.literal('quniform'), low: finite(), high: finite(), q: finite() }),
  // Choices are checked one by one below, so a sub-space's errors carry their full path.
  categorical: z.strictObject({ type: z.literal('categorical'), choices: z.array(z.unknown()) }),
  fixed: z.strictObject({ type: z.literal('fixed'), value: primitive() }),
} as const;
const KINDS = Object.keys(ParamSchemas) as ParamKind[];
const ChoiceObject = z.strictObject({ value: primitive(), params: z.record(z.string(), z.unknown()).optional() });
/** Built once: a space may have thousands of choices. */
const PRIMITIVE = primitive();

/** Names are identifiers so paths ("a.choices[0].params.b") and cell keys stay unambiguous. */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_DEPTH = 16;

interface Issue {
  path: string;
  message: string;
}

function joinPath(prefix: string, key: PropertyKey): string {
  if (typeof key === 'number') return `${prefix}[${key}]`;
  return prefix ? `${prefix}.${String(key)}` : String(key);
}

function zodIssues(prefix: string, error: z.ZodError): Issue[] {
  return error.issues.map((i) => {
    let path = prefix;
    for (const k of i.path) path = joinPath(path, k);
    if (i.code === 'unrecognized_keys') return { path: joinPath(path, i.keys[0] ?? '?'), message: `unknown key${i.keys.length > 1 ? `s ${i.keys.join(', ')}` : ''}` };
    return { path, message: i.message };
  });
}

/** JSON with object keys sorted, to compare definitions written in different orders. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when x is a whole multiple of step, within float tolerance. */
function isMultiple(x: number, step: number): boolean {
  const k = x / step;
  return Math.abs(k - Math.round(k)) <= 1e-9 * Math.max(1, Math.abs(k));
}

class SpaceParser {
  readonly issues: Issue[] = [];
  readonly params: ParamDef[] = [];
  private readonly seen = new Map<string, string>();
  /** Raw definitions by name, to compare a shared parameter's branches. */
  private readonly raws = new Map<string, string>();

  node(input: unknown, path: string, conditions: readonly Condition[], depth: number): SpaceNode {
    const out: Record<string, ParamSpec> = {};
    if (!isPlainObject(input)) {
      this.issues.push({ path, message: 'must be an object of parameter name → definition' });
      return out;
    }
    if (depth > MAX_DEPTH) {
      this.issues.push({ path, message: `conditional sub-spaces nest deeper than ${MAX_DEPTH}` });
      return out;
    }
    for (const [name, raw] of Object.entries(input)) {
      const at = joinPath(path, name);
      if (!NAME.test(name)) {
        this.issues.push({ path: at, message: 'a parameter name is a letter or _ followed by letters, digits, _ or -' });
        continue;
      }
      const first = this.seen.get(name);
      if (first !== undefined) {
        const shared = this.share(name, raw, at, first, conditions);
        if (shared) out[name] = shared;
        continue;
      }
      this.seen.set(name, at);
      this.raws.set(name, canonicalJson(raw));
      // Registered before its sub-spaces, so `params` is depth-first with parents first.
      const index = this.params.length;
      // Replaced once the definition parses; a failed parse throws before anyone sees it.
      const placeholder: ParamDef = { name, spec: { type: 'fixed', value: 0 }, path: at, index, conditions, alternatives: [conditions] };
      this.params.push(placeholder);
      const spec = this.param(raw, at, name, conditions, depth);
      if (spec) {
        out[name] = spec;
        this.params[index] = { ...placeholder, spec };
      }
    }
    return out;
  }

  /**
   * A name met again: the same parameter when every branch defining it excludes the others (they
   * differ in the value of a common ancestor) and the definitions are equal; otherwise an error.
   */
  private share(name: string, raw: unknown, at: string, first: string, conditions: readonly Condition[]): ParamSpec | undefined {
    const index = this.params.findIndex((d) => d.name === name);
    const def = this.params[index]!;
    const exclusive = def.alternatives.every((alt) => alt.some((a) => conditions.some((c) => c.param === a.param && c.value !== a.value)));
    if (!exclusive) {
      this.issues.push({ path: at, message: `parameter "${name}" is already defined at ${first}; names are global to the space (a name may repeat only in branches that exclude each other)` });
      return undefined;
    }
    if (this.raws.get(name) !== canonicalJson(raw)) {
      this.issues.push({ path: at, message: `parameter "${name}" is defined differently at ${first}; a parameter shared by several branches has one definition` });
      return undefined;
    }
    if (def.spec.type === 'categorical' && def.spec.choices.some((c) => c.params)) {
      this.issues.push({ path: at, message: `parameter "${name}" opens sub-spaces, so it cannot be shared with ${first}` });
      return undefined;
    }
    this.params[index] = { ...def, alternatives: [...def.alternatives, conditions] };
    return def.spec;
  }

  private param(raw: unknown, at: string, name: string, conditions: readonly Condition[], depth: number): ParamSpec | undefined {
    if (!isPlainObject(raw)) {
      this.issues.push({ path: at, message: `must be an object with a "type" (${KINDS.join(', ')})` });
      return undefined;
    }
    const kind = raw['type'];
    if (typeof kind !== 'string' || !(KINDS as string[]).includes(kind)) {
      this.issues.push({ path: joinPath(at, 'type'), message: `must be one of ${KINDS.join(', ')}` });
      return undefined;
    }
    const r = ParamSchemas[kind as ParamKind].safeParse(raw);
    if (!r.success) {
      this.issues.push(...zodIssues(at, r.error));
      return undefined;
    }
    const p = r.data;
    const before = this.issues.length;
    const fail = (field: string, message: string) => this.issues.push({ path: joinPath(at, field), message });
    switch (p.type) {
      case 'uniform':
        if (p.low >= p.high) fail('low', `must be < high (${p.low} ≥ ${p.high})`);
        break;
      case 'loguniform':
        if (p.low <= 0) fail('low', `a log scale needs low > 0 (got ${p.low})`);
        else if (p.low >= p.high) fail('low', `must be < high (${p.low} ≥ ${p.high})`);
        break;
      case 'int': {
        const step = p.step ?? 1;
        if (!Number.isInteger(p.low)) fail('low', `must be an integer (got ${p.low})`);
        else if (!Number.isInteger(p.high)) fail('high', `must be an integer (got ${p.high})`);
        else if (!Number.isInteger(step) || step < 1) fail('step', `must be an integer ≥ 1 (got ${step})`);
        else if (p.low >= p.high) fail('low', `must be < high (${p.low} ≥ ${p.high})`);
        else if ((p.high - p.low) % step !== 0) fail('step', `high − low (${p.high - p.low}) is not a multiple of step ${step}`);
        break;
      }
      case 'intlog':
        if (!Number.isInteger(p.low)) fail('low', `must be an integer (got ${p.low})`);
        else if (!Number.isInteger(p.high)) fail('high', `must be an integer (got ${p.high})`);
        else if (p.low <= 0) fail('low', `a log scale needs low ≥ 1 (got ${p.low})`);
        else if (p.low >= p.high) fail('low', `must be < high (${p.low} ≥ ${p.high})`);
        break;
      case 'quniform':
        if (p.q <= 0) fail('q', `must be > 0 (got ${p.q})`);
        else if (p.low >= p.high) fail('low', `must be < high (${p.low} ≥ ${p.high})`);
        else if (!isMultiple(p.high - p.low, p.q)) fail('q', `high − low (${p.high - p.low}) is not a multiple of q ${p.q}`);
        break;
      case 'fixed':
        break;
      case 'categorical':
        return this.categorical(p.choices, at, name, conditions, depth);
    }
    if (this.issues.length > before) return undefined;
    if (p.type === 'int') return { type: 'int', low: p.low, high: p.high, step: p.step ?? 1 };
    return p;
  }

  private categorical(rawChoices: readonly unknown[], at: string, name: string, conditions: readonly Condition[], depth: number): CategoricalParam | undefined {
    const choicesAt = joinPath(at, 'choices');
    if (rawChoices.length === 0) {
      this.issues.push({ path: choicesAt, message: 'must not be empty' });
      return undefined;
    }
    const before = this.issues.length;
    const choices: Choice[] = [];
    const values = new Map<ParamValue, number>();
    rawChoices.forEach((raw, i) => {
      const ca = joinPath(choicesAt, i);
      let choice: Choice | undefined;
      if (isPlainObject(raw)) {
        const r = ChoiceObject.safeParse(raw);
        if (!r.success) {
          this.issues.push(...zodIssues(ca, r.error));
          return;
        }
        const value = r.data.value;
        const sub = r.data.params;
        choice =
          sub === undefined
            ? { value }
            : { value, params: this.node(sub, joinPath(ca, 'params'), [...conditions, { param: name, value }], depth + 1) };
      } else {
        const r = PRIMITIVE.safeParse(raw);
        if (!r.success) {
          this.issues.push({ path: ca, message: 'must be a finite number, a string, a boolean or {value, params}' });
          return;
        }
        choice = { value: r.data };
      }
      const dup = values.get(choice.value);
      if (dup !== undefined) {
        this.issues.push({ path: ca, message: `duplicates choices[${dup}] (${JSON.stringify(choice.value)})` });
        return;
      }
      values.set(choice.value, i);
      choices.push(choice);
    });
    if (this.issues.length > before) return undefined;
    return { type: 'categorical', choices };
  }
}

/**
 * Validates a search space written as JSON (or YAML converted to JSON). Throws a SearchError
 * (code INVALID_SPACE) listing every problem with its path, e.g. "optimizer.choices[0].params.momentum.low".
 */
export function parseSpace(input: unknown): SearchSpace {
  const parser = new SpaceParser();
  const root = parser.node(input, '', [], 0);
  if (parser.issues.length === 0 && parser.params.length === 0) parser.issues.push({ path: '', message: 'the space has no parameters' });
  const [first, ...rest] = parser.issues;
  if (first) {
    const more = rest.length === 0 ? '' : ` (and ${rest.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')})`;
    throw new SearchError('INVALID_SPACE', first.path, `${first.message}${more}`);
  }
  return { root, params: parser.params, byName: new Map(parser.params.map((p) => [p.name, p])) };
}

// ---------------------------------------------------------------------------------------------
// Activity: which parameters exist for an assignment
// ---------------------------------------------------------------------------------------------

/** The sub-space a categorical value opens, if any. */
export function branchOf(spec: CategoricalParam, value: ParamValue | undefined): SpaceNode | undefined {
  if (value === undefined) return undefined;
  return spec.choices.find((c) => c.value === value)?.params;
}

/**
 * Parameters active under a (partial) assignment, parents before children: the top level, and
 * the sub-space of every categorical whose value is assigned. Unassigned categoricals open nothing.
 */
export function activeParams(space: SearchSpace, partial: Params): ParamDef[] {
  const out: ParamDef[] = [];
  const visit = (node: SpaceNode) => {
    for (const [name, spec] of Object.entries(node)) {
      out.push(space.byName.get(name)!);
      if (spec.type === 'categorical') {
        const sub = branchOf(spec, partial[name]);
        if (sub) visit(sub);
      }
    }
  };
  visit(space.root);
  return out;
}

/** Whether a parameter exists in a configuration, by its conditions (not by presence). */
export function isActive(def: ParamDef, params: Params): boolean {
  return def.alternatives.some((alt) => alt.every((c) => params[c.param] === c.value));
}

/** "depth = 2 and act = "relu"", or "a = 1 or a = 2" for a shared parameter: when it exists. */
export function describeConditions(def: ParamDef): string {
  return def.alternatives.map((alt) => alt.map((c) => `${c.param} = ${JSON.stringify(c.value)}`).join(' and ')).join(' or ');
}

/**
 * Builds a full configuration by asking `pick` for each active parameter, parents first, so a
 * categorical's choice decides which sub-space is visited next.
 */
export function assignParams(space: SearchSpace, pick: (def: ParamDef, partial: Params) => ParamValue): Params {
  const out: Record<string, ParamValue> = {};
  const visit = (node: SpaceNode) => {
    for (const [name, spec] of Object.entries(node)) {
      const value = spec.type === 'fixed' ? spec.value : pick(space.byName.get(name)!, out);
      out[name] = value;
      if (spec.type === 'categorical') {
        const sub = branchOf(spec, value);
        if (sub) visit(sub);
      }
    }
  };
  visit(space.root);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Internal representation
// ---------------------------------------------------------------------------------------------

export function isNumeric(spec: ParamSpec): spec is NumericParam {
  return spec.type !== 'categorical' && spec.type !== 'fixed';
}

export function isLog(spec: ParamSpec): boolean {
  return spec.type === 'loguniform' || spec.type === 'intlog';
}

/** Grid spacing of a discrete numeric parameter (0 for continuous ones). */
export function stepOf(spec: NumericParam): number {
  switch (spec.type) {
    case 'int':
      return spec.step;
    case 'intlog':
      return 1;
    case 'quniform':
      return spec.q;
    default:
      return 0;
  }
}

/**
 * The interval a numeric parameter lives in internally: its bounds, in log for log parameters,
 * widened by half a step for discrete ones so every grid value owns an equal share (Optuna's
 * convention). `toUnit`/`fromUnit` map this interval to [0, 1].
 */
export function internalBounds(spec: NumericParam): { low: number; high: number } {
  const half = stepOf(spec) / 2;
  const low = spec.low - half;
  const high = spec.high + half;
  return isLog(spec) ? { low: Math.log(low), high: Math.log(high) } : { low, high };
}

/** Snaps a number in the parameter's own scale to a legal value (bounds, ints, steps). */
export function snap(spec: NumericParam, x: number): number {
  const clamped = Math.min(spec.high, Math.max(spec.low, x));
  switch (spec.type) {
    case 'uniform':
    case 'loguniform':
      return clamped;
    case 'intlog':
      return Math.round(clamped);
    case 'int':
    case 'quniform': {
      const step = stepOf(spec);
      const k = Math.round((clamped - spec.low) / step);
      const last = Math.round((spec.high - spec.low) / step);
      const v = spec.low + Math.min(last, Math.max(0, k)) * step;
      // Trim float noise (0.1 + 2·0.1 → 0.30000000000000004) so values print and compare cleanly.
      return spec.type === 'int' ? v : Number(v.toPrecision(12));
    }
  }
}

/** A numeric value → [0, 1] (log for log parameters, half-step widened for discrete ones). */
export function toUnit(spec: NumericParam, value: number): number {
  const { low, high } = internalBounds(spec);
  const x = isLog(spec) ? Math.log(value) : value;
  return Math.min(1, Math.max(0, (x - low) / (high - low)));
}

/** Position of a categorical value among its choices, or -1. */
export function choiceIndex(spec: CategoricalParam, value: ParamValue | undefined): number {
  return spec.choices.findIndex((c) => c.value === value);
}

/**
 * [0, 1) → a legal value of any parameter: numeric ones through their internal interval, a
 * categorical by equal slices, a fixed one to its value. A uniform u gives each grid value and
 * each choice the same probability.
 */
export function fromUnit(spec: ParamSpec, u: number): ParamValue {
  const v = Math.min(1, Math.max(0, u));
  switch (spec.type) {
    case 'fixed':
      return spec.value;
    case 'categorical': {
      const i = Math.min(spec.choices.length - 1, Math.floor(v * spec.choices.length));
      return spec.choices[i]!.value;
    }
    default: {
      // The bounds themselves exactly (exp(log(low)) is not always low).
      if (v === 0 && stepOf(spec) === 0) return spec.low;
      if (v === 1 && stepOf(spec) === 0) return spec.high;
      const { low, high } = internalBounds(spec);
      const x = low + v * (high - low);
      return snap(spec, isLog(spec) ? Math.exp(x) : x);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validation of a configuration
// ---------------------------------------------------------------------------------------------

/** Why `value` is not a legal value of `spec`, or undefined when it is. */
export function checkValue(spec: ParamSpec, value: ParamValue | undefined): string | undefined {
  if (value === undefined) return 'is missing';
  switch (spec.type) {
    case 'fixed':
      return value === spec.value ? undefined : `must be ${JSON.stringify(spec.value)}, got ${JSON.stringify(value)}`;
    case 'categorical':
      return choiceIndex(spec, value) >= 0
        ? undefined
        : `must be one of ${spec.choices.map((c) => JSON.stringify(c.value)).join(', ')}, got ${JSON.stringify(value)}`;
    default: {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a finite number, got ${JSON.stringify(value)}`;
      if (value < spec.low || value > spec.high) return `must be in [${spec.low}, ${spec.high}], got ${value}`;
      if ((spec.type === 'int' || spec.type === 'intlog') && !Number.isInteger(value)) return `must be an integer, got ${value}`;
      const step = stepOf(spec);
      if (step > 0 && !isMultiple(value - spec.low, step)) return `must be ${spec.low} + a multiple of ${step}, got ${value}`;
      return undefined;
    }
  }
}

/**
 * Checks a configuration against the space: every active parameter present with a legal value
 * (bounds, integers, steps, choices) and nothing else. Throws SearchError (INVALID_CONFIG) naming
 * the parameter.
 */
export function validateParams(space: SearchSpace, params: Params): void {
  const active = activeParams(space, params);
  const activeNames = new Set(active.map((d) => d.name));
  for (const def of active) {
    const problem = checkValue(def.spec, params[def.name]);
    if (problem) throw new SearchError('INVALID_CONFIG', def.name, problem);
  }
  for (const name of Object.keys(params)) {
    if (activeNames.has(name)) continue;
    const def = space.byName.get(name);
    const why = def
      ? `is inactive here (it exists only when ${describeConditions(def)})`
      : 'is not a parameter of the space';
    throw new SearchError('INVALID_CONFIG', name, why);
  }
}

/** Canonical JSON of a configuration (keys sorted): equal configurations give equal keys. */
export function canonicalKey(params: Params): string {
  const keys = Object.keys(params).sort();
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, params[k]])));
}
