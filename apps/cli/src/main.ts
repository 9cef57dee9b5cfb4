// The `hypersweep` command: dispatches subcommands. Until the orchestrator exists it trains locally.
import { runTrain, TRAIN_USAGE } from './train.ts';

const USAGE = `usage: hypersweep <command> [options]

commands:
  train     train one model locally and print per-epoch progress

${TRAIN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      return runTrain(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    console.error(`error${e.code ? ` [${e.code}]` : ''}: ${e.message ?? String(err)}`);
    process.exitCode = 1;
  },
);
