// Runs a trainable's command (argv after `--`) inside this process's group, which the worker made
// for it (spawn detached), and kills the whole group when that worker goes away, even by kill -9:
// no trainable outlives its worker. The worker's SIGTERM to the group is for the command; this
// process waits for it and exits as it did.
import { spawn } from 'node:child_process';

const argv = process.argv.slice(process.argv.indexOf('--') + 1);
const parent = process.ppid;
const ignore = () => {};
process.on('SIGTERM', ignore);
process.on('SIGINT', ignore);

const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  try {
    process.kill(-process.pid, 'SIGKILL');
  } finally {
    process.exit(137);
  }
}, 200);
child.on('error', (error) => {
  process.stderr.write(`hypersweep: cannot start ${argv[0]}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  clearInterval(watch);
  if (signal) {
    process.off('SIGTERM', ignore);
    process.off('SIGINT', ignore);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
