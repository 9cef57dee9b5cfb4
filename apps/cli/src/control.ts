// `hypersweep pause | resume | budget | enqueue | delete`: control of a running sweep over the REST
// API (the functions of @hypersweep/client's sweep-control), and deletion of an ended one.
import { extname } from 'node:path';
import { FINISHED_SWEEP_STATUSES, TrialParams, zodIssuesToDetails, type ErrorDetail, type Sweep } from '@hypersweep/schemas';
import {
  MAX_ENQUEUED_CONFIGURATIONS,
  deleteSweep,
  enqueueTrials,
  pauseSweep,
  resumeSweep,
  updateSweepBudget,
  type BudgetChange,
  type TrialConfiguration,
} from '@hypersweep/client';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  clientFrom,
  EXIT,
  parseCommandArgs,
  positiveInt,
  requireUuid,
  UsageError,
  ValidationFailure,
  writeLines,
  type CommandContext,
  HELP_OPTION,
  printUsage,
} from './command.ts';
import { formatParams } from './render.ts';
import { parseSweepText, readTextFile } from './submit.ts';


/** The one sweep id of a command that takes nothing else. */
function oneSweepId(command: string, positionals: readonly string[], usage: string): string {
  if (positionals.length > 1) throw new UsageError(`${command} takes one sweep id`, usage);
  return requireUuid('sweep id', positionals[0], usage);
}

function budgetText(sweep: Sweep): string {
  const b = sweep.spec.search.budget;
  return `maxTrials ${b.maxTrials} · maxConcurrentTrials ${b.maxConcurrentTrials} · maxTotalEpochs ${b.maxTotalEpochs ?? 'no limit'}`;
}

// ---------------------------------------------------------------------------------------------
// pause, resume
// ---------------------------------------------------------------------------------------------

export const PAUSE_USAGE = `hypersweep pause <sweepId>
  Pauses a pending or running sweep: its running trials checkpoint and release their workers, and
  no trial starts until it is resumed. \`hypersweep watch\` keeps following a paused sweep.
${CONNECTION_USAGE}`;

export const RESUME_USAGE = `hypersweep resume <sweepId>
  Resumes a paused sweep where it stood: its trials go on from their checkpoints.
${CONNECTION_USAGE}`;

export async function runPause(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION }, PAUSE_USAGE);
  if (values.help) return printUsage(ctx, PAUSE_USAGE);
  const sweepId = oneSweepId('pause', positionals, PAUSE_USAGE);
  const sweep = await pauseSweep(clientFrom(values, ctx), sweepId);
  ctx.stdout.write(`sweep ${sweep.name} (${sweep.id}) is ${sweep.status}\n`);
  return EXIT.ok;
}

