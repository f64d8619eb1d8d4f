import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FileMetadataStore, METADATA_FILE } from '../../src/cluster/file-store.js';
import { MetadataKeys } from '../../src/cluster/metadata-records.js';
import { MetadataConflictError } from '../../src/cluster/metadata-store.js';
import { fixturesDir } from '../helpers/paths.js';
import { configValue, create, createTopic, topicValue } from './support.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'brook-filestore-'));
  dirs.push(d);
  return d;
}

/** The format-1 data dir the broker wrote before versions (test/fixtures/data-dir-v1, made by that code). */
async function v1DataDir(): Promise<string> {
  const d = await tempDir();
  await cp(join(fixturesDir, 'data-dir-v1'), d, { recursive: true });
  return d;
}

test('records, versions and the revision survive a reopen; broker registrations do not', async () => {
  const dir = await tempDir();
  let store = await FileMetadataStore.open(dir, 1);
  const r1 = await createTopic(store, 'orders', 2);
  const r2 = await store.commit([create(configValue('orders', { 'retention.ms': '1000' }))]);
  await store.commit([
    {
      key: MetadataKeys.broker(1),
      expectedVersion: 0,
      value: { kind: 'broker', nodeId: 1, host: 'h', port: 1, listeners: [], rack: null },
    },
  ]);
  const clusterId = store.clusterId;
  await store.close();

  store = await FileMetadataStore.open(dir, 1);
  assert.equal(store.clusterId, clusterId);
  const snap = await store.snapshot();
  assert.ok(snap.revision >= r2);
  const byKey = new Map(snap.entries.map((e) => [e.key, e]));
  assert.equal(byKey.get(MetadataKeys.topic('orders'))?.version, r1);
  assert.equal(byKey.get(MetadataKeys.config('topic', 'orders'))?.version, r2);
  assert.equal(byKey.has(MetadataKeys.broker(1)), false, 'a registration ends with the broker that made it');
  // The versions read back are the ones compare-and-swap checks against.
  await assert.rejects(
    store.commit([{ key: MetadataKeys.topic('orders'), expectedVersion: r1 - 1, value: topicValue('orders', 3) }]),
    MetadataConflictError,
  );
  await store.commit([{ key: MetadataKeys.topic('orders'), expectedVersion: r1, value: topicValue('orders', 3) }]);
  await store.close();
});

test('a torn temporary file from a crash mid-write is ignored: the last committed state is read', async () => {
  const dir = await tempDir();
  let store = await FileMetadataStore.open(dir, 1);
  await createTopic(store, 'kept', 1);
  await store.close();
  // A crash between writing the temporary file and renaming it leaves half a file behind.
  const tmp = join(dir, 'meta', `${METADATA_FILE}.tmp`);
  await writeFile(tmp, '{"version":2,"revision":99,"entries":[{"key":"/topics/lost","ver');
  store = await FileMetadataStore.open(dir, 1);
  const keys = (await store.snapshot()).entries.map((e) => e.key);
  assert.ok(keys.includes(MetadataKeys.topic('kept')));
  assert.ok(!keys.some((k) => k.includes('lost')));
  // And the next commit is durable as usual.
  await createTopic(store, 'next', 1);
  await store.close();
  store = await FileMetadataStore.open(dir, 1);
  assert.ok((await store.snapshot()).entries.some((e) => e.key === MetadataKeys.topic('next')));
  await store.close();
});

test('a format-1 metadata file is migrated: topics, configs, partitions led by the node, broker configs', async () => {
  const dir = await v1DataDir();
  const old = JSON.parse(await readFile(join(dir, 'meta', METADATA_FILE), 'utf8')) as {
    version: number;
    topics: { name: string; topicId: string }[];
  };
  assert.equal(old.version, 1, 'the fixture is in the old format');
  const store = await FileMetadataStore.open(dir, 1);
  const snap = await store.snapshot();
  const values = new Map(snap.entries.map((e) => [e.key, e.value]));
  const orders = values.get(MetadataKeys.topic('orders'));
  assert.ok(orders?.kind === 'topic');
  assert.equal(orders.topicId, old.topics.find((t) => t.name === 'orders')!.topicId, 'topic ids are kept');
  assert.equal(orders.partitions, 3);
  assert.deepEqual(values.get(MetadataKeys.config('topic', 'orders')), {
    kind: 'config',
    resource: 'topic',
    name: 'orders',
    configs: { 'retention.ms': '3600000', 'cleanup.policy': 'compact' },
  });
  for (let p = 0; p < 3; p++) {
    const rec = values.get(MetadataKeys.partition('orders', p));
    assert.ok(rec?.kind === 'partition');
    assert.equal(rec.leader, 1);
    assert.deepEqual(rec.replicas, [1]);
    assert.equal(rec.leaderEpoch, 0);
  }
  assert.ok(values.has(MetadataKeys.partition('plain', 1)), 'a grown topic has all its partitions');
  assert.deepEqual(values.get(MetadataKeys.config('broker', '1')), {
    kind: 'config',
    resource: 'broker',
    name: '1',
    configs: { 'log.cleaner.threads': '2' },
  });
  await store.close();
  const rewritten = JSON.parse(await readFile(join(dir, 'meta', METADATA_FILE), 'utf8')) as { version: number };
  assert.equal(rewritten.version, 2, 'the migrated state is written in the new format once');
});

test('a metadata file from a newer format is refused, not misread', async () => {
  const dir = await tempDir();
  await (await FileMetadataStore.open(dir, 1)).close();
  await writeFile(join(dir, 'meta', METADATA_FILE), '{"version":7,"whatever":true}');
  await assert.rejects(FileMetadataStore.open(dir, 1), /format version 7/);
});
