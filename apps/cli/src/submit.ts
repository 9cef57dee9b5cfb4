// `hypersweep submit`: read a sweep from YAML or JSON, validate it locally with the API's own
// schema (every problem with its path), then POST it with an Idempotency-Key.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import yaml from 'js-yaml';
import { CreateSweepRequest, IdempotencyKey, zodIssuesToDetails, type CreateSweepRequestInput, type ErrorDetail, type Sweep } from '@hypersweep/schemas';
import { ApiError, type HypersweepClient } from '@hypersweep/client';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, clientFrom, parseCommandArgs, PROJECT_OPTION, PROJECT_USAGE, projectFrom, UsageError, ValidationFailure, type CommandContext } from './command.ts';
import { watchSweep, WATCH_DISPLAY_USAGE } from './watch.ts';

export const SUBMIT_USAGE = `hypersweep submit <sweep.yaml|sweep.json> [options]
  Validates the sweep locally, submits it and prints its id.
  --idempotency-key <key>   retrying with the same key returns the sweep created first
                            (default: a random key, printed to stderr, so a retry can reuse it)
  --watch                   follow the sweep live once it is submitted; exits as
                            \`hypersweep watch\` does (0 completed, 3 cancelled, 4 failed)
  --dry-run                 validate only
${PROJECT_USAGE}
${WATCH_DISPLAY_USAGE}
${CONNECTION_USAGE}`;

export type SweepFileFormat = 'yaml' | 'json';

/** The format a file name says; YAML is a superset of JSON, so anything unknown reads as YAML. */
export function formatOf(path: string): SweepFileFormat {
  return extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
}

/**
 * "line 3, column 7" of a JSON syntax error. V8 names the position only for some errors, so
 * otherwise find it: the longest prefix that fails only for ending early is valid so far, and
 * the next character is the culprit (a binary search: about 20 parses for a megabyte).
 */
function jsonErrorLocation(text: string, error: unknown): string {
  const at = /at position (\d+)/.exec(error instanceof Error ? error.message : '');
  let offset = at ? Number(at[1]) : undefined;
  if (offset === undefined) {
    const validSoFar = (end: number) => {
      try {
        JSON.parse(text.slice(0, end));
        return true;
      } catch (e) {
        // Truncated input fails "at the end": either V8 says so, or it names the prefix's length.
        const message = e instanceof Error ? e.message : '';
        return /end of JSON input/.test(message) || Number(/at position (\d+)/.exec(message)?.[1]) === end;
      }
    };
    let lo = 0; // validSoFar(0): "" ends early
    let hi = text.length; // !validSoFar(text.length): that is the error we are locating
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (validSoFar(mid)) lo = mid;
      else hi = mid;
    }
    offset = lo;
  }
  const lines = text.slice(0, offset).split(/\r\n|\r|\n/);
  return `line ${lines.length}, column ${lines[lines.length - 1]!.length + 1}`;
}

/** Parses the text of a sweep file; a syntax error becomes a ValidationFailure naming line and column. */
export function parseSweepText(text: string, format: SweepFileFormat, name = 'the sweep file'): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error))
        .replace(/, ".*" is not valid JSON$/s, '')
        .replace(/ in JSON at position \d+.*$/s, '');
      throw new ValidationFailure(`${name} is not valid JSON`, [{ path: jsonErrorLocation(text, error), message }]);
    }
  }
  try {
    // CORE_SCHEMA: plain data only (no dates, binaries or custom tags).
    return yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: name });
  } catch (error) {
    if (error instanceof yaml.YAMLException) {
      const path = error.mark ? `line ${error.mark.line + 1}, column ${error.mark.column + 1}` : '';
      throw new ValidationFailure(`${name} is not valid YAML`, [{ path, message: error.reason }]);
    }
    throw error;
  }
}

export type SweepValidation = { ok: true; request: CreateSweepRequestInput } | { ok: false; details: ErrorDetail[] };

