import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { InMemoryMetadataStore } from '../../src/cluster/memory-store.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  eventually,
  fetchPartition,
  metadata,
  produce,
  topicConfig,
  valuesOf,
} from '../broker/support.js';

/**
 * Two brokers in one process sharing one in-memory metadata store: the seam an embedded
 * multi-broker cluster and, later, replication build on.
 */
test('two brokers sharing an in-memory metadata store form one cluster', async () => {
  const store = new InMemoryMetadataStore();
  const started: BrokerHandle[] = [];
  const clients: WireClient[] = [];
  const kafka = (b: BrokerHandle) =>
    new Kafka({ clientId: 'two-brokers', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  try {
    const a = await startBroker({ nodeId: 1, metadataStore: store, logLevel: 'silent' });
    started.push(a);
    const b = await startBroker({ nodeId: 2, metadataStore: store, logLevel: 'silent' });
    started.push(b);
    assert.notEqual(a.dataDir, b.dataDir);

    // A topic created through A, with a real client, is visible from B with both brokers listed.
    const adminA = kafka(a).admin();
    await adminA.connect();
    try {
      assert.equal(await adminA.createTopics({ topics: [{ topic: 'shared', numPartitions: 2 }] }), true);
    } finally {
      await adminA.disconnect();
    }
    const ca = await WireClient.open(a.bootstrap);
    clients.push(ca);
    const cb = await WireClient.open(b.bootstrap);
    clients.push(cb);
    const mdB = await metadata(cb, ['shared']);
    assert.deepEqual(mdB.brokers.map((x) => [x.nodeId, x.host, x.port]).sort(), [
      [1, a.host, a.port],
      [2, b.host, b.port],
    ]);
    assert.equal(mdB.clusterId, store.clusterId, 'both brokers report the store cluster id');
    const topic = mdB.topics[0]!;
    assertCode(topic.errorCode, ErrorCode.NONE, 'topic seen from B');
    assert.equal(topic.partitions.length, 2);
    // Partitions are spread over the registered brokers; both agree who leads which.
    const leaders = topic.partitions.map((p) => p.leaderId).sort();
    assert.deepEqual(leaders, [1, 2]);
    const mdA = await metadata(ca, ['shared']);
    assert.deepEqual(
      mdA.topics[0]!.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes]),
      topic.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes]),
    );

    // A produce to the broker that does not lead the partition is refused as a client expects.
    const onB = topic.partitions.find((p) => p.leaderId === 2)!.partitionIndex;
    const onA = topic.partitions.find((p) => p.leaderId === 1)!.partitionIndex;
    const refused = await produce(ca, 'shared', onB, batch(['misrouted']));
    assertCode(refused.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'produce to a non-leader');
    const fetchRefused = await fetchPartition(ca, { topic: 'shared', partition: onB, fetchOffset: 0 });
    assertCode(fetchRefused.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'fetch from a non-leader');
    // A real producer follows the metadata to each leader.
    const producer = kafka(a).producer();
    await producer.connect();
    try {
      await producer.send({
        topic: 'shared',
        messages: [
          { value: 'to-a', partition: onA },
          { value: 'to-b', partition: onB },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(
      valuesOf((await fetchPartition(ca, { topic: 'shared', partition: onA, fetchOffset: 0 })).records),
      ['to-a'],
    );
    assert.deepEqual(
      valuesOf((await fetchPartition(cb, { topic: 'shared', partition: onB, fetchOffset: 0 })).records),
      ['to-b'],
    );

    // A config change through B is seen by A.
    const adminB = kafka(b).admin();
    await adminB.connect();
    try {
      await adminB.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: 'shared', configEntries: [{ name: 'retention.ms', value: '123456' }] }],
      });
    } finally {
      await adminB.disconnect();
    }
    await eventually(
      async () => (await topicConfig(ca, 'shared', 'retention.ms')).value === '123456',
      10_000,
      'A sees the retention.ms set through B',
    );

    // When B stops, it leaves the cluster: A no longer lists it.
    cb.close();
    clients.pop();
    await b.close();
    started.pop();
    const after = await metadata(ca, ['shared']);
    assert.deepEqual(
      after.brokers.map((x) => x.nodeId),
      [1],
    );
  } finally {
    for (const c of clients) c.close();
    for (const s of started.reverse()) await s.close();
    await store.close();
  }
});
