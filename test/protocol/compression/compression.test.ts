import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { Compressor } from 'zstd-napi';
import {
  CompressionCodec,
  CompressionError,
  CorruptCompressedDataError,
  DecompressionLimitError,
  UnsupportedCompressionError,
  XERIAL_MAGIC,
  codecFromName,
  codecName,
  compress,
  compressAsync,
  decompress,
  decompressAsync,
  xxhash32,
} from '../../../src/protocol/compression/index.js';
import { SeededRandom, seedNote } from '../../helpers/seed.js';

/** Incompressible data and fuzz mutations come from here: TEST_SEED replays a failure. */
const rand = new SeededRandom();
const randomBytes = (n: number): Buffer => rand.bytes(n);

const CODECS = [0, 1, 2, 3, 4] as const;
const TEXT = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(7000));

function samples(): Buffer[] {
  return [
    Buffer.alloc(0),
    Buffer.from('k'),
    TEXT,
    randomBytes(200_000),
    Buffer.alloc(65536, 7),
    Buffer.alloc(65537, 7),
  ];
}

/** Walks an LZ4 frame written without content size/checksums and returns its block headers. */
function lz4Blocks(frame: Buffer): { size: number; uncompressed: boolean }[] {
  let pos = 7;
  const blocks: { size: number; uncompressed: boolean }[] = [];
  for (;;) {
    const field = frame.readUInt32LE(pos);
    pos += 4;
    if (field === 0) break;
    blocks.push({ size: field & 0x7fffffff, uncompressed: (field & 0x80000000) !== 0 });
    pos += field & 0x7fffffff;
  }
  assert.equal(pos, frame.length, 'frame ends right after the end mark');
  return blocks;
}

test('every codec round-trips sync and async, and the two forms interoperate', async () => {
  for (const codec of CODECS) {
    for (const data of samples()) {
      const z = compress(codec, data);
      const za = await compressAsync(codec, data);
      assert.ok(decompress(codec, z).equals(data), `${codecName(codec)} sync ${data.length}`);
      assert.ok((await decompressAsync(codec, z)).equals(data), `${codecName(codec)} async of sync ${data.length}`);
      assert.ok(decompress(codec, za).equals(data), `${codecName(codec)} sync of async ${data.length}`);
    }
  }
});

test('compressible data actually shrinks with every real codec', () => {
  for (const codec of [1, 2, 3, 4]) {
    assert.ok(compress(codec, TEXT).length < TEXT.length / 10, codecName(codec));
  }
});

test('codec none hands back the same buffer', () => {
  const b = Buffer.from('abc');
  assert.equal(compress(0, b), b);
  assert.equal(decompress(0, b), b);
});

test('codec ids 5-7 are refused with UnsupportedCompressionError', async () => {
  for (const id of [5, 6, 7]) {
    assert.throws(() => compress(id, TEXT), UnsupportedCompressionError);
    assert.throws(() => decompress(id, TEXT), UnsupportedCompressionError);
    await assert.rejects(compressAsync(id, TEXT), UnsupportedCompressionError);
    await assert.rejects(decompressAsync(id, TEXT), UnsupportedCompressionError);
  }
});

