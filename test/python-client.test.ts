// clients/python/hypersweep.py's own unittest suite, run by the machine's Python as part of the
// repository's tests: the trainable helpers against a worker played by the test (child processes,
// pipes and sockets, SIGTERM), the ask/tell client against a local stand-in of the API's contract,
// and the examples that use them. Debian's /usr/bin/python3 first (the one that sees Debian's
// packages), else python3 on PATH; the suite needs nothing beyond the standard library.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** The tests in clients/python/test_hypersweep.py: a suite that silently lost some fails here. */
const EXPECTED_TESTS = 48;

describe('clients/python (hypersweep.py)', () => {
  it(`passes its ${EXPECTED_TESTS} unittest tests`, () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HYPERSWEEP_')));
    const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'clients/python', '-v'], {
      cwd: ROOT,
      env: { ...env, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(run.error, `could not run ${PYTHON}`).toBeUndefined();
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toMatch(new RegExp(`^Ran ${EXPECTED_TESTS} tests? in [\\d.]+s$`, 'm'));
    expect(output).toMatch(/^OK$/m);
    const passed = output.split('\n').filter((line) => / \.\.\. ok$/.test(line));
    expect(passed, output).toHaveLength(EXPECTED_TESTS);
  });
});
