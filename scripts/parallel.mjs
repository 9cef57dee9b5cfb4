// Runs commands side by side with their output inherited; resolves to the labels of those that failed.
import { spawn } from 'node:child_process';

/** @param {{ label: string, argv: string[] }[]} commands */
export async function runSideBySide(commands) {
  const codes = await Promise.all(
    commands.map(
      ({ label, argv }) =>
        new Promise((resolve) => {
          const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
          child.on('error', (error) => {
            console.error(`${label}: ${error.message}`);
            resolve(1);
          });
          child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
        }),
    ),
  );
  return commands.filter((_, i) => codes[i] !== 0).map((c) => c.label);
}
