import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  TimestampType,
  decodeMessageSet,
  decodeRecordBatches,
  downConvertRecordBatches,
  encodeControlBatch,
  encodeMessageSet,
  encodeRecordBatch,
  legacyMessageSize,
  upConvertMessageSet,
  validateProduceRecords,
  ControlRecordType,
  type LegacyMessageInput,
  type RecordInput,
} from '../../../src/protocol/records/index.js';

const T0 = 1_700_000_000_000;
const APPEND = T0 + 60_000;

function legacyInputs(n: number, tsOf: (i: number) => number = (i) => T0 + i): LegacyMessageInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 3 === 0 ? null : Buffer.from(`k${i}`),
    value: i % 7 === 6 ? null : Buffer.from(`payload ${i} `.repeat(1 + (i % 5))),
    timestamp: tsOf(i),
  }));
}

function kv(list: { key: Buffer | null; value: Buffer | null }[]) {
  return list.map((m) => [m.key?.toString() ?? null, m.value?.toString() ?? null]);
}

test('up-conversion of magic 1 keeps codec, keys, values and CreateTime timestamps in one batch', () => {
  const msgs = legacyInputs(25);
  for (const compression of [0, 1, 2, 3]) {
    const set = encodeMessageSet(msgs, { magic: 1, compression, baseOffset: 999 });
    const up = upConvertMessageSet(set, { appendTime: APPEND, baseOffset: 40 });
    assert.equal(up.batchCount, 1);
    assert.equal(up.recordCount, 25);
    assert.equal(up.maxTimestamp, T0 + 24);
    const [batch] = decodeRecordBatches(up.records);
    assert.equal(batch!.compression, compression);
    assert.equal(batch!.timestampType, TimestampType.CREATE_TIME);
    assert.deepEqual(
      batch!.records.map((r) => r.offset),
      msgs.map((_, i) => 40 + i),
      'offsets reassigned',
    );
    assert.deepEqual(
      batch!.records.map((r) => r.timestamp),
      msgs.map((m) => m.timestamp),
    );
    assert.deepEqual(kv(batch!.records), kv(msgs));
    // What the broker stores passes the same checks as a magic-2 produce.
    assert.equal(validateProduceRecords(up.records, { singleBatch: true }).ok, true);
  }
});

