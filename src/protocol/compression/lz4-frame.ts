import * as lz4 from 'lz4-napi';
import { CompressionCodec, CorruptCompressedDataError, DecompressionLimitError } from './codec.js';
import { xxhash32 } from './xxhash32.js';

/**
 * LZ4 frame format, as Kafka uses it for codec 3. Blocks are compressed by lz4-napi's raw block
 * functions; the framing is written and parsed here because lz4-napi's own frame encoder picks
 * 4 MiB blocks for large inputs and cannot write the magic-0 descriptor checksum, and its decoder
 * has no output limit, always verifies the descriptor checksum and is slow.
 *
 * Writer: the shape of Kafka's Java client (KafkaLZ4BlockOutputStream): FLG = version 01 with
 * independent blocks and no checksums, BD = 64 KiB maximum block size, no content size, then the
 * blocks (stored uncompressed when compression does not shrink them) and the end mark.
 */
const LZ4 = CompressionCodec.LZ4;
const MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const UNCOMPRESSED_BIT = 0x80000000;
const BLOCK_SIZE = 64 * 1024;
const BD_64KB = 4 << 4;
const FLG_WRITTEN = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENCE;
const TWO_32 = 4294967296;

function corrupt(message: string, cause?: unknown): CorruptCompressedDataError {
  return new CorruptCompressedDataError(LZ4, message, cause === undefined ? undefined : { cause });
}

/** Descriptor checksum byte over `buf[from, to)`. */
function headerChecksum(buf: Uint8Array, from: number, to: number): number {
  return (xxhash32(buf, 0, from, to) >>> 8) & 0xff;
}

function frameHeader(broken: boolean): Buffer {
  const h = Buffer.allocUnsafe(7);
  h.writeUInt32LE(MAGIC, 0);
  h[4] = FLG_WRITTEN;
  h[5] = BD_64KB;
  // Kafka's magic-0 writer hashed from the start of the frame instead of from FLG.
  h[6] = broken ? headerChecksum(h, 0, 6) : headerChecksum(h, 4, 6);
  return h;
}

function sizeField(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** Appends one block given the raw compressor's size-prefixed output for `chunk`. */
function pushBlock(parts: Buffer[], chunk: Buffer, prefixed: Buffer): number {
  const block = prefixed.subarray(4);
  if (block.length >= chunk.length) {
    parts.push(sizeField((chunk.length | UNCOMPRESSED_BIT) >>> 0), chunk);
    return 4 + chunk.length;
  }
  parts.push(sizeField(block.length), block);
  return 4 + block.length;
}

function chunksOf(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let p = 0; p < data.length; p += BLOCK_SIZE)
    chunks.push(data.subarray(p, Math.min(p + BLOCK_SIZE, data.length)));
  return chunks;
}

function assemble(broken: boolean, chunks: Buffer[], compressed: Buffer[]): Buffer {
  const parts: Buffer[] = [frameHeader(broken)];
  let size = 7 + 4;
  for (let i = 0; i < chunks.length; i++) size += pushBlock(parts, chunks[i]!, compressed[i]!);
  parts.push(sizeField(0));
  return Buffer.concat(parts, size);
}

export function lz4FrameCompress(data: Buffer, brokenHeaderChecksum = false): Buffer {
  const chunks = chunksOf(data);
  return assemble(
    brokenHeaderChecksum,
    chunks,
    chunks.map((c) => lz4.compressSync(c)),
  );
}

/** Blocks are independent, so they are compressed in parallel on libuv's thread pool. */
export async function lz4FrameCompressAsync(data: Buffer, brokenHeaderChecksum = false): Promise<Buffer> {
  const chunks = chunksOf(data);
  const compressed = await Promise.all(chunks.map((c) => lz4.compress(c)));
  return assemble(brokenHeaderChecksum, chunks, compressed);
}

interface BlockRef {
  start: number;
  size: number;
  uncompressed: boolean;
}

interface ParsedFrame {
  flg: number;
  blockMax: number;
  contentSize: number;
  headerChecksumOk: boolean;
  blocks: BlockRef[];
  /** Upper bound on the decompressed size: no block may decode to more than blockMax. */
  bound: number;
  end: number;
}

