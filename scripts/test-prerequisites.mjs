// Runs first in `npm test`: makes sure the machine has what the tests drive besides Node.js,
// PostgreSQL and Redis — today Debian's Chromium for the dashboard's browser tests. As root on a
// Debian-like machine it installs it (what .ci/run does); otherwise it says the one command to run.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (!executable(chromium)) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && has('apt-get')) {
    console.log(`npm test: the browser tests need Chromium and ${chromium} is missing; installing Debian's chromium (apt-get)…`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  }
  if (!executable(chromium)) {
    console.error(
      `npm test: the dashboard's browser tests need a Chromium at ${chromium} (or set CHROMIUM_PATH).\n` +
        '  Install it with:  sudo apt-get install -y chromium   (or run bash .ci/run, which sets up everything)',
    );
    process.exit(1);
  }
}
