import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import { decodeRecordBatches, wholeBatchesLength } from '../../src/protocol/records/record-batch.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  createTopic,
  fetchPartition,
  fetchRequest,
  metadata,
  offsetsOf,
  produce,
  produceValues,
  recordsOf,
  parkedFetches,
  topicName,
  untilParked,
  valuesOf,
  within,
} from './support.js';

/**
 * A max_wait no test run reaches: a fetch answered within DEADLINE was answered by an event (a
 * produce, enough bytes, an error), not by max_wait running out. No test bounds how fast it was.
 */
const LONG_WAIT = 120_000;
const DEADLINE = 30_000;

/** Produces `n` single-record batches of about `size` bytes each; returns each batch's size. */
async function produceBatches(
  c: WireClient,
  topic: string,
  partition: number,
  n: number,
  size: number,
): Promise<number[]> {
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = batch([{ value: Buffer.alloc(size - 70, 97 + (i % 26)) }]);
    const r = await produce(c, topic, partition, b);
    assertCode(r.errorCode, ErrorCode.NONE);
    sizes.push(b.length);
  }
  return sizes;
}

describe('fetch', () => {
  let b: BrokerHandle;
  let c: WireClient;
  let producer: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
    producer = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    producer.close();
    await b.close();
  });

  test('a parked long poll (min_bytes 1) is answered by a produce, not by max_wait', async () => {
    const t = topicName('longpoll');
    await createTopic(c, t, 1);
    const pending = fetchPartition(
      c,
      { topic: t, partition: 0, fetchOffset: 0 },
      { maxWaitMs: LONG_WAIT, minBytes: 1 },
    );
    await untilParked(b);
    await produceValues(producer, t, 0, ['wake-up']);
    const p = await within(pending, DEADLINE, 'the long poll, woken by the produce');
    assert.deepEqual(valuesOf(p.records), ['wake-up']);
  });

  test('a long poll with nothing arriving returns empty once max_wait has passed, not before', async () => {
    const t = topicName('timeout');
    await createTopic(c, t, 1);
    const started = Date.now();
    const p = await within(
      fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { maxWaitMs: 600, minBytes: 1 }),
      DEADLINE,
      'the long poll to time out',
    );
    const took = Date.now() - started;
    // Only a lower bound: a busy machine may answer late, never early (timers may round by a ms).
    assert.ok(took >= 590, `answered after ${took} ms, before max_wait 600`);
    assertCode(p.errorCode, ErrorCode.NONE);
    assert.equal(p.records?.length ?? 0, 0);
    assert.equal(p.highWatermark, 0);
  });

  test('min_bytes larger than one batch waits until enough data arrived', async () => {
    const t = topicName('minbytes');
    await createTopic(c, t, 1);
    const one = batch([{ value: Buffer.alloc(300, 1) }]).length;
    const pending = fetchPartition(
      c,
      { topic: t, partition: 0, fetchOffset: 0 },
      { maxWaitMs: LONG_WAIT, minBytes: Math.floor(one * 2.5) },
    );
    await untilParked(b);
    // An append wakes the purgatory's check before the produce is acknowledged, so once the
    // produce's answer is in, a fetch still parked is one that decided to keep waiting.
    await produceValues(producer, t, 0, [{ value: Buffer.alloc(300, 1) }]);
    assert.equal(parkedFetches(b), 1, 'one batch is not min_bytes: the fetch still waits');
    await produceValues(producer, t, 0, [{ value: Buffer.alloc(300, 2) }]);
    assert.equal(parkedFetches(b), 1, 'two batches are not min_bytes: the fetch still waits');
    await produceValues(producer, t, 0, [{ value: Buffer.alloc(300, 3) }]);
    const p = await within(pending, DEADLINE, 'the min_bytes fetch, answered once min_bytes was reached');
    assert.deepEqual(offsetsOf(p.records), [0, 1, 2]);
  });

  test('a fetch that already has min_bytes does not wait for max_wait', async () => {
    const t = topicName('nowait');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['ready']);
    const p = await within(
      fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { maxWaitMs: LONG_WAIT, minBytes: 1 }),
      DEADLINE,
      'a fetch that has its min_bytes at once',
    );
    assert.deepEqual(valuesOf(p.records), ['ready']);
  });

  test('max_wait elapsing returns what there is even below min_bytes', async () => {
    const t = topicName('partial');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['small']);
    const p = await fetchPartition(
      c,
      { topic: t, partition: 0, fetchOffset: 0 },
      { maxWaitMs: 300, minBytes: 1_000_000 },
    );
    assert.deepEqual(valuesOf(p.records), ['small']);
  });

  test('a long poll over two partitions wakes on a produce to either', async () => {
    const t = topicName('two');
    await createTopic(c, t, 2);
    const pending = c.request(
      'Fetch',
      12,
      fetchRequest(
        [
          { topic: t, partition: 0, fetchOffset: 0 },
          { topic: t, partition: 1, fetchOffset: 0 },
        ],
        { maxWaitMs: LONG_WAIT },
      ),
    );
    await untilParked(b);
    await produceValues(producer, t, 1, ['p1']);
    const res = await within(pending, DEADLINE, 'the two-partition long poll, woken by the produce');
    const parts = res.responses[0]!.partitions;
    assert.deepEqual(valuesOf(parts.find((p) => p.partitionIndex === 1)!.records), ['p1']);
  });

  test('partition_max_bytes is respected on whole batches, but at least one batch is returned', async () => {
    const t = topicName('pmax');
    await createTopic(c, t, 1);
    const sizes = await produceBatches(c, t, 0, 5, 1000);
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0, partitionMaxBytes: 2500 });
    assert.ok(p.records!.length <= 2500, `${p.records!.length} bytes for partition_max_bytes 2500`);
    assert.deepEqual(offsetsOf(p.records), [0, 1], 'the two whole batches that fit');
    // A limit below the first batch still returns that batch (KIP-74), so consumers progress.
    const tiny = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 2, partitionMaxBytes: 100 });
    assert.equal(wholeBatchesLength(tiny.records!), sizes[2]);
    assert.deepEqual(offsetsOf(tiny.records), [2]);
  });

  test('max_bytes bounds the whole response across partitions', async () => {
    const t = topicName('max');
    await createTopic(c, t, 2);
    await produceBatches(c, t, 0, 3, 1000);
    await produceBatches(c, t, 1, 3, 1000);
    const res = await c.request(
      'Fetch',
      12,
      fetchRequest(
        [
          { topic: t, partition: 0, fetchOffset: 0 },
          { topic: t, partition: 1, fetchOffset: 0 },
        ],
        { maxBytes: 1500 },
      ),
    );
    const parts = res.responses[0]!.partitions;
    const total = parts.reduce((n, p) => n + (p.records?.length ?? 0), 0);
    assert.ok(total <= 1500, `${total} bytes for max_bytes 1500`);
    assert.deepEqual(offsetsOf(parts.find((p) => p.partitionIndex === 0)!.records), [0]);
    assert.deepEqual(offsetsOf(parts.find((p) => p.partitionIndex === 1)?.records ?? null), []);
    // The first partition gets its first batch even when max_bytes is smaller.
    const res2 = await c.request(
      'Fetch',
      12,
      fetchRequest([{ topic: t, partition: 1, fetchOffset: 0 }], { maxBytes: 10 }),
    );
    assert.deepEqual(offsetsOf(res2.responses[0]!.partitions[0]!.records), [0]);
  });

  test('a fetch offset inside a batch returns that batch, which holds the offset', async () => {
    const t = topicName('inside');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a', 'b', 'c', 'd']);
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 2 });
    const offs = offsetsOf(p.records);
    assert.ok(offs.includes(2) && offs.includes(3), `offsets ${offs.join(',')} include 2 and 3`);
  });

  test('OFFSET_OUT_OF_RANGE beyond the log end and below the log start; the log end itself is fine', async () => {
    const t = topicName('oor');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['a', 'b', 'c']);
    await produceValues(c, t, 0, ['d', 'e']);
    const atEnd = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 5 });
    assertCode(atEnd.errorCode, ErrorCode.NONE);
    assert.equal(atEnd.highWatermark, 5);
    const beyond = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 6 });
    assertCode(beyond.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(beyond.highWatermark, 5, 'the error still reports the high watermark');
    assertCode(
      (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: -1 })).errorCode,
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    const dr = await c.request('DeleteRecords', 2, {
      topics: [{ name: t, partitions: [{ partitionIndex: 0, offset: 3 }] }],
      timeoutMs: 5000,
    });
    assertCode(dr.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const below = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 2 });
    assertCode(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(below.logStartOffset, 3);
    const from = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 3 });
    assertCode(from.errorCode, ErrorCode.NONE);
    assert.equal(from.logStartOffset, 3);
    assert.deepEqual(
      recordsOf(from.records)
        .filter((r) => r.offset >= 3)
        .map((r) => r.value!.toString()),
      ['d', 'e'],
    );
    // A long poll at an out-of-range offset answers at once instead of waiting for max_wait.
    const oor = await within(
      fetchPartition(c, { topic: t, partition: 0, fetchOffset: 99 }, { maxWaitMs: LONG_WAIT }),
      DEADLINE,
      'a long poll at an out-of-range offset',
    );
    assertCode(oor.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  test('an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const t = topicName('fk');
    await createTopic(c, t, 1);
    assertCode(
      (await fetchPartition(c, { topic: topicName('nope'), partition: 0, fetchOffset: 0 })).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    assertCode(
      (await fetchPartition(c, { topic: t, partition: 4, fetchOffset: 0 })).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  });

  test('Fetch v13+ names topics by id; an unknown id is UNKNOWN_TOPIC_ID', async () => {
    const t = topicName('byid');
    const id = await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['by-id']);
    const md = await metadata(c, [t]);
    assert.equal(md.topics[0]!.topicId, id, 'Metadata reports the id CreateTopics returned');
    for (const v of [13, 15, 17]) {
      const res = await c.request('Fetch', v, fetchRequest([{ topicId: id, partition: 0, fetchOffset: 0 }]));
      assert.equal(res.responses[0]!.topicId, id);
      assert.deepEqual(valuesOf(res.responses[0]!.partitions[0]!.records), ['by-id'], `Fetch v${v}`);
    }
    const unknown = '0f0f0f0f-1111-4222-8333-444444444444';
    const res = await c.request('Fetch', 13, fetchRequest([{ topicId: unknown, partition: 0, fetchOffset: 0 }]));
    assert.equal(res.responses[0]!.topicId, unknown);
    assertCode(res.responses[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });

  test('read_committed without transactions returns everything up to LSO = high watermark', async () => {
    const t = topicName('rc');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['c1', 'c2']);
    await produceValues(c, t, 0, ['c3']);
    for (const v of [4, 11, 12]) {
      const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { isolationLevel: 1, version: v });
      assert.equal(p.highWatermark, 3);
      assert.equal(p.lastStableOffset, 3, `Fetch v${v}: LSO = HW`);
      assert.deepEqual(valuesOf(p.records), ['c1', 'c2', 'c3']);
      assert.deepEqual(p.abortedTransactions ?? [], []);
    }
  });

  test('a current leader epoch newer than the leader is UNKNOWN_LEADER_EPOCH (KIP-320)', async () => {
    const t = topicName('epoch');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['e']);
    const ok = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0, currentLeaderEpoch: 0 });
    assert.deepEqual(valuesOf(ok.records), ['e']);
    assertCode(
      (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0, currentLeaderEpoch: 3 })).errorCode,
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
  });

  test('stored batches carry the partition leader epoch and absolute offsets', async () => {
    const t = topicName('stamped');
    await createTopic(c, t, 1);
    await produceValues(c, t, 0, ['x', 'y']);
    await produceValues(c, t, 0, ['z']);
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    const batches = decodeRecordBatches(p.records!);
    assert.deepEqual(
      batches.map((x) => [x.baseOffset, x.lastOffset, x.partitionLeaderEpoch]),
      [
        [0, 1, 0],
        [2, 2, 0],
      ],
    );
  });
});
