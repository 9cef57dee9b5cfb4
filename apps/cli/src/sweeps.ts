// `hypersweep list | show | cancel | stop | export`: sweeps and trials through the REST API.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SWEEP_STATUSES, maxStepsOf, type SweepStatus, type SweepSummary, type Trial } from '@hypersweep/schemas';
import { paginate, trialTable, trialTableCsv, type HypersweepClient } from '@hypersweep/client';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  clientFrom,
  PROJECT_OPTION,
  projectFrom,
  parseCommandArgs,
  positiveInt,
  requireUuid,
  UsageError,
  UUID_PATTERN,
  ValidationFailure,
  writeLines,
  type CommandContext,
  HELP_OPTION,
  printUsage,
} from './command.ts';
import { renderSweepDetails, renderSweepList, renderTrialTable, UNICODE_BAR, ASCII_BAR } from './render.ts';


// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

export const LIST_USAGE = `hypersweep list [options]
  Lists sweeps, newest first.
  --status <s1,s2>   only these statuses (${SWEEP_STATUSES.join(', ')})
  --limit <n>        sweeps per page, 1..200 (default 50)
  --all              every page (follows the keyset cursor)
  --cursor <c>       start at this page (printed after a partial listing)
  --json             print JSON (with --all: one array of every sweep)
  --project <name>   only this project's sweeps (env HYPERSWEEP_PROJECT; default: every
                     project the token sees)
${CONNECTION_USAGE}`;

function parseStatuses(value: string | undefined): SweepStatus[] | undefined {
  if (value === undefined) return undefined;
  const statuses = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of statuses) {
    if (!(SWEEP_STATUSES as readonly string[]).includes(s)) throw new UsageError(`--status: "${s}" is not one of ${SWEEP_STATUSES.join(', ')}`, LIST_USAGE);
  }
  if (statuses.length === 0) throw new UsageError('--status: name at least one status', LIST_USAGE);
  return statuses as SweepStatus[];
}

export async function runList(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...CONNECTION_OPTIONS, ...HELP_OPTION, ...PROJECT_OPTION, status: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean', default: false }, cursor: { type: 'string' }, json: { type: 'boolean', default: false } },
    LIST_USAGE,
  );
  if (values.help) return printUsage(ctx, LIST_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, LIST_USAGE);
  const client = clientFrom(values, ctx);
  const status = parseStatuses(values.status);
  const limit = positiveInt('limit', values.limit, 200);
  const project = projectFrom(values, ctx, LIST_USAGE);

  if (values.all) {
    const sweeps: SweepSummary[] = [];
    let first = true;
    for await (const sweep of paginate((cursor) => client.listSweeps({ limit, status, project, cursor: first ? values.cursor : cursor }))) {
      first = false;
      sweeps.push(sweep);
    }
    if (values.json) ctx.stdout.write(JSON.stringify(sweeps, null, 2) + '\n');
    else writeLines(ctx.stdout, renderSweepList(sweeps));
    return 0;
  }
  const page = await client.listSweeps({ limit, status, project, cursor: values.cursor });
  if (values.json) {
    ctx.stdout.write(JSON.stringify(page, null, 2) + '\n');
    return 0;
  }
  writeLines(ctx.stdout, renderSweepList(page.items));
  if (page.nextCursor !== null) ctx.stderr.write(`more sweeps: hypersweep list --cursor ${page.nextCursor}  (or --all)\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

export const SHOW_USAGE = `hypersweep show <sweepId> [options]
  The sweep (status, progress, best trial, test result) and all its trials.
  --json   print {sweep, trials} as JSON
${CONNECTION_USAGE}`;

export async function runShow(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION, json: { type: 'boolean', default: false } }, SHOW_USAGE);
  if (values.help) return printUsage(ctx, SHOW_USAGE);
  if (positionals.length > 1) throw new UsageError('show takes one sweep id', SHOW_USAGE);
  const sweepId = requireUuid('sweep id', positionals[0], SHOW_USAGE);
  const client = clientFrom(values, ctx);
  const sweep = await client.getSweep(sweepId);
  const trials = await client.listAllTrials(sweepId);
  if (values.json) {
    ctx.stdout.write(JSON.stringify({ sweep, trials }, null, 2) + '\n');
    return 0;
  }
  writeLines(ctx.stdout, [
    ...renderSweepDetails(sweep, ctx.isTTY ? UNICODE_BAR : ASCII_BAR),
    '',
    ...renderTrialTable(trials, { maxEpochs: maxStepsOf(sweep.spec), bestTrialId: sweep.best?.trialId ?? null, objectiveMetric: sweep.objective.metric }),
  ]);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// cancel, stop
// ---------------------------------------------------------------------------------------------

export const CANCEL_USAGE = `hypersweep cancel <sweepId>
  Cancels a sweep: running trials stop, no new trial starts.
${CONNECTION_USAGE}`;

export async function runCancel(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION }, CANCEL_USAGE);
  if (values.help) return printUsage(ctx, CANCEL_USAGE);
  if (positionals.length > 1) throw new UsageError('cancel takes one sweep id', CANCEL_USAGE);
  const sweepId = requireUuid('sweep id', positionals[0], CANCEL_USAGE);
  const sweep = await clientFrom(values, ctx).cancelSweep(sweepId);
  ctx.stdout.write(`sweep ${sweep.name} (${sweep.id}) is ${sweep.status}\n`);
  return 0;
}

export const STOP_USAGE = `hypersweep stop <sweepId> <trialId | trial number>
  Stops one trial of a sweep.
${CONNECTION_USAGE}`;

/** A trial named by its id, or by its number within the sweep (looked up page by page). */
async function resolveTrialId(client: HypersweepClient, sweepId: string, ref: string): Promise<string> {
  if (UUID_PATTERN.test(ref)) return ref;
  const number = /^#?(\d+)$/.exec(ref)?.[1];
  if (number === undefined) throw new UsageError(`trial "${ref}" is neither a trial id (UUID) nor a trial number`, STOP_USAGE);
  for await (const trial of paginate((cursor) => client.listTrials(sweepId, { limit: 200, cursor }))) {
    if (trial.number === Number(number)) return trial.id;
  }
  throw new ValidationFailure(`sweep ${sweepId} has no trial #${number}`, []);
}