/** Validates a parsed sweep with the API's schema; the input is returned as is (the API applies defaults). */
export function validateSweep(value: unknown): SweepValidation {
  const parsed = CreateSweepRequest.safeParse(value);
  if (parsed.success) return { ok: true, request: value as CreateSweepRequestInput };
  // nn's shape rules and zod can report the same problem twice: keep each path/message once.
  const seen = new Set<string>();
  const details = zodIssuesToDetails(parsed.error).filter((d) => {
    const key = `${d.path}\u0000${d.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return { ok: false, details };
}

/** A file's text, relative to `cwd`; a ValidationFailure naming the file when it cannot be read. */
export async function readTextFile(path: string, cwd: string): Promise<string> {
  try {
    return await readFile(resolve(cwd, path), 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ValidationFailure(`cannot read ${path}${code ? ` (${code})` : ''}`, []);
  }
}

/** Reads, parses and validates a sweep file; throws a ValidationFailure listing every problem. */
export async function loadSweepFile(path: string, cwd = process.cwd()): Promise<CreateSweepRequestInput> {
  const text = await readTextFile(path, cwd);
  const value = parseSweepText(text, formatOf(path), path);
  const result = validateSweep(value);
  if (!result.ok) {
    const n = result.details.length;
    throw new ValidationFailure(`${path} is not a valid sweep (${n} problem${n === 1 ? '' : 's'})`, result.details);
  }
  return result.request;
}

/** Attempts of a submission; the Idempotency-Key makes a repeat harmless, so transient failures are retried. */
export const SUBMIT_ATTEMPTS = 3;

function isTransient(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'unreachable' || [502, 503, 504].includes(error.status));
}

/** POST /sweeps, retried with the same key after a dropped connection or a 502/503/504 (0.5 s, then 1 s). */
export async function submitWithRetries(
  client: HypersweepClient,
  request: CreateSweepRequestInput,
  idempotencyKey: string,
  ctx: Pick<CommandContext, 'stderr' | 'signal'>,
  delayMs = 500,
  project?: string,
): Promise<Sweep> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.createSweep(request, { idempotencyKey, ...(project !== undefined ? { project } : {}) });
    } catch (error) {
      if (attempt >= SUBMIT_ATTEMPTS || !isTransient(error) || ctx.signal?.aborted) throw error;
      const wait = delayMs * 2 ** (attempt - 1);
      ctx.stderr.write(`submit failed (${error instanceof Error ? error.message : String(error)}); retrying in ${wait} ms with the same idempotency key\n`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

export async function runSubmit(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...CONNECTION_OPTIONS,
      ...PROJECT_OPTION,
      'idempotency-key': { type: 'string' },
      watch: { type: 'boolean', default: false },
      plain: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    SUBMIT_USAGE,
  );
  if (values.help) {
    ctx.stdout.write(SUBMIT_USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing the sweep file' : 'submit takes one sweep file', SUBMIT_USAGE);
  const key = values['idempotency-key'];
  if (key !== undefined) {
    const checked = IdempotencyKey.safeParse(key);
    if (!checked.success) throw new UsageError(`--idempotency-key: ${checked.error.issues[0]?.message ?? 'is invalid'}`, SUBMIT_USAGE);
  }
  const client = clientFrom(values, ctx);
  const project = projectFrom(values, ctx, SUBMIT_USAGE);
  const request = await loadSweepFile(positionals[0]!, ctx.cwd);
  if (values['dry-run']) {
    ctx.stderr.write(`${positionals[0]} is a valid sweep\n`);
    return 0;
  }
  const idempotencyKey = key ?? randomUUID();
  if (key === undefined) ctx.stderr.write(`idempotency key ${idempotencyKey} (pass --idempotency-key ${idempotencyKey} to retry safely)\n`);
  const sweep = await submitWithRetries(client, request, idempotencyKey, ctx, 500, project);
  ctx.stdout.write(`${sweep.id}\n`);
  if (!values.watch) return 0;
  return watchSweep(client, sweep.id, ctx, { plain: values.plain });
}
