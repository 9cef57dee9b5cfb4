// `hypersweep start api | worker`: runs an app of the checkout or image this CLI belongs to as a child
// process with our stdio, forwarding SIGINT/SIGTERM, and exits with its exit code. The CLI run from
// source starts the apps' TypeScript through tsx's loader; the built CLI starts their built JavaScript.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, type CommandContext } from './command.ts';

export const START_USAGE = `hypersweep start <api|worker> [args…]
  Runs the API server or a worker of the Hypersweep checkout or image this CLI belongs to
  (apps/<app>/dist/main.js, or apps/<app>/src/main.ts through tsx when the CLI itself runs from
  source) in the foreground; configuration comes from the environment (DATABASE_URL, REDIS_URL,
  …). SIGINT and SIGTERM are passed on, so the app shuts down gracefully. An installed CLI has
  no server to start: use \`npm start\` or \`docker compose up\` in a checkout.`;

const APPS = {
  api: { source: 'apps/api/src/main.ts', built: 'apps/api/dist/main.js' },
  worker: { source: 'apps/worker/src/main.ts', built: 'apps/worker/dist/main.js' },
} as const;
export type StartableApp = keyof typeof APPS;

/** The repository root: this file is apps/cli/src/start.ts, or bundled into apps/cli/dist/. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** This CLI runs as TypeScript (tsx, vitest) rather than as its bundle. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

export function appEntry(app: StartableApp, fromSource: boolean = FROM_SOURCE): string {
  return fileURLToPath(new URL(fromSource ? APPS[app].source : APPS[app].built, pathToFileURL(REPO_ROOT)));
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Runs `command args` with inherited stdio until it exits; resolves to its exit code (128 + signal
 * number when a signal ended it). The child gets its own process group, so a Ctrl-C on the
 * terminal reaches it once (through us) rather than twice; a second SIGINT would force-quit
 * apps whose graceful shutdown listens with `process.once`.
 */
export function runForwardingSignals(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', detached: true, cwd: options.cwd, env: options.env ?? process.env });
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    // If we exit first (an uncaught error), do not leave the app running in its own group.
    const killOnExit = () => forward('SIGTERM');
    process.on('exit', killOnExit);
    const cleanup = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      process.off('exit', killOnExit);
    };
    child.once('error', (error) => {
      cleanup();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

export async function runStart(argv: string[], ctx: CommandContext): Promise<number> {
  const [app, ...rest] = argv;
  if (app === undefined || app === '--help' || app === '-h' || app === 'help') {
    ctx.stdout.write(START_USAGE + '\n');
    return app === undefined ? 2 : 0;
  }
  if (app !== 'api' && app !== 'worker') throw new UsageError(`cannot start "${app}": choose api or worker`, START_USAGE);
  const entry = appEntry(app);
  if (!existsSync(entry)) {
    const relative = FROM_SOURCE ? APPS[app].source : APPS[app].built;
    throw new UsageError(
      existsSync(`${REPO_ROOT}package.json`) && !FROM_SOURCE
        ? `${relative} is not built in ${REPO_ROOT}: run \`npm run build\` there`
        : `no ${relative} in ${REPO_ROOT}: \`hypersweep start\` runs the apps of a Hypersweep checkout or image, not of an installed CLI`,
    );
  }
  if (!FROM_SOURCE) return runForwardingSignals(process.execPath, [entry, ...rest], { cwd: ctx.cwd });
  // tsx's loader in the child itself (`node --import tsx`): one process, no signal relay in between.
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return runForwardingSignals(process.execPath, ['--import', tsxLoader, entry, ...rest], { cwd: ctx.cwd });
}