export async function runStop(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION }, STOP_USAGE);
  if (values.help) return printUsage(ctx, STOP_USAGE);
  if (positionals.length !== 2) throw new UsageError('stop takes a sweep id and a trial', STOP_USAGE);
  const sweepId = requireUuid('sweep id', positionals[0], STOP_USAGE);
  const client = clientFrom(values, ctx);
  const trialId = await resolveTrialId(client, sweepId, positionals[1]!);
  const trial = await client.stopTrial(sweepId, trialId);
  ctx.stdout.write(`trial #${trial.number} (${trial.id}) is ${trial.status}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------------------------

export const EXPORT_USAGE = `hypersweep export <sweepId> [options]
  Every trial of a sweep as a table: number, id, status, epochs, best/final value, attempt,
  worker, reason, error, times, then one param.<name> column per hyperparameter and one
  metric.<name> column per metric (its latest value).
  --format <csv|json>   default: json when --out ends in .json, else csv (RFC 4180, CRLF)
  --out <file>          write there instead of stdout
${CONNECTION_USAGE}`;

/** Trials as the export writes them: CSV text, or a JSON array of flat records. */
export function exportTrials(trials: readonly Trial[], format: 'csv' | 'json'): string {
  const table = trialTable(trials);
  return format === 'csv' ? trialTableCsv(table) : JSON.stringify(table.records, null, 2) + '\n';
}

export async function runExport(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION, format: { type: 'string' }, out: { type: 'string' } }, EXPORT_USAGE);
  if (values.help) return printUsage(ctx, EXPORT_USAGE);
  if (positionals.length > 1) throw new UsageError('export takes one sweep id', EXPORT_USAGE);
  const sweepId = requireUuid('sweep id', positionals[0], EXPORT_USAGE);
  const format = values.format ?? (values.out?.toLowerCase().endsWith('.json') ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new UsageError(`--format: "${format}" is not csv or json`, EXPORT_USAGE);
  const trials = await clientFrom(values, ctx).listAllTrials(sweepId);
  const text = exportTrials(trials, format);
  if (values.out === undefined) {
    ctx.stdout.write(text);
  } else {
    await writeFile(resolve(ctx.cwd, values.out), text, 'utf8');
    ctx.stderr.write(`wrote ${trials.length} trials to ${values.out}\n`);
  }
  return 0;
}
