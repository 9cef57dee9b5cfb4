// `npm run check`: lint and typecheck side by side (each waits on one core for much of its run);
// fails if either does, after both have printed their findings.
import { spawn } from 'node:child_process';

const scripts = ['lint', 'typecheck'];
const codes = await Promise.all(
  scripts.map(
    (script) =>
      new Promise((resolve) => {
        // npm's own script (npm_execpath) on this Node: no shell, on any platform.
        const child = spawn(process.execPath, [process.env.npm_execpath ?? 'npm', 'run', '-s', script], { stdio: 'inherit' });
        child.on('error', (error) => {
          console.error(`npm run ${script}: ${error.message}`);
          resolve(1);
        });
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      }),
  ),
);
const failed = scripts.filter((_, i) => codes[i] !== 0);
if (failed.length > 0) {
  console.error(`npm run check: ${failed.join(' and ')} failed`);
  process.exit(1);
}
