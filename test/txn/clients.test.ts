/**
 * Idempotence and transactions with real JavaScript clients: kafkajs 2.2.4 (InitProducerId v1,
 * AddPartitionsToTxn v1, TxnOffsetCommit v1) and @platformatic/kafka 1.35.0 (InitProducerId v5,
 * the batched AddPartitionsToTxn v5 form, EndTxn v4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import {
  Admin as PltAdmin,
  Consumer as PltConsumer,
  Producer as PltProducer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { WireClient } from '../helpers/wire-client.js';
import { produceValues } from '../broker/support.js';
import { READ_COMMITTED, READ_UNCOMMITTED, deliveredValues, eventually, fetchFrom, markersOf } from './helpers.js';

async function withBroker(fn: (b: BrokerHandle) => Promise<void>): Promise<void> {
  const b = await startBroker({
    logLevel: 'silent',
    config: {
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.num.partitions': '3',
      'transaction.state.log.num.partitions': '3',
    },
  });
  try {
    await eventually(() => !b.broker.groups.isLoading, 10_000, 'group coordinator loaded');
    await fn(b);
  } finally {
    await b.close();
  }
}

async function allValues(bootstrap: string, topic: string, partitions: number, isolation: number): Promise<string[]> {
  const c = await WireClient.open(bootstrap);
  try {
    const out: string[] = [];
    for (let p = 0; p < partitions; p++) out.push(...deliveredValues(await fetchFrom(c, topic, p, isolation)));
    return out;
  } finally {
    c.close();
  }
}

test('kafkajs: idempotent producer, then transactions with sendOffsets (commit and abort) read back by a read_committed consumer', async () => {
  await withBroker(async (b) => {
    const kafka = new Kafka({
      clientId: 'kjs-txn',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 50 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'kjs-in', numPartitions: 2 },
        { topic: 'kjs-out', numPartitions: 2 },
      ],
    });
    const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await idem.connect();
    for (let i = 0; i < 20; i++) {
      const r = await idem.send({
        topic: 'kjs-in',
        acks: -1,
        messages: Array.from({ length: 10 }, (_, j) => ({ key: `k${j}`, value: `in-${i * 10 + j}` })),
      });
      assert.equal(
        r.every((x) => x.errorCode === 0),
        true,
      );
    }
    await idem.disconnect();
    const input = await allValues(b.bootstrap, 'kjs-in', 2, READ_UNCOMMITTED);
    assert.equal(input.length, 200);
    assert.equal(new Set(input).size, 200);

    const producer = kafka.producer({ transactionalId: 'kjs-processor', maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    // Committed: outputs plus the input offsets, atomically.
    const t1 = await producer.transaction();
    await t1.send({
      topic: 'kjs-out',
      messages: [
        { key: 'a', value: 'charged-1' },
        { key: 'b', value: 'charged-2' },
      ],
    });
    await t1.sendOffsets({
      consumerGroupId: 'kjs-group',
      topics: [{ topic: 'kjs-in', partitions: [{ partition: 0, offset: '42' }] }],
    });
    await t1.commit();
    // Aborted: neither outputs nor offsets.
    const t2 = await producer.transaction();
    await t2.send({ topic: 'kjs-out', messages: [{ key: 'a', value: 'ghost' }] });
    await t2.sendOffsets({
      consumerGroupId: 'kjs-group',
      topics: [{ topic: 'kjs-in', partitions: [{ partition: 0, offset: '99' }] }],
    });
    await t2.abort();
    await producer.disconnect();
    const offsets = await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs-in'] });
    assert.equal(offsets[0]!.partitions.find((p) => p.partition === 0)!.offset, '42');
    await admin.disconnect();

    const consumer = kafka.consumer({ groupId: 'kjs-reader', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'kjs-out', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await eventually(() => seen.length >= 2, 15_000, 'kafkajs consumer got the committed results');
    // Sentinels after the aborted record: once they are in, anything that was to come is in.
    await sendSentinels(b.bootstrap, 'kjs-out', 2);
    await eventually(() => seen.filter(isSentinel).length === 2, 15_000, 'kafkajs consumer got the sentinels');
    await consumer.disconnect();
    assert.deepEqual(seen.filter((v) => !isSentinel(v)).sort(), ['charged-1', 'charged-2']);
    assert.deepEqual(
      (await allValues(b.bootstrap, 'kjs-out', 2, READ_UNCOMMITTED)).filter((v) => !isSentinel(v)).sort(),
      ['charged-1', 'charged-2', 'ghost'],
    );
  });
});

test('@platformatic/kafka: transactions over the batched AddPartitionsToTxn v5 form', async () => {
  await withBroker(async (b) => {
    const base = {
      bootstrapBrokers: [b.bootstrap],
      connectTimeout: 3000,
      requestTimeout: 10_000,
      retries: 3,
      retryDelay: 100,
    };
    const admin = new PltAdmin({ clientId: 'plt-txn-admin', ...base });
    await admin.createTopics({ topics: ['plt-out'], partitions: 2, replicas: 1 });
    await admin.close();
    const producer = new PltProducer({
      clientId: 'plt-txn',
      serializers: stringSerializers,
      idempotent: true,
      transactionalId: 'plt-processor',
      acks: -1,
      ...base,
    });
    const t1 = await producer.beginTransaction();
    await t1.send({
      messages: [
        { topic: 'plt-out', key: 'x', value: 'kept-1', partition: 0 },
        { topic: 'plt-out', key: 'y', value: 'kept-2', partition: 1 },
      ],
    });
    await t1.commit();
    const t2 = await producer.beginTransaction();
    await t2.send({ messages: [{ topic: 'plt-out', key: 'x', value: 'dropped', partition: 0 }] });
    await t2.abort();
    const t3 = await producer.beginTransaction();
    await t3.send({ messages: [{ topic: 'plt-out', key: 'x', value: 'kept-3', partition: 0 }] });
    await t3.commit();
    await producer.close();
    const c = await WireClient.open(b.bootstrap);
    try {
      const p0 = await fetchFrom(c, 'plt-out', 0, READ_COMMITTED);
      assert.deepEqual(deliveredValues(p0), ['kept-1', 'kept-3']);
      assert.deepEqual(
        markersOf(p0).map((m) => m[1]),
        ['COMMIT', 'ABORT', 'COMMIT'],
      );
      assert.deepEqual(deliveredValues(await fetchFrom(c, 'plt-out', 1, READ_COMMITTED)), ['kept-2']);
    } finally {
      c.close();
    }
    // And platformatic's own consumer (read_committed by default) agrees.
    const consumer = new PltConsumer({
      clientId: 'plt-txn-reader',
      groupId: 'plt-txn-reader',
      deserializers: stringDeserializers,
      ...base,
    });
    const stream = await consumer.consume({
      topics: ['plt-out'],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 200,
    });
    const got: string[] = [];
    stream.on('data', (m: { value: string }) => got.push(m.value));
    await eventually(() => got.length >= 3, 15_000, 'platformatic consumer got the committed values');
    await sendSentinels(b.bootstrap, 'plt-out', 2);
    await eventually(() => got.filter(isSentinel).length === 2, 15_000, 'platformatic consumer got the sentinels');
    await closeStream(stream);
    await forceClose(consumer);
    assert.deepEqual(got.filter((v) => !isSentinel(v)).sort(), ['kept-1', 'kept-2', 'kept-3']);
  });
});

const isSentinel = (v: string): boolean => v.startsWith('sentinel-');

/**
 * Appends a plain record to every partition after what a test produced. Partitions are read in
 * order, so a consumer that has the sentinels has everything before them: a check that nothing
 * else (an aborted record, a duplicate) arrived is then complete, with no guessed sleep.
 */
async function sendSentinels(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const c = await WireClient.open(bootstrap);
  try {
    for (let p = 0; p < partitions; p++) await produceValues(c, topic, p, [`sentinel-${p}`]);
  } finally {
    c.close();
  }
}

/** Closes a @platformatic/kafka messages stream through its callback form (typed unambiguously). */
function closeStream(stream: { close(cb: (err?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => stream.close((err) => (err ? reject(err) : resolve())));
}

/** Force-closes a @platformatic/kafka consumer; `close(true)` is typed void, so use its callback form. */
function forceClose(consumer: { close(force: boolean, cb: (err?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => consumer.close(true, (err) => (err ? reject(err) : resolve())));
}