export async function runResume(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION }, RESUME_USAGE);
  if (values.help) return printUsage(ctx, RESUME_USAGE);
  const sweepId = oneSweepId('resume', positionals, RESUME_USAGE);
  const sweep = await resumeSweep(clientFrom(values, ctx), sweepId);
  ctx.stdout.write(`sweep ${sweep.name} (${sweep.id}) is ${sweep.status}\n`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// budget
// ---------------------------------------------------------------------------------------------

export const BUDGET_USAGE = `hypersweep budget <sweepId> [options]
  Raises or lowers the budget of a sweep that has not ended (at least one option). The API
  refuses a value below what the sweep already has (e.g. fewer trials than it created).
  --max-trials <n>             trials in all
  --max-concurrent <n>         trials running at once
  --max-total-epochs <n|none>  epochs over all trials; none lifts the limit
${CONNECTION_USAGE}`;

/** The budget change of the command line; a usage error without any option. */
export function budgetChangeOf(values: { 'max-trials'?: string | undefined; 'max-concurrent'?: string | undefined; 'max-total-epochs'?: string | undefined }): BudgetChange {
  const change: { maxTrials?: number; maxConcurrentTrials?: number; maxTotalEpochs?: number | null } = {};
  const maxTrials = positiveInt('max-trials', values['max-trials']);
  if (maxTrials !== undefined) change.maxTrials = maxTrials;
  const maxConcurrent = positiveInt('max-concurrent', values['max-concurrent']);
  if (maxConcurrent !== undefined) change.maxConcurrentTrials = maxConcurrent;
  const epochs = values['max-total-epochs'];
  if (epochs !== undefined) change.maxTotalEpochs = epochs.trim().toLowerCase() === 'none' ? null : positiveInt('max-total-epochs', epochs)!;
  if (Object.keys(change).length === 0) throw new UsageError('name at least one of --max-trials, --max-concurrent, --max-total-epochs', BUDGET_USAGE);
  return change;
}

export async function runBudget(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...CONNECTION_OPTIONS, ...HELP_OPTION, 'max-trials': { type: 'string' }, 'max-concurrent': { type: 'string' }, 'max-total-epochs': { type: 'string' } },
    BUDGET_USAGE,
  );
  if (values.help) return printUsage(ctx, BUDGET_USAGE);
  const sweepId = oneSweepId('budget', positionals, BUDGET_USAGE);
  let change: BudgetChange;
  try {
    change = budgetChangeOf(values);
  } catch (error) {
    // positiveInt's errors carry no usage: give them this command's.
    if (error instanceof UsageError && error.usage === undefined) throw new UsageError(error.message, BUDGET_USAGE);
    throw error;
  }
  const sweep = await updateSweepBudget(clientFrom(values, ctx), sweepId, change);
  ctx.stdout.write(`sweep ${sweep.name} (${sweep.id}) budget: ${budgetText(sweep)}\n`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// enqueue
// ---------------------------------------------------------------------------------------------

export const ENQUEUE_USAGE = `hypersweep enqueue <sweepId> (--params '<json object>'… | --file <configs.json|.yaml>) [--json]
  Queues configurations of your own as trials of a sweep (a warm start, or your own guesses): each
  trains with exactly those parameters, and the sampler sees its result like any other trial's.
  Each gives a value for every parameter of the sweep's search space, inside it; the API names a
  refused one as params[i].<name>. At most ${MAX_ENQUEUED_CONFIGURATIONS} per command.
  --params <json>   one configuration, e.g. '{"learningRate": 0.01, "activation": "relu"}';
                    repeat it for more
  --file <path>     a JSON or YAML file with an array of configurations (or one)
  --json            print the queued trials as JSON
${CONNECTION_USAGE}`;

/** Configurations checked for shape (objects of numbers, strings and booleans), problems named params[i].<name>. */
export function checkConfigurations(values: readonly unknown[], source: string): TrialConfiguration[] {
  const details: ErrorDetail[] = [];
  if (values.length === 0) details.push({ path: 'params', message: 'give at least one configuration' });
  if (values.length > MAX_ENQUEUED_CONFIGURATIONS) details.push({ path: 'params', message: `at most ${MAX_ENQUEUED_CONFIGURATIONS} configurations per request, got ${values.length}` });
  values.forEach((value, i) => {
    const parsed = TrialParams.safeParse(value);
    if (!parsed.success) for (const d of zodIssuesToDetails(parsed.error)) details.push({ path: d.path === '' ? `params[${i}]` : `params[${i}].${d.path}`, message: d.message });
    else if (Object.keys(parsed.data).length === 0) details.push({ path: `params[${i}]`, message: 'names no parameter' });
  });
  if (details.length > 0) throw new ValidationFailure(`${source}: not valid configurations (${details.length} problem${details.length === 1 ? '' : 's'})`, details);
  return values as TrialConfiguration[];
}

async function configurationsFromFile(path: string, cwd: string): Promise<unknown[]> {
  const text = await readTextFile(path, cwd);
  const value = parseSweepText(text, extname(path).toLowerCase() === '.json' ? 'json' : 'yaml', path);
  return Array.isArray(value) ? value : [value];
}

export async function runEnqueue(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...CONNECTION_OPTIONS, ...HELP_OPTION, params: { type: 'string', multiple: true }, file: { type: 'string' }, json: { type: 'boolean', default: false } },
    ENQUEUE_USAGE,
  );
  if (values.help) return printUsage(ctx, ENQUEUE_USAGE);
  const sweepId = oneSweepId('enqueue', positionals, ENQUEUE_USAGE);
  const given = values.params ?? [];
  if (given.length > 0 && values.file !== undefined) throw new UsageError('give --params or --file, not both', ENQUEUE_USAGE);
  if (given.length === 0 && values.file === undefined) throw new UsageError('give the configurations with --params or --file', ENQUEUE_USAGE);
  const client = clientFrom(values, ctx);

  let raw: unknown[];
  let source: string;
  if (values.file !== undefined) {
    raw = await configurationsFromFile(values.file, ctx.cwd);
    source = values.file;
  } else {
    raw = given.map((text, i) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new UsageError(`--params #${i + 1} is not JSON: ${error instanceof Error ? error.message : String(error)}`, ENQUEUE_USAGE);
      }
    });
    source = '--params';
  }
  const trials = await enqueueTrials(client, sweepId, checkConfigurations(raw, source));
  if (values.json) {
    ctx.stdout.write(JSON.stringify(trials, null, 2) + '\n');
    return EXIT.ok;
  }
  writeLines(
    ctx.stdout,
    trials.map((t) => `queued trial #${t.number} (${t.id})  ${formatParams(t.params)}`),
  );
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// delete
// ---------------------------------------------------------------------------------------------

export const DELETE_USAGE = `hypersweep delete <sweepId> [--yes]
  Deletes an ended sweep (completed, failed or cancelled) with its trials, metrics, checkpoints
  and events; the API refuses a sweep that has not ended (cancel it first). Asks for confirmation
  on a terminal; without one, refuses unless --yes is given.
  --yes, -y   delete without asking
${CONNECTION_USAGE}`;

export async function runDelete(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION, yes: { type: 'boolean', short: 'y', default: false } }, DELETE_USAGE);
  if (values.help) return printUsage(ctx, DELETE_USAGE);
  const sweepId = oneSweepId('delete', positionals, DELETE_USAGE);
  const client = clientFrom(values, ctx);
  if (!values.yes) {
    if (!ctx.ask) throw new UsageError('delete asks for confirmation on a terminal; pass --yes to delete without one', DELETE_USAGE);
    // Read first, so the question names what goes, and a sweep that has not ended is refused before asking.
    const sweep = await client.getSweep(sweepId);
    if (!FINISHED_SWEEP_STATUSES.has(sweep.status)) {
      throw new ValidationFailure(`sweep ${sweep.name} (${sweep.id}) is ${sweep.status}: only a completed, failed or cancelled sweep can be deleted (hypersweep cancel ${sweep.id} first)`, []);
    }
    const answer = await ctx.ask(`Delete sweep ${sweep.name} (${sweep.id}, ${sweep.status}) with its ${sweep.counts.total} trials, their metrics, checkpoints and events? This cannot be undone. [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      ctx.stderr.write('not deleted\n');
      return EXIT.error;
    }
  }
  await deleteSweep(client, sweepId);
  ctx.stdout.write(`deleted sweep ${sweepId}\n`);
  return EXIT.ok;
}
