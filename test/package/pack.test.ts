// The package as a user gets it: `npm pack`, installed into a project of their own, imported by
// name from an ESM program. Catches what the repository's own tests cannot: a file left out of
// `files`, an `exports` entry that points nowhere, a runtime import of a devDependency.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);

let scratch: string;
let project: string;
let tarball: string;

/**
 * Lays the tarball out as `npm install <tarball>` would: node_modules/brook holds the packed files,
 * and each dependency the packed package.json declares sits next to it. The dependencies are linked
 * from the repository's install (which `npm ci` made) rather than downloaded, so this needs no
 * network; only what the package declares is linked, so an undeclared import still fails.
 */
async function installTarball(into: string): Promise<void> {
  const pkgDir = join(into, 'node_modules', 'brook');
  await mkdir(pkgDir, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1']);
  const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    const link = join(into, 'node_modules', dep);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(repoRoot, 'node_modules', dep), link, 'dir');
  }
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'brook-pack-'));
  // `npm pack` packs dist/ as built; `npm test` builds first.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: repoRoot,
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(scratch, packed!.filename);
  project = join(scratch, 'app');
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { brook: `file:${tarball}` } }),
  );
  await installTarball(project);
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const userProgram = `
import { startBroker, Producer, Consumer, Admin } from 'brook';

const broker = await startBroker({ logLevel: 'silent' });
try {
  const admin = new Admin({ bootstrap: broker.bootstrap });
  await admin.createTopics([{ name: 'greetings', partitions: 1 }]);
  await admin.close();

  const producer = new Producer({ bootstrap: broker.bootstrap });
  const sent = await producer.send({ topic: 'greetings', key: 'k', value: 'hello from a packed brook' });
  await producer.close();

  const consumer = new Consumer({ bootstrap: broker.bootstrap, groupId: 'app', autoOffsetReset: 'earliest' });
  consumer.subscribe('greetings');
  let got;
  for await (const record of consumer) {
    got = record;
    break;
  }
  await consumer.close();
  console.log(JSON.stringify({
    sentOffset: sent.offset,
    offset: got.offset,
    key: Buffer.from(got.key).toString(),
    value: Buffer.from(got.value).toString(),
  }));
} finally {
  await broker.close();
}
`;

test('a project that installs the packed tarball can import brook, start a broker, produce and consume', async () => {
  await writeFile(join(project, 'main.mjs'), userProgram);
  // The program stops its broker in `finally`; the timeout only backs that up if it hangs.
  const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: project, timeout: 90_000 });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), {
    sentOffset: 0,
    offset: 0,
    key: 'k',
    value: 'hello from a packed brook',
  });
});

test('the `brook` command of the installed package runs', async () => {
  const pkgDir = join(project, 'node_modules', 'brook');
  const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
    version: string;
    bin: Record<string, string>;
  };
  assert.ok(manifest.bin.brook, 'package.json names a `brook` bin');
  const { stdout } = await run(process.execPath, [join(pkgDir, manifest.bin.brook), '--version'], { cwd: project });
  assert.equal(stdout.trim(), manifest.version);
});
