import { DecodeError } from '../decode-error.js';
import {
  CompressionCodec,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  DecompressionLimitError,
  UnsupportedCompressionError,
  compress,
  decompress,
} from '../compression/index.js';
import { crc32 } from './crc.js';
import { InvalidRecordError } from './errors.js';
import { NO_TIMESTAMP, TimestampType } from './record-batch.js';

/**
 * Legacy message sets (magic 0 and 1): messages back to back, each
 *
 *   offset int64 | messageSize int32 | crc uint32 (CRC-32 IEEE of magic..end) | magic int8 |
 *   attributes int8 (bits 0-2 codec, bit 3 timestamp type in magic 1) | timestamp int64 (magic 1) |
 *   key int32 length (-1 null) + bytes | value int32 length (-1 null) + bytes
 *
 * A compressed message is a wrapper whose value is a compressed inner message set. In magic 1
 * the inner offsets are relative (0..n-1) and the wrapper carries the absolute offset of the last
 * inner message; in magic 0 the inner offsets are absolute.
 */
export const LEGACY_LOG_OVERHEAD = 12;
const CRC_AT = 12;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 17;
/** crc + magic + attributes + key length + value length. */
const MESSAGE_OVERHEAD_V0 = 14;
/** ... plus the timestamp. */
const MESSAGE_OVERHEAD_V1 = 22;
const LEGACY_CODEC_MASK = 0x07;
const LEGACY_TIMESTAMP_TYPE_MASK = 0x08;
const TWO_32 = 4294967296;

export type LegacyMagic = 0 | 1;

export interface LegacyMessage {
  /** Absolute offset (inner messages of wrappers included). */
  offset: number;
  magic: LegacyMagic;
  /** The wrapper's codec for inner messages, 0 for plain messages. */
  compression: number;
  /** Magic 1: from the wrapper for inner messages. CreateTime for magic 0. */
  timestampType: TimestampType;
  /** -1 (NO_TIMESTAMP) for magic 0. LogAppendTime wrappers give every inner message their time. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface MessageSetDecodeOptions {
  /** Budget for all decompressed wrapper contents together (default 64 MiB). */
  maxDecompressedBytes?: number;
  /** Check CRC-32 of every message, inner ones included (default true). */
  verifyCrc?: boolean;
  /**
   * Stop quietly before a message cut off at the end, as fetch responses may be (default true).
   * Produce data must be whole: pass false to get a DecodeError instead.
   */
  allowPartialTail?: boolean;
}

function overhead(magic: number): number {
  return magic === 0 ? MESSAGE_OVERHEAD_V0 : MESSAGE_OVERHEAD_V1;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, at);
  buf.writeUInt32BE((v - hi * TWO_32) >>> 0, at + 4);
}

/** One message as it sits in the set, before wrapper expansion. */
interface RawMessage {
  offset: number;
  magic: LegacyMagic;
  attributes: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  size: number;
}

/**
 * Reads the message at `pos`; returns null when fewer bytes remain than it needs and
 * `partialOk` is set.
 */
function readMessage(buf: Buffer, pos: number, end: number, verifyCrc: boolean, partialOk: boolean): RawMessage | null {
  const avail = end - pos;
  if (avail < LEGACY_LOG_OVERHEAD) {
    if (partialOk) return null;
    throw new DecodeError(`message at ${pos} truncated: ${avail} bytes`);
  }
  const messageSize = buf.readInt32BE(pos + 8);
  if (messageSize < MESSAGE_OVERHEAD_V0) throw new DecodeError(`message at ${pos} has size ${messageSize}`);
  if (avail < LEGACY_LOG_OVERHEAD + messageSize) {
    if (partialOk) return null;
    throw new DecodeError(`message at ${pos} truncated: ${avail} of ${LEGACY_LOG_OVERHEAD + messageSize} bytes`);
  }
  const msgEnd = pos + LEGACY_LOG_OVERHEAD + messageSize;
  const magic = buf.readInt8(pos + MAGIC_AT);
  if (magic !== 0 && magic !== 1) throw new DecodeError(`message at ${pos} has magic ${magic}`);
  if (messageSize < overhead(magic)) throw new DecodeError(`magic ${magic} message at ${pos} has size ${messageSize}`);
  if (verifyCrc) {
    const stored = buf.readUInt32BE(pos + CRC_AT);
    const actual = crc32(buf.subarray(pos + MAGIC_AT, msgEnd));
    if (stored !== actual)
      throw new DecodeError(
        `message at ${pos}: CRC-32 is 0x${actual.toString(16)}, header says 0x${stored.toString(16)}`,
      );
  }
  const attributes = buf[pos + ATTRIBUTES_AT]!;
  let p = pos + 18;
  let timestamp = NO_TIMESTAMP;
  if (magic === 1) {
    timestamp = readInt64(buf, p);
    p += 8;
  }
  const keyLength = buf.readInt32BE(p);
  p += 4;
  if (keyLength < -1 || keyLength > msgEnd - p - 4)
    throw new DecodeError(`message at ${pos} has key length ${keyLength}`);
  const key = keyLength < 0 ? null : buf.subarray(p, p + keyLength);
  if (keyLength > 0) p += keyLength;
  const valueLength = buf.readInt32BE(p);
  p += 4;
  if (valueLength < -1 || valueLength > msgEnd - p)
    throw new DecodeError(`message at ${pos} has value length ${valueLength}`);
  const value = valueLength < 0 ? null : buf.subarray(p, p + valueLength);
  if (valueLength > 0) p += valueLength;
  if (p !== msgEnd) throw new DecodeError(`message at ${pos} has ${msgEnd - p} bytes after its value`);
  return { offset: readInt64(buf, pos), magic, attributes, timestamp, key, value, size: msgEnd - pos };
}