test('codec names follow Kafka compression.type values', () => {
  assert.deepEqual(CODECS.map(codecName), ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
  assert.equal(codecFromName('LZ4'), CompressionCodec.LZ4);
  assert.equal(codecName(6), 'unknown(6)');
  assert.throws(() => codecFromName('brotli'), TypeError);
});

test('gzip output is a standard gzip stream and foreign gzip streams are read', () => {
  const z = compress(CompressionCodec.GZIP, TEXT);
  assert.deepEqual([...z.subarray(0, 2)], [0x1f, 0x8b]);
  assert.ok(zlib.gunzipSync(z).equals(TEXT));
  const foreign = zlib.gzipSync(TEXT, { level: 9 });
  assert.ok(decompress(CompressionCodec.GZIP, foreign).equals(TEXT));
});

test('snappy compress writes snappy-java framing with 32 KiB blocks', () => {
  const data = randomBytes(100 * 1024);
  const z = compress(CompressionCodec.SNAPPY, data);
  assert.ok(z.subarray(0, 8).equals(XERIAL_MAGIC));
  assert.equal(z.readInt32BE(8), 1, 'version');
  assert.equal(z.readInt32BE(12), 1, 'compatible version');
  let pos = 16;
  const blockInputs: number[] = [];
  while (pos < z.length) {
    const len = z.readInt32BE(pos);
    const block = z.subarray(pos + 4, pos + 4 + len);
    blockInputs.push((snappy.uncompressSync(block, { asBuffer: true }) as Buffer).length);
    pos += 4 + len;
  }
  assert.equal(pos, z.length);
  assert.deepEqual(blockInputs, [32768, 32768, 32768, 4096]);
});

test('snappy decompress reads a raw block (librdkafka) and a hand-built snappy-java stream', () => {
  const raw = snappy.compressSync(TEXT);
  assert.ok(decompress(CompressionCodec.SNAPPY, raw).equals(TEXT));

  const header = Buffer.alloc(16);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const a = snappy.compressSync(Buffer.from('first block, '));
  const b = snappy.compressSync(Buffer.from('second block'));
  const len = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeInt32BE(n);
    return x;
  };
  const stream = Buffer.concat([header, len(a.length), a, len(b.length), b]);
  assert.equal(decompress(CompressionCodec.SNAPPY, stream).toString(), 'first block, second block');
  // snappy-java also reads streams concatenated after one another.
  const twice = Buffer.concat([stream, stream]);
  assert.equal(
    decompress(CompressionCodec.SNAPPY, twice).toString(),
    'first block, second blockfirst block, second block',
  );
  // A header with no blocks is an empty payload.
  assert.equal(decompress(CompressionCodec.SNAPPY, header).length, 0);
  // A block length running past the end is corruption.
  assert.throws(
    () => decompress(CompressionCodec.SNAPPY, stream.subarray(0, stream.length - 1)),
    CorruptCompressedDataError,
  );
});

test('snappy checks declared lengths against the limit before decompressing', () => {
  // Preamble claims 2^28 bytes; the body is junk. The limit trips before any decoding.
  const lying = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01, 0x00, 0x61]);
  assert.throws(() => decompress(CompressionCodec.SNAPPY, lying, { maxOutputBytes: 1024 }), DecompressionLimitError);
  // Within the limit the same junk is reported as corrupt, not silently accepted.
  assert.throws(
    () => decompress(CompressionCodec.SNAPPY, lying, { maxOutputBytes: 2 ** 30 }),
    CorruptCompressedDataError,
  );
});

test('lz4 frames follow the Kafka Java writer: FLG 0x60, BD 64 KiB, independent blocks', () => {
  const data = Buffer.concat([TEXT.subarray(0, 150_000), randomBytes(70_000)]);
  const z = compress(CompressionCodec.LZ4, data);
  assert.deepEqual([...z.subarray(0, 7)], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
  assert.equal(z[6], (xxhash32(z.subarray(4, 6)) >>> 8) & 0xff, 'descriptor checksum covers FLG and BD');
  const blocks = lz4Blocks(z);
  assert.equal(blocks.length, Math.ceil(data.length / 65536));
  assert.equal(blocks[0]!.uncompressed, false, 'text block is compressed');
  assert.equal(blocks.at(-1)!.uncompressed, true, 'random tail is stored');
  // An independent decoder (lz4-napi's own frame reader) accepts what we write.
  assert.ok(lz4.decompressFrameSync(z).equals(data));
});

test('lz4 reads frames from another encoder, with content checksum and 4 MiB blocks', async () => {
  const data = Buffer.concat([TEXT, randomBytes(5000)]);
  const foreign = lz4.compressFrameSync(data, { contentChecksum: true, blockChecksums: true });
  assert.ok(decompress(CompressionCodec.LZ4, foreign).equals(data));
  assert.ok(decompress(CompressionCodec.LZ4, foreign, { maxOutputBytes: data.length }).equals(data));
  assert.ok((await decompressAsync(CompressionCodec.LZ4, foreign)).equals(data));
  const bad = Buffer.from(foreign);
  bad[bad.length - 1]! ^= 0xff;
  assert.throws(() => decompress(CompressionCodec.LZ4, bad), CorruptCompressedDataError);
  await assert.rejects(decompressAsync(CompressionCodec.LZ4, bad), CorruptCompressedDataError);
  // A flipped block checksum is caught too.
  const badBlock = Buffer.from(foreign);
  const firstBlockSize = badBlock.readUInt32LE(7) & 0x7fffffff;
  badBlock[7 + 4 + firstBlockSize]! ^= 0xff;
  assert.throws(() => decompress(CompressionCodec.LZ4, badBlock), /block checksum/);
  await assert.rejects(decompressAsync(CompressionCodec.LZ4, badBlock), /block checksum/);
});

test('lz4 magic-0 quirk: broken descriptor checksum is written on request and ignored on request', async () => {
  const z = compress(CompressionCodec.LZ4, TEXT, { lz4BrokenHeaderChecksum: true });
  // Old Kafka hashed magic number + FLG + BD.
  assert.equal(z[6], (xxhash32(z.subarray(0, 6)) >>> 8) & 0xff);
  assert.notEqual(z[6], (xxhash32(z.subarray(4, 6)) >>> 8) & 0xff);
  assert.throws(() => decompress(CompressionCodec.LZ4, z), CorruptCompressedDataError);
  await assert.rejects(decompressAsync(CompressionCodec.LZ4, z), CorruptCompressedDataError);
  assert.ok(decompress(CompressionCodec.LZ4, z, { lz4IgnoreHeaderChecksum: true }).equals(TEXT));
  assert.ok((await decompressAsync(CompressionCodec.LZ4, z, { lz4IgnoreHeaderChecksum: true })).equals(TEXT));
  // Any other value is also ignored in that mode; a correct one still works.
  const other = Buffer.from(z);
  other[6] = 0x00;
  assert.ok(decompress(CompressionCodec.LZ4, other, { lz4IgnoreHeaderChecksum: true }).equals(TEXT));
  assert.ok(decompress(CompressionCodec.LZ4, compress(3, TEXT), { lz4IgnoreHeaderChecksum: true }).equals(TEXT));
});

function lz4Frame(flg: number, blocks: Buffer[]): Buffer {
  const head = Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, 0x40, 0]);
  head[6] = (xxhash32(head.subarray(4, 6)) >>> 8) & 0xff;
  return Buffer.concat([head, ...blocks, Buffer.alloc(4)]);
}

