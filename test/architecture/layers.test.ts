import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/**
 * The rules of the house (.dependency-cruiser.cjs, docs/architecture.md) hold for the source as
 * it is: protocol and storage import nothing of the broker, handlers and coordinators reach logs
 * only through the replica layer, the client is not the broker, no import cycles.
 */
test('the layer rules of the house hold (protocol, storage, replica layer, client, no cycles)', () => {
  const bin = join(repoRoot, 'node_modules', '.bin', 'depcruise');
  const r = spawnSync(
    bin,
    ['src', 'test', 'bench', 'examples', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
    { cwd: repoRoot, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  assert.equal(r.error, undefined, `depcruise did not run: ${String(r.error)}`);
  const report = JSON.parse(r.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  assert.ok(report.summary.totalCruised > 100, `cruised ${report.summary.totalCruised} modules`);
  const lines = report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  assert.deepEqual(lines, [], lines.join('\n'));
});
