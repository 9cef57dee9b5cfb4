// Validation of scheduler and budget options: every bad option becomes SearchError('INVALID_CONFIG', path).
import { SearchError, type Direction } from '../types.ts';

/** A plain options object, checked for unknown keys (a typo must not silently fall back to a default). */
export function optionsObject(options: unknown, allowed: readonly string[], what: string): Readonly<Record<string, unknown>> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SearchError('INVALID_CONFIG', '', `${what} options must be an object`);
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new SearchError('INVALID_CONFIG', key, `unknown ${what} option (allowed: ${allowed.join(', ')})`);
    }
  }
  return record;
}

interface NumberRule {
  /** Inclusive lower bound unless `exclusiveMin`. */
  readonly min?: number;
  readonly exclusiveMin?: boolean;
  readonly integer?: boolean;
  /** Used when the option is absent; when undefined too, the option is required. */
  readonly default?: number;
}

export function numberOption(options: Readonly<Record<string, unknown>>, key: string, rule: NumberRule): number {
  const raw = options[key];
  if (raw === undefined) {
    if (rule.default === undefined) throw new SearchError('INVALID_CONFIG', key, 'is required');
    return rule.default;
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    throw new SearchError('INVALID_CONFIG', key, `must be a finite number, got ${JSON.stringify(raw)}`);
  }
  if (rule.integer && !Number.isInteger(raw)) throw new SearchError('INVALID_CONFIG', key, `must be an integer, got ${raw}`);
  if (rule.min !== undefined) {
    const bad = rule.exclusiveMin ? raw <= rule.min : raw < rule.min;
    if (bad) throw new SearchError('INVALID_CONFIG', key, `must be ${rule.exclusiveMin ? '>' : '≥'} ${rule.min}, got ${raw}`);
  }
  return raw;
}

/** An optional limit: absent or null means "no limit" (kept as null so it survives JSON). */
export function optionalNumberOption(options: Readonly<Record<string, unknown>>, key: string, rule: NumberRule): number | null {
  return options[key] === undefined || options[key] === null ? null : numberOption(options, key, rule);
}

export function booleanOption(options: Readonly<Record<string, unknown>>, key: string, fallback: boolean): boolean {
  const raw = options[key];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'boolean') throw new SearchError('INVALID_CONFIG', key, `must be true or false, got ${JSON.stringify(raw)}`);
  return raw;
}

export function enumOption<T extends string>(options: Readonly<Record<string, unknown>>, key: string, values: readonly T[], fallback: T): T {
  const raw = options[key];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) {
    throw new SearchError('INVALID_CONFIG', key, `must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** The objective's direction is required: a silent default would prune the best trials of a maximised metric. */
export function directionOption(options: Readonly<Record<string, unknown>>): Direction {
  const raw = options['direction'];
  if (raw !== 'minimize' && raw !== 'maximize') {
    throw new SearchError('INVALID_CONFIG', 'direction', `must be "minimize" or "maximize", got ${JSON.stringify(raw)}`);
  }
  return raw;
}