function lz4Block(body: Buffer, uncompressed = false): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE((body.length | (uncompressed ? 0x80000000 : 0)) >>> 0);
  return Buffer.concat([h, body]);
}

test('lz4 linked blocks resolve matches into the previous block, sync and async', async () => {
  const first = Buffer.from('abcdefghijklmnop');
  // token: 0 literals, match length 4+12; offset 16 (into the previous block); then 5 final literals.
  const second = Buffer.from([0x0c, 0x10, 0x00, 0x50, ...Buffer.from('12345')]);
  const frame = lz4Frame(0x40, [lz4Block(first, true), lz4Block(second)]);
  const want = 'abcdefghijklmnopabcdefghijklmnop12345';
  assert.equal(decompress(CompressionCodec.LZ4, frame).toString(), want);
  assert.equal(decompress(CompressionCodec.LZ4, frame, { maxOutputBytes: 100 }).toString(), want);
  assert.equal((await decompressAsync(CompressionCodec.LZ4, frame)).toString(), want);
  assert.throws(() => decompress(CompressionCodec.LZ4, frame, { maxOutputBytes: 30 }), DecompressionLimitError);
});

test('lz4 limit counts real output: many small blocks under the limit pass, over it fail', async () => {
  const pieces = Array.from({ length: 20 }, (_, i) => Buffer.alloc(500, 97 + i));
  const blocks = pieces.map((p) => lz4Block(lz4.compressSync(p).subarray(4)));
  const frame = lz4Frame(0x60, blocks);
  // Bound is 20 * 64 KiB, actual 10000 bytes.
  assert.ok(decompress(CompressionCodec.LZ4, frame, { maxOutputBytes: 10_000 }).equals(Buffer.concat(pieces)));
  assert.ok(
    (await decompressAsync(CompressionCodec.LZ4, frame, { maxOutputBytes: 10_000 })).equals(Buffer.concat(pieces)),
  );
  assert.throws(() => decompress(CompressionCodec.LZ4, frame, { maxOutputBytes: 9_999 }), DecompressionLimitError);
});

test('lz4 rejects blocks larger than the frame maximum, missing end marks and bad magic', () => {
  const big = lz4.compressSync(Buffer.alloc(200_000, 1)).subarray(4);
  assert.throws(() => decompress(CompressionCodec.LZ4, lz4Frame(0x60, [lz4Block(big)])), CorruptCompressedDataError);
  const z = compress(CompressionCodec.LZ4, TEXT);
  assert.throws(() => decompress(CompressionCodec.LZ4, z.subarray(0, z.length - 4)), CorruptCompressedDataError);
  const badMagic = Buffer.from(z);
  badMagic[0] = 0;
  assert.throws(() => decompress(CompressionCodec.LZ4, badMagic), CorruptCompressedDataError);
});

