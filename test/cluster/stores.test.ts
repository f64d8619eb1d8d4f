import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FileMetadataStore } from '../../src/cluster/file-store.js';
import { InMemoryMetadataStore } from '../../src/cluster/memory-store.js';
import { MetadataKeys } from '../../src/cluster/metadata-records.js';
import { MetadataCompactedError, MetadataConflictError, type MetadataStore } from '../../src/cluster/metadata-store.js';
import { collect, configValue, create, createTopic, partitionValue, topicValue } from './support.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Both stores must behave the same behind the interface. */
const kinds: [string, (opts?: { retainedDeltas?: number }) => Promise<MetadataStore>][] = [
  ['in-memory', (opts) => Promise.resolve(new InMemoryMetadataStore(opts))],
  [
    'file',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'brook-metastore-'));
      dirs.push(dir);
      return FileMetadataStore.open(dir, 1);
    },
  ],
];

for (const [kind, open] of kinds) {
  describe(`${kind} metadata store`, () => {
    test('a write with a stale expected version is refused with a typed conflict, and writes nothing', async () => {
      const store = await open();
      const r1 = await createTopic(store, 'orders', 2);
      await assert.rejects(createTopic(store, 'orders', 2), (err: unknown) => {
        assert.ok(err instanceof MetadataConflictError);
        assert.equal(err.key, MetadataKeys.topic('orders'));
        assert.equal(err.expectedVersion, 0);
        assert.equal(err.actualVersion, r1);
        return true;
      });
      // Grow the topic at the right version: accepted, the key's version becomes the new revision.
      const r2 = await store.commit([
        { key: MetadataKeys.topic('orders'), expectedVersion: r1, value: topicValue('orders', 3) },
        create(partitionValue('orders', 2, 1)),
      ]);
      assert.equal(r2, r1 + 1);
      // A second writer that read at r1 loses, although one of its two compares still holds.
      await assert.rejects(
        store.commit([
          create(configValue('orders', { 'retention.ms': '1' })),
          { key: MetadataKeys.topic('orders'), expectedVersion: r1, value: topicValue('orders', 9) },
        ]),
        MetadataConflictError,
      );
      const snap = await store.snapshot();
      assert.equal(snap.revision, r2);
      const byKey = new Map(snap.entries.map((e) => [e.key, e]));
      assert.equal(byKey.has(MetadataKeys.config('topic', 'orders')), false, 'the losing transaction wrote nothing');
      const topic = byKey.get(MetadataKeys.topic('orders'))!;
      assert.equal(topic.version, r2);
      assert.equal(topic.value.kind === 'topic' && topic.value.partitions, 3);
      assert.equal(byKey.get(MetadataKeys.partition('orders', 0))!.version, r1, 'an untouched key keeps its version');
      await store.close();
    });

    test('deltas reach watchers in revision order, typed, each carrying its revision', async () => {
      const store = await open();
      const start = (await store.snapshot()).revision;
      const { deltas, stop } = collect(store, start);
      const r1 = await createTopic(store, 'a', 1);
      const r2 = await store.commit([create(configValue('a', { 'cleanup.policy': 'compact' }))]);
      const r3 = await store.commit([
        {
          key: MetadataKeys.partition('a', 0),
          expectedVersion: r1,
          value: partitionValue('a', 0, 2, 1),
        },
      ]);
      const r4 = await store.commit([{ key: MetadataKeys.broker(2), expectedVersion: 0, value: brokerValue(2) }]);
      const r5 = await store.commit([
        { key: MetadataKeys.partition('a', 0), expectedVersion: r3, value: null },
        { key: MetadataKeys.config('topic', 'a'), expectedVersion: r2, value: null },
        { key: MetadataKeys.topic('a'), expectedVersion: r1, value: null },
        { key: MetadataKeys.broker(2), expectedVersion: r4, value: null },
      ]);
      stop();
      assert.deepEqual(
        deltas.map((d) => d.revision),
        [r1, r2, r3, r4, r5],
      );
      assert.deepEqual(
        deltas.map((d) => d.changes.map((c) => c.type)),
        [
          ['topic-created', 'partition-changed'],
          ['config-changed'],
          ['partition-changed'],
          ['broker-registered'],
          ['partition-removed', 'config-changed', 'topic-deleted', 'broker-unregistered'],
        ],
      );
      const moved = deltas[2]!.changes[0]!;
      assert.ok(moved.type === 'partition-changed');
      assert.equal(moved.previous?.leader, 1);
      assert.equal(moved.partition.leader, 2);
      assert.equal(moved.partition.leaderEpoch, 1);
      const cleared = deltas[4]!.changes[1]!;
      assert.ok(cleared.type === 'config-changed');
      assert.deepEqual(cleared.configs, {}, 'a deleted config reads as no overrides');
      await store.close();
    });

    test('a watcher resumes from a revision: it gets exactly the deltas after it, then new ones', async () => {
      const store = await open();
      const r1 = await createTopic(store, 'x', 1);
      const r2 = await createTopic(store, 'y', 1);
      const r3 = await createTopic(store, 'z', 1);
      const { deltas, stop } = collect(store, r1);
      assert.deepEqual(
        deltas.map((d) => d.revision),
        [r2, r3],
        'the missed deltas first',
      );
      const r4 = await createTopic(store, 'w', 1);
      stop();
      await createTopic(store, 'v', 1);
      assert.deepEqual(
        deltas.map((d) => d.revision),
        [r2, r3, r4],
        'then live ones, until unsubscribed',
      );
      await store.close();
    });
  });
}

test('a watcher resuming from before the retained deltas is told to start from a snapshot', async () => {
  const store = new InMemoryMetadataStore({ retainedDeltas: 2 });
  const r1 = await createTopic(store, 'a', 1);
  await createTopic(store, 'b', 1);
  const r3 = await createTopic(store, 'c', 1);
  await createTopic(store, 'd', 1);
  assert.throws(() => store.watch(r1, () => {}), MetadataCompactedError);
  const { deltas, stop } = collect(store, r3);
  assert.equal(deltas.length, 1, 'a revision still retained resumes normally');
  stop();
});

test('a watcher that throws neither fails the commit nor starves the other watchers', async () => {
  const errors: unknown[] = [];
  const store = new InMemoryMetadataStore({ onListenerError: (e) => errors.push(e) });
  store.watch(0, () => {
    throw new Error('boom');
  });
  const { deltas } = collect(store, 0);
  await createTopic(store, 'a', 1);
  assert.equal(deltas.length, 1);
  assert.equal(errors.length, 1);
});

function brokerValue(nodeId: number) {
  return {
    kind: 'broker' as const,
    nodeId,
    host: '127.0.0.1',
    port: 9092 + nodeId,
    listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 + nodeId, securityProtocol: 'PLAINTEXT' }],
    rack: null,
  };
}
