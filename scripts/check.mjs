// `npm run check`: lint and typecheck side by side (each waits on one core for much of its run);
// fails if either does, after both have printed their findings.
import { runSideBySide } from './parallel.mjs';

// npm's own script (npm_execpath) on this Node: no shell, on any platform.
const npm = (script) => ({ label: script, argv: [process.execPath, process.env.npm_execpath ?? 'npm', 'run', '-s', script] });
const failed = await runSideBySide([npm('lint'), npm('typecheck')]);
if (failed.length > 0) {
  console.error(`npm run check: ${failed.join(' and ')} failed`);
  process.exit(1);
}
