import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { WireClient } from '../helpers/wire-client.js';
import { fetchPartition, metadata, recordsOf, topicName } from '../broker/support.js';
import { PlatformaticFetches } from '../helpers/platformatic-fetches.js';
import { until } from '../helpers/wait.js';

const TOPIC_RESOURCE = 2;
const SET = 0;

/** @platformatic/kafka 1.35.0 (newest versions of most APIs, Fetch v17 with sessions and topic ids). */
describe('@platformatic/kafka 1.35.0', () => {
  let b: BrokerHandle;
  let wire: WireClient;
  const base = () => ({
    bootstrapBrokers: [b.bootstrap],
    connectTimeout: 3000,
    requestTimeout: 10_000,
    retries: 2,
    retryDelay: 100,
  });

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: { 'group.initial.rebalance.delay.ms': '0' } });
    wire = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    wire.close();
    await b.close();
  });

  test('admin: create, metadata, list, configs, partitions, offsets, delete records, log dirs, delete', async () => {
    const admin = new Admin({ clientId: 'brook-plt-admin', ...base() });
    try {
      const t = topicName('plt-admin');
      const created = await admin.createTopics({
        topics: [t],
        partitions: 3,
        replicas: 1,
        configs: [{ name: 'cleanup.policy', value: 'compact' }],
      });
      assert.equal(created.length, 1);
      assert.equal(created[0]!.name, t);
      assert.equal(created[0]!.partitions, 3);
      assert.equal(created[0]!.id, (await metadata(wire, [t])).topics[0]!.topicId, 'the topic id Metadata reports');

      const md = await admin.metadata({ topics: [t] });
      const topic = md.topics.get(t)!;
      assert.equal(topic.partitionsCount, 3);
      for (const p of topic.partitions) {
        assert.equal(p.leader, b.broker.nodeId);
        assert.deepEqual([...p.replicas], [b.broker.nodeId]);
      }
      assert.ok((await admin.listTopics()).includes(t));

      await admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: TOPIC_RESOURCE,
            resourceName: t,
            configs: [{ name: 'retention.ms', configOperation: SET, value: '4242' }],
          },
        ],
      });
      const described = await admin.describeConfigs({
        resources: [
          { resourceType: TOPIC_RESOURCE, resourceName: t, configurationKeys: ['retention.ms', 'cleanup.policy'] },
        ],
      });
      const values = new Map(described[0]!.configs.map((c) => [c.name, c.value]));
      assert.deepEqual([values.get('retention.ms'), values.get('cleanup.policy')], ['4242', 'compact']);

      await admin.createPartitions({ topics: [{ name: t, count: 4 }] });
      assert.equal((await admin.metadata({ topics: [t], forceUpdate: true })).topics.get(t)!.partitionsCount, 4);

      const producer = new Producer({
        clientId: 'brook-plt-admin-producer',
        serializers: stringSerializers,
        ...base(),
      });
      for (let i = 0; i < 5; i++)
        await producer.send({ messages: [{ topic: t, partition: 3, key: `k${i}`, value: `v${i}` }] });
      await producer.close();

      const deleted = await admin.deleteRecords({ topics: [{ name: t, partitions: [{ partition: 3, offset: 2n }] }] });
      assert.equal(deleted[0]!.partitions[0]!.lowWatermark, 2n);
      const listed = await admin.listOffsets({
        topics: [{ name: t, partitions: [{ partitionIndex: 3, timestamp: -2n }] }],
      });
      assert.equal(listed[0]!.partitions[0]!.offset, 2n, 'earliest follows DeleteRecords');

      const dirs = await admin.describeLogDirs({ topics: [{ name: t, partitions: [3] }] });
      const size = dirs[0]!.results[0]!.topics.find((x) => x.name === t)!.partitions[0]!.partitionSize;
      assert.ok(size > 0n, 'partition 3 holds bytes');

      await admin.deleteTopics({ topics: [t] });
      assert.ok(!(await admin.listTopics()).includes(t));
    } finally {
      await admin.close();
    }
  });

  test('producer: keys, headers and each codec; offsets contiguous per partition; bytes stored exactly', async () => {
    const admin = new Admin({ clientId: 'brook-plt-admin2', ...base() });
    const t = topicName('plt-prod');
    await admin.createTopics({ topics: [t], partitions: 2, replicas: 1 });
    await admin.close();
    // No zstd: @platformatic/kafka compresses it with node:zlib's zstd, which Node 20 lacks.
    const codecs = [
      ['none', 0],
      ['gzip', 1],
      ['snappy', 2],
      ['lz4', 3],
    ] as const;
    const next = new Map<number, number>();
    const sent = new Map<string, { key: string; value: string; seq: string; codec: number }>();
    for (const [name, id] of codecs) {
      const producer = new Producer({
        clientId: `brook-plt-${name}`,
        serializers: stringSerializers,
        acks: -1,
        compression: name,
        ...base(),
      });
      try {
        const messages = Array.from({ length: 10 }, (_, i) => ({
          topic: t,
          partition: i % 2,
          key: `${name}-k${i % 3}`,
          value: `${name}-value-${i}-${'ü'.repeat(i)}`,
          headers: { seq: `${name}-${i}` },
        }));
        const res = await producer.send({ messages });
        assert.ok((res.offsets?.length ?? 0) > 0, `${name}: offsets reported`);
        for (const o of res.offsets!) {
          const want = next.get(o.partition) ?? 0;
          assert.equal(Number(o.offset), want, `${name}: partition ${o.partition} continues at ${want}`);
        }
        for (const m of messages) {
          const p = m.partition;
          const offset = next.get(p) ?? 0;
          next.set(p, offset + 1);
          sent.set(`${p}/${offset}`, { key: m.key, value: m.value, seq: m.headers.seq, codec: id });
        }
      } finally {
        await producer.close();
      }
    }
    for (const partition of [0, 1]) {
      const p = await fetchPartition(wire, { topic: t, partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 });
      const recs = recordsOf(p.records);
      assert.equal(recs.length, next.get(partition));
      for (const r of recs) {
        const s = sent.get(`${partition}/${r.offset}`)!;
        assert.deepEqual(
          [r.key!.toString(), r.value!.toString(), r.headers.map((h) => `${h.key}=${h.value}`).join()],
          [s.key, s.value, `seq=${s.seq}`],
        );
      }
      // Each producer's batch is stored with the codec it was sent with.
      assert.deepEqual(
        decodeRecordBatches(p.records!).map((x) => x.compression),
        codecs.map(([, id]) => id),
      );
    }
  });

  test('consumer group stream (Fetch v17 sessions, topic ids) reads everything in order (needs the group coordinator)', async () => {
    const admin = new Admin({ clientId: 'brook-plt-admin3', ...base() });
    const t = topicName('plt-cons');
    await admin.createTopics({ topics: [t], partitions: 3, replicas: 1 });
    await admin.close();
    const producer = new Producer({
      clientId: 'brook-plt-producer',
      serializers: stringSerializers,
      acks: -1,
      ...base(),
    });
    const positions = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      const res = await producer.send({
        messages: [{ topic: t, key: `key-${i % 5}`, value: `value-${i}`, headers: { n: String(i) } }],
      });
      const o = res.offsets![0]!;
      positions.set(`${o.partition}/${o.offset}`, `value-${i}`);
    }
    await producer.close();

    const consumer = new Consumer({
      clientId: 'brook-plt-consumer',
      groupId: topicName('plt-g'),
      deserializers: stringDeserializers,
      ...base(),
    });
    const got: { partition: number; offset: bigint; value: string; n: string }[] = [];
    const fetches = new PlatformaticFetches();
    try {
      const stream = await consumer.consume({
        topics: [t],
        mode: 'earliest',
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTime: 300,
      });
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (m) => {
          got.push({ partition: m.partition, offset: m.offset, value: m.value, n: String(m.headers.get('n')) });
          if (got.length >= 30) resolve();
        });
        stream.on('error', reject);
        setTimeout(() => reject(new Error(`only ${got.length} of 30 messages within 20 s`)), 20_000).unref();
      });
      await done;
      // Long polls with nothing new must not re-deliver anything (incremental fetch sessions):
      // wait for three more completed fetches rather than a guessed time.
      const mark = fetches.mark();
      await until(() => fetches.completedSince(consumer, mark) >= 3, 20_000, 'three more long polls');
      await closeStream(stream);
    } finally {
      fetches.close();
      await forceClose(consumer);
    }
    assert.equal(got.length, 30, 'each message exactly once');
    for (const p of [0, 1, 2]) {
      const offsets = got.filter((m) => m.partition === p).map((m) => m.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => (a < b ? -1 : 1)),
        `partition ${p} read in order`,
      );
    }
    for (const m of got)
      assert.equal(positions.get(`${m.partition}/${m.offset}`), m.value, `message at ${m.partition}/${m.offset}`);
    for (const m of got) assert.equal(m.n, m.value.slice('value-'.length));
  });
});

/** Closes a @platformatic/kafka messages stream through its callback form (typed unambiguously). */
function closeStream(stream: { close(cb: (err?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => stream.close((err) => (err ? reject(err) : resolve())));
}

/** Force-closes a @platformatic/kafka consumer; `close(true)` is typed void, so use its callback form. */
function forceClose(consumer: { close(force: boolean, cb: (err?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => consumer.close(true, (err) => (err ? reject(err) : resolve())));
}
