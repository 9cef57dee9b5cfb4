// `npm run typecheck`: the Node.js workspaces as one program (tsconfig.json) and the dashboard's
// two (browser and Vite config), side by side; fails if any of them does.
import { spawn } from 'node:child_process';

const programs = ['tsconfig.json', 'apps/web/tsconfig.json', 'apps/web/tsconfig.node.json'];
const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;
const codes = await Promise.all(
  programs.map(
    (project) =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      }),
  ),
);
const failed = programs.filter((_, i) => codes[i] !== 0);
if (failed.length > 0) {
  console.error(`typecheck failed: ${failed.join(', ')}`);
  process.exit(1);
}