test('zstd reads frames without a content size (as the Java client streams them) within the limit', async () => {
  const c = new Compressor();
  c.setParameters({ contentSizeFlag: false });
  const data = Buffer.concat([TEXT, TEXT]);
  const frame = c.compress(data);
  assert.ok(decompress(CompressionCodec.ZSTD, frame).equals(data));
  assert.ok((await decompressAsync(CompressionCodec.ZSTD, frame)).equals(data));
  assert.ok(decompress(CompressionCodec.ZSTD, frame, { maxOutputBytes: data.length }).equals(data));
  assert.throws(
    () => decompress(CompressionCodec.ZSTD, frame, { maxOutputBytes: data.length - 1 }),
    DecompressionLimitError,
  );
  await assert.rejects(
    decompressAsync(CompressionCodec.ZSTD, frame, { maxOutputBytes: 1000 }),
    DecompressionLimitError,
  );
  // Two frames back to back decode to the concatenation.
  assert.ok(
    decompress(CompressionCodec.ZSTD, Buffer.concat([frame, compress(4, TEXT)])).equals(Buffer.concat([data, TEXT])),
  );
  assert.throws(
    () => decompress(CompressionCodec.ZSTD, frame.subarray(0, frame.length - 3)),
    CorruptCompressedDataError,
  );
  // The shared context recovers after a failure.
  assert.ok(decompress(CompressionCodec.ZSTD, frame).equals(data));
});

test('zip bombs: every codec refuses output beyond the limit, sync and async, and allows exactly the limit', async () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  for (const codec of [1, 2, 3, 4]) {
    const z = compress(codec, zeros);
    assert.ok(z.length < 1024 * 1024, `${codecName(codec)} bomb is small`);
    assert.throws(
      () => decompress(codec, z, { maxOutputBytes: 1024 * 1024 }),
      DecompressionLimitError,
      codecName(codec),
    );
    await assert.rejects(
      decompressAsync(codec, z, { maxOutputBytes: 1024 * 1024 }),
      DecompressionLimitError,
      codecName(codec),
    );
    assert.equal(decompress(codec, z, { maxOutputBytes: zeros.length }).length, zeros.length);
  }
  assert.throws(() => decompress(0, zeros, { maxOutputBytes: 100 }), DecompressionLimitError);
  const oneByte = compress(CompressionCodec.GZIP, Buffer.from('x'));
  assert.throws(() => decompress(CompressionCodec.GZIP, oneByte, { maxOutputBytes: 0 }), DecompressionLimitError);
});

test(`garbage and mutated compressed data only ever raise CompressionError ${seedNote()}`, async () => {
  const data = Buffer.concat([TEXT.subarray(0, 20_000), randomBytes(3000)]);
  for (const codec of [1, 2, 3, 4]) {
    const good = compress(codec, data);
    for (let i = 0; i < 200; i++) {
      const bad = Buffer.from(good);
      const mode = i % 3;
      let input: Buffer = bad;
      if (mode === 0) bad[Math.floor(rand.next() * bad.length)]! ^= 1 << Math.floor(rand.next() * 8);
      else if (mode === 1) input = bad.subarray(0, Math.floor(rand.next() * bad.length));
      else input = randomBytes(1 + Math.floor(rand.next() * 64));
      try {
        decompress(codec, input, { maxOutputBytes: 1 << 20 });
      } catch (err) {
        assert.ok(
          err instanceof CompressionError,
          `${codecName(codec)} threw ${String(err)} at mutation ${i} ${seedNote()}`,
        );
      }
      if (i % 20 === 0) {
        await decompressAsync(codec, input, { maxOutputBytes: 1 << 20 }).catch((err) => {
          assert.ok(
            err instanceof CompressionError,
            `${codecName(codec)} async threw ${String(err)} at mutation ${i} ${seedNote()}`,
          );
        });
      }
    }
  }
});

test('xxhash32 matches the reference values', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff);
  // Cross-check the long-input path with lz4's content checksum, written by a native encoder.
  const data = randomBytes(1000);
  const frame = lz4.compressFrameSync(data, { contentChecksum: true });
  assert.equal(xxhash32(data), frame.readUInt32LE(frame.length - 4));
});
