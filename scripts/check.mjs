// `npm run check`: lint and typecheck side by side (each waits on one core for much of its run);
// fails if either does, after both have printed their findings.
import { spawn } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const scripts = ['lint', 'typecheck'];
const codes = await Promise.all(
  scripts.map(
    (script) =>
      new Promise((resolve) => {
        const child = spawn(npm, ['run', '-s', script], { stdio: 'inherit' });
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      }),
  ),
);
const failed = scripts.filter((_, i) => codes[i] !== 0);
if (failed.length > 0) {
  console.error(`npm run check: ${failed.join(' and ')} failed`);
  process.exit(1);
}
