import { pathToFileURL } from 'node:url';

/** The broker examples talk to when run by hand: BROOK_BOOTSTRAP, else localhost:9092 (`brook start`). */
export const bootstrapFromEnv = (): string => process.env.BROOK_BOOTSTRAP ?? 'localhost:9092';

/** True when the module is the program being run (node dist/examples/x.js), not imported by a test. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === pathToFileURL(process.argv[1]).href;
}

/** Runs an example's main function, printing its result, and exits non-zero on failure. */
export function runMain(fn: () => Promise<unknown>): void {
  fn().then(
    (result) => {
      if (result !== undefined) console.log(JSON.stringify(result, null, 2));
    },
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
