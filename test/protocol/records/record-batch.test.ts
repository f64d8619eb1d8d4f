import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  CompressionError,
  DecompressionLimitError,
  UnsupportedCompressionError,
  codecName,
} from '../../../src/protocol/compression/index.js';
import { crc32c } from '../../../src/protocol/records/crc.js';
import { checkBatch, readBatchHeader, updateCrc, setBaseOffset } from '../../../src/protocol/records/batch-header.js';
import {
  RecordCursor,
  TimestampType,
  decodeRecordBatch,
  decodeRecordBatchAsync,
  decodeRecordBatches,
  encodeRecordBatch,
  encodeRecordBatchAsync,
  forEachRecord,
  wholeBatchesLength,
  type RecordInput,
} from '../../../src/protocol/records/index.js';
import { hex, referenceCrc32c, rng } from './helpers.js';
import { SeededRandom, seedNote } from '../../helpers/seed.js';

/** Incompressible test data, seeded: TEST_SEED=n replays exactly the bytes of a failing run. */
const rand = new SeededRandom();
const randomBytes = (n: number): Buffer => rand.bytes(n);

const T0 = 1_700_000_000_000;

test('reference CRC-32C agrees with the check value and with the native one', () => {
  assert.equal(referenceCrc32c(Buffer.from('123456789')), 0xe3069283);
  const data = randomBytes(5000);
  assert.equal(crc32c(data), referenceCrc32c(data));
});

/**
 * Built by hand from the magic-2 layout: two records, the first with a header, the second with a
 * null key and a timestamp 5 ms later.
 */
function handBuiltBatch(): Buffer {
  const records = hex(`
    1c                    length 14 (zigzag 28)
      00                  attributes
      00                  timestampDelta 0
      00                  offsetDelta 0
      04 6b31             key length 2, "k1"
      04 7631             value length 2, "v1"
      02                  1 header
        02 68             key length 1, "h"
        02 78             value length 1, "x"
    16                    length 11 (zigzag 22)
      00                  attributes
      0a                  timestampDelta 5
      02                  offsetDelta 1
      01                  key length -1 (null)
      0a 68656c6c6f       value length 5, "hello"
      00                  0 headers
  `);
  const header = hex(`
    0000000000000000      baseOffset 0
    0000004c              batchLength 76 (= 88 - 12)
    ffffffff              partitionLeaderEpoch -1
    02                    magic
    00000000              crc (filled below)
    0000                  attributes: no compression, CreateTime
    00000001              lastOffsetDelta 1
    0000018bcfe56800      baseTimestamp 1700000000000
    0000018bcfe56805      maxTimestamp 1700000000005
    ffffffffffffffff      producerId -1
    ffff                  producerEpoch -1
    ffffffff              baseSequence -1
    00000002              recordsCount 2
  `);
  const batch = Buffer.concat([header, records]);
  assert.equal(batch.length, 88);
  batch.writeUInt32BE(referenceCrc32c(batch.subarray(21)), 17);
  return batch;
}

test('known answer: a hand-built uncompressed batch is exactly what the encoder writes', () => {
  const expected = handBuiltBatch();
  const encoded = encodeRecordBatch({
    records: [
      {
        key: Buffer.from('k1'),
        value: Buffer.from('v1'),
        headers: [{ key: 'h', value: Buffer.from('x') }],
        timestamp: T0,
      },
      { key: null, value: Buffer.from('hello'), timestamp: T0 + 5 },
    ],
  });
  assert.equal(encoded.toString('hex'), expected.toString('hex'));
  assert.equal(checkBatch(expected, 0, expected.length), null);
});

test('known answer: the hand-built batch decodes to its records', () => {
  const b = decodeRecordBatch(handBuiltBatch());
  assert.equal(b.magic, 2);
  assert.equal(b.recordsCount, 2);
  assert.equal(b.lastOffset, 1);
  assert.equal(b.maxTimestamp, T0 + 5);
  assert.equal(b.sizeInBytes, 88);
  assert.deepEqual(
    b.records.map((r) => ({
      ...r,
      key: r.key?.toString() ?? null,
      value: r.value?.toString() ?? null,
      headers: r.headers.map((h) => [h.key, h.value?.toString()]),
    })),
    [
      { offset: 0, timestamp: T0, key: 'k1', value: 'v1', headers: [['h', 'x']] },
      { offset: 1, timestamp: T0 + 5, key: null, value: 'hello', headers: [] },
    ],
  );
});