function parseFrame(data: Buffer): ParsedFrame {
  if (data.length < 7) throw corrupt(`frame of ${data.length} bytes is shorter than a frame header`);
  if (data.readUInt32LE(0) !== MAGIC) throw corrupt(`bad frame magic 0x${data.readUInt32LE(0).toString(16)}`);
  const flg = data[4]!;
  const bd = data[5]!;
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01)
    throw corrupt(`unsupported frame version in FLG 0x${flg.toString(16)}`);
  if ((flg & FLG_RESERVED) !== 0 || (bd & 0x8f) !== 0) throw corrupt('reserved frame descriptor bits are set');
  if ((flg & FLG_DICT_ID) !== 0) throw corrupt('frames needing a dictionary are not supported');
  const sizeId = (bd >> 4) & 0x07;
  if (sizeId < 4) throw corrupt(`invalid block maximum size id ${sizeId}`);
  const blockMax = 1 << (2 * sizeId + 8);
  let pos = 6;
  let contentSize = -1;
  if ((flg & FLG_CONTENT_SIZE) !== 0) {
    if (data.length < pos + 9) throw corrupt('truncated frame descriptor');
    contentSize = data.readUInt32LE(pos + 4) * TWO_32 + data.readUInt32LE(pos);
    pos += 8;
  }
  if (data.length < pos + 1) throw corrupt('truncated frame descriptor');
  const headerChecksumOk = data[pos] === headerChecksum(data, 4, pos);
  pos += 1;
  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const blocks: BlockRef[] = [];
  let bound = 0;
  for (;;) {
    if (data.length < pos + 4) throw corrupt('frame ends without an end mark');
    const field = data.readUInt32LE(pos);
    pos += 4;
    if (field === 0) break;
    const size = field & 0x7fffffff;
    const uncompressed = (field & UNCOMPRESSED_BIT) !== 0;
    if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`);
    if (data.length < pos + size + (blockChecksum ? 4 : 0)) throw corrupt('truncated block');
    blocks.push({ start: pos, size, uncompressed });
    bound += uncompressed ? size : blockMax;
    pos += size + (blockChecksum ? 4 : 0);
  }
  if ((flg & FLG_CONTENT_CHECKSUM) !== 0) {
    if (data.length < pos + 4) throw corrupt('truncated content checksum');
    pos += 4;
  }
  if (contentSize >= 0 && contentSize < bound) bound = contentSize;
  return { flg, blockMax, contentSize, headerChecksumOk, blocks, bound, end: pos };
}

function dictionaryFrom(out: Buffer[], total: number): Buffer {
  const want = Math.min(BLOCK_SIZE, total);
  const pieces: Buffer[] = [];
  let have = 0;
  for (let i = out.length - 1; i >= 0 && have < want; i--) {
    const piece = out[i]!;
    const take = Math.min(piece.length, want - have);
    pieces.unshift(piece.subarray(piece.length - take));
    have += take;
  }
  return Buffer.concat(pieces, have);
}

function blockChecksumOk(data: Buffer, frame: ParsedFrame, b: BlockRef): boolean {
  if ((frame.flg & FLG_BLOCK_CHECKSUM) === 0) return true;
  return xxhash32(data, 0, b.start, b.start + b.size) === data.readUInt32LE(b.start + b.size);
}

/** lz4-napi's raw decoder takes a little-endian size prefix as the output capacity. */
function prefixedBlock(data: Buffer, frame: ParsedFrame, b: BlockRef): Buffer {
  const input = Buffer.allocUnsafe(4 + b.size);
  input.writeUInt32LE(frame.blockMax, 0);
  data.copy(input, 4, b.start, b.start + b.size);
  return input;
}

/**
 * Decodes block by block through the raw block decoder, counting output exactly, so memory never
 * exceeds the limit by more than one block. (lz4-napi's frame decoder is also several times
 * slower than its raw block decoder: 3.2 ms against 0.4 ms for 650 KB in our measurements.)
 */
function decodeBlocks(data: Buffer, frame: ParsedFrame, limit: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  const linked = (frame.flg & FLG_BLOCK_INDEPENDENCE) === 0;
  for (const b of frame.blocks) {
    if (!blockChecksumOk(data, frame, b)) throw corrupt('block checksum mismatch');
    let piece: Buffer;
    if (b.uncompressed) {
      piece = data.subarray(b.start, b.start + b.size);
    } else {
      const input = prefixedBlock(data, frame, b);
      try {
        piece = linked && total > 0 ? lz4.uncompressSync(input, dictionaryFrom(out, total)) : lz4.uncompressSync(input);
      } catch (err) {
        throw corrupt('malformed block', err);
      }
    }
    total += piece.length;
    if (total > limit)
      throw new DecompressionLimitError(LZ4, limit, `more than ${limit} bytes after ${out.length + 1} blocks`);
    out.push(piece);
  }
  return finish(data, frame, out, total);
}

function finish(data: Buffer, frame: ParsedFrame, out: Buffer[], total: number): Buffer {
  const result = out.length === 1 ? out[0]! : Buffer.concat(out, total);
  if (frame.contentSize >= 0 && result.length !== frame.contentSize) {
    throw corrupt(`frame declares ${frame.contentSize} bytes but holds ${result.length}`);
  }
  if ((frame.flg & FLG_CONTENT_CHECKSUM) !== 0 && xxhash32(result) !== data.readUInt32LE(frame.end - 4)) {
    throw corrupt('content checksum mismatch');
  }
  return result;
}

function parseChecked(data: Buffer, limit: number, ignoreHeaderChecksum: boolean): ParsedFrame {
  const frame = parseFrame(data);
  if (!frame.headerChecksumOk && !ignoreHeaderChecksum) throw corrupt('frame descriptor checksum mismatch');
  if (frame.contentSize > limit)
    throw new DecompressionLimitError(LZ4, limit, `frame declares ${frame.contentSize} bytes`);
  return frame;
}

export function lz4FrameDecompress(data: Buffer, limit: number, ignoreHeaderChecksum = false): Buffer {
  return decodeBlocks(data, parseChecked(data, limit, ignoreHeaderChecksum), limit);
}

/**
 * Independent blocks are decoded in parallel on libuv's thread pool when the frame's bound (every
 * block at its maximum) is within the limit; otherwise, or for linked blocks, the exact
 * synchronous path runs.
 */
export async function lz4FrameDecompressAsync(
  data: Buffer,
  limit: number,
  ignoreHeaderChecksum = false,
): Promise<Buffer> {
  const frame = parseChecked(data, limit, ignoreHeaderChecksum);
  if ((frame.flg & FLG_BLOCK_INDEPENDENCE) === 0 || frame.bound > limit) return decodeBlocks(data, frame, limit);
  for (const b of frame.blocks) if (!blockChecksumOk(data, frame, b)) throw corrupt('block checksum mismatch');
  let out: Buffer[];
  try {
    out = await Promise.all(
      frame.blocks.map((b) =>
        b.uncompressed
          ? Promise.resolve(data.subarray(b.start, b.start + b.size))
          : lz4.uncompress(prefixedBlock(data, frame, b)),
      ),
    );
  } catch (err) {
    throw corrupt('malformed block', err);
  }
  let total = 0;
  for (const piece of out) total += piece.length;
  return finish(data, frame, out, total);
}
