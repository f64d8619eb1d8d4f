import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js';
import { InMemoryMetadataStore } from '../../src/cluster/memory-store.js';
import { MetadataKeys, type PartitionRecord, type TopicRecord } from '../../src/cluster/metadata-records.js';
import type { PartitionStateListener, TopicChangeListener } from '../../src/cluster/partition-state.js';

/** Records what a broker was told to do with its partitions. */
class Recorder implements PartitionStateListener, TopicChangeListener {
  readonly calls: string[] = [];
  becomeLeader(t: TopicRecord, p: PartitionRecord): void {
    this.calls.push(`leader ${t.name}-${p.partition} epoch ${p.leaderEpoch}`);
  }
  becomeFollower(t: TopicRecord, p: PartitionRecord): void {
    this.calls.push(`follower ${t.name}-${p.partition} of ${p.leader}`);
  }
  stopReplica(topic: string, partition: number, deleted: boolean): Promise<void> {
    this.calls.push(`stop ${topic}-${partition}${deleted ? ' delete' : ''}`);
    return Promise.resolve();
  }
  topicChanged(event: string, t: TopicRecord): void {
    this.calls.push(`${event} ${t.name}`);
  }
  brokerConfigsChanged(scope: string, configs: Record<string, string>): void {
    this.calls.push(`broker configs ${scope} ${JSON.stringify(configs)}`);
  }
}

const silent = pino({ level: 'silent' });

test('each broker applies metadata deltas as leader, follower or stopped replica', async () => {
  const store = new InMemoryMetadataStore();
  const [m1, m2] = await Promise.all([ClusterMetadata.open(store, 1, silent), ClusterMetadata.open(store, 2, silent)]);
  await m1.register({ host: 'h', port: 1, listeners: [], rack: null });
  await m2.register({ host: 'h', port: 2, listeners: [], rack: null });
  const r1 = new Recorder();
  const r2 = new Recorder();
  m1.attach(r1, r1);
  m2.attach(r2, r2);

  // Created through broker 1: round robin from broker 1 over the registered brokers.
  const t = await m1.createTopic('t', 3, {});
  assert.deepEqual(r1.calls, ['leader t-0 epoch 0', 'leader t-2 epoch 0', 'created t']);
  assert.deepEqual(r2.calls, ['leader t-1 epoch 0', 'created t']);
  assert.deepEqual(
    m2.partitions('t').map((p) => p.leader),
    [1, 2, 1],
    'both images agree',
  );

  // Leadership of t-0 moves to broker 2 with broker 1 staying a replica: 1 follows, 2 leads.
  r1.calls.length = r2.calls.length = 0;
  const key = MetadataKeys.partition('t', 0);
  const before = m1.partition('t', 0)!;
  await store.commit([
    {
      key,
      expectedVersion: m1.image.versionOf(key),
      value: {
        kind: 'partition',
        ...before,
        replicas: [1, 2],
        isr: [1, 2],
        leader: 2,
        leaderEpoch: 1,
        partitionEpoch: 1,
      },
    },
  ]);
  assert.deepEqual(r1.calls, ['follower t-0 of 2']);
  assert.deepEqual(r2.calls, ['leader t-0 epoch 1']);

  // Config changes reach every broker; broker configs only the broker they name (or all, for defaults).
  r1.calls.length = r2.calls.length = 0;
  await m2.setTopicConfigs('t', { 'retention.ms': '5' });
  await m2.setDynamicBrokerConfigs('broker', { 'log.cleaner.threads': '3' });
  await m1.setDynamicBrokerConfigs('default', { 'log.retention.ms': '9' });
  assert.deepEqual(r1.calls, ['configs t', 'broker configs default {"log.retention.ms":"9"}']);
  assert.deepEqual(r2.calls, [
    'configs t',
    'broker configs broker {"log.cleaner.threads":"3"}',
    'broker configs default {"log.retention.ms":"9"}',
  ]);
  assert.deepEqual(m1.topic('t')!.configs, { 'retention.ms': '5' });

  // Deleting the topic stops every replica and deletes its log.
  r1.calls.length = r2.calls.length = 0;
  assert.equal((await m2.deleteTopic('t'))?.topicId, t.topicId);
  assert.deepEqual(r1.calls, ['stop t-0 delete', 'stop t-2 delete', 'deleted t']);
  assert.deepEqual(r2.calls, ['stop t-0 delete', 'stop t-1 delete', 'deleted t']);
  assert.equal(m1.topic('t'), undefined);

  await m1.close();
  assert.deepEqual(
    m2.brokers().map((b) => b.nodeId),
    [2],
    'a closed broker unregisters',
  );
  await m2.close();
});

test('concurrent creations of one topic through two brokers: one wins, the other is told it exists', async () => {
  const store = new InMemoryMetadataStore();
  const [m1, m2] = await Promise.all([ClusterMetadata.open(store, 1, silent), ClusterMetadata.open(store, 2, silent)]);
  const results = await Promise.allSettled([m1.createTopic('race', 1, {}), m2.createTopic('race', 1, {})]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const lost = results.find((r) => r.status === 'rejected')!;
  assert.match(String(lost.reason), /already exists/);
  assert.equal(m1.topic('race')!.topicId, m2.topic('race')!.topicId);
  await m1.close();
  await m2.close();
});
