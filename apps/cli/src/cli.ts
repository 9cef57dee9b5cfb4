// The command table of `hypersweep` and its dispatcher: argv + context in, exit code out (errors printed).
import packageJson from '../package.json' with { type: 'json' };
import { BUDGET_USAGE, DELETE_USAGE, ENQUEUE_USAGE, PAUSE_USAGE, RESUME_USAGE, runBudget, runDelete, runEnqueue, runPause, runResume } from './control.ts';
import { EXIT, EXIT_CODES_USAGE, reportError, writeLines, type CommandContext } from './command.ts';
import { DATASETS_USAGE, runDatasets } from './datasets.ts';
import { runStart, START_USAGE } from './start.ts';
import { runSubmit, SUBMIT_USAGE } from './submit.ts';
import { CANCEL_USAGE, EXPORT_USAGE, LIST_USAGE, runCancel, runExport, runList, runShow, runStop, SHOW_USAGE, STOP_USAGE } from './sweeps.ts';
import { runToken, TOKEN_USAGE } from './token.ts';
import { runTrain, TRAIN_USAGE } from './train.ts';
import { runWatch, WATCH_USAGE } from './watch.ts';

type Command = (argv: string[], ctx: CommandContext) => Promise<number>;

export const COMMANDS: Readonly<Record<string, { run: Command; summary: string; usage: string }>> = {
  submit: { run: runSubmit, summary: 'validate a sweep file (YAML or JSON) and submit it', usage: SUBMIT_USAGE },
  watch: { run: runWatch, summary: 'follow a sweep live until it ends', usage: WATCH_USAGE },
  list: { run: runList, summary: 'list sweeps', usage: LIST_USAGE },
  show: { run: runShow, summary: 'a sweep with all its trials', usage: SHOW_USAGE },
  cancel: { run: runCancel, summary: 'cancel a sweep', usage: CANCEL_USAGE },
  pause: { run: runPause, summary: 'pause a sweep: running trials checkpoint, none starts', usage: PAUSE_USAGE },
  resume: { run: runResume, summary: 'resume a paused sweep', usage: RESUME_USAGE },
  budget: { run: runBudget, summary: "raise or lower a sweep's budget", usage: BUDGET_USAGE },
  enqueue: { run: runEnqueue, summary: 'queue configurations of your own as trials', usage: ENQUEUE_USAGE },
  delete: { run: runDelete, summary: 'delete an ended sweep and everything it stored', usage: DELETE_USAGE },
  stop: { run: runStop, summary: 'stop one trial', usage: STOP_USAGE },
  export: { run: runExport, summary: "a sweep's trials as CSV or JSON", usage: EXPORT_USAGE },
  datasets: { run: runDatasets, summary: 'list datasets; upload a CSV table (upload-csv) or IDX image files (upload-idx)', usage: DATASETS_USAGE },
  token: { run: runToken, summary: 'create, list and revoke API tokens', usage: TOKEN_USAGE },
  start: { run: runStart, summary: 'run the API server or a worker of a checkout or image', usage: START_USAGE },
  train: { run: (argv) => runTrain(argv), summary: 'train one model locally and print per-epoch progress', usage: TRAIN_USAGE },
};

/** The version of this CLI (its package's). */
export const VERSION: string = packageJson.version;

export const USAGE = `usage: hypersweep <command> [options]      (hypersweep <command> --help for its options)
       hypersweep --version

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join('\n')}

API commands take --url (env HYPERSWEEP_URL, default http://127.0.0.1:8080) and
--token (env HYPERSWEEP_TOKEN). \`npm start\` prints a first token; on a server, create one
with \`hypersweep token create --database-url postgresql://…\`.

${EXIT_CODES_USAGE}`;

/** Runs one command line; every error is printed here and becomes the exit code (EXIT). */
export async function runCli(argv: readonly string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined;
    writeLines(ctx.stdout, [topic ? topic.usage : USAGE]);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    writeLines(ctx.stdout, [VERSION]);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    writeLines(ctx.stderr, [`unknown command "${name}"`, '', USAGE]);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, ctx);
  } catch (error) {
    if (ctx.signal?.aborted) return EXIT.interrupted;
    return reportError(error, ctx);
  }
}