test('up-conversion of magic 0 (no timestamps) stores a LogAppendTime batch stamped with the append time', () => {
  const set = encodeMessageSet(legacyInputs(10), { magic: 0, compression: 1 });
  const up = upConvertMessageSet(set, { appendTime: APPEND });
  const [batch] = decodeRecordBatches(up.records);
  assert.equal(up.batchCount, 1);
  assert.equal(batch!.compression, 1);
  assert.equal(batch!.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.equal(batch!.maxTimestamp, APPEND);
  assert.ok(batch!.records.every((r) => r.timestamp === APPEND));
  assert.equal(up.maxTimestamp, APPEND);
});

test("missingTimestamp 'no-timestamp' stores magic 0 records as Kafka does: CreateTime with -1", () => {
  const set = encodeMessageSet(legacyInputs(4), { magic: 0 });
  const up = upConvertMessageSet(set, { appendTime: APPEND, missingTimestamp: 'no-timestamp' });
  const [batch] = decodeRecordBatches(up.records);
  assert.equal(up.batchCount, 1);
  assert.equal(batch!.timestampType, TimestampType.CREATE_TIME);
  assert.deepEqual([batch!.baseTimestamp, batch!.maxTimestamp, up.maxTimestamp], [-1, -1, -1]);
  assert.ok(batch!.records.every((r) => r.timestamp === -1));
});

test('up-conversion splits where timestamp kind or codec changes, with consecutive offsets', () => {
  const msgs = legacyInputs(9, (i) => (i >= 3 && i < 6 ? -1 : T0 + i));
  const set = Buffer.concat([
    encodeMessageSet(msgs, { magic: 1 }),
    encodeMessageSet(legacyInputs(4), { magic: 1, compression: 2, baseOffset: 9 }),
  ]);
  const up = upConvertMessageSet(set, { appendTime: APPEND });
  const batches = decodeRecordBatches(up.records);
  assert.equal(up.batchCount, 4);
  assert.deepEqual(
    batches.map((b) => [b.baseOffset, b.recordsCount, b.timestampType, b.compression]),
    [
      [0, 3, 0, 0],
      [3, 3, 1, 0],
      [6, 3, 0, 0],
      [9, 4, 0, 2],
    ],
  );
  assert.deepEqual(
    batches[1]!.records.map((r) => r.timestamp),
    [APPEND, APPEND, APPEND],
  );
  assert.equal(up.recordCount, 13);
});

test('up-conversion honours a LogAppendTime topic and a codec override', () => {
  const set = encodeMessageSet(legacyInputs(5), { magic: 1, compression: 1 });
  const up = upConvertMessageSet(set, {
    appendTime: APPEND,
    timestampType: TimestampType.LOG_APPEND_TIME,
    compression: 4,
  });
  const [batch] = decodeRecordBatches(up.records);
  assert.equal(batch!.compression, 4);
  assert.equal(batch!.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.ok(batch!.records.every((r) => r.timestamp === APPEND));
});

test('up-conversion refuses a produce message set cut short', () => {
  const set = encodeMessageSet(legacyInputs(3), { magic: 1 });
  assert.throws(() => upConvertMessageSet(set.subarray(0, set.length - 1), { appendTime: APPEND }), DecodeError);
  assert.equal(upConvertMessageSet(Buffer.alloc(0), { appendTime: APPEND }).batchCount, 0);
});

function storedLog(): {
  blob: Buffer;
  data: { offset: number; key: string | null; value: string | null; timestamp: number }[];
} {
  const mk = (n: number, base: number): RecordInput[] =>
    Array.from({ length: n }, (_, i) => ({
      key: (base + i) % 4 === 0 ? null : Buffer.from(`key-${base + i}`),
      value: Buffer.from(`value-${base + i}`),
      headers: [{ key: 'trace', value: Buffer.from('x') }],
      timestamp: T0 + base + i,
    }));
  const blob = Buffer.concat([
    encodeRecordBatch({ baseOffset: 0, records: mk(5, 0) }),
    encodeRecordBatch({
      baseOffset: 5,
      records: mk(5, 5),
      compression: 1,
      producerId: 9,
      producerEpoch: 0,
      baseSequence: 0,
      transactional: true,
    }),
    encodeControlBatch({
      baseOffset: 10,
      producerId: 9,
      producerEpoch: 0,
      type: ControlRecordType.COMMIT,
      coordinatorEpoch: 1,
      timestamp: T0 + 10,
    }),
    encodeRecordBatch({ baseOffset: 11, records: mk(4, 11), compression: 4 }),
    encodeRecordBatch({
      baseOffset: 15,
      records: mk(3, 15),
      compression: 3,
      timestampType: TimestampType.LOG_APPEND_TIME,
      logAppendTime: APPEND,
    }),
  ]);
  const data = decodeRecordBatches(blob)
    .filter((b) => !b.isControl)
    .flatMap((b) =>
      b.records.map((r) => ({
        offset: r.offset,
        key: r.key?.toString() ?? null,
        value: r.value?.toString() ?? null,
        timestamp: r.timestamp,
      })),
    );
  return { blob, data };
}

test('down-conversion to magic 1 keeps offsets and timestamps, drops headers and control batches', () => {
  const { blob, data } = storedLog();
  const down = downConvertRecordBatches(blob, { toMagic: 1 });
  assert.equal(down.messageCount, 17);
  assert.equal(down.lastOffset, 17);
  assert.equal(down.truncated, false);
  const msgs = decodeMessageSet(down.records);
  assert.deepEqual(
    msgs.map((m) => ({
      offset: m.offset,
      key: m.key?.toString() ?? null,
      value: m.value?.toString() ?? null,
      timestamp: m.timestamp,
    })),
    data,
  );
  // gzip and lz4 batches became wrappers of the same codec; zstd came out uncompressed.
  assert.deepEqual(
    msgs.map((m) => m.compression),
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 3, 3, 3],
  );
  assert.ok(msgs.slice(14).every((m) => m.timestampType === TimestampType.LOG_APPEND_TIME && m.timestamp === APPEND));
});

test('down-conversion to magic 0 keeps offsets and drops timestamps', () => {
  const { blob, data } = storedLog();
  const msgs = decodeMessageSet(downConvertRecordBatches(blob, { toMagic: 0 }).records);
  assert.ok(msgs.every((m) => m.magic === 0 && m.timestamp === -1));
  assert.deepEqual(
    msgs.map((m) => m.offset),
    data.map((d) => d.offset),
  );
  assert.deepEqual(
    kv(msgs),
    data.map((d) => [d.key, d.value]),
  );
});

test('down-conversion stops at message boundaries under maxBytes and always returns one message', () => {
  const { blob } = storedLog();
  const full = downConvertRecordBatches(blob, { toMagic: 1 });
  // Room for the first three plain messages only.
  const firstSizes = decodeMessageSet(full.records)
    .slice(0, 4)
    .map((m) => legacyMessageSize(1, m.key, m.value));
  const limit = firstSizes[0]! + firstSizes[1]! + firstSizes[2]! + firstSizes[3]! - 1;
  const cut = downConvertRecordBatches(blob, { toMagic: 1, maxBytes: limit });
  assert.equal(cut.truncated, true);
  assert.equal(cut.messageCount, 3);
  assert.equal(cut.lastOffset, 2);
  assert.ok(cut.records.length <= limit);
  assert.ok(full.records.subarray(0, cut.records.length).equals(cut.records), 'a prefix of the full conversion');
  const tiny = downConvertRecordBatches(blob, { toMagic: 1, maxBytes: 1 });
  assert.equal(tiny.messageCount, 1, 'first message even when too big');
  assert.equal(downConvertRecordBatches(blob, { toMagic: 1, maxBytes: 1, minOneMessage: false }).messageCount, 0);
  // A compressed wrapper is all or nothing.
  const fromGzip = downConvertRecordBatches(blob, { toMagic: 1, fromOffset: 5, maxBytes: 60 });
  assert.equal(fromGzip.messageCount, 5);
  assert.equal(decodeMessageSet(fromGzip.records).length, 5);
});

test('down-conversion drops records before the fetch offset, also inside compressed batches', () => {
  const { blob } = storedLog();
  const msgs = decodeMessageSet(downConvertRecordBatches(blob, { toMagic: 1, fromOffset: 7 }).records);
  assert.deepEqual(
    msgs.map((m) => m.offset),
    [7, 8, 9, 11, 12, 13, 14, 15, 16, 17],
  );
  const magic0 = decodeMessageSet(downConvertRecordBatches(blob, { toMagic: 0, fromOffset: 7 }).records);
  assert.deepEqual(
    magic0.map((m) => m.offset),
    [7, 8, 9, 11, 12, 13, 14, 15, 16, 17],
  );
});

test('down-conversion ignores a partial trailing batch in the stored bytes', () => {
  const { blob } = storedLog();
  const more = encodeRecordBatch({
    baseOffset: 18,
    records: [{ key: null, value: Buffer.from('tail'), timestamp: T0 }],
  });
  const down = downConvertRecordBatches(Buffer.concat([blob, more.subarray(0, 30)]), { toMagic: 1 });
  assert.equal(down.lastOffset, 17);
});

test('legacy -> magic 2 -> legacy preserves messages', () => {
  for (const magic of [0, 1] as const) {
    for (const compression of [0, 1, 2, 3]) {
      const msgs = legacyInputs(12);
      const up = upConvertMessageSet(encodeMessageSet(msgs, { magic, compression }), {
        appendTime: APPEND,
        baseOffset: 100,
      });
      const back = decodeMessageSet(downConvertRecordBatches(up.records, { toMagic: magic }).records);
      assert.deepEqual(kv(back), kv(msgs), `magic ${magic} codec ${compression}`);
      assert.deepEqual(
        back.map((m) => m.offset),
        msgs.map((_, i) => 100 + i),
      );
      assert.deepEqual(
        back.map((m) => m.timestamp),
        msgs.map((m) => (magic === 0 ? -1 : m.timestamp)),
      );
      assert.ok(back.every((m) => m.compression === compression));
    }
  }
});
