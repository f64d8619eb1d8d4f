import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The repository root, whether a test runs from `test/` or compiled from `dist/test/`. */
function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // compiled: <root>/dist/test/helpers ; source: <root>/test/helpers
  return here.includes(`${'/'}dist${'/'}`) || here.endsWith(`${'/'}dist${'/'}test${'/'}helpers`)
    ? resolve(here, '../../..')
    : resolve(here, '../..');
}

export const repoRoot = findRoot();
export const fixturesDir = resolve(repoRoot, 'test/fixtures');
