import { spawnSync } from 'node:child_process';

/**
 * Tests that drive a program outside npm (kcat, Debian's python3-confluent-kafka) run when it is
 * installed, as on CI, where .ci/run installs it. On a machine with only Node and npm they report
 * themselves skipped with the install command, so `npm test` needs nothing else there.
 *
 * On CI (CI=true or CI=1) a skip would let a green run hide untested code, so a missing program
 * fails instead: the check throws with the same hint while the test file loads, and the test
 * runner reports that file as failed.
 */

/** kcat to drive; KCAT overrides (e.g. a build of your own, or a path that does not exist to try the CI failure). */
export const KCAT = process.env.KCAT ?? 'kcat';

const onCi = process.env.CI === 'true' || process.env.CI === '1';

function skipOrFail(reason: string | false): string | false {
  if (reason && onCi) {
    throw new Error(`${reason}. CI=${process.env.CI} runs every test, so a missing program is a failure, not a skip`);
  }
  return reason;
}

export function missingProgram(command: string, args: string[], install: string): string | false {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return skipOrFail(
    r.error || r.status !== 0 ? `${command} is not installed: ${install} (.ci/run installs it)` : false,
  );
}

export const kcatMissing = (command = KCAT) => missingProgram(command, ['-V'], 'apt-get install kcat');

export function pythonModuleMissing(python: string, module: string, install: string): string | false {
  const r = spawnSync(python, ['-c', `import ${module}`], { encoding: 'utf8' });
  return skipOrFail(
    r.error || r.status !== 0 ? `${python} cannot import ${module}: ${install} (.ci/run installs it)` : false,
  );
}
