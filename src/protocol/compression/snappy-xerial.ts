import * as snappy from 'snappy';
import { CompressionCodec, CorruptCompressedDataError, DecompressionLimitError } from './codec.js';

/**
 * Snappy as Kafka clients frame it. The Java client writes snappy-java's stream format (an 8-byte
 * magic, version and compatible-version int32s, then int32-length-prefixed raw snappy blocks of at
 * most 32 KiB input each); librdkafka writes one raw snappy block. Readers accept both, so the
 * decoder does too. Every raw block starts with its decompressed length as a varint, which lets
 * the whole output size be known and checked before anything is decompressed.
 */
const SNAPPY = CompressionCodec.SNAPPY;
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size, which Kafka's producer uses. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function corrupt(message: string, cause?: unknown): CorruptCompressedDataError {
  return new CorruptCompressedDataError(SNAPPY, message, cause === undefined ? undefined : { cause });
}

export function isXerialFramed(data: Buffer, pos = 0): boolean {
  return data.length - pos >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, 8, pos, pos + 8) === 0;
}

/** The decompressed length a raw snappy block declares in its varint preamble. */
function declaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw corrupt('bad length preamble in snappy block');
}

function xerialHeader(): Buffer {
  const h = Buffer.allocUnsafe(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(h, 0);
  h.writeInt32BE(XERIAL_VERSION, 8);
  h.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  return h;
}

function chunksOf(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let p = 0; p < data.length; p += XERIAL_BLOCK_SIZE)
    chunks.push(data.subarray(p, Math.min(p + XERIAL_BLOCK_SIZE, data.length)));
  return chunks;
}

function assemble(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [xerialHeader()];
  let size = XERIAL_HEADER_SIZE;
  for (const b of blocks) {
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(b.length, 0);
    parts.push(len, b);
    size += 4 + b.length;
  }
  return Buffer.concat(parts, size);
}

export function snappyCompress(data: Buffer): Buffer {
  return assemble(chunksOf(data).map((c) => snappy.compressSync(c)));
}

export async function snappyCompressAsync(data: Buffer): Promise<Buffer> {
  return assemble(await Promise.all(chunksOf(data).map((c) => snappy.compress(c))));
}

/** Splits the input into raw blocks and checks the declared total against the limit. */
function rawBlocks(data: Buffer, limit: number): Buffer[] {
  const blocks: Buffer[] = [];
  if (!isXerialFramed(data)) {
    blocks.push(data);
  } else {
    if (data.length < XERIAL_HEADER_SIZE) throw corrupt('truncated snappy-java stream header');
    let pos = XERIAL_HEADER_SIZE;
    while (pos < data.length) {
      // snappy-java readers accept a new stream header where a block length is expected
      // (concatenated streams), so the same is tolerated here.
      if (isXerialFramed(data, pos)) {
        if (data.length - pos < XERIAL_HEADER_SIZE) throw corrupt('truncated snappy-java stream header');
        pos += XERIAL_HEADER_SIZE;
        continue;
      }
      if (data.length - pos < 4) throw corrupt('truncated snappy-java block length');
      const len = data.readInt32BE(pos);
      pos += 4;
      if (len < 0 || len > data.length - pos)
        throw corrupt(`snappy-java block of ${len} bytes, ${data.length - pos} left`);
      blocks.push(data.subarray(pos, pos + len));
      pos += len;
    }
  }
  let total = 0;
  for (const b of blocks) {
    total += declaredLength(b);
    if (total > limit) throw new DecompressionLimitError(SNAPPY, limit, `blocks declare at least ${total} bytes`);
  }
  return blocks;
}

function uncompressBlock(block: Buffer): Buffer {
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw corrupt('malformed snappy block', err);
  }
}

export function snappyDecompress(data: Buffer, limit: number): Buffer {
  const blocks = rawBlocks(data, limit);
  if (blocks.length === 1) return uncompressBlock(blocks[0]!);
  return Buffer.concat(blocks.map(uncompressBlock));
}

export async function snappyDecompressAsync(data: Buffer, limit: number): Promise<Buffer> {
  const blocks = rawBlocks(data, limit);
  let out: Buffer[];
  try {
    out = (await Promise.all(blocks.map((b) => snappy.uncompress(b, { asBuffer: true })))) as Buffer[];
  } catch (err) {
    throw corrupt('malformed snappy block', err);
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}
