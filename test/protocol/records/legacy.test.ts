import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/protocol/decode-error.js';
import {
  CompressionError,
  CorruptCompressedDataError,
  DecompressionLimitError,
  UnsupportedCompressionError,
  compress,
  decompress,
  xxhash32,
} from '../../../src/protocol/compression/index.js';
import { crc32 } from '../../../src/protocol/records/crc.js';
import {
  InvalidRecordError,
  TimestampType,
  decodeMessageSet,
  encodeMessageSet,
  type LegacyMessageInput,
} from '../../../src/protocol/records/index.js';
import { hex, referenceCrc32, rng } from './helpers.js';

const T0 = 1_700_000_000_000;

/** A legacy message with arbitrary fields, CRC from the reference implementation. */
function rawMessage(
  offset: number,
  magic: number,
  attributes: number,
  timestamp: number | null,
  key: Buffer | null,
  value: Buffer | null,
): Buffer {
  const body: Buffer[] = [Buffer.from([magic, attributes])];
  if (timestamp !== null) {
    const t = Buffer.alloc(8);
    t.writeBigInt64BE(BigInt(timestamp));
    body.push(t);
  }
  for (const b of [key, value]) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(b === null ? -1 : b.length);
    body.push(len);
    if (b !== null) body.push(b);
  }
  const rest = Buffer.concat(body);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(BigInt(offset), 0);
  head.writeInt32BE(rest.length + 4, 8);
  head.writeUInt32BE(referenceCrc32(rest), 12);
  return Buffer.concat([head, rest]);
}

test('reference CRC-32 agrees with the check value and with the native one', () => {
  assert.equal(referenceCrc32(Buffer.from('123456789')), 0xcbf43926);
  const data = Buffer.from('legacy message bytes '.repeat(100));
  assert.equal(crc32(data), referenceCrc32(data));
});

test('known answer: hand-built magic 0 and magic 1 messages equal the encoder output', () => {
  const m0 = hex(`
    0000000000000005    offset 5
    00000010            messageSize 16
    00000000            crc (below)
    00                  magic 0
    00                  attributes
    00000001 6b         key "k"
    00000001 76         value "v"
  `);
  m0.writeUInt32BE(referenceCrc32(m0.subarray(16)), 12);
  assert.equal(
    encodeMessageSet([{ key: Buffer.from('k'), value: Buffer.from('v') }], { magic: 0, baseOffset: 5 }).toString('hex'),
    m0.toString('hex'),
  );

  const m1 = hex(`
    0000000000000000    offset 0
    00000018            messageSize 24
    00000000            crc (below)
    01                  magic 1
    00                  attributes: CreateTime, no compression
    0000018bcfe56800    timestamp 1700000000000
    ffffffff            key null
    00000002 6869       value "hi"
  `);
  m1.writeUInt32BE(referenceCrc32(m1.subarray(16)), 12);
  assert.equal(
    encodeMessageSet([{ key: null, value: Buffer.from('hi'), timestamp: T0 }], { magic: 1 }).toString('hex'),
    m1.toString('hex'),
  );
  assert.deepEqual(
    decodeMessageSet(Buffer.concat([m0, m1])).map((m) => [
      m.offset,
      m.magic,
      m.timestamp,
      m.key?.toString() ?? null,
      m.value?.toString(),
    ]),
    [
      [5, 0, -1, 'k', 'v'],
      [0, 1, T0, null, 'hi'],
    ],
  );
});

function inputs(n: number): LegacyMessageInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 4 === 0 ? null : Buffer.from(`key${i}`),
    value: i % 5 === 0 ? null : i % 5 === 1 ? Buffer.alloc(0) : Buffer.from(`value ${i} `.repeat(i % 9)),
    timestamp: T0 + i * 10,
  }));
}

