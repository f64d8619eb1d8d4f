// Topic configs that used to be accepted and then read nowhere: each now does what Kafka
// documents for a single broker, or is refused with INVALID_CONFIG and a message saying why.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  ErrorCode,
  Resource,
  WireClient,
  assertCode,
  batch,
  fetchPartition,
  incrementalAlter,
  produce,
  topicConfig,
  topicName,
} from './support.js';
import { logEndOffset, recordsSeen } from './cleaning-support.js';
import type { Partition } from '../../src/broker/replica/partition.js';

const { Kafka, logLevel } = kafkajs;

/** The Kafka error type names anywhere in a kafkajs error's chain (it wraps retried errors). */
function kafkajsErrorTypes(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err as { type?: string; originalError?: unknown; cause?: unknown } | undefined; e;) {
    if (e.type) out.push(e.type);
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return out;
}

describe('topic configs do what they say or are refused', () => {
  let b: BrokerHandle;
  let c: WireClient;
  let kafka: InstanceType<typeof Kafka>;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
    kafka = new Kafka({
      clientId: 'brook-topic-configs',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
  });
  after(async () => {
    c.close();
    await b.close();
  });

  async function create(name: string, configs: Record<string, string>) {
    const res = await c.request('CreateTopics', 7, {
      topics: [
        {
          name,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    return res.topics[0]!;
  }

  async function alter(resourceType: number, name: string, configs: Record<string, string>) {
    const res = await c.request('AlterConfigs', 2, {
      resources: [
        { resourceType, resourceName: name, configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) },
      ],
      validateOnly: false,
    });
    return res.responses[0]!;
  }

  test('min.insync.replicas above the ISR (one broker) refuses acks=all with NOT_ENOUGH_REPLICAS; acks=1 and 0 still write', async () => {
    const t = topicName('min-isr');
    assertCode((await create(t, { 'min.insync.replicas': '2' })).errorCode, ErrorCode.NONE, 'create');
    const refused = await produce(c, t, 0, batch(['x']), { acks: -1 });
    assertCode(refused.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS, 'acks=all');
    assert.match(refused.errorMessage ?? '', /min.isr requirement of 2/);
    assert.equal(await logEndOffset(c, t), 0, 'nothing appended');
    assertCode((await produce(c, t, 0, batch(['one']), { acks: 1 })).errorCode, ErrorCode.NONE, 'acks=1');

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await assert.rejects(
        producer.send({ topic: t, acks: -1, messages: [{ value: 'kjs-all' }] }),
        (err) => kafkajsErrorTypes(err).includes('NOT_ENOUGH_REPLICAS'),
        'kafkajs acks=-1 gets NOT_ENOUGH_REPLICAS',
      );
      await producer.send({ topic: t, acks: 1, messages: [{ value: 'kjs-one' }] });
      await producer.send({ topic: t, acks: 0, messages: [{ value: 'kjs-zero' }] });
      let leo = 0;
      for (let i = 0; i < 100 && leo < 3; i++) {
        leo = await logEndOffset(c, t);
        if (leo < 3) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(leo, 3, 'acks=1 and acks=0 writes are appended');

      // Lowering it through IncrementalAlterConfigs lets acks=all through again.
      const r = await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'min.insync.replicas', op: 'SET', value: '1' }]);
      assertCode(r.errorCode, ErrorCode.NONE, 'set min.insync.replicas=1');
      await producer.send({ topic: t, acks: -1, messages: [{ value: 'kjs-all-again' }] });
    } finally {
      await producer.disconnect();
    }
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.deepEqual(
      recordsSeen(p).map((r) => r.value),
      ['one', 'kjs-one', 'kjs-zero', 'kjs-all-again'],
    );
  });

  test('broker-level min.insync.replicas is the default of every topic', async () => {
    const b2 = await startBroker({ logLevel: 'silent', config: { 'min.insync.replicas': '2' } });
    const c2 = await WireClient.open(b2.bootstrap);
    try {
      const t = topicName('min-isr-broker');
      const res = await c2.request('CreateTopics', 7, {
        topics: [{ name: t, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      assertCode(res.topics[0]!.errorCode, ErrorCode.NONE, 'create');
      assertCode((await produce(c2, t, 0, batch(['x']))).errorCode, ErrorCode.NOT_ENOUGH_REPLICAS, 'acks=all');
      assertCode((await produce(c2, t, 0, batch(['x']), { acks: 1 })).errorCode, ErrorCode.NONE, 'acks=1');
    } finally {
      c2.close();
      await b2.close();
    }
  });

  test('message.downconversion.enable=false answers Fetch v0-v3 with UNSUPPORTED_VERSION; v4+ is served', async () => {
    const off = topicName('no-downconv');
    const on = topicName('downconv');
    assertCode((await create(off, { 'message.downconversion.enable': 'false' })).errorCode, ErrorCode.NONE);
    assertCode((await create(on, {})).errorCode, ErrorCode.NONE);
    for (const t of [off, on]) assertCode((await produce(c, t, 0, batch(['hello']))).errorCode, ErrorCode.NONE);
    for (const version of [0, 1, 2, 3]) {
      const p = await fetchPartition(c, { topic: off, partition: 0, fetchOffset: 0 }, { version });
      assertCode(p.errorCode, ErrorCode.UNSUPPORTED_VERSION, `Fetch v${version} of a topic without down-conversion`);
      assert.equal(p.records?.length ?? 0, 0);
      const converted = await fetchPartition(c, { topic: on, partition: 0, fetchOffset: 0 }, { version });
      assertCode(converted.errorCode, ErrorCode.NONE, `Fetch v${version} with down-conversion`);
      assert.ok((converted.records?.length ?? 0) > 0);
    }
    const p = await fetchPartition(c, { topic: off, partition: 0, fetchOffset: 0 }, { version: 4 });
    assertCode(p.errorCode, ErrorCode.NONE, 'Fetch v4 needs no conversion');
    assert.deepEqual(
      recordsSeen(p).map((r) => r.value),
      ['hello'],
    );
    // Switching it off later takes effect at once.
    const r = await incrementalAlter(c, Resource.TOPIC, on, [
      { name: 'message.downconversion.enable', op: 'SET', value: 'false' },
    ]);
    assertCode(r.errorCode, ErrorCode.NONE);
    const after = await fetchPartition(c, { topic: on, partition: 0, fetchOffset: 0 }, { version: 2 });
    assertCode(after.errorCode, ErrorCode.UNSUPPORTED_VERSION, 'after IncrementalAlterConfigs');
  });

  test('preallocate=true and remote.storage.enable=true are refused everywhere with INVALID_CONFIG and a reason', async () => {
    for (const [name, reason] of [
      ['preallocate', /does not preallocate/],
      ['remote.storage.enable', /tiered/],
    ] as const) {
      const t = topicName('refused');
      const created = await create(t, { [name]: 'true' });
      assertCode(created.errorCode, ErrorCode.INVALID_CONFIG, `CreateTopics ${name}=true`);
      assert.match(created.errorMessage ?? '', reason);
      assertCode((await create(t, { [name]: 'false' })).errorCode, ErrorCode.NONE, `CreateTopics ${name}=false`);
      const altered = await alter(Resource.TOPIC, t, { [name]: 'true' });
      assertCode(altered.errorCode, ErrorCode.INVALID_CONFIG, `AlterConfigs ${name}=true`);
      assert.match(altered.errorMessage ?? '', reason);
      const incremental = await incrementalAlter(c, Resource.TOPIC, t, [{ name, op: 'SET', value: 'true' }]);
      assertCode(incremental.errorCode, ErrorCode.INVALID_CONFIG, `IncrementalAlterConfigs ${name}=true`);
      assert.match(incremental.errorMessage ?? '', reason);
      assert.equal((await topicConfig(c, t, name)).value, 'false', 'the refused value was not stored');
    }
    const broker = await incrementalAlter(c, Resource.BROKER, String(b.broker.nodeId), [
      { name: 'log.preallocate', op: 'SET', value: 'true' },
    ]);
    assertCode(broker.errorCode, ErrorCode.INVALID_CONFIG, 'broker log.preallocate=true');
    assert.match(broker.errorMessage ?? '', /does not preallocate/);
    await assert.rejects(
      startBroker({ logLevel: 'silent', config: { 'log.preallocate': 'true' } }),
      /log.preallocate=true is not supported/,
      'a broker configured with log.preallocate=true does not start',
    );
  });

  test('message.timestamp.difference.max.ms bounds CreateTime both ways unless before/after.max.ms are set', async () => {
    const t = topicName('ts-diff');
    assertCode((await create(t, { 'message.timestamp.difference.max.ms': '60000' })).errorCode, ErrorCode.NONE);
    const at = async (topic: string, offsetMs: number) =>
      (await produce(c, topic, 0, batch([{ value: 'x', timestamp: Date.now() + offsetMs }]))).errorCode;
    assertCode(await at(t, -3_600_000), ErrorCode.INVALID_TIMESTAMP, 'an hour old');
    assertCode(await at(t, 3_600_000), ErrorCode.INVALID_TIMESTAMP, 'an hour ahead');
    assertCode(await at(t, 0), ErrorCode.NONE, 'now');
    // An explicit before.max.ms wins over the deprecated difference for its side only.
    const r = await incrementalAlter(c, Resource.TOPIC, t, [
      { name: 'message.timestamp.before.max.ms', op: 'SET', value: '7200000' },
    ]);
    assertCode(r.errorCode, ErrorCode.NONE);
    assertCode(await at(t, -3_600_000), ErrorCode.NONE, 'an hour old, within before.max.ms');
    assertCode(await at(t, 3_600_000), ErrorCode.INVALID_TIMESTAMP, 'an hour ahead, still bounded by the difference');
  });

  test('a segment.bytes too small for one record batch is INVALID_CONFIG, not a server error', async () => {
    const created = await create(topicName('tiny-segments'), { 'segment.bytes': '50' });
    assertCode(created.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(created.errorMessage ?? '', /segment.bytes: value 50 is below the minimum 75/);
    assertCode((await create(topicName('small-segments'), { 'segment.bytes': '75' })).errorCode, ErrorCode.NONE);
  });

  test('segment.jitter.ms reaches the partition logs (from the topic and from log.roll.jitter.ms)', async () => {
    const t = topicName('jitter');
    assertCode((await create(t, { 'segment.jitter.ms': '5000' })).errorCode, ErrorCode.NONE);
    // The replica layer's own object: the effective log config is not visible through the protocol.
    const log = () => (b.broker.topics.partition(t, 0) as Partition).log;
    assert.equal(log().config.segmentJitterMs, 5000);
    const r = await incrementalAlter(c, Resource.TOPIC, t, [{ name: 'segment.jitter.ms', op: 'SET', value: '7' }]);
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.equal(log().config.segmentJitterMs, 7);
    const b2 = await startBroker({ logLevel: 'silent', config: { 'log.roll.jitter.hours': '1' } });
    try {
      const c2 = await WireClient.open(b2.bootstrap);
      const t2 = topicName('jitter-broker');
      try {
        await c2.request('CreateTopics', 7, {
          topics: [{ name: t2, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
          timeoutMs: 5000,
          validateOnly: false,
        });
      } finally {
        c2.close();
      }
      assert.equal((b2.broker.topics.partition(t2, 0) as Partition).log.config.segmentJitterMs, 3_600_000);
    } finally {
      await b2.close();
    }
  });
});