/** Decompresses a wrapper and appends its inner messages with absolute offsets. */
function expandWrapper(
  w: RawMessage,
  codec: number,
  out: LegacyMessage[],
  verifyCrc: boolean,
  budget: { left: number },
): void {
  if (codec === CompressionCodec.ZSTD || codec > CompressionCodec.ZSTD) {
    throw new UnsupportedCompressionError(codec, `codec ${codec} is not allowed in magic ${w.magic} messages`);
  }
  if (w.value === null) throw new InvalidRecordError(`compressed wrapper at offset ${w.offset} has a null value`);
  let inner: Buffer;
  try {
    inner = decompress(codec, w.value, { maxOutputBytes: budget.left, lz4IgnoreHeaderChecksum: w.magic === 0 });
  } catch (err) {
    if (err instanceof DecompressionLimitError)
      throw new DecompressionLimitError(codec, err.limit, 'message set exceeds the decompression budget');
    throw err;
  }
  budget.left -= inner.length;
  const first = out.length;
  let pos = 0;
  while (pos < inner.length) {
    const m = readMessage(inner, pos, inner.length, verifyCrc, false)!;
    if ((m.attributes & LEGACY_CODEC_MASK) !== 0)
      throw new InvalidRecordError(`compressed wrapper at offset ${w.offset} holds a compressed message`);
    if (m.magic !== w.magic)
      throw new InvalidRecordError(`magic ${w.magic} wrapper at offset ${w.offset} holds a magic ${m.magic} message`);
    const logAppend = w.magic === 1 && (w.attributes & LEGACY_TIMESTAMP_TYPE_MASK) !== 0;
    out.push({
      offset: m.offset,
      magic: m.magic,
      compression: codec,
      timestampType: logAppend ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
      timestamp: logAppend ? w.timestamp : m.timestamp,
      key: m.key,
      value: m.value,
    });
    pos += m.size;
  }
  if (out.length === first) throw new InvalidRecordError(`compressed wrapper at offset ${w.offset} holds no messages`);
  if (w.magic === 1) {
    // Relative inner offsets: the wrapper's offset is that of the last inner message.
    const base = w.offset - out[out.length - 1]!.offset;
    for (let i = first; i < out.length; i++) out[i]!.offset += base;
  }
}

/**
 * Decodes a magic 0/1 message set into its messages, expanding compressed wrappers (lz4 in
 * magic 0 is read with the descriptor-checksum quirk). Throws DecodeError for malformed bytes
 * and bad CRCs, InvalidRecordError for nested compression or mixed magics in a wrapper, and
 * CompressionError subclasses for bad compressed data.
 */
export function decodeMessageSet(buf: Buffer, options?: MessageSetDecodeOptions): LegacyMessage[] {
  const verifyCrc = options?.verifyCrc ?? true;
  const partialOk = options?.allowPartialTail ?? true;
  const budget = { left: options?.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES };
  const out: LegacyMessage[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const m = readMessage(buf, pos, buf.length, verifyCrc, partialOk);
    if (m === null) break;
    const codec = m.attributes & LEGACY_CODEC_MASK;
    if (codec !== 0) {
      expandWrapper(m, codec, out, verifyCrc, budget);
    } else {
      out.push({
        offset: m.offset,
        magic: m.magic,
        compression: 0,
        timestampType:
          m.magic === 1 && (m.attributes & LEGACY_TIMESTAMP_TYPE_MASK) !== 0
            ? TimestampType.LOG_APPEND_TIME
            : TimestampType.CREATE_TIME,
        timestamp: m.timestamp,
        key: m.key,
        value: m.value,
      });
    }
    pos += m.size;
  }
  return out;
}

