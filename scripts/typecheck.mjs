// `npm run typecheck`: the Node.js workspaces as one program (tsconfig.json) and the dashboard's
// two (browser and Vite config), side by side; fails if any of them does. The package script
// builds first (generated sources: the Prisma client, the WASM kernels' bindings).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const programs = ['tsconfig.json', 'apps/web/tsconfig.json', 'apps/web/tsconfig.node.json'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
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
