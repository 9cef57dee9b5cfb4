// The `hypersweep` process: reads the environment, the terminal and signals here only, then runs the command.
import { createInterface } from 'node:readline/promises';
import { reportError, type CommandContext } from './command.ts';
import { runCli } from './cli.ts';

const argv = process.argv.slice(2);
const interrupt = new AbortController();
const ctx: CommandContext = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  columns: process.stdout.columns || 100,
  rows: process.stdout.rows || 40,
  signal: interrupt.signal,
  cwd: process.cwd(),
  // The question goes to stderr, so stdout stays the command's output.
  ...(process.stdin.isTTY && process.stderr.isTTY
    ? {
        ask: async (question: string) => {
          const terminal = createInterface({ input: process.stdin, output: process.stderr });
          // The terminal is in raw mode while asking: Ctrl-C reaches readline, not the process.
          terminal.on('SIGINT', () => interrupt.abort());
          try {
            return await terminal.question(question, { signal: interrupt.signal });
          } finally {
            terminal.close();
          }
        },
      }
    : {}),
};

// `start` passes signals on to its child and `train` keeps Node's default (they end it); the API commands stop
// what they are doing on the first SIGINT/SIGTERM and exit at once on the second.
if (argv[0] !== 'start' && argv[0] !== 'train') {
  const onSignal = () => {
    if (interrupt.signal.aborted) {
      if (ctx.isTTY) process.stdout.write('\x1b[?25h'); // a live view hid the cursor
      process.exit(130);
    }
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

runCli(argv, ctx).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err, ctx);
  },
);