test('magic 0 and 1 round-trip with and without compression', () => {
  const msgs = inputs(40);
  for (const magic of [0, 1] as const) {
    for (const compression of [0, 1, 2, 3]) {
      const set = encodeMessageSet(msgs, { magic, compression, baseOffset: 300 });
      const back = decodeMessageSet(set);
      const label = `magic ${magic} codec ${compression}`;
      assert.deepEqual(
        back.map((m) => m.offset),
        msgs.map((_, i) => 300 + i),
        label,
      );
      assert.deepEqual(
        back.map((m) => m.key?.toString('hex') ?? null),
        msgs.map((m) => m.key?.toString('hex') ?? null),
        label,
      );
      assert.deepEqual(
        back.map((m) => m.value?.toString('hex') ?? null),
        msgs.map((m) => m.value?.toString('hex') ?? null),
        label,
      );
      assert.deepEqual(
        back.map((m) => m.timestamp),
        msgs.map((m) => (magic === 0 ? -1 : m.timestamp)),
        label,
      );
      assert.ok(
        back.every((m) => m.compression === compression && m.magic === magic),
        label,
      );
    }
  }
});

test('compressed magic 1: relative inner offsets, wrapper carries the last absolute offset', () => {
  const set = encodeMessageSet(
    [
      { offset: 10, key: null, value: Buffer.from('a'), timestamp: T0 + 5 },
      { offset: 12, key: null, value: Buffer.from('b'), timestamp: T0 },
      { offset: 15, key: null, value: Buffer.from('c'), timestamp: T0 + 2 },
    ],
    { magic: 1, compression: 1 },
  );
  assert.equal(Number(set.readBigInt64BE(0)), 15, 'wrapper offset');
  assert.equal(set[17]! & 0x07, 1, 'wrapper codec');
  assert.equal(Number(set.readBigInt64BE(18)), T0 + 5, 'wrapper timestamp is the max');
  const valueLen = set.readInt32BE(30);
  const inner = decompress(1, set.subarray(34, 34 + valueLen));
  const innerOffsets = decodeMessageSet(inner).map((m) => m.offset);
  assert.deepEqual(innerOffsets, [0, 2, 5]);
  assert.deepEqual(
    decodeMessageSet(set).map((m) => m.offset),
    [10, 12, 15],
  );
});

test('compressed magic 0: absolute inner offsets, lz4 written with the old descriptor checksum', () => {
  const set = encodeMessageSet(inputs(5), { magic: 0, compression: 3, baseOffset: 1000 });
  assert.equal(Number(set.readBigInt64BE(0)), 1004);
  const valueLen = set.readInt32BE(22);
  const frame = set.subarray(26, 26 + valueLen);
  assert.equal(frame[6], (xxhash32(frame.subarray(0, 6)) >>> 8) & 0xff, 'checksum over magic + FLG + BD');
  assert.throws(() => decompress(3, frame), CorruptCompressedDataError);
  const inner = decompress(3, frame, { lz4IgnoreHeaderChecksum: true });
  assert.deepEqual(
    decodeMessageSet(inner).map((m) => m.offset),
    [1000, 1001, 1002, 1003, 1004],
  );
  assert.deepEqual(
    decodeMessageSet(set).map((m) => m.offset),
    [1000, 1001, 1002, 1003, 1004],
  );
});

test('magic-0 lz4 written by a correct writer also decodes; magic-1 lz4 must have a correct checksum', () => {
  const inner = encodeMessageSet(inputs(3), { magic: 0 });
  const correct = rawMessage(2, 0, 3, null, null, compress(3, inner));
  assert.equal(decodeMessageSet(correct).length, 3);
  const inner1 = encodeMessageSet(inputs(3), { magic: 1 });
  const broken1 = rawMessage(2, 1, 3, T0, null, compress(3, inner1, { lz4BrokenHeaderChecksum: true }));
  assert.throws(() => decodeMessageSet(broken1), CorruptCompressedDataError);
});

test('LogAppendTime wrappers stamp their time on every inner message', () => {
  const set = encodeMessageSet(inputs(4), {
    magic: 1,
    compression: 2,
    timestampType: TimestampType.LOG_APPEND_TIME,
    logAppendTime: T0 + 777,
  });
  assert.equal(set[17]! & 0x08, 0x08);
  const back = decodeMessageSet(set);
  assert.ok(back.every((m) => m.timestamp === T0 + 777 && m.timestampType === TimestampType.LOG_APPEND_TIME));
  const plain = decodeMessageSet(
    encodeMessageSet(inputs(2), { magic: 1, timestampType: TimestampType.LOG_APPEND_TIME, logAppendTime: 5 }),
  );
  assert.deepEqual(
    plain.map((m) => [m.timestamp, m.timestampType]),
    [
      [5, 1],
      [5, 1],
    ],
  );
});