function varied(n: number, seed: number): RecordInput[] {
  const r = rng(seed);
  const out: RecordInput[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 7;
    out.push({
      key: kind === 0 ? null : kind === 1 ? Buffer.alloc(0) : Buffer.from(`key-${i}`),
      value:
        kind === 2 ? null : kind === 3 ? Buffer.alloc(0) : Buffer.from(`value ${i} `.repeat(1 + Math.floor(r() * 20))),
      headers:
        kind === 4
          ? [
              { key: 'dup', value: Buffer.from('a') },
              { key: 'dup', value: Buffer.from('b') },
              { key: 'nul', value: null },
              { key: 'empty', value: Buffer.alloc(0) },
              { key: 'ünïcödé', value: Buffer.from([0, 255]) },
            ]
          : [],
      // Out-of-order timestamps give negative deltas.
      timestamp: T0 + Math.floor(r() * 10_000) - 5000,
    });
  }
  return out;
}

function plain(
  records: { key: Buffer | null; value: Buffer | null; headers?: { key: string; value: Buffer | null }[] }[],
) {
  return records.map((r) => ({
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    headers: (r.headers ?? []).map((h) => [h.key, h.value === null ? null : h.value.toString('hex')]),
  }));
}

test('every codec round-trips keys, values, headers (duplicates, null, empty) and negative timestamp deltas', async () => {
  const input = varied(300, 1);
  for (const compression of [0, 1, 2, 3, 4]) {
    const buf = encodeRecordBatch({ records: input, compression, baseOffset: 1000, partitionLeaderEpoch: 7 });
    const b = decodeRecordBatch(buf);
    assert.equal(b.compression, compression, codecName(compression));
    assert.equal(b.baseOffset, 1000);
    assert.equal(b.partitionLeaderEpoch, 7);
    assert.equal(b.baseTimestamp, input[0]!.timestamp, 'baseTimestamp is the first record timestamp');
    assert.equal(b.maxTimestamp, Math.max(...input.map((r) => r.timestamp)));
    assert.deepEqual(
      b.records.map((r) => r.offset),
      input.map((_, i) => 1000 + i),
    );
    assert.deepEqual(
      b.records.map((r) => r.timestamp),
      input.map((r) => r.timestamp),
    );
    assert.deepEqual(plain(b.records), plain(input));
    const asyncBuf = await encodeRecordBatchAsync({
      records: input,
      compression,
      baseOffset: 1000,
      partitionLeaderEpoch: 7,
    });
    assert.deepEqual(plain((await decodeRecordBatchAsync(asyncBuf)).records), plain(input));
    if (compression !== 0)
      assert.ok(buf.length < encodeRecordBatch({ records: input }).length, 'compressed batch is smaller');
  }
});

test(`large values and many records round-trip ${seedNote()}`, () => {
  const big = randomBytes(3 * 1024 * 1024);
  for (const compression of [0, 3, 4]) {
    const b = decodeRecordBatch(
      encodeRecordBatch({ records: [{ key: Buffer.from('big'), value: big, timestamp: T0 }], compression }),
    );
    assert.ok(b.records[0]!.value!.equals(big));
  }
  const many: RecordInput[] = Array.from({ length: 20_000 }, (_, i) => ({
    key: null,
    value: Buffer.from(String(i)),
    timestamp: T0 + i,
  }));
  const b = decodeRecordBatch(encodeRecordBatch({ records: many, compression: 1 }));
  assert.equal(b.records.length, 20_000);
  assert.equal(b.lastOffsetDelta, 19_999);
  assert.equal(b.records[12_345]!.value!.toString(), '12345');
  assert.equal(b.records[12_345]!.timestamp, T0 + 12_345);
});

test('producer fields, transactional flag, offset gaps and big offsets survive the round trip', () => {
  const buf = encodeRecordBatch({
    baseOffset: 2 ** 40,
    producerId: 123_456_789_012,
    producerEpoch: 3,
    baseSequence: 77,
    transactional: true,
    records: [
      { key: null, value: Buffer.from('a'), timestamp: T0, offsetDelta: 0 },
      { key: null, value: Buffer.from('b'), timestamp: T0, offsetDelta: 5 },
    ],
    lastOffsetDelta: 9,
  });
  const b = decodeRecordBatch(buf);
  assert.equal(b.producerId, 123_456_789_012);
  assert.equal(b.producerEpoch, 3);
  assert.equal(b.baseSequence, 77);
  assert.equal(b.isTransactional, true);
  assert.equal(b.isControl, false);
  assert.equal(b.attributes, 0x10);
  assert.deepEqual(
    b.records.map((r) => r.offset),
    [2 ** 40, 2 ** 40 + 5],
  );
  assert.equal(b.lastOffset, 2 ** 40 + 9);
  assert.throws(
    () =>
      encodeRecordBatch({
        records: [
          { key: null, value: null, timestamp: 0, offsetDelta: 2 },
          { key: null, value: null, timestamp: 0, offsetDelta: 2 },
        ],
      }),
    RangeError,
  );
});

