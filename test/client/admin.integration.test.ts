import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerHandle } from '../../src/broker/start.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { KafkaError } from '../../src/client/errors.js';
import { startTestBroker, uniq } from './helpers/broker.js';

let broker: BrokerHandle;
let admin: Admin;

before(async () => {
  broker = await startTestBroker();
  admin = new Admin({ bootstrap: broker.bootstrap });
});
after(async () => {
  await admin.close();
  await broker.close();
});

test('create, list, describe and delete a topic', async () => {
  const name = uniq('admin-topic');
  assert.deepEqual(await admin.createTopics([{ name, partitions: 3, replicationFactor: 1 }]), [name]);
  assert.ok((await admin.listTopics()).includes(name));
  const [d] = await admin.describeTopics([name]);
  assert.equal(d!.partitions.length, 3);
  assert.deepEqual(
    d!.partitions.map((p) => p.partition),
    [0, 1, 2],
  );
  for (const p of d!.partitions) {
    assert.ok(p.leader >= 0);
    assert.ok(p.replicas.includes(p.leader) && p.isr.includes(p.leader));
  }
  assert.match(d!.topicId, /^[0-9a-f-]{36}$/);
  assert.notEqual(d!.topicId, '00000000-0000-0000-0000-000000000000');
  await admin.deleteTopics([name]);
  await admin.waitForTopicsGone([name]);
  await assert.rejects(admin.describeTopics([name]), (err: unknown) => err instanceof KafkaError && err.code === 3);
});

test('creating an existing topic fails unless ifNotExists; bad partition counts are refused', async () => {
  const name = uniq('admin-dup');
  await admin.createTopics([{ name, partitions: 1 }]);
  await assert.rejects(
    admin.createTopics([{ name, partitions: 1 }]),
    (err: unknown) => err instanceof KafkaError && err.code === 36 && err.message.includes(name),
  );
  assert.deepEqual(await admin.createTopics([{ name, partitions: 1 }], { ifNotExists: true }), []);
  await assert.rejects(
    admin.createTopics([{ name: uniq('admin-zero'), partitions: 0 }]),
    (err: unknown) => err instanceof KafkaError && err.code === 37,
  );
  await assert.rejects(
    admin.deleteTopics([uniq('never-created')]),
    (err: unknown) => err instanceof KafkaError && err.code === 3,
  );
  await admin.deleteTopics([uniq('never-created')], { ifExists: true });
});

test('topic configs: set at creation, altered, removed', async () => {
  const name = uniq('admin-config');
  await admin.createTopics([
    { name, partitions: 1, configs: { 'cleanup.policy': 'compact', 'retention.ms': '3600000' } },
  ]);
  const get = async () =>
    Object.fromEntries((await admin.describeConfigs([{ type: 'topic', name }]))[0]!.configs.map((c) => [c.name, c]));
  let cfg = await get();
  assert.equal(cfg['cleanup.policy']!.value, 'compact');
  assert.equal(cfg['cleanup.policy']!.isDefault, false);
  assert.equal(cfg['cleanup.policy']!.source, 'DYNAMIC_TOPIC_CONFIG');
  assert.equal(cfg['retention.ms']!.value, '3600000');
  assert.equal(cfg['segment.bytes']!.isDefault, true);
  await admin.alterConfigs([{ type: 'topic', name, set: { 'retention.ms': '60000' }, delete: ['cleanup.policy'] }]);
  cfg = await get();
  assert.equal(cfg['retention.ms']!.value, '60000');
  assert.equal(cfg['cleanup.policy']!.value, 'delete');
  assert.equal(cfg['cleanup.policy']!.isDefault, true);
  await assert.rejects(
    admin.alterConfigs([{ type: 'topic', name, set: { 'no.such.config': '1' } }]),
    (err: unknown) => err instanceof KafkaError && err.code === 40,
  );
});

test('partitions can be added, not removed', async () => {
  const name = uniq('admin-parts');
  await admin.createTopics([{ name, partitions: 2 }]);
  await admin.createPartitions([{ topic: name, count: 5 }]);
  assert.equal((await admin.describeTopics([name]))[0]!.partitions.length, 5);
  await assert.rejects(
    admin.createPartitions([{ topic: name, count: 3 }]),
    (err: unknown) => err instanceof KafkaError && err.code === 37,
  );
});

test('cluster description and offsets by time', async () => {
  const cluster = await admin.describeCluster();
  assert.equal(cluster.brokers.length, 1);
  assert.equal(`${cluster.brokers[0]!.host}:${cluster.brokers[0]!.port}`, broker.bootstrap);
  assert.equal(cluster.controllerId, cluster.brokers[0]!.nodeId);
  assert.ok(cluster.clusterId !== null && cluster.clusterId.length > 0);

  const name = uniq('admin-offsets');
  await admin.createTopics([{ name, partitions: 1 }]);
  const p = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  for (let i = 0; i < 5; i++) await p.send({ topic: name, value: `v${i}`, timestamp: 1_000_000 + i * 1000 });
  await p.close();
  const tp = { topic: name, partition: 0 };
  const [earliest, latest, at, future] = await admin.listOffsets([
    { ...tp, at: 'earliest' },
    { ...tp, at: 'latest' },
    { ...tp, at: new Date(1_002_500) },
    { ...tp, at: 9_999_999_999 },
  ]);
  assert.equal(earliest!.offset, 0);
  assert.equal(latest!.offset, 5);
  assert.equal(at!.offset, 3, 'first record at or after the time');
  assert.equal(at!.timestamp, 1_003_000);
  assert.equal(future!.offset, -1, 'no record that late');
});
