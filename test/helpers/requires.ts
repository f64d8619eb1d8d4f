import { spawnSync } from 'node:child_process';

/**
 * Tests that drive a program outside npm (kcat, Debian's python3-confluent-kafka) run when it is
 * installed, as on CI, where .ci/run installs it. On a machine with only Node and npm they report
 * themselves skipped with the install command, so `npm test` needs nothing else there.
 */
export function missingProgram(command: string, args: string[], install: string): string | false {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `${command} is not installed: ${install} (.ci/run installs it)` : false;
}

export const kcatMissing = (command = process.env.KCAT ?? 'kcat') =>
  missingProgram(command, ['-V'], 'apt-get install kcat');

export function pythonModuleMissing(python: string, module: string, install: string): string | false {
  const r = spawnSync(python, ['-c', `import ${module}`], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `${python} cannot import ${module}: ${install} (.ci/run installs it)` : false;
}