test('LogAppendTime: every record reports the batch maxTimestamp', () => {
  const buf = encodeRecordBatch({
    timestampType: TimestampType.LOG_APPEND_TIME,
    logAppendTime: T0 + 99,
    records: [
      { key: null, value: Buffer.from('a'), timestamp: T0 },
      { key: null, value: Buffer.from('b'), timestamp: T0 + 1 },
    ],
  });
  const b = decodeRecordBatch(buf);
  assert.equal(b.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.equal(b.attributes & 0x08, 0x08);
  assert.deepEqual(
    b.records.map((r) => r.timestamp),
    [T0 + 99, T0 + 99],
  );
  // A CreateTime batch stamped by the broker later (setLogAppendTime) reads the same way.
  assert.throws(
    () =>
      encodeRecordBatch({
        timestampType: TimestampType.LOG_APPEND_TIME,
        records: [{ key: null, value: null, timestamp: 1 }],
      }),
    TypeError,
  );
});

test('the broker can stamp baseOffset without touching the CRC', () => {
  const buf = encodeRecordBatch({ records: varied(5, 2) });
  setBaseOffset(buf, 0, 500);
  const b = decodeRecordBatch(buf);
  assert.deepEqual(
    b.records.map((r) => r.offset),
    [500, 501, 502, 503, 504],
  );
});

test('a records blob yields its whole batches and drops a partial trailing one', () => {
  const batches = [0, 3, 4].map((compression, i) =>
    encodeRecordBatch({ records: varied(10 + i, 10 + i), compression, baseOffset: i * 100 }),
  );
  const whole = Buffer.concat(batches);
  assert.equal(decodeRecordBatches(whole).length, 3);
  const last = batches[2]!;
  for (const cut of [1, 11, 12, 60, 61, last.length - 1]) {
    const blob = Buffer.concat([batches[0]!, batches[1]!, last.subarray(0, cut)]);
    const got = decodeRecordBatches(blob);
    assert.equal(got.length, 2, `cut at ${cut}`);
    assert.equal(wholeBatchesLength(blob), batches[0]!.length + batches[1]!.length);
    assert.equal(
      forEachRecord(blob, () => {}),
      10 + 11,
    );
  }
  assert.deepEqual(decodeRecordBatches(Buffer.alloc(0)), []);
  // A fragment is fine, but a batch whose own length field is impossible is corruption.
  const badLength = Buffer.from(whole);
  badLength.writeInt32BE(10, batches[0]!.length + 8);
  assert.throws(() => decodeRecordBatches(badLength), DecodeError);
});

test('decodeRecordBatch refuses truncated batches, wrong magic and bad CRCs with DecodeError', () => {
  const buf = encodeRecordBatch({ records: varied(20, 3) });
  for (const cut of [0, 11, 60, buf.length - 1])
    assert.throws(() => decodeRecordBatch(buf.subarray(0, cut)), DecodeError);
  const magic1 = Buffer.from(buf);
  magic1[16] = 1;
  assert.throws(() => decodeRecordBatch(magic1), DecodeError);
  const flipped = Buffer.from(buf);
  flipped[buf.length - 3]! ^= 0x40;
  assert.throws(() => decodeRecordBatch(flipped), /CRC/);
  // With CRC checking off, a flipped value byte decodes (it is only data).
  assert.equal(decodeRecordBatch(flipped, 0, { verifyCrc: false }).records.length, 20);
});

test('record framing errors: trailing bytes, short count, lying lengths', () => {
  const buf = encodeRecordBatch({ records: varied(3, 4) });
  const shortCount = Buffer.from(buf);
  shortCount.writeInt32BE(2, 57);
  updateCrc(shortCount);
  assert.throws(() => decodeRecordBatch(shortCount), /follow the last/);
  const longCount = Buffer.from(buf);
  longCount.writeInt32BE(4, 57);
  updateCrc(longCount);
  assert.throws(() => decodeRecordBatch(longCount), DecodeError);
  const lyingLength = Buffer.from(buf);
  lyingLength[61] = 0x7e; // first record claims 63 bytes
  updateCrc(lyingLength);
  assert.throws(() => decodeRecordBatch(lyingLength), DecodeError);
});

test('unknown codec ids in attributes raise UnsupportedCompressionError; the limit raises DecompressionLimitError', () => {
  const buf = encodeRecordBatch({ records: varied(3, 5), compression: 1 });
  const codec6 = Buffer.from(buf);
  codec6.writeInt16BE(6, 21);
  updateCrc(codec6);
  assert.throws(() => decodeRecordBatch(codec6), UnsupportedCompressionError);
  const bomb = encodeRecordBatch({
    records: [{ key: null, value: Buffer.alloc(4 << 20), timestamp: T0 }],
    compression: 4,
  });
  assert.ok(bomb.length < 4096);
  assert.throws(() => decodeRecordBatch(bomb, 0, { maxDecompressedBytes: 1 << 20 }), DecompressionLimitError);
  assert.equal(decodeRecordBatch(bomb, 0, { maxDecompressedBytes: 5 << 20 }).records[0]!.value!.length, 4 << 20);
});

test('the cursor sees exactly what the object decoder sees, across batches, and reuses itself', () => {
  const blob = Buffer.concat([
    encodeRecordBatch({ records: varied(50, 6), compression: 3 }),
    encodeRecordBatch({ records: varied(30, 7), baseOffset: 50 }),
  ]);
  const objects = decodeRecordBatches(blob).flatMap((b) => b.records);
  const seen: {
    offset: number;
    timestamp: number;
    key: Buffer | null;
    value: Buffer | null;
    headers: { key: string; value: Buffer | null }[];
  }[] = [];
  const cursor = new RecordCursor();
  const n = forEachRecord(
    blob,
    (c) => {
      assert.equal(c, cursor);
      const headers: { key: string; value: Buffer | null }[] = [];
      c.forEachHeader((key, value) => headers.push({ key, value }));
      seen.push({ offset: c.offset, timestamp: c.timestamp, key: c.key(), value: c.value(), headers });
    },
    undefined,
    cursor,
  );
  assert.equal(n, 80);
  assert.deepEqual(
    seen.map((r) => [r.offset, r.timestamp]),
    objects.map((r) => [r.offset, r.timestamp]),
  );
  assert.deepEqual(plain(seen), plain(objects));
  // Positions describe null and empty distinctly.
  cursor.reset(encodeRecordBatch({ records: [{ key: null, value: Buffer.alloc(0), timestamp: 1 }] }));
  assert.ok(cursor.next());
  assert.equal(cursor.keyLength, -1);
  assert.equal(cursor.valueLength, 0);
  assert.equal(cursor.key(), null);
  assert.equal(cursor.value()!.length, 0);
  assert.equal(cursor.next(), false);
});

test('mutated and truncated batches only ever raise DecodeError or CompressionError', () => {
  const r = rng(42);
  const originals = [0, 1, 2, 3, 4].map((compression) =>
    encodeRecordBatch({ records: varied(12, 20 + compression), compression }),
  );
  let failures = 0;
  for (let i = 0; i < 4000; i++) {
    const original = originals[i % originals.length]!;
    const buf = Buffer.from(original);
    const flips = 1 + Math.floor(r() * 3);
    for (let f = 0; f < flips; f++) buf[Math.floor(r() * buf.length)]! ^= 1 << Math.floor(r() * 8);
    const input = r() < 0.3 ? buf.subarray(0, Math.floor(r() * buf.length)) : buf;
    // Half the time re-sign the batch so corruption reaches the record parser and decompressors.
    if (r() < 0.5 && input.length >= 61 && input.readInt32BE(8) + 12 === input.length) updateCrc(input);
    for (const run of [
      () => decodeRecordBatch(input, 0, { maxDecompressedBytes: 1 << 20 }),
      () => decodeRecordBatches(input, { maxDecompressedBytes: 1 << 20 }),
      () => forEachRecord(input, (c) => c.headers(), { maxDecompressedBytes: 1 << 20 }),
    ]) {
      try {
        run();
      } catch (err) {
        failures++;
        assert.ok(err instanceof DecodeError || err instanceof CompressionError, `unexpected ${String(err)}`);
      }
    }
  }
  assert.ok(failures > 1000, 'mutations are mostly detected');
});

test('header fields of a decoded batch match readBatchHeader', () => {
  const buf = encodeRecordBatch({
    records: varied(4, 8),
    compression: 2,
    producerId: 5,
    producerEpoch: 1,
    baseSequence: 0,
  });
  const b = decodeRecordBatch(buf);
  const h = readBatchHeader(buf);
  for (const k of Object.keys(h) as (keyof typeof h)[]) assert.equal(b[k], h[k], k);
});