/** Bytes one message takes in a set, log overhead included. */
export function legacyMessageSize(magic: LegacyMagic, key: Buffer | null, value: Buffer | null): number {
  return LEGACY_LOG_OVERHEAD + overhead(magic) + (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
}

/** Writes one message at `pos` (CRC included) and returns the position after it. */
function writeMessage(
  out: Buffer,
  pos: number,
  magic: LegacyMagic,
  offset: number,
  attributes: number,
  timestamp: number,
  key: Buffer | null,
  value: Buffer | null,
): number {
  const size = legacyMessageSize(magic, key, value);
  writeInt64(out, pos, offset);
  out.writeInt32BE(size - LEGACY_LOG_OVERHEAD, pos + 8);
  out.writeInt8(magic, pos + MAGIC_AT);
  out[pos + ATTRIBUTES_AT] = attributes;
  let p = pos + 18;
  if (magic === 1) {
    writeInt64(out, p, timestamp);
    p += 8;
  }
  if (key === null) {
    out.writeInt32BE(-1, p);
    p += 4;
  } else {
    out.writeInt32BE(key.length, p);
    out.set(key, p + 4);
    p += 4 + key.length;
  }
  if (value === null) {
    out.writeInt32BE(-1, p);
    p += 4;
  } else {
    out.writeInt32BE(value.length, p);
    out.set(value, p + 4);
    p += 4 + value.length;
  }
  out.writeUInt32BE(crc32(out.subarray(pos + MAGIC_AT, p)), pos + CRC_AT);
  return p;
}

export interface LegacyMessageInput {
  /** Absolute offset; defaults to baseOffset + index. Must grow within a compressed set. */
  offset?: number;
  /** Magic 1 only; default -1 (NO_TIMESTAMP). */
  timestamp?: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface EncodeMessageSetOptions {
  magic: LegacyMagic;
  /** 0-3; zstd does not exist before magic 2. Default 0. */
  compression?: number;
  baseOffset?: number;
  /** Magic 1: LogAppendTime sets bit 3 and stamps `logAppendTime` on every message (or the wrapper). */
  timestampType?: TimestampType;
  logAppendTime?: number;
  /** gzip level for the wrapper. */
  compressionLevel?: number;
}

function writePlainSet(
  messages: LegacyMessageInput[],
  opts: EncodeMessageSetOptions,
  offsets: number[],
  timestamps: number[],
  attributes: number,
): Buffer {
  let size = 0;
  for (const m of messages) size += legacyMessageSize(opts.magic, m.key, m.value);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    pos = writeMessage(out, pos, opts.magic, offsets[i]!, attributes, timestamps[i]!, m.key, m.value);
  }
  return out;
}

/**
 * Encodes a magic 0 or 1 message set: plain messages, or one compressed wrapper holding them
 * (relative inner offsets in magic 1, absolute in magic 0; lz4 in magic 0 written with the
 * descriptor checksum old readers expect).
 */
export function encodeMessageSet(messages: LegacyMessageInput[], opts: EncodeMessageSetOptions): Buffer {
  const magic = opts.magic;
  if (magic !== 0 && magic !== 1) throw new RangeError(`legacy magic must be 0 or 1, got ${String(magic)}`);
  const codec = opts.compression ?? 0;
  if (codec < 0 || codec > 3 || !Number.isInteger(codec)) {
    throw new UnsupportedCompressionError(codec, `codec ${codec} cannot be used in magic ${magic} messages`);
  }
  const logAppend = magic === 1 && opts.timestampType === TimestampType.LOG_APPEND_TIME;
  if (logAppend && opts.logAppendTime === undefined) throw new TypeError('logAppendTime is required for LogAppendTime');
  const baseOffset = opts.baseOffset ?? 0;
  const offsets = messages.map((m, i) => m.offset ?? baseOffset + i);
  const timestamps = messages.map((m) =>
    magic === 0 ? NO_TIMESTAMP : logAppend ? opts.logAppendTime! : (m.timestamp ?? NO_TIMESTAMP),
  );
  if (codec === 0)
    return writePlainSet(messages, opts, offsets, timestamps, logAppend ? LEGACY_TIMESTAMP_TYPE_MASK : 0);
  if (messages.length === 0) return Buffer.alloc(0);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i]! <= offsets[i - 1]!) throw new RangeError('offsets inside a compressed message set must grow');
  }
  const first = offsets[0]!;
  const last = offsets[offsets.length - 1]!;
  const innerOffsets = magic === 1 ? offsets.map((o) => o - first) : offsets;
  // Inner messages carry CreateTime; a LogAppendTime wrapper overrides their timestamps.
  const inner = writePlainSet(messages, opts, innerOffsets, timestamps, 0);
  const value = compress(codec, inner, { level: opts.compressionLevel, lz4BrokenHeaderChecksum: magic === 0 });
  let wrapperTimestamp = NO_TIMESTAMP;
  if (magic === 1) {
    wrapperTimestamp = logAppend ? opts.logAppendTime! : timestamps[0]!;
    for (const t of timestamps) if (t > wrapperTimestamp) wrapperTimestamp = t;
  }
  const out = Buffer.allocUnsafe(legacyMessageSize(magic, null, value));
  writeMessage(
    out,
    0,
    magic,
    last,
    codec | (logAppend ? LEGACY_TIMESTAMP_TYPE_MASK : 0),
    wrapperTimestamp,
    null,
    value,
  );
  return out;
}
