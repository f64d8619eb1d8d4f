import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { compressionCodec } from '../../src/protocol/records/batch-header.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import { WireClient } from '../helpers/wire-client.js';
import { fetchPartition, listOffset, recordsOf, topicName, valuesOf } from '../broker/support.js';

const { Kafka, CompressionTypes, logLevel, ConfigResourceTypes } = kafkajs;

/** kafkajs 2.2.4 against an embedded broker. */
describe('kafkajs 2.2.4', () => {
  let b: BrokerHandle;
  let kafka: InstanceType<typeof Kafka>;
  let wire: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent', config: { 'group.initial.rebalance.delay.ms': '0' } });
    kafka = new Kafka({
      clientId: 'brook-interop',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100 },
    });
    wire = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    wire.close();
    await b.close();
  });

  test('admin: create, list, metadata, offsets, configs, partitions, delete records and topics', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const t = topicName('kjs-admin');
      assert.equal(
        await admin.createTopics({
          topics: [{ topic: t, numPartitions: 3, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
        true,
      );
      assert.equal(
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 3, replicationFactor: 1 }] }),
        false,
        'an existing topic',
      );
      assert.ok((await admin.listTopics()).includes(t));

      const md = await admin.fetchTopicMetadata({ topics: [t] });
      const parts = md.topics[0]!.partitions.slice().sort((x, y) => x.partitionId - y.partitionId);
      assert.deepEqual(
        parts.map((p) => [p.partitionId, p.partitionErrorCode, p.leader, p.replicas, p.isr]),
        [0, 1, 2].map((i) => [i, 0, b.broker.nodeId, [b.broker.nodeId], [b.broker.nodeId]]),
      );
      assert.deepEqual((await admin.fetchTopicOffsets(t)).map((o) => [o.partition, o.low, o.high]).sort(), [
        [0, '0', '0'],
        [1, '0', '0'],
        [2, '0', '0'],
      ]);

      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: t, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
        ],
      });
      const cfg = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ['retention.ms', 'cleanup.policy'] }],
      });
      const entries = new Map(cfg.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
      assert.equal(entries.get('retention.ms'), '3600000');
      assert.equal(entries.get('cleanup.policy'), 'delete');

      await admin.createPartitions({ topicPartitions: [{ topic: t, count: 5 }] });
      assert.equal((await admin.fetchTopicMetadata({ topics: [t] })).topics[0]!.partitions.length, 5);

      const producer = kafka.producer();
      await producer.connect();
      const before = Date.now();
      await producer.send({
        topic: t,
        messages: Array.from({ length: 6 }, (_, i) => ({ partition: 0, value: `v${i}` })),
      });
      await producer.disconnect();
      const byTime = await admin.fetchTopicOffsetsByTimestamp(t, before - 1000);
      assert.equal(byTime.find((o) => o.partition === 0)!.offset, '0');
      await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '4' }] });
      const after = (await admin.fetchTopicOffsets(t)).find((o) => o.partition === 0)!;
      assert.deepEqual([after.low, after.high], ['4', '6']);

      await admin.deleteTopics({ topics: [t] });
      assert.ok(!(await admin.listTopics()).includes(t));
    } finally {
      await admin.disconnect();
    }
  });

  test('producer sendBatch with keys, headers and gzip: offsets reported, bytes stored exactly', async () => {
    const t = topicName('kjs-prod');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: t, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    try {
      const messages = Array.from({ length: 60 }, (_, i) => ({
        key: `key-${i % 10}`,
        value: i === 7 ? Buffer.from([0, 255, 1, 254]) : `value-${i}-${'z'.repeat(i)}`,
        headers: { seq: String(i), 'trace-id': `t${i % 3}` },
      }));
      const res = await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.GZIP,
        topicMessages: [{ topic: t, messages }],
      });
      for (const r of res) {
        assert.equal(r.errorCode, 0);
        assert.equal(r.baseOffset, '0', `partition ${r.partition} starts at 0`);
      }
      // Read every partition back through the raw protocol and match it to what was sent.
      const got = new Map<string, { partition: number; offset: number; value: string; headers: string }>();
      for (let partition = 0; partition < 3; partition++) {
        const p = await fetchPartition(wire, { topic: t, partition, fetchOffset: 0 });
        if (p.records && p.records.length > 0) {
          for (const batchOf of decodeRecordBatches(p.records))
            assert.equal(batchOf.compression, 1, 'kafkajs gzip batches are stored as sent');
          assert.equal(compressionCodec(p.records, 0), 1);
        }
        for (const r of recordsOf(p.records)) {
          const seq = r.headers.find((h) => h.key === 'seq')!.value!.toString();
          got.set(seq, {
            partition,
            offset: r.offset,
            value: r.value!.toString('hex'),
            headers: r.headers.map((h) => `${h.key}=${h.value}`).join(','),
          });
          assert.equal(r.key!.toString(), `key-${Number(seq) % 10}`);
        }
      }
      assert.equal(got.size, 60);
      const partitionOfKey = new Map<string, number>();
      for (const [i, m] of messages.entries()) {
        const g = got.get(String(i))!;
        assert.equal(g.value, Buffer.from(m.value).toString('hex'), `message ${i} value`);
        assert.equal(g.headers, `seq=${i},trace-id=t${i % 3}`);
        const k = m.key;
        if (partitionOfKey.has(k)) assert.equal(g.partition, partitionOfKey.get(k), `${k} stays in one partition`);
        partitionOfKey.set(k, g.partition);
      }
    } finally {
      await producer.disconnect();
    }
  });

  test('acks=0 sends are stored although no answer comes back', async () => {
    const t = topicName('kjs-acks0');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: t, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < 5; i++) await producer.send({ topic: t, acks: 0, messages: [{ value: `fire-${i}` }] });
      // kafkajs numbers requests it never waits for; a request that needs an answer must still get its own.
      await producer.send({ topic: t, acks: -1, messages: [{ value: 'confirmed' }] });
      assert.deepEqual(valuesOf((await fetchPartition(wire, { topic: t, partition: 0, fetchOffset: 0 })).records), [
        'fire-0',
        'fire-1',
        'fire-2',
        'fire-3',
        'fire-4',
        'confirmed',
      ]);
    } finally {
      await producer.disconnect();
    }
  });

  test('consumer group reads every message with keys and headers (needs the group coordinator)', async () => {
    const t = topicName('kjs-group');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: t, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: t,
      messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 4}`, value: `m${i}`, headers: { n: String(i) } })),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({
      groupId: topicName('kjs-g'),
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: t, fromBeginning: true });
      const seen: { partition: number; offset: string; key: string; value: string; n: string }[] = [];
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push({
            partition,
            offset: message.offset,
            key: message.key!.toString(),
            value: message.value!.toString(),
            n: message.headers!.n!.toString(),
          });
          if (seen.length === 30) done();
        },
      });
      await Promise.race([
        all,
        new Promise((_, rej) =>
          setTimeout(() => rej(new Error(`only ${seen.length} of 30 messages within 20 s`)), 20_000).unref(),
        ),
      ]);
      assert.deepEqual(seen.map((s) => s.value).sort(), Array.from({ length: 30 }, (_, i) => `m${i}`).sort());
      for (const s of seen) assert.equal(s.n, s.value.slice(1), 'header travels with its message');
      for (const partition of [0, 1]) {
        const offs = seen.filter((s) => s.partition === partition).map((s) => Number(s.offset));
        assert.deepEqual(
          offs,
          offs.map((_, i) => i),
          `partition ${partition} in order from 0`,
        );
      }
    } finally {
      await consumer.disconnect();
    }
    assert.equal((await listOffset(wire, t, 0, -1)).offset + (await listOffset(wire, t, 1, -1)).offset, 30);
  });
});