test('zstd, nested compression and mixed magics are refused with typed errors', () => {
  assert.throws(() => encodeMessageSet(inputs(2), { magic: 1, compression: 4 }), UnsupportedCompressionError);
  const zstdWrapper = rawMessage(1, 1, 4, T0, null, compress(4, encodeMessageSet(inputs(2), { magic: 1 })));
  assert.throws(() => decodeMessageSet(zstdWrapper), UnsupportedCompressionError);
  const nested = rawMessage(0, 1, 1, T0, null, compress(1, encodeMessageSet(inputs(2), { magic: 1, compression: 1 })));
  assert.throws(() => decodeMessageSet(nested), InvalidRecordError);
  const mixed = rawMessage(1, 1, 1, T0, null, compress(1, encodeMessageSet(inputs(2), { magic: 0 })));
  assert.throws(() => decodeMessageSet(mixed), InvalidRecordError);
  const empty = rawMessage(1, 1, 1, T0, null, compress(1, Buffer.alloc(0)));
  assert.throws(() => decodeMessageSet(empty), InvalidRecordError);
});

test('partial trailing messages: dropped for fetch data, refused for produce data', () => {
  const set = encodeMessageSet(inputs(6), { magic: 1 });
  const cut = set.subarray(0, set.length - 3);
  assert.equal(decodeMessageSet(cut).length, 5);
  assert.throws(() => decodeMessageSet(cut, { allowPartialTail: false }), DecodeError);
  assert.equal(decodeMessageSet(set, { allowPartialTail: false }).length, 6);
});

test('bad CRCs, outer or inner, raise DecodeError', () => {
  const set = encodeMessageSet(inputs(3), { magic: 1 });
  const bad = Buffer.from(set);
  bad[bad.length - 1]! ^= 1;
  assert.throws(() => decodeMessageSet(bad), /CRC-32/);
  const inner = Buffer.from(encodeMessageSet(inputs(3), { magic: 1 }));
  inner[inner.length - 1]! ^= 1;
  assert.throws(() => decodeMessageSet(rawMessage(2, 1, 1, T0, null, compress(1, inner))), /CRC-32/);
});

test('the decompression budget covers all wrappers of a set together', () => {
  const big = [{ key: null, value: Buffer.alloc(600_000), timestamp: T0 }];
  const set = Buffer.concat([
    encodeMessageSet(big, { magic: 1, compression: 1 }),
    encodeMessageSet(big, { magic: 1, compression: 1, baseOffset: 1 }),
  ]);
  assert.equal(decodeMessageSet(set, { maxDecompressedBytes: 2_000_000 }).length, 2);
  assert.throws(() => decodeMessageSet(set, { maxDecompressedBytes: 1_000_000 }), DecompressionLimitError);
});

test('mutated message sets only raise DecodeError, InvalidRecordError or CompressionError', () => {
  const r = rng(7);
  const originals = [0, 1, 2, 3].flatMap((compression) =>
    [0, 1].map((magic) => encodeMessageSet(inputs(8), { magic: magic as 0 | 1, compression })),
  );
  for (let i = 0; i < 3000; i++) {
    const buf = Buffer.from(originals[i % originals.length]!);
    buf[Math.floor(r() * buf.length)]! ^= 1 << Math.floor(r() * 8);
    const input = r() < 0.3 ? buf.subarray(0, Math.floor(r() * buf.length)) : buf;
    for (const verifyCrc of [true, false]) {
      try {
        decodeMessageSet(input, { verifyCrc, maxDecompressedBytes: 1 << 20 });
      } catch (err) {
        assert.ok(
          err instanceof DecodeError || err instanceof InvalidRecordError || err instanceof CompressionError,
          `unexpected ${String(err)}`,
        );
      }
    }
  }
});
