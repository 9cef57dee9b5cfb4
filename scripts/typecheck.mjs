// `npm run typecheck`: the Node.js workspaces as one program (tsconfig.json) and the dashboard's
// two (browser and Vite config), side by side; fails if any of them does. The package script
// builds first (generated sources: the Prisma client, the WASM kernels' bindings).
import { createRequire } from 'node:module';
import { runSideBySide } from './parallel.mjs';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const programs = ['tsconfig.json', 'apps/web/tsconfig.json', 'apps/web/tsconfig.node.json'];
const failed = await runSideBySide(programs.map((project) => ({ label: project, argv: [process.execPath, tsc, '-p', project] })));
if (failed.length > 0) {
  console.error(`typecheck failed: ${failed.join(', ')}`);
  process.exit(1);
}
