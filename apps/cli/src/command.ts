// What every command runs with (its output streams, terminal, environment), the options the API
// commands share (--url, --token), and how errors are printed.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ProjectName, type ErrorDetail } from '@hypersweep/schemas';
import { ApiError, HypersweepClient } from '@hypersweep/client';
import type { TextSink } from './render.ts';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The exit codes of `hypersweep`: scripts branch on them, so they are part of its interface. */
export const EXIT = {
  /** Done; for watch: the sweep completed. */
  ok: 0,
  /** An error: the API refused, could not be reached, or the input is invalid. */
  error: 1,
  /** The command line cannot be run (unknown command or option, bad value). */
  usage: 2,
  /** watch (and submit --watch): the sweep ended cancelled. */
  cancelled: 3,
  /** watch (and submit --watch): the sweep ended failed. */
  failed: 4,
  /** Interrupted (Ctrl-C) before the command finished. */
  interrupted: 130,
} as const;

export const EXIT_CODES_USAGE = `exit codes: 0 success (watch: the sweep completed), 1 error, 2 usage error,
  3 the watched sweep was cancelled, 4 the watched sweep failed, 130 interrupted`;

/** Everything a command touches outside itself, so tests can run commands in-process. */
export interface CommandContext {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** process.env, read only here at the edge. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** stdout is a terminal: live redraws instead of one line per event. */
  readonly isTTY: boolean;
  readonly columns: number;
  readonly rows: number;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
  /** Replaces global fetch (tests). */
  readonly fetch?: typeof fetch;
  readonly cwd: string;
  /**
   * Asks a question on the terminal and resolves with the line typed; absent when stdin or stderr
   * is not a terminal (a script, a pipe), so commands that must ask refuse instead of hanging.
   */
  readonly ask?: (question: string) => Promise<string>;
}

/** A command line that cannot be run: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Local validation failures (a sweep file, an id): a message and the path of each problem; exit code 1. */
export class ValidationFailure extends Error {
  readonly code = 'INVALID';
  constructor(
    message: string,
    readonly details: readonly ErrorDetail[],
  ) {
    super(message);
    this.name = 'ValidationFailure';
  }
}

export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const CONNECTION_USAGE = `  --url <url>               API base URL (env HYPERSWEEP_URL, default ${DEFAULT_API_URL})
  --token <token>           API token (env HYPERSWEEP_TOKEN), sent as "Authorization: Bearer <token>"`;

export const PROJECT_OPTION = { project: { type: 'string' } } as const satisfies ParseArgsConfig['options'];

export const PROJECT_USAGE = `  --project <name>          the project (env HYPERSWEEP_PROJECT; default: the token's only
                            project, else "default")`;

/** --project, else HYPERSWEEP_PROJECT; undefined lets the API choose. A malformed name is a usage error. */
export function projectFrom(values: { project?: string | undefined }, ctx: CommandContext, usage: string): string | undefined {
  const project = values.project ?? (ctx.env.HYPERSWEEP_PROJECT || undefined);
  if (project === undefined) return undefined;
  const checked = ProjectName.safeParse(project);
  if (!checked.success) throw new UsageError(`--project: "${project}" is not a project name (1-63 of a-z, 0-9, _ and -, starting with a letter or digit)`, usage);
  return project;
}

/** The API client from --url/--token, falling back to HYPERSWEEP_URL/HYPERSWEEP_TOKEN. */
export function clientFrom(values: { url?: string | undefined; token?: string | undefined }, ctx: CommandContext): HypersweepClient {
  const baseUrl = values.url ?? ctx.env.HYPERSWEEP_URL ?? DEFAULT_API_URL;
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new UsageError(`--url: "${baseUrl}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url: "${baseUrl}" is not an http(s) URL`);
  const token = values.token ?? ctx.env.HYPERSWEEP_TOKEN;
  return new HypersweepClient({ baseUrl, token: token === '' ? undefined : token, ...(ctx.fetch ? { fetch: ctx.fetch } : {}) });
}

/** node:util parseArgs with its errors turned into UsageErrors carrying the command's usage. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usage);
  }
}

export function positiveInt(name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new UsageError(`--${name}: "${value}" must be an integer from 1 to ${max}`);
  return Number(value);
}

/**
 * A CSV label column as the CLI takes it (`train --label`, `datasets upload-csv --label`): a header
 * name, a 1-based index, or a negative index from the end (-1 the last); null for index 0. Indices
 * come back 0-based, as the datasets package and the API count.
 */
export function labelColumnArg(value: string): string | number | null {
  if (!/^-?\d+$/.test(value.trim())) return value;
  const n = Number(value);
  return n === 0 ? null : n > 0 ? n - 1 : n;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function requireUuid(what: string, value: string | undefined, usage: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`, usage);
  if (!UUID_PATTERN.test(value)) throw new UsageError(`${what} "${value}" is not a UUID`, usage);
  return value;
}

export function writeLines(sink: TextSink, lines: readonly string[]): void {
  if (lines.length > 0) sink.write(lines.join('\n') + '\n');
}

function detailLines(details: readonly ErrorDetail[]): string[] {
  return details.map((d) => `  ${d.path === '' ? '(top level)' : d.path}: ${d.message}`);
}

/** Prints an error for a person: what went wrong, then the path of each problem. Returns the exit code. */
export function reportError(error: unknown, ctx: Pick<CommandContext, 'stderr'>): number {
  if (error instanceof UsageError) {
    writeLines(ctx.stderr, [`error: ${error.message}`, ...(error.usage ? ['', error.usage] : [])]);
    return EXIT.usage;
  }
  if (error instanceof ApiError && error.answered) {
    writeLines(ctx.stderr, [`error [${error.code}] (HTTP ${error.status}): ${error.message}`, ...detailLines(error.details)]);
    return EXIT.error;
  }
  if (error instanceof ApiError || error instanceof ValidationFailure) {
    writeLines(ctx.stderr, [`error: ${error.message}`, ...detailLines(error.details)]);
    return EXIT.error;
  }
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? ` [${e.code}]` : '';
  writeLines(ctx.stderr, [`error${code}: ${typeof e?.message === 'string' ? e.message : String(error)}`]);
  return EXIT.error;
}

/** The `--help`/`-h` option every subcommand takes. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** Prints a subcommand's usage; the exit code of `--help`. */
export function printUsage(ctx: CommandContext, usage: string): number {
  ctx.stdout.write(usage + '\n');
  return EXIT.ok;
}
