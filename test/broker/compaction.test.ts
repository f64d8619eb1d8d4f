// The broker's background log cleaner, observed the way a consumer observes it: records are
// produced through the protocol (kafkajs, or the wire client where a test needs exact batches),
// the broker cleans on its own, and what a fetch returns is checked.

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
  createTopic,
  eventually,
  fetchPartition,
  incrementalAlter,
  produce,
  topicName,
} from './support.js';
import {
  FAST_CLEANING,
  SMALL_SEGMENTS,
  type Seen,
  committedSeen,
  consume,
  fetchAll,
  latestPerKey,
  logEndOffset,
  logStartOffset,
  markersSeen,
  recordsSeen,
  show,
} from './cleaning-support.js';

const { Kafka, logLevel } = kafkajs;
const DEADLINE = 30_000;
const READ_COMMITTED = 1;

describe('log compaction by the broker', () => {
  let b: BrokerHandle;
  let c: WireClient;
  let kafka: InstanceType<typeof Kafka>;

  before(async () => {
    b = await startBroker({
      logLevel: 'silent',
      config: {
        ...FAST_CLEANING,
        'group.initial.rebalance.delay.ms': '0',
        'offsets.topic.num.partitions': '1',
        'transaction.state.log.num.partitions': '1',
      },
    });
    c = await WireClient.open(b.bootstrap);
    kafka = new Kafka({
      clientId: 'brook-compaction',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100 },
    });
  });
  after(async () => {
    c.close();
    await b.close();
  });

  /** Produces one keyed record per Produce request (one batch, so one segment each); returns what was written. */
  async function produceKeyed(topic: string, pairs: Array<[string, string | null]>, timestamp?: number) {
    const out: Seen[] = [];
    for (const [key, value] of pairs) {
      const r = await produce(c, topic, 0, batch([{ key, value, timestamp }]));
      assertCode(r.errorCode, ErrorCode.NONE, `produce ${key} to ${topic}`);
      out.push({ offset: r.baseOffset, key, value });
    }
    return out;
  }

  async function waitForView(topic: string, want: (seen: Seen[]) => boolean, what: string): Promise<Seen[]> {
    let seen: Seen[] = [];
    try {
      await eventually(
        async () => {
          seen = await consume(c, topic);
          return want(seen);
        },
        DEADLINE,
        what,
      );
    } catch (err) {
      assert.fail(`${(err as Error).message}; last seen: ${show(seen)}`);
    }
    return seen;
  }

  test('kafkajs writes to a compacted topic; the broker cleans it to the latest value per key, offsets kept', async () => {
    const t = topicName('compact-kjs');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact', ...SMALL_SEGMENTS });
    const producer = kafka.producer();
    await producer.connect();
    const written: Seen[] = [];
    try {
      for (let version = 1; version <= 4; version++) {
        for (const key of ['alice', 'bob', 'carol']) {
          const [md] = await producer.send({ topic: t, messages: [{ key, value: `${key}-v${version}` }] });
          written.push({ offset: Number(md!.baseOffset), key, value: `${key}-v${version}` });
        }
      }
      // The newest batch stays in the active segment, which is never cleaned: end with another key.
      const [md] = await producer.send({ topic: t, messages: [{ key: 'end', value: 'end' }] });
      written.push({ offset: Number(md!.baseOffset), key: 'end', value: 'end' });
    } finally {
      await producer.disconnect();
    }
    const leo = await logEndOffset(c, t);
    const expected = latestPerKey(written);
    const seen = await waitForView(t, (s) => s.length === expected.length, 'compacted to one record per key');
    assert.deepEqual(seen, expected, 'latest value of each key, at the offset it was written at');
    assert.equal(await logEndOffset(c, t), leo, 'cleaning never moves the log end offset');
    assert.equal(await logStartOffset(c, t), 0, 'cleaning never moves the log start offset');
    // A fetch at an offset that was cleaned away starts at the next surviving record.
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assertCode(p.errorCode, ErrorCode.NONE, 'fetch at a removed offset');
    assert.deepEqual(recordsSeen(p)[0], expected[0], 'offsets have gaps, never renumbered');
  });

  test('a tombstone stays for delete.retention.ms after cleaning, then goes', async () => {
    const t = topicName('compact-tomb');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': '5000', ...SMALL_SEGMENTS });
    await produceKeyed(t, [
      ['k1', 'v1'],
      ['k2', 'v2'],
      ['k1', null],
      ['s', 'sentinel'],
    ]);
    const cleaned = await waitForView(t, (s) => !s.some((r) => r.value === 'v1'), 'k1=v1 compacted away');
    assert.deepEqual(
      cleaned.map((r) => [r.offset, r.key, r.value]),
      [
        [1, 'k2', 'v2'],
        [2, 'k1', null],
        [3, 's', 'sentinel'],
      ],
      'the tombstone is kept by the first cleaning',
    );
    // Keep the topic live (more dirty data each pass) until the tombstone's horizon has passed.
    let tick = 0;
    let seen: Seen[] = [];
    await eventually(
      async () => {
        await produceKeyed(t, [['tick', `t${++tick}`]]);
        seen = await consume(c, t);
        return !seen.some((r) => r.key === 'k1');
      },
      DEADLINE,
      'tombstone removed after delete.retention.ms',
    );
    assert.deepEqual(
      seen.filter((r) => r.key !== 'tick').map((r) => [r.offset, r.key, r.value]),
      [
        [1, 'k2', 'v2'],
        [3, 's', 'sentinel'],
      ],
    );
  });

  test('on an idle topic a tombstone also goes once delete.retention.ms has passed', async () => {
    const t = topicName('compact-tomb-idle');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': '2000', ...SMALL_SEGMENTS });
    await produceKeyed(t, [
      ['k1', 'v1'],
      ['k1', null],
      ['s', 'sentinel'],
    ]);
    await waitForView(t, (s) => s.length === 2 && s[0]!.value === null, 'k1=v1 compacted away, tombstone kept');
    // No more writes: the horizon alone must bring the cleaner back.
    const seen = await waitForView(t, (s) => !s.some((r) => r.key === 'k1'), 'tombstone removed on an idle log');
    assert.deepEqual(
      seen.map((r) => [r.offset, r.key, r.value]),
      [[2, 's', 'sentinel']],
    );
  });

  test('transactions: aborted data is never resurrected or allowed to erase committed data; open transactions are not cleaned', async () => {
    const t = topicName('compact-txn');
    await createTopic(c, t, 1, { 'cleanup.policy': 'compact', ...SMALL_SEGMENTS });
    const control = topicName('compact-txn-control');
    await createTopic(c, control, 1, { 'cleanup.policy': 'compact', ...SMALL_SEGMENTS });
    const txp = kafka.producer({
      transactionalId: topicName('compact-txn-id'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const plain = kafka.producer();
    await Promise.all([txp.connect(), plain.connect()]);
    try {
      const t1 = await txp.transaction();
      await t1.send({ topic: t, messages: [{ key: 'k1', value: 'c1' }] });
      await t1.send({ topic: t, messages: [{ key: 'k2', value: 'c2' }] });
      await t1.commit();
      // Aborted: a newer value of k1 and a key of its own; neither may survive or win.
      const t2 = await txp.transaction();
      await t2.send({ topic: t, messages: [{ key: 'k1', value: 'aborted-1' }] });
      await t2.send({ topic: t, messages: [{ key: 'k3', value: 'aborted-3' }] });
      await t2.abort();
      await plain.send({ topic: t, messages: [{ key: 'k4', value: 'p4' }] });
      const t3 = await txp.transaction();
      await t3.send({ topic: t, messages: [{ key: 'k2', value: 'c2-new' }] });
      await t3.commit();
      // Open while the cleaner runs: its k4 must not erase the committed p4 (it is aborted below).
      const t4 = await txp.transaction();
      await t4.send({ topic: t, messages: [{ key: 'k4', value: 'open-4' }] });
      await plain.send({ topic: t, messages: [{ key: 's1', value: 'sentinel-1' }] });
      await waitForView(t, (s) => !s.some((r) => r.value === 'c2'), 'the stable part is cleaned (k2=c2 gone)');
      // One more full pass over the logs while the transaction is still open (the control topic,
      // created after this one, is cleaned after it in every pass).
      await produceKeyed(control, [
        ['x', 'x1'],
        ['x', 'x2'],
        ['pad', 'pad'],
      ]);
      await waitForView(control, (s) => s.length === 2, 'control topic cleaned while the transaction is open');
      await plain.send({ topic: t, messages: [{ key: 's1', value: 'sentinel-1b' }] });
      await plain.send({ topic: t, messages: [{ key: 'pad', value: 'pad' }] });
      await t4.abort();
      await plain.send({ topic: t, messages: [{ key: 's2', value: 'sentinel-2' }] });
      await plain.send({ topic: t, messages: [{ key: 's3', value: 'sentinel-3' }] });
    } finally {
      await Promise.all([txp.disconnect(), plain.disconnect()]);
    }
    const expected = [
      ['k1', 'c1'],
      ['k4', 'p4'],
      ['k2', 'c2-new'],
      ['s1', 'sentinel-1b'],
      ['pad', 'pad'],
      ['s2', 'sentinel-2'],
      ['s3', 'sentinel-3'],
    ];
    const pairs = (s: Seen[]): string[][] => s.map((r) => [r.key!, r.value!]);
    // Everything but the newest batch is now cleanable: aborted records go, markers stay in place.
    const seen = await waitForView(
      t,
      (s) => !s.some((r) => r.value === 'open-4' || r.value === 'sentinel-1'),
      'aborted data cleaned away',
    );
    assert.deepEqual(pairs(seen), expected, `read_uncommitted view: ${show(seen)}`);
    const committed = await fetchAll(c, t, READ_COMMITTED);
    assert.deepEqual(pairs(committedSeen(committed)), expected, 'read_committed view');
    assert.equal(committed.lastStableOffset, committed.highWatermark);
    // Four transactions wrote four markers; cleaning never renumbers them.
    const markers = markersSeen(committed);
    assert.deepEqual(
      markers.map((m) => m.split(':')[1]),
      ['COMMIT', 'ABORT', 'COMMIT', 'ABORT'],
    );
    const offsets = [...seen.map((r) => r.offset), ...markers.map((m) => Number(m.split(':')[0]))];
    assert.equal(new Set(offsets).size, offsets.length, 'no two records or markers share an offset');
  });

  test('min.compaction.lag.ms keeps recent records uncompacted until the lag is lowered', async () => {
    const lagged = topicName('compact-lag');
    const control = topicName('compact-nolag');
    await createTopic(c, lagged, 1, {
      'cleanup.policy': 'compact',
      'min.compaction.lag.ms': '3600000',
      ...SMALL_SEGMENTS,
    });
    await createTopic(c, control, 1, { 'cleanup.policy': 'compact', ...SMALL_SEGMENTS });
    const data: Array<[string, string]> = [
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
      ['a', 'a3'],
      ['end', 'end'],
    ];
    const written = await produceKeyed(lagged, data);
    await produceKeyed(control, data);
    // The control topic proves the cleaner ran; two of its passes also went over the lagged topic.
    await waitForView(control, (s) => s.length === 3, 'control topic compacted');
    await produceKeyed(control, [
      ['b', 'b2'],
      ['end2', 'end2'],
    ]);
    await waitForView(control, (s) => !s.some((r) => r.value === 'b1'), 'control topic compacted again');
    assert.deepEqual(await consume(c, lagged), written, 'records younger than min.compaction.lag.ms are all kept');

    const r = await incrementalAlter(c, Resource.TOPIC, lagged, [
      { name: 'min.compaction.lag.ms', op: 'SET', value: '0' },
    ]);
    assertCode(r.errorCode, ErrorCode.NONE, 'lower min.compaction.lag.ms');
    const seen = await waitForView(lagged, (s) => s.length === 3, 'compacted once the lag is lowered');
    assert.deepEqual(seen, latestPerKey(written));
  });

  test('compact,delete: old segments are deleted by retention.ms and the rest is compacted', async () => {
    const t = topicName('compact-delete');
    await createTopic(c, t, 1, {
      'cleanup.policy': 'compact,delete',
      'retention.ms': '600000',
      ...SMALL_SEGMENTS,
    });
    const old = Date.now() - 3_600_000;
    await produceKeyed(
      t,
      [
        ['old-1', 'o1'],
        ['old-2', 'o2'],
      ],
      old,
    );
    const fresh = await produceKeyed(t, [
      ['k', 'v1'],
      ['k', 'v2'],
      ['end', 'end'],
    ]);
    const seen = await waitForView(t, (s) => s.length === 2, 'retention and compaction both applied');
    assert.deepEqual(seen, [fresh[1], fresh[2]]);
    assert.equal(await logStartOffset(c, t), 2, 'the log start offset moved past the expired segments');
    const below = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assertCode(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, 'fetch below the log start offset');
  });
});
