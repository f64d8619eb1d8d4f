import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../../src/broker/start.js';
import {
  CRC_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  attributes,
  compressionCodec,
  maxTimestamp,
  setBaseOffset,
} from '../../src/protocol/records/batch-header.js';
import { decodeMessageSet, encodeMessageSet } from '../../src/protocol/records/legacy.js';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.js';
import {
  ErrorCode,
  WireClient,
  assertCode,
  batch,
  closedWithin,
  createTopic,
  fetchPartition,
  listOffset,
  produce,
  produceRequest,
  produceValues,
  recordsOf,
  topicName,
  valuesOf,
  within,
} from './support.js';

describe('produce', () => {
  let b: BrokerHandle;
  let c: WireClient;

  before(async () => {
    b = await startBroker({ logLevel: 'silent' });
    c = await WireClient.open(b.bootstrap);
  });
  after(async () => {
    c.close();
    await b.close();
  });

  test('acks=1 and acks=-1 assign consecutive offsets from 0 and the records read back exactly', async () => {
    const t = topicName('offsets');
    await createTopic(c, t, 1);
    const sizes = [1, 3, 2, 5];
    const expected: { key: string; value: string; headers: string }[] = [];
    let next = 0;
    for (const [i, n] of sizes.entries()) {
      const specs = Array.from({ length: n }, (_, j) => ({
        key: `k${i}-${j}`,
        value: `v${i}-${j}`,
        headers: [{ key: 'h', value: `${i}.${j}` }],
      }));
      const r = await produce(c, t, 0, batch(specs), { acks: i % 2 === 0 ? 1 : -1, version: 9 });
      assertCode(r.errorCode, ErrorCode.NONE);
      assert.equal(r.baseOffset, next, `batch ${i} gets base offset ${next}`);
      assert.equal(r.logAppendTimeMs, -1, 'CreateTime topics answer log_append_time -1');
      assert.equal(r.logStartOffset, 0);
      next += n;
      for (const s of specs) expected.push({ key: s.key, value: s.value, headers: s.headers[0]!.value });
    }
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.equal(p.highWatermark, next);
    const got = recordsOf(p.records);
    assert.deepEqual(
      got.map((r) => r.offset),
      Array.from({ length: next }, (_, i) => i),
    );
    assert.deepEqual(
      got.map((r) => ({
        key: r.key!.toString(),
        value: r.value!.toString(),
        headers: r.headers[0]!.value!.toString(),
      })),
      expected,
    );
  });

  test('acks=0 gets no response at all, and the next pipelined request is still answered', async () => {
    const t = topicName('acks0');
    await createTopic(c, t, 1);
    const answer = c.nextFrame();
    c.sendRaw(
      Buffer.concat([
        c.encode('Produce', 9, produceRequest(t, 0, batch(['fire-and-forget']), { acks: 0 }), 500),
        c.encode('ApiVersions', 3, { clientSoftwareName: 'acks0', clientSoftwareVersion: '1' }, 501),
      ]),
    );
    const frame = await within(answer, 30_000, 'answer after acks=0');
    assert.equal(frame.readInt32BE(0), 501, 'the first frame back answers the ApiVersions, not the produce');
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.deepEqual(valuesOf(p.records), ['fire-and-forget'], 'the acks=0 batch was appended');
  });

  test('acks=0 to an unknown partition closes the connection so the producer notices', async () => {
    // Kafka (KafkaApis.handleProduceRequest): with acks=0 there is no response to carry an error,
    // so the broker closes the connection instead, prompting the client to refresh metadata.
    const own = await WireClient.open(b.bootstrap);
    own.sendRaw(own.encode('Produce', 9, produceRequest(topicName('no-such-topic'), 0, batch(['lost']), { acks: 0 })));
    assert.ok(await closedWithin(own, 2000), 'connection closed after a failed acks=0 produce');
  });

  test('acks other than 0, 1 and -1 is INVALID_REQUIRED_ACKS and appends nothing', async () => {
    const t = topicName('acks2');
    await createTopic(c, t, 1);
    const r = await produce(c, t, 0, batch(['x']), { acks: 2 });
    assertCode(r.errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
    assert.equal((await listOffset(c, t, 0, -1)).offset, 0);
  });

  test('an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const t = topicName('known');
    await createTopic(c, t, 2);
    assertCode(
      (await produce(c, topicName('unknown'), 0, batch(['x']))).errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    assertCode((await produce(c, t, 2, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assertCode((await produce(c, t, -1, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('a batch whose CRC does not match is CORRUPT_MESSAGE and the log keeps nothing of it', async () => {
    const t = topicName('crc');
    await createTopic(c, t, 1);
    const crcFlipped = batch(['a', 'b', 'c']);
    crcFlipped[CRC_OFFSET + 2] ^= 0x01;
    assertCode((await produce(c, t, 0, crcFlipped)).errorCode, ErrorCode.CORRUPT_MESSAGE);
    const bodyFlipped = batch(['a', 'b', 'c']);
    bodyFlipped[bodyFlipped.length - 2] ^= 0x40;
    assertCode((await produce(c, t, 0, bodyFlipped)).errorCode, ErrorCode.CORRUPT_MESSAGE);
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.equal(p.highWatermark, 0);
    assert.equal(p.records?.length ?? 0, 0);
    assert.equal(await produceValues(c, t, 0, ['good']), 0, 'the next good batch starts at offset 0');
    assert.deepEqual(valuesOf((await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 })).records), ['good']);
  });

  test('a batch larger than max.message.bytes is MESSAGE_TOO_LARGE', async () => {
    const t = topicName('large');
    await createTopic(c, t, 1, { 'max.message.bytes': '1000' });
    const big = batch([{ value: Buffer.alloc(1200, 1) }]);
    assertCode((await produce(c, t, 0, big)).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    const fits = batch([{ value: Buffer.alloc(900, 1) }]);
    assert.ok(fits.length <= 1000);
    assertCode((await produce(c, t, 0, fits)).errorCode, ErrorCode.NONE);
    assert.equal((await listOffset(c, t, 0, -1)).offset, 1, 'only the batch that fits was appended');
  });

  test('two batches for one partition in Produce v3+ are INVALID_RECORD', async () => {
    const t = topicName('twobatches');
    await createTopic(c, t, 1);
    const two = Buffer.concat([batch(['a']), batch(['b'])]);
    for (const v of [3, 9])
      assertCode((await produce(c, t, 0, two, { version: v })).errorCode, ErrorCode.INVALID_RECORD, `Produce v${v}`);
    assert.equal((await listOffset(c, t, 0, -1)).offset, 0);
  });

  test('a client batch with a non-zero base offset is INVALID_RECORD', async () => {
    // Kafka's UnifiedLog.analyzeAndValidateRecords rejects magic-2 client batches whose base offset is not 0.
    const t = topicName('baseoffset');
    await createTopic(c, t, 1);
    const b5 = batch(['x']);
    setBaseOffset(b5, 0, 5);
    assertCode((await produce(c, t, 0, b5)).errorCode, ErrorCode.INVALID_RECORD);
  });

  test('an empty or null records field is INVALID_RECORD', async () => {
    const t = topicName('empty');
    await createTopic(c, t, 1);
    assertCode((await produce(c, t, 0, null)).errorCode, ErrorCode.INVALID_RECORD);
    assertCode((await produce(c, t, 0, Buffer.alloc(0))).errorCode, ErrorCode.INVALID_RECORD);
  });

  test('zstd needs Produce v7+: older versions get UNSUPPORTED_COMPRESSION_TYPE', async () => {
    const t = topicName('zstd');
    await createTopic(c, t, 1);
    const z = batch(['zstd-value'], { compression: 4 });
    assertCode((await produce(c, t, 0, z, { version: 6 })).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    assertCode((await produce(c, t, 0, z, { version: 7 })).errorCode, ErrorCode.NONE);
  });

  test('compressed batches (gzip, snappy, lz4, zstd) read back with identical records', async () => {
    const t = topicName('codecs');
    await createTopic(c, t, 1);
    const values = Array.from({ length: 50 }, (_, i) => ({
      key: `key-${i % 7}`,
      value: `value ${i} `.repeat(i + 1),
      headers: [{ key: 'n', value: String(i) }],
    }));
    for (const codec of [1, 2, 3, 4]) {
      const r = await produce(c, t, 0, batch(values, { compression: codec }));
      assertCode(r.errorCode, ErrorCode.NONE, `codec ${codec}`);
    }
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    const batches = decodeRecordBatches(p.records!);
    assert.deepEqual(
      batches.map((x) => x.compression),
      [1, 2, 3, 4],
      'stored as the producer compressed them',
    );
    for (const x of batches) {
      assert.deepEqual(
        x.records.map((r) => [r.key!.toString(), r.value!.toString(), r.headers[0]!.value!.toString()]),
        values.map((v) => [v.key, v.value, v.headers[0]!.value]),
      );
    }
  });

  test("a topic's compression.type recompresses what producers send", async () => {
    // Kafka: compression.type is the final codec of the topic; 'producer' keeps the producer's.
    const t = topicName('final-gzip');
    await createTopic(c, t, 1, { 'compression.type': 'gzip' });
    await produceValues(c, t, 0, ['plain-1', 'plain-2']);
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.equal(compressionCodec(p.records!, 0), 1, 'stored gzip-compressed');
    assert.deepEqual(valuesOf(p.records), ['plain-1', 'plain-2']);
  });

  test('CreateTime timestamps are kept; message.timestamp.before.max.ms rejects old ones with INVALID_TIMESTAMP', async () => {
    const t = topicName('ts');
    await createTopic(c, t, 1, { 'message.timestamp.before.max.ms': '3600000' });
    const now = Date.now();
    await produceValues(c, t, 0, [{ value: 'recent', timestamp: now - 1000 }]);
    const r = await produce(c, t, 0, batch([{ value: 'old', timestamp: now - 2 * 3600_000 }]));
    assertCode(r.errorCode, ErrorCode.INVALID_TIMESTAMP);
    const got = recordsOf((await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 })).records);
    assert.deepEqual(
      got.map((x) => [x.value!.toString(), x.timestamp]),
      [['recent', now - 1000]],
    );
  });

  test('a LogAppendTime topic stamps broker time on every record', async () => {
    const t = topicName('lat');
    await createTopic(c, t, 1, { 'message.timestamp.type': 'LogAppendTime' });
    const before = Date.now();
    const r = await produce(
      c,
      t,
      0,
      batch([
        { value: 'a', timestamp: 1000 },
        { value: 'b', timestamp: 2000 },
      ]),
    );
    const afterProduce = Date.now();
    assertCode(r.errorCode, ErrorCode.NONE);
    assert.ok(
      r.logAppendTimeMs >= before && r.logAppendTimeMs <= afterProduce,
      `log_append_time ${r.logAppendTimeMs} is broker time`,
    );
    const p = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 });
    assert.ok((attributes(p.records!, 0) & TIMESTAMP_TYPE_MASK) !== 0, 'timestamp type bit set');
    assert.equal(maxTimestamp(p.records!, 0), r.logAppendTimeMs);
    assert.deepEqual(
      recordsOf(p.records).map((x) => x.timestamp),
      [r.logAppendTimeMs, r.logAppendTimeMs],
    );
    // Time lookups see broker time, not the producer's 1000/2000.
    const found = await listOffset(c, t, 0, before - 1);
    assert.equal(found.offset, 0);
    assert.equal(found.timestamp, r.logAppendTimeMs);
  });

  test('legacy magic 0 (Produce v0) and magic 1 (Produce v2) read back through Fetch v0, v2 and v4+', async () => {
    const t = topicName('legacy');
    await createTopic(c, t, 1);
    const m0 = [
      { key: Buffer.from('k0'), value: Buffer.from('magic-zero') },
      { key: null, value: Buffer.from('no-key') },
    ];
    const ts = Date.now() - 5000;
    const m1 = [
      { key: Buffer.from('k1'), value: Buffer.from('magic-one'), timestamp: ts },
      { key: Buffer.from('k2'), value: null, timestamp: ts + 1 },
    ];
    const m1gzip = [
      { key: Buffer.from('g1'), value: Buffer.from('gzip-one'), timestamp: ts + 2 },
      { key: Buffer.from('g2'), value: Buffer.from('gzip-two'), timestamp: ts + 3 },
    ];
    const r0 = await produce(c, t, 0, encodeMessageSet(m0, { magic: 0 }), { version: 0 });
    assertCode(r0.errorCode, ErrorCode.NONE);
    assert.equal(r0.baseOffset, 0);
    const r1 = await produce(c, t, 0, encodeMessageSet(m1, { magic: 1 }), { version: 2 });
    assertCode(r1.errorCode, ErrorCode.NONE);
    assert.equal(r1.baseOffset, 2);
    const r2 = await produce(c, t, 0, encodeMessageSet(m1gzip, { magic: 1, compression: 1 }), { version: 2 });
    assertCode(r2.errorCode, ErrorCode.NONE);
    assert.equal(r2.baseOffset, 4);

    const all = [...m0, ...m1, ...m1gzip].map((m) => [m.key?.toString() ?? null, m.value?.toString() ?? null]);

    const v0 = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { version: 0 });
    const legacy0 = decodeMessageSet(v0.records!);
    assert.ok(
      legacy0.every((m) => m.magic === 0),
      'Fetch v0 answers magic 0',
    );
    assert.deepEqual(
      legacy0.map((m) => m.offset),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      legacy0.map((m) => [m.key?.toString() ?? null, m.value?.toString() ?? null]),
      all,
    );

    const v2 = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { version: 2 });
    const legacy1 = decodeMessageSet(v2.records!);
    assert.ok(
      legacy1.every((m) => m.magic === 1),
      'Fetch v2 answers magic 1',
    );
    assert.deepEqual(
      legacy1.map((m) => m.offset),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      legacy1.map((m) => [m.key?.toString() ?? null, m.value?.toString() ?? null]),
      all,
    );
    assert.deepEqual(
      legacy1.slice(2).map((m) => m.timestamp),
      [ts, ts + 1, ts + 2, ts + 3],
      'magic-1 CreateTime timestamps survive',
    );

    const v11 = await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 0 }, { version: 11 });
    const recs = recordsOf(v11.records);
    assert.ok(v11.records!.readInt8(16) === 2, 'Fetch v4+ answers magic 2 batches');
    assert.deepEqual(
      recs.map((r) => r.offset),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      recs.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null]),
      all,
    );
    assert.deepEqual(
      recs.slice(2).map((r) => r.timestamp),
      [ts, ts + 1, ts + 2, ts + 3],
    );

    // A fetch starting inside a stored batch returns only later messages in the old formats.
    const mid = decodeMessageSet(
      (await fetchPartition(c, { topic: t, partition: 0, fetchOffset: 3 }, { version: 2 })).records!,
    );
    assert.deepEqual(
      mid.map((m) => m.offset),
      [3, 4, 5],
    );
  });

  test('legacy message sets on Produce v3+ are INVALID_RECORD; a corrupt legacy message is CORRUPT_MESSAGE', async () => {
    const t = topicName('legacy-bad');
    await createTopic(c, t, 1);
    const set = encodeMessageSet([{ key: null, value: Buffer.from('x') }], { magic: 1 });
    assertCode((await produce(c, t, 0, set, { version: 3 })).errorCode, ErrorCode.INVALID_RECORD);
    const corrupt = Buffer.from(set);
    corrupt[corrupt.length - 1] ^= 0xff;
    assertCode((await produce(c, t, 0, corrupt, { version: 2 })).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal((await listOffset(c, t, 0, -1)).offset, 0);
  });

  test('one request for several partitions answers each partition on its own', async () => {
    const t = topicName('multi');
    await createTopic(c, t, 3);
    const bad = batch(['bad']);
    bad[CRC_OFFSET] ^= 0xff;
    const res = await c.request('Produce', 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: t,
          partitionData: [
            { index: 0, records: batch(['p0']) },
            { index: 1, records: bad },
            { index: 2, records: batch(['p2a', 'p2b']) },
            { index: 7, records: batch(['none']) },
          ],
        },
      ],
    });
    const byIndex = new Map(res.responses[0]!.partitionResponses.map((p) => [p.index, p]));
    assertCode(byIndex.get(0)!.errorCode, ErrorCode.NONE);
    assertCode(byIndex.get(1)!.errorCode, ErrorCode.CORRUPT_MESSAGE);
    assertCode(byIndex.get(2)!.errorCode, ErrorCode.NONE);
    assertCode(byIndex.get(7)!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual(valuesOf((await fetchPartition(c, { topic: t, partition: 2, fetchOffset: 0 })).records), [
      'p2a',
      'p2b',
    ]);
    assert.equal((await listOffset(c, t, 1, -1)).offset, 0);
  });

  test('a batch cut short of its length field is refused', async () => {
    // Kafka's batch iterator sees no whole batch in such a records field (INVALID_RECORD: "must have at
    // least one record batch"); CORRUPT_MESSAGE would be an equally clear refusal.
    const t = topicName('short');
    await createTopic(c, t, 1);
    const whole = batch(['abcdef']);
    const r = await produce(c, t, 0, whole.subarray(0, RECORD_BATCH_OVERHEAD + 2));
    assert.ok(
      r.errorCode === ErrorCode.INVALID_RECORD || r.errorCode === ErrorCode.CORRUPT_MESSAGE,
      `refused, got ${r.errorCode}`,
    );
    assert.equal((await listOffset(c, t, 0, -1)).offset, 0);
  });
});
